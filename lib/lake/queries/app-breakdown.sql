-- Impressions and clicks per app over a range of UTC days, across campaigns, as the dashboard's app breakdown
-- counts them: a delivery to a provider's own URL, or a record stored before records named their app, counts
-- under 'default'. Parameters, in order: the first and the last day of the range, inclusive, as 'YYYY-MM-DD'.
-- Events are counted by their record id, so a row delivered twice counts once. The dashboard's counters keep a
-- campaign-day's first 50 apps and count later ones as '(other)', and leave out a day counted before apps were;
-- here every app of every day is kept. Rows the lake kept before it had an app column have none (a NULL key).
SELECT
  app AS key,
  COUNT(DISTINCT CASE WHEN counter = 'impressions' THEN id END) AS impressions,
  COUNT(DISTINCT CASE WHEN counter = 'clicks' THEN id END) AS clicks
FROM events
WHERE day BETWEEN ? AND ?
  AND counter IS NOT NULL
GROUP BY app
ORDER BY impressions DESC, key

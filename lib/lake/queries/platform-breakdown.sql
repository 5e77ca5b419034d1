-- Impressions and clicks per platform over a range of UTC days, across campaigns, as the dashboard's platform
-- breakdown counts them. Parameters, in order: the first and the last day of the range, inclusive, as
-- 'YYYY-MM-DD'. Events are counted by their record id, so a row delivered twice counts once. The dashboard's
-- counters keep a campaign-day's first 10 values and count later ones as '(other)', each cut at 64 bytes;
-- here every value is kept whole.
SELECT
  platform AS key,
  COUNT(DISTINCT CASE WHEN counter = 'impressions' THEN id END) AS impressions,
  COUNT(DISTINCT CASE WHEN counter = 'clicks' THEN id END) AS clicks
FROM events
WHERE day BETWEEN ? AND ?
  AND counter IS NOT NULL
  AND platform IS NOT NULL
GROUP BY platform
ORDER BY impressions DESC, key

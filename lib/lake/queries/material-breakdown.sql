-- Impressions and clicks per material over a range of UTC days, across campaigns, as the dashboard's material
-- breakdown counts them, with the name the newest event naming the material gives it. Parameters, in order:
-- the first and the last day of the range, inclusive, as 'YYYY-MM-DD'. Events are counted by their record id,
-- so a row delivered twice counts once. The dashboard's counters keep a campaign-day's first 50 materials and
-- count later ones as '(other)'; here every material is kept.
SELECT
  material_id AS key,
  COUNT(DISTINCT CASE WHEN counter = 'impressions' THEN id END) AS impressions,
  COUNT(DISTINCT CASE WHEN counter = 'clicks' THEN id END) AS clicks,
  max_by(material_name, CASE WHEN material_name IS NOT NULL THEN created_at END) AS name
FROM events
WHERE day BETWEEN ? AND ?
  AND counter IS NOT NULL
  AND material_id IS NOT NULL
GROUP BY material_id
ORDER BY impressions DESC, key

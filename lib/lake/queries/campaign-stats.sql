-- Per campaign over a range of UTC days: impressions, clicks, CTR and unique devices, as `events stats` counts
-- them. Parameters, in order: the first and the last day of the range, inclusive, as 'YYYY-MM-DD'.
-- A campaign is its provider and its id. Only events of a campaign-day are counted (not those keyed by id),
-- events by their record id and devices once over the whole range, so a row delivered twice counts once.
-- Over a range longer than 92 days, `events stats` sums each day's unique devices; this query still counts
-- each device once.
SELECT
  provider,
  campaign_id,
  impressions,
  clicks,
  CASE WHEN impressions > 0 THEN CAST(clicks AS DOUBLE) / impressions END AS ctr,
  unique_devices
FROM (
  SELECT
    provider,
    campaign_id,
    COUNT(DISTINCT CASE WHEN counter = 'impressions' THEN id END) AS impressions,
    COUNT(DISTINCT CASE WHEN counter = 'clicks' THEN id END) AS clicks,
    COUNT(DISTINCT CASE WHEN counter IS NOT NULL THEN device_id END) AS unique_devices
  FROM events
  WHERE day BETWEEN ? AND ?
    AND campaign_id IS NOT NULL
    AND NOT keyed_by_id
  GROUP BY provider, campaign_id
) AS campaigns
ORDER BY impressions DESC, campaign_id, provider

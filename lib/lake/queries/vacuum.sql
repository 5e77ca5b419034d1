-- Maintenance (Athena only): expires snapshots older than the table keeps (history.expire.max-snapshot-age-ms)
-- and removes the files no snapshot names any more, such as those OPTIMIZE rewrote. Run it after OPTIMIZE.
VACUUM events

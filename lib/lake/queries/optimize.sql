-- Maintenance (Athena only): rewrites the table's small files, as Firehose commits a few each buffering
-- interval, into larger ones, so that queries open fewer files. Run it now and then (daily at high volume).
OPTIMIZE events REWRITE DATA USING BIN_PACK

"""Retention: conversations, stored images and raw usage rows kept only as long as the settings
say (``WORKBENCH_RETENTION_*_DAYS``), removed by ``workbench purge`` in bounded batches. The
journal and the audit trail are never purged; raw usage rows leave their daily sums behind."""

"""Database health tasks of ``graph-exporter``: each returns Prometheus metric families."""

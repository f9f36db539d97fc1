"""Usage analytics (to come): DuckDB over a columnar mirror of the usage rows."""

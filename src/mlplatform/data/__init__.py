"""Datasets: loading (built-in, CSV, Parquet; local or S3), validation, training profile."""

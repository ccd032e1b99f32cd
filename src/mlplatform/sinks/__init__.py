"""Where predictions go: per-date files (local or S3) and Kafka."""

"""Pipelines wire I/O (data, MLflow, sinks) around the pure logic; the CLI calls these."""

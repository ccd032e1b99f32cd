"""Fit and evaluate a classifier: pure functions over arrays, no MLflow, no files."""

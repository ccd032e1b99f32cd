"""Batch scoring: pure functions over numpy arrays and Arrow record batches."""

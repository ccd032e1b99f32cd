"""Model registry: the pure promotion gate and alias history, and the MLflow adapter."""

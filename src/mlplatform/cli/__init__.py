"""The command line: one module per command group, shared options and rendering apart."""

from mlplatform.cli.app import app, main

__all__ = ["app", "main"]

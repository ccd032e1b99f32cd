"""Configuration: the settings model, how it is loaded, and how a bad value is reported.

The bottom layer: it imports no domain package. Settings describe *shape* (types, ranges,
choices); values whose meaning belongs to a domain package (a model family's
hyperparameters, schedule expressions) are checked by that package when a flow starts
(`mlplatform.flows.setup`).
"""

from mlplatform.config.loading import LoadedSettings, load_settings_with_sources
from mlplatform.config.settings import Settings

__all__ = ["LoadedSettings", "Settings", "load_settings_with_sources"]

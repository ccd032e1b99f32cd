"""Gather settings from their sources in one documented order and validate them once.

defaults < config/<env>.toml < environment variables (seed names < MLPLATFORM_*) < flags.

Each source is read into a dict of its own, the dicts are merged (nested settings merge, they
do not replace each other) and the result is validated once. Keeping the dicts apart is what
lets `mlplatform config show` say where every value came from.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel, ValidationError
from pydantic_settings import EnvSettingsSource, TomlConfigSettingsSource

from mlplatform.config.settings import ENVIRONMENTS, SEED_ENV, Settings
from mlplatform.errors import ConfigError, describe_validation_error

log = logging.getLogger(__name__)

# MLPLATFORM_* variables that are read outside the settings model (not settings themselves).
OTHER_VARIABLES = frozenset(
    {
        "MLPLATFORM_CONFIG_DIR",
        "MLPLATFORM_ACTOR",
        "MLPLATFORM_GIT_COMMIT",
        "MLPLATFORM_SAGEMAKER_ROOT",
        "MLPLATFORM_ALLOW_PICKLE_MODELS",
        "MLPLATFORM_DASHBOARD_TOKEN",
    }
)
DEFAULT = "default"
FLAG = "flag"


@dataclass(frozen=True)
class LoadedSettings:
    """Validated settings plus, for every value set by a source, which source set it."""

    settings: Settings
    sources: dict[str, str]  # dotted setting path -> "config/<env>.toml", "env NAME" or "flag"

    def source_of(self, path: str) -> str:
        return source_of(self.sources, path)

    def is_set(self, path: str) -> bool:
        return self.source_of(path) != DEFAULT


def source_of(sources: Mapping[str, str], path: str) -> str:
    """The source of a dotted path: its own, the nearest parent's, or the default."""
    parts = path.split(".")
    for end in range(len(parts), 0, -1):
        found = sources.get(".".join(parts[:end]))
        if found is not None:
            return found
    return DEFAULT


def config_dir() -> Path:
    """`MLPLATFORM_CONFIG_DIR`, else ./config, else the config/ folder of a source checkout."""
    explicit = os.environ.get("MLPLATFORM_CONFIG_DIR")
    if explicit:
        return Path(explicit)
    local = Path("config")
    if local.is_dir():
        return local
    return Path(__file__).resolve().parents[3] / "config"


def load_settings_with_sources(env: str | None = None, **overrides: Any) -> LoadedSettings:
    """Gather every source and validate the shape of the settings; `overrides` are flags (None
    means 'not given'), nested ones as dicts (`inference={"rows": 10}`). Flows load settings
    through `flows.setup.load_settings`, which also checks their meaning."""
    given_env = env
    env = env or os.environ.get("MLPLATFORM_ENV") or "local"
    if env not in ENVIRONMENTS:
        raise ConfigError(f"unknown environment {env!r}", f"use one of: {', '.join(ENVIRONMENTS)}")
    path = config_dir() / f"{env}.toml"
    if env != "local" and not path.is_file():
        raise ConfigError(
            f"config file for environment {env!r} not found at {path}",
            "run from the project root or set MLPLATFORM_CONFIG_DIR to the folder holding <env>.toml",
        )
    unknown = unknown_variables(os.environ)
    layers = [
        (f"config/{env}.toml", _toml(path)),
        ("env", _seed_environment()),
        ("env", _normalised(EnvSettingsSource(Settings)())),
        (FLAG, _normalised(_given(overrides))),
    ]
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for label, values in layers:
        merged = _merge(merged, values)
        for leaf in _leaves(values):
            sources[leaf] = _env_label(leaf) if label == "env" else label
    merged["env"] = env
    _derive_names(merged, sources)
    if given_env:
        sources["env"] = "env MLPLATFORM_ENV" if os.environ.get("MLPLATFORM_ENV") == env else FLAG
    elif env != "local":
        sources["env"] = "env MLPLATFORM_ENV"
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        headline, allowed = describe_validation_error(exc, Settings, "setting ")
        location = ".".join(str(part) for part in exc.errors()[0]["loc"] if isinstance(part, str))
        source = source_of(sources, location)
        origin = {FLAG: "a command-line flag", DEFAULT: "the default"}.get(source, source)
        raise ConfigError(headline, f"{allowed} (the value came from {origin})") from None
    _report_unknown(unknown, strict=settings.strict or env != "local")
    return LoadedSettings(settings, sources)


def _derive_names(merged: dict[str, Any], sources: dict[str, str]) -> None:
    """Unset names follow the data: your churn.csv trains `churn-model`, never `iris-model`;
    the training experiment is `<model_name>-training`."""
    data = merged.get("train_data")
    if "model_name" not in merged and data not in (None, "builtin:iris"):
        merged["model_name"] = model_name_for(str(data))
        sources["model_name"] = "derived from train_data"
    if "experiment_name" not in merged:
        merged["experiment_name"] = f"{merged.get('model_name', 'iris-model')}-training"
        sources["experiment_name"] = "derived from model_name"
    if "project" not in merged:  # the output layout names the model, not the demo: churn-model -> churn/
        merged["project"] = project_for(str(merged.get("model_name", "iris-model")))
        sources["project"] = "derived from model_name"


def project_for(model_name: str) -> str:
    """`churn-model` -> `churn`, `iris-model` -> `iris` (the layout's first folder)."""
    return model_name.removesuffix("-model") or model_name


def model_name_for(data: str) -> str:
    """`s3://b/churn.parquet`, `data/churn/` or `churn.csv` -> `churn-model`."""
    name = data.rstrip("/").rsplit("/", 1)[-1] or "data"
    stem = name.split(".", 1)[0] if "." in name else name
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "data"
    return f"{slug}-model"


def _toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return _normalised(TomlConfigSettingsSource(Settings, toml_file=path)())
    except (OSError, ValueError) as exc:  # unreadable or malformed TOML
        raise ConfigError(f"cannot read config file {path}: {exc}", "fix the TOML syntax") from None


def _seed_environment() -> dict[str, Any]:
    """The seeds' variable names for nested settings (KAFKA_TOPIC, MLFLOW_MODEL_URI, ...)."""
    values: dict[str, Any] = {}
    for variable, path in SEED_ENV.items():
        value = os.environ.get(variable)
        if value:
            node = values
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = value
    return values


def _given(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Flags that were given: None means 'not given', at any depth."""
    given: dict[str, Any] = {}
    for key, value in overrides.items():
        if isinstance(value, Mapping) and key != "hyperparameters":
            nested = _given(value)
            if nested:
                given[key] = nested
        elif value is not None:
            given[key] = value
    return given


def _aliases() -> dict[str, str]:
    names: dict[str, str] = {}
    for name, info in Settings.model_fields.items():
        if isinstance(info.validation_alias, AliasChoices):
            names |= {str(choice): name for choice in info.validation_alias.choices}
    return names


def _normalised(values: dict[str, Any]) -> dict[str, Any]:
    """Alias keys (MLFLOW_TRACKING_URI) become field names, so sources merge key by key."""
    aliases = _aliases()
    return {aliases.get(key, key): value for key, value in values.items()}


def _merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _leaves(values: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    for key, value in values.items():
        if isinstance(value, Mapping) and value:
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def _env_label(path: str) -> str:
    """Which variable set `path`: the MLPLATFORM_ name wins over a seed name, as in loading."""
    parts = tuple(path.split("."))
    prefixed = "MLPLATFORM_" + "__".join(parts).upper()
    if prefixed in os.environ:
        return f"env {prefixed}"
    info = Settings.model_fields.get(parts[0])
    if len(parts) == 1 and info is not None and isinstance(info.validation_alias, AliasChoices):
        present = [str(c) for c in info.validation_alias.choices if str(c) in os.environ]
        if present:
            return f"env {present[0]}"
    seed = next((name for name, target in SEED_ENV.items() if target == parts), None)
    return f"env {seed}" if seed else "env"


def setting_variables() -> set[str]:
    """Every environment variable name that sets a setting (hyperparameters: any name)."""
    names: set[str] = set(SEED_ENV) | set(_aliases())

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, info in model.model_fields.items():
            annotation = info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                walk(annotation, f"{prefix}{name.upper()}__")
            else:
                names.add(f"{prefix}{name.upper()}")

    walk(Settings, "MLPLATFORM_")
    return names


def unknown_variables(environ: Mapping[str, str]) -> list[tuple[str, str | None]]:
    """Variables that look meant for mlplatform but set nothing, each with the closest real name:
    every unknown MLPLATFORM_* name, and KAFKA_* names one typo away from ours (KAFKA_OPTS and
    other tools' variables are left alone)."""
    known = setting_variables() | OTHER_VARIABLES
    ours = sorted(known)
    found = []
    for name in sorted(environ):
        if name in known or name.startswith(("MLPLATFORM_HYPERPARAMETERS__", "KAFKA_CONFIG_")):
            continue
        if name.startswith("MLPLATFORM_"):
            close = difflib.get_close_matches(name, ours, n=1)
            found.append((name, close[0] if close else None))
        elif name.startswith("KAFKA_") and (close := difflib.get_close_matches(name, ours, n=1, cutoff=0.85)):
            found.append((name, close[0]))
    return found


def _report_unknown(unknown: list[tuple[str, str | None]], strict: bool) -> None:
    """A misspelt variable is otherwise silently ignored: a warning, or an error when strict
    (`--strict`, and always in staging and prod)."""
    for name, close in unknown:
        hint = f"did you mean {close}?" if close else "remove it or fix its name"
        if strict:
            raise ConfigError(f"unknown environment variable {name}", f"{hint} (strict: --strict, staging, prod)")
        log.warning("ignoring unknown environment variable %s; %s", name, hint)

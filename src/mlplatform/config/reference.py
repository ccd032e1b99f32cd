"""Every setting with its environment variable, default and meaning: `mlplatform config
reference`, and the README's configuration table (kept equal by a test)."""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel

from mlplatform.config.settings import SEED_ENV, Settings


def _env_name(name: str, info: Any, prefix: str) -> str:
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):  # the seed's name first, as people know it
        return " / ".join(sorted((str(choice) for choice in alias.choices), key=lambda c: c.startswith("MLPLATFORM_")))
    prefixed = f"MLPLATFORM_{prefix}{name}".upper()
    path = (*prefix.lower().split("__")[:-1], name)
    seed = next((variable for variable, target in SEED_ENV.items() if target == path), None)
    return f"{seed} / {prefixed}" if seed else prefixed


def settings_reference() -> list[tuple[str, str, str, str]]:
    """(setting, environment variable, default, description) for every setting, nested ones
    included."""
    rows: list[tuple[str, str, str, str]] = []

    def walk(model: type[BaseModel], path: str, env_prefix: str) -> None:
        for name, info in model.model_fields.items():
            annotation = info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                walk(annotation, f"{path}{name}.", f"{env_prefix}{name}__")
                continue
            default = info.get_default(call_default_factory=True)  # not the environment's value
            env = _env_name(name, info, env_prefix)
            if name == "hyperparameters":
                default, env = "(the family's)", f"{env}__<NAME>"
            rows.append(
                (
                    f"{path}{name}",
                    env,
                    "(unset)" if default is None else str(default),
                    info.description or "",
                )
            )

    walk(Settings, "", "")
    return rows


def markdown_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def settings_reference_markdown() -> str:
    rows = [(f"`{name}`", f"`{env}`", f"`{default}`", text) for name, env, default, text in settings_reference()]
    return markdown_table(("Setting", "Environment variable", "Default", "Meaning"), rows)

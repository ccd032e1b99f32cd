"""The grammar of the model URIs users pass: aliases, versions, legacy stages and runs. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from mlplatform.errors import ModelNotFoundError

_ALIAS_URI = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/]+)$")
_REF_URI = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<ref>[^/]+)$")
_RUN_URI = re.compile(r"^runs:/(?P<run>[^/]+)/(?P<path>.+)$")


@dataclass(frozen=True)
class ModelRef:
    """What a model URI points at: a registered model by alias, version or stage, or a run."""

    kind: Literal["alias", "version", "stage", "run"]
    name: str | None = None
    alias: str | None = None
    version: str | None = None
    stage: str | None = None
    run_id: str | None = None


def parse_model_uri(uri: str) -> ModelRef:
    if match := _ALIAS_URI.match(uri):
        return ModelRef("alias", name=match["name"], alias=match["alias"])
    if match := _REF_URI.match(uri):
        ref = match["ref"]
        if ref.isdigit():
            return ModelRef("version", name=match["name"], version=ref)
        return ModelRef("stage", name=match["name"], stage=ref)
    if match := _RUN_URI.match(uri):
        return ModelRef("run", run_id=match["run"])
    raise ModelNotFoundError(
        f"unsupported model URI {uri!r}",
        "use models:/NAME@ALIAS, models:/NAME/VERSION, models:/NAME/STAGE or runs:/RUN_ID/PATH",
    )


def version_uri(name: str, version: str) -> str:
    return f"models:/{name}/{version}"


def is_sagemaker_arn(uri: str) -> bool:
    return uri.startswith("arn:aws:sagemaker:")

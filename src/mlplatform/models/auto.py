"""`auto`, the default `model_family`: the family is chosen when training starts, from the data.

With hyperparameters (`-p n_estimators=300`): the first family they all belong to, RandomForest
first (the seeds' family), so existing configurations keep training what they trained. Without:
HistGradientBoosting from LARGE_TABLE training rows (it bins the data, so time and memory stay
bounded, and keeps up to 255 levels of a category where one-hot keeps 50); below, a quick
comparison of the candidates on the training split decides (`training.fit.race`): on small
tables neither family wins everywhere. The choice and its reason are recorded in the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ConfigDict

from mlplatform.errors import ConfigError
from mlplatform.models.base import Hyperparameters, ModelSpec, TaskKind
from mlplatform.models.hist_gradient_boosting import HIST_GRADIENT_BOOSTING
from mlplatform.models.random_forest import RANDOM_FOREST

LARGE_TABLE = 10_000  # training rows from which boosting is chosen without a comparison
SEED = 42  # the candidates' default random_state: seeds the split and the comparison
CANDIDATES = (RANDOM_FOREST, HIST_GRADIENT_BOOSTING)  # in order of preference for given hyperparameters


class AutoParams(Hyperparameters):
    """The hyperparameters given, kept as they are until the family is known."""

    model_config = ConfigDict(extra="allow", frozen=True)


def _never_built(params: Any, task: TaskKind, categorical: list[int]) -> Any:
    raise ConfigError("model family 'auto' is settled before fitting", "call models.auto.choose first")


@dataclass(frozen=True)
class AutoSpec(ModelSpec):
    """A family that stands for another: validates hyperparameters against the candidates."""

    def parse_params(
        self, overrides: Mapping[str, Any], base: Hyperparameters | None = None, prefix: str = "hyperparameter "
    ) -> Any:
        given = {**(base.model_dump() if base is not None else {}), **overrides}
        _, parsed = _family_for(given, prefix)  # every name and value must fit one family
        return AutoParams(**{name: getattr(parsed, name) for name in given})

    def as_strings(self, params: Hyperparameters) -> dict[str, str]:
        """Only the hyperparameters given: the family (and its defaults) is chosen in the job."""
        return {key: "None" if value is None else str(value) for key, value in params.model_dump().items()}


AUTO = AutoSpec("auto", "auto", AutoParams, _never_built, trusted_types=())


def _family_for(given: Mapping[str, Any], prefix: str) -> tuple[ModelSpec, Any]:
    first_error: ConfigError | None = None
    for spec in CANDIDATES:
        try:
            return spec, spec.parse_params(given, prefix=prefix)
        except ConfigError as exc:
            first_error = first_error or exc
    assert first_error is not None
    raise ConfigError(
        f"{first_error.headline} (model family auto tries {', '.join(s.name for s in CANDIDATES)})",
        f"{first_error.fix}; or choose the family with --model",
    )


def choose(params: Hyperparameters, rows: int) -> tuple[ModelSpec, Any, str] | None:
    """(family, its hyperparameters, why) for `rows` training rows; None when the candidates
    must be compared on the data (a small table, no hyperparameters given)."""
    given = params.model_dump()
    if given:
        spec, parsed = _family_for(given, "hyperparameter ")
        return spec, parsed, f"hyperparameters {', '.join(sorted(given))} belong to {spec.name}"
    if rows >= LARGE_TABLE:
        why = (
            f"{rows:,} training rows (>= {LARGE_TABLE:,}): boosting on binned data keeps training time and "
            "memory bounded and keeps up to 255 levels of a category"
        )
        return HIST_GRADIENT_BOOSTING, HIST_GRADIENT_BOOSTING.parse_params({}), why
    return None

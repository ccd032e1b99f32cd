"""When compiling a forest to native code pays back: a pure rule on the forest's size and the rows.

Compiling costs time that grows with the forest's nodes (gcc turns every node into C), while
the saving grows with the rows scored and the depth each row walks. A 100-tree, depth-10 forest
on a 58,788-row table has ~168,000 nodes: ~60-120 s of compiling on 2 cores against a few
seconds of scikit-learn prediction, so files of that size must never pay a compile. The
constants below were measured on the 2-core development machine (docs/decisions.md,
"Performance, round 3") and lean toward not compiling: a wrong "plain" costs at most the saving,
a wrong "compile" can cost minutes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

# Compile cost: a fixed part (code generation, gcc start, link) plus CPU per node at -O1.
COMPILE_FIXED_S = 1.0
COMPILE_CPU_S_PER_NODE = 0.6e-3
# Prediction: scikit-learn spends ~8 ns of CPU per tree level a row walks; compiled code ~1/3.
SKLEARN_CPU_S_PER_LEVEL = 8e-9
COMPILED_SAVES = 2 / 3
# Compiling while scoring must win by this factor (the estimates are rough, busy machines slower).
SCORING_MARGIN = 2.0
# A version compiled at training serves every daily run until the next (weekly) training.
DAYS_PER_VERSION = 7

Mode = Literal["auto", "always", "never"]
Action = Literal["prebuilt", "compile", "plain"]


@dataclass(frozen=True)
class ForestSize:
    """What the costs depend on: trees, nodes, and the mean depth a row walks in a tree."""

    trees: int
    nodes: int
    depth: float

    @property
    def levels(self) -> float:
        return self.trees * self.depth


def forest_size(estimator: Any) -> ForestSize | None:
    """The size of a fitted scikit-learn forest, or None for other models."""
    trees = getattr(estimator, "estimators_", None)
    if not trees or not hasattr(trees[0], "tree_"):
        return None
    nodes = sum(int(tree.tree_.node_count) for tree in trees)
    # a row walks about log2(leaves) levels of a tree, never more than its depth
    depth = sum(min(tree.tree_.max_depth, math.log2(max(tree.tree_.n_leaves, 1)) + 1) for tree in trees)
    return ForestSize(len(trees), nodes, depth / len(trees))


def compile_seconds(size: ForestSize, cores: int) -> float:
    """Estimated wall time to compile the forest with `cores` parallel compilation units."""
    return COMPILE_FIXED_S + size.nodes * COMPILE_CPU_S_PER_NODE / max(cores, 1)


def saved_seconds(size: ForestSize, rows: int, cores: int) -> float:
    """Estimated prediction time the compiled forest saves on `rows` rows."""
    return rows * size.levels * SKLEARN_CPU_S_PER_LEVEL * COMPILED_SAVES / max(cores, 1)


@dataclass(frozen=True)
class Choice:
    action: Action
    reason: str


def choose(mode: Mode, rows: int | None, size: ForestSize, cores: int, prebuilt: bool) -> Choice:
    """Compiled or plain prediction for one scoring run. A library compiled at training is used
    whenever it exists (loading it costs milliseconds); compiling here only when the run is
    known to be large enough to win by SCORING_MARGIN; unknown row counts never compile."""
    if mode == "never":
        return Choice("plain", "inference.compile=never")
    if prebuilt:
        return Choice("prebuilt", "stored with the model, built for this platform")
    if mode == "always":
        return Choice("compile", "inference.compile=always")
    cost = compile_seconds(size, cores)
    if rows is None:
        return Choice("plain", f"unknown row count does not justify a ~{cost:.0f} s compile")
    saving = saved_seconds(size, rows, cores)
    if saving >= SCORING_MARGIN * cost:
        return Choice("compile", f"{rows:,} rows save ~{saving:.0f} s for a ~{cost:.0f} s compile")
    return Choice("plain", f"{rows:,} rows would save ~{saving:.1f} s, not worth a ~{cost:.0f} s compile")


def pays_at_training(daily_rows: int | None, size: ForestSize, cores: int) -> Choice:
    """Whether training should compile the forest into the model: the saving of the expected
    daily runs over a version's life covers the compile."""
    cost = compile_seconds(size, cores)
    if not daily_rows:
        return Choice("plain", "no expected daily volume (inference.daily_rows)")
    saving = saved_seconds(size, daily_rows, cores) * DAYS_PER_VERSION
    if saving >= cost:
        return Choice("compile", f"{daily_rows:,} rows a day save ~{saving:.0f} s a week for a ~{cost:.0f} s compile")
    return Choice("plain", f"{daily_rows:,} rows a day save ~{saving:.1f} s a week, less than a ~{cost:.0f} s compile")

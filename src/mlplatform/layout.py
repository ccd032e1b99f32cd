"""Where things live under a data root: the one builder for every path of the layout.

    <data-root>/<project>/inference-output/model=<m>[/variant=<v>]/date=<d>[/<shard>]/
    <data-root>/<project>/labels/model=<m>/date=<d>/
    <data-root>/<project>/monitoring/model=<m>/quality/date=<d>~variant=<v>.json
    <input root>/date=<d>/                       a partitioned input's partition

Names that become path segments (project, model, shard, variant) are checked by the settings
(no '/', no leading '.'); run ids are checked where they are read (`safe_segment`).
"""

from __future__ import annotations

import re

PREDICTIONS = "inference-output"
LABELS = "labels"
MONITORING = "monitoring"  # derived: realized quality per date
CHAMPION = "champion"  # the variant whose output is the model's own folder
# A segment is a plain name: letters, digits and ._-= (never '..', never a separator)
_SEGMENT = re.compile(r"^(?!\.\.?$)[A-Za-z0-9._=-]{1,200}$")


def safe_segment(name: str) -> bool:
    """Whether `name` can be one path segment without leaving its folder."""
    return bool(_SEGMENT.match(name))


def partition(root: str, date: str) -> str:
    """The `date=YYYY-MM-DD` partition of a partitioned root (inputs, training data, outputs)."""
    return f"{root.rstrip('/')}/date={date}"


def model_folder(data_root: str, project: str, model: str, kind: str = PREDICTIONS, variant: str | None = None) -> str:
    """Everything of one model (and variant): outputs are keyed by model, so two models scored
    for one date never replace each other."""
    folder = f"{data_root.rstrip('/')}/{project}/{kind}/model={model}"
    return folder if variant in (None, CHAMPION) else f"{folder}/variant={variant}"


def date_folder(
    data_root: str,
    project: str,
    model: str,
    date: str,
    *,
    shard: str | None = None,
    variant: str | None = None,
    kind: str = PREDICTIONS,
) -> str:
    """One date of a model (a shard, `host=algo-2`, is its own complete sub-partition)."""
    folder = partition(model_folder(data_root, project, model, kind, variant), date)
    return f"{folder}/{shard}" if shard else folder


def pending_entry(date: str, shard: str | None, run_id: str) -> str:
    """The file name of a run's `_pending` entry in its model folder."""
    return f"date={date}" + (f"~{shard}" if shard else "") + f"~run={run_id}.json"

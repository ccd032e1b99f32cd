"""The first scoring run after `train`, against the hand-written script, round after round.

On SageMaker every daily Processing job is a fresh container, so every production run is the
first one after something: what counts is that run, not a warm third repeat. Each round starts
from an empty state: `mlplatform train` (for the volume it will score, so the forest is compiled
into the model as in production), then the first `mlplatform score` with files + Kafka and the
hand-written script on the same model, each against a fresh mock broker; which of the two runs
first alternates between rounds, so a machine getting busier or quieter hits both alike.

    python -m benchmarks.cold_bench              # 5 rounds, 1M rows
    python -m benchmarks.cold_bench --rounds 3 --rows 200000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.score_bench import BIN, RESULTS, bench_env, machine, run, train_for
from mlplatform.devstack.kafka_broker import mock_broker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    pairs: list[dict[str, float]] = []
    loads: list[float] = []
    with tempfile.TemporaryDirectory(prefix="cold-") as tmp:
        state, out = Path(tmp) / "state", f"{tmp}/out"
        env = bench_env(state)
        for round_ in range(args.rounds):
            shutil.rmtree(state, ignore_errors=True)
            train_for(args.rows, env)
            loads.append(os.getloadavg()[0])
            product = [str(BIN / "mlplatform"), "score", "--rows", str(args.rows), "--data-root", out,
                       "--date", "2026-11-22"]  # fmt: skip
            script = [sys.executable, "benchmarks/handwritten.py", "--rows", str(args.rows), "--out", out,
                      "--tracking-uri", f"sqlite:///{state / 'mlflow.db'}", "--kafka"]  # fmt: skip
            order = ["mlplatform", "script"] if round_ % 2 == 0 else ["script", "mlplatform"]
            seconds: dict[str, float] = {}
            for variant in order:
                with mock_broker({"predictions": 16}) as broker:
                    if variant == "mlplatform":
                        kafka = env | {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "KAFKA_TOPIC": "predictions"}
                        seconds[variant], _ = run(product, kafka)
                    else:
                        seconds[variant], _ = run([*script, broker.bootstrap], env)
                shutil.rmtree(out, ignore_errors=True)
            pairs.append(seconds)
            print(f"round {round_ + 1} ({' first, '.join(order)} second): mlplatform {seconds['mlplatform']:.2f} s, "
                  f"script {seconds['script']:.2f} s, {seconds['mlplatform'] / seconds['script']:.2f}x "
                  f"(load {loads[-1]:.1f})", flush=True)  # fmt: skip

    ratios = [pair["mlplatform"] / pair["script"] for pair in pairs]
    report = {
        "machine": machine(), "date": time.strftime("%Y-%m-%d"), "rows": args.rows, "load_average": loads,
        "pairs": pairs, "ratios": ratios, "median_ratio": statistics.median(ratios),
        "median_seconds": {v: statistics.median(p[v] for p in pairs) for v in ("mlplatform", "script")},
    }  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cold.json").write_text(json.dumps(report, indent=2))
    print(f"first run after train, {args.rows:,} rows, files + Kafka: median ratio {report['median_ratio']:.2f}x "
          f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)})")  # fmt: skip


if __name__ == "__main__":
    main()

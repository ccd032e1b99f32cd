"""Micro-benchmark of the Kafka publisher alone: prepared messages -> every one acknowledged.

The producer settings are mlplatform's own (idempotent, acks=all, lz4, bounded queue); the
broker is the test broker process (librdkafka's mock cluster). Messages are the size and shape
of real prediction documents. Each variant runs in a fresh process, so one cannot warm the next.

    python -m benchmarks.publish_bench                      # 1M messages, 5 repeats each
    python -m benchmarks.publish_bench --messages 200000 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
VALUE = (
    '{"schema_version":1,"prediction_id":"2026-11-22:%d","row_id":%d,"run_date":"2026-11-22",'
    '"inference_run_id":"0f3c4d2a9b8e4f1c8d7a6b5c4d3e2f1a","model":{"name":"iris-model","version":"3",'
    '"uri":"models:/iris-model@production"},"features":{"sepal_length":5.11,"sepal_width":3.52,'
    '"petal_length":1.4,"petal_width":0.21},"predicted_class":"setosa","probabilities":{"setosa":1.0,'
    '"versicolor":0.0,"virginica":0.0},"scored_at":"2026-11-22T06:00:03+00:00"}'
)


def publish_once(bootstrap: str, messages: int, headers: bool) -> dict[str, float]:
    """One measured publish in this process; every message must be acknowledged."""
    from mlplatform.clients import Clients
    from mlplatform.config.settings import KafkaSettings
    from mlplatform.sinks.kafka import KafkaPublisher

    settings = KafkaSettings(bootstrap_servers=bootstrap, topic="predictions", headers=headers)
    pairs = [("schema_version", b"1"), ("model_version", b"3")] if headers else None
    publisher = KafkaPublisher(settings, "publish-bench", pairs, Clients())
    publisher.check_topic()
    batch = 100_000
    prepared = [
        ([f"2026-11-22:{i}" for i in range(s, min(s + batch, messages))],
         [VALUE % (i, i) for i in range(s, min(s + batch, messages))])
        for s in range(0, messages, batch)
    ]  # fmt: skip
    publisher.start("2026-11-22", messages, pairs)
    started = time.perf_counter()
    for keys, values in prepared:
        publisher.submit(keys, values)
    result = publisher.finish()
    seconds = time.perf_counter() - started
    if result.delivered != messages or result.failed or result.unacknowledged:
        raise RuntimeError(f"not every message was acknowledged: {result}")
    return {"seconds": seconds, "messages_per_s": messages / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", nargs=2, metavar=("BOOTSTRAP", "HEADERS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(publish_once(args.child[0], args.messages, args.child[1] == "1")))
        return

    from tests.support.kafka_broker import mock_broker

    results: dict[str, list[float]] = {"no headers": [], "two headers": []}
    with mock_broker({"predictions": 16}) as broker:
        for _ in range(args.repeats):
            for name, flag in (("no headers", "0"), ("two headers", "1")):  # paired, in turn
                out = subprocess.run(
                    [sys.executable, "-m", "benchmarks.publish_bench", "--messages", str(args.messages),
                     "--child", broker.bootstrap, flag],
                    capture_output=True, text=True, check=True, cwd=ROOT,
                )  # fmt: skip
                results[name].append(json.loads(out.stdout)["messages_per_s"])
    summary = {name: statistics.median(rates) for name, rates in results.items()}
    for name, rate in summary.items():
        print(f"{name}: median {rate / 1e6:.2f}M messages/s acknowledged ({args.repeats} runs of {args.messages:,})")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "publish.json").write_text(json.dumps({"messages": args.messages, "runs": results,
                                                       "median": summary}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()

"""Micro-benchmark of the Kafka publisher: messages -> every one acknowledged, against the test
broker process (librdkafka's mock cluster, a fresh one per run), with mlplatform's own producer
settings (idempotent, acks=all, lz4, bounded queue). Each run is a fresh process.

- prepared messages, one process (without and with the two headers): the producer alone, messages
  the size and shape of real prediction documents already in memory as Python strings;
- prepared messages, two processes publishing at once (half each): what a second core buys;
- a committed date, as `mlplatform publish` sends it (parts read back, JSON built, produced), in
  one process and with helper processes (`KAFKA_PROCESSES=2`).

    python -m benchmarks.publish_bench                      # 1M messages, 3 repeats each
    python -m benchmarks.publish_bench --messages 200000 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
VALUE = (
    '{"schema_version":1,"prediction_id":"iris-model:2026-11-22:%d","row_id":%d,"run_date":"2026-11-22",'
    '"inference_run_id":"0f3c4d2a9b8e4f1c8d7a6b5c4d3e2f1a","model":{"name":"iris-model","version":"3",'
    '"uri":"models:/iris-model@production"},"features":{"sepal_length":5.11,"sepal_width":3.52,'
    '"petal_length":1.4,"petal_width":0.21},"predicted_class":"setosa","probabilities":{"setosa":1.0,'
    '"versicolor":0.0,"virginica":0.0},"scored_at":"2026-11-22T06:00:03+00:00"}'
)


def publish_once(
    bootstrap: str, messages: int, headers: bool, first: int, ready: Callable[[], None]
) -> dict[str, float]:
    """One measured publish in this process, started once `ready()` returns; every message
    must be acknowledged. Returns the wall-clock span (comparable between processes)."""
    from mlplatform.clients import Clients
    from mlplatform.config.inference import KafkaSettings
    from mlplatform.sinks.kafka_producer import TrackedProducer

    settings = KafkaSettings(bootstrap_servers=bootstrap, topic="predictions", headers=headers)
    pairs = [("schema_version", b"1"), ("model_version", b"3")] if headers else None
    publisher = TrackedProducer(settings, "publish-bench", pairs, Clients())
    publisher.check_topic()
    batch = 100_000
    prepared = [
        ([f"iris-model:2026-11-22:{i}" for i in range(s, min(s + batch, first + messages))],
         [VALUE % (i, i) for i in range(s, min(s + batch, first + messages))])
        for s in range(first, first + messages, batch)
    ]  # fmt: skip
    publisher.start("2026-11-22", messages, pairs)
    ready()
    started = time.time()
    for keys, values in prepared:
        publisher.submit(keys, values)
    result = publisher.finish()
    ended = time.time()
    if result.delivered != messages or result.failed or result.unacknowledged:
        raise RuntimeError(f"not every message was acknowledged: {result}")
    return {"started": started, "ended": ended}


def publish_committed(bootstrap: str, folder: str, processes: int) -> dict[str, float]:
    """One measured publish of a committed date folder, as `mlplatform publish` does it."""
    from mlplatform.clients import Clients
    from mlplatform.config.inference import KafkaSettings
    from mlplatform.sinks.committed import CommittedOutput
    from mlplatform.sinks.kafka import KafkaPublisher

    settings = KafkaSettings(bootstrap_servers=bootstrap, topic="predictions", processes=processes)
    sink = KafkaPublisher(settings, Clients(), "publish-bench")
    sink.check()
    output = CommittedOutput.load(Clients(), folder)
    assert output is not None
    started = time.perf_counter()
    result = sink.publish(output, lambda _: None)
    seconds = time.perf_counter() - started
    if result.section["delivered"] != output.rows:
        raise RuntimeError(f"not every message was acknowledged: {result.section}")
    return {"seconds": seconds, "messages_per_s": output.rows / seconds}


def child(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "benchmarks.publish_bench", *args], stdout=subprocess.PIPE,
                            stdin=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip


def committed_date(rows: int, home: Path) -> str:
    """Score `rows` generated rows to files (a model is trained first if the state has none)."""
    env = os.environ | {"MLPLATFORM_HOME": str(home), "MLFLOW_DISABLE_TELEMETRY": "true"}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    mlplatform = str(Path(sys.executable).with_name("mlplatform"))
    if not (home / "mlflow.db").exists():
        subprocess.run([mlplatform, "train"], env=env, check=True, stdout=subprocess.DEVNULL)
    root = home / "publish-bench"
    subprocess.run([mlplatform, "score", "--rows", str(rows), "--data-root", str(root), "--date", "2026-11-22"],
                   env=env, check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    return str(root / "iris/inference-output/model=iris-model/date=2026-11-22")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=3, metavar=("BOOTSTRAP", "HEADERS", "FIRST"), help=argparse.SUPPRESS)
    parser.add_argument("--committed", nargs=3, metavar=("BOOTSTRAP", "FOLDER", "PROCESSES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # prepared messages: say ready, publish when told, report the wall-clock span
        bootstrap, headers, first = args.child

        def ready() -> None:
            print("ready", flush=True)
            sys.stdin.readline()

        print(json.dumps(publish_once(bootstrap, args.messages, headers == "1", int(first), ready)), flush=True)
        return
    if args.committed:
        bootstrap, folder, processes = args.committed
        print(json.dumps(publish_committed(bootstrap, folder, int(processes))), flush=True)
        return

    from mlplatform.devstack.kafka_broker import mock_broker

    folder = committed_date(args.messages, ROOT / "benchmarks" / ".state")
    variants = {
        "prepared, 1 process, no headers": ("prepared", 1, "0"),
        "prepared, 1 process, two headers": ("prepared", 1, "1"),
        "prepared, 2 processes, no headers": ("prepared", 2, "0"),
        "committed date, 1 process": ("committed", 1, ""),
        "committed date, 2 processes": ("committed", 2, ""),
    }
    results: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, (kind, processes, headers) in variants.items():  # in turn: load changes hit all alike
            with mock_broker({"predictions": 16}) as broker:
                if kind == "committed":
                    out = child(["--messages", str(args.messages), "--committed", broker.bootstrap, folder,
                                 str(processes)])  # fmt: skip
                    rate = json.loads(out.communicate()[0])["messages_per_s"]
                else:
                    share = args.messages // processes
                    children = [child(["--messages", str(share), "--child", broker.bootstrap, headers, str(i * share)])
                                for i in range(processes)]  # fmt: skip
                    for process in children:  # every producer connected and its messages built
                        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
                    for process in children:
                        assert process.stdin is not None
                        process.stdin.write("go\n")
                        process.stdin.flush()
                    spans = [json.loads(process.communicate()[0]) for process in children]
                    rate = share * processes / (max(s["ended"] for s in spans) - min(s["started"] for s in spans))
                results[name].append(rate)
                print(f"{name:<36} {rate / 1e6:5.2f}M messages/s", flush=True)
    summary = {name: statistics.median(rates) for name, rates in results.items()}
    for name, rate in summary.items():
        print(f"{name}: median {rate / 1e6:.2f}M messages/s acknowledged ({args.repeats} runs of {args.messages:,})")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "publish.json").write_text(json.dumps({"messages": args.messages, "runs": results,
                                                       "median": summary}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()

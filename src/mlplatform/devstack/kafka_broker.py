"""A Kafka-protocol broker for `mlplatform dev`, tests and benchmarks: librdkafka's mock cluster in
a child process.

The child loads the librdkafka bundled in the confluent-kafka wheel with ctypes, creates a mock
cluster, optionally creates topics with enough partitions (the mock keeps ~5 MiB per partition
and has no CreateTopics API), prints `BOOTSTRAP host:port` and serves until killed. Other
processes (our producer, a consumer, kcat) connect to it over TCP on 127.0.0.1.

    python -m mlplatform.devstack.kafka_broker --topic predictions:8

Not a production broker: it keeps ~5 MiB per partition in memory and ignores TLS/SASL.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import glob
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def _librdkafka() -> ctypes.CDLL:
    import confluent_kafka

    base = Path(confluent_kafka.__file__).parent
    candidates = glob.glob(str(base.parent / "confluent_kafka.libs" / "librdkafka*.so*"))
    if not candidates:
        raise RuntimeError("librdkafka not found next to confluent_kafka")
    lib = ctypes.CDLL(candidates[0])
    lib.rd_kafka_conf_new.restype = ctypes.c_void_p
    text = ctypes.c_char_p
    lib.rd_kafka_conf_set.argtypes = [ctypes.c_void_p, text, text, text, ctypes.c_size_t]
    lib.rd_kafka_new.restype = ctypes.c_void_p
    lib.rd_kafka_new.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.rd_kafka_mock_cluster_new.restype = ctypes.c_void_p
    lib.rd_kafka_mock_cluster_new.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.rd_kafka_mock_cluster_bootstraps.restype = ctypes.c_char_p
    lib.rd_kafka_mock_cluster_bootstraps.argtypes = [ctypes.c_void_p]
    lib.rd_kafka_mock_topic_create.restype = ctypes.c_int
    lib.rd_kafka_mock_topic_create.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
    lib.rd_kafka_mock_push_request_errors_array.restype = None
    lib.rd_kafka_mock_push_request_errors_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_int16,
        ctypes.c_size_t,
        ctypes.POINTER(ctypes.c_int),
    ]
    return lib


PRODUCE_API = 0


def serve(brokers: int, topics: list[tuple[str, int]], produce_errors: list[tuple[int, int]] = ()) -> None:
    lib = _librdkafka()
    error = ctypes.create_string_buffer(512)
    conf = lib.rd_kafka_conf_new()
    lib.rd_kafka_conf_set(conf, b"log_level", b"3", error, len(error))
    handle = lib.rd_kafka_new(0, conf, error, len(error))  # RD_KAFKA_PRODUCER
    if not handle:
        raise RuntimeError(error.value.decode())
    cluster = lib.rd_kafka_mock_cluster_new(handle, brokers)
    for name, partitions in topics:
        code = lib.rd_kafka_mock_topic_create(cluster, name.encode(), partitions, 1)
        if code:
            raise RuntimeError(f"cannot create topic {name}: error {code}")
    for code, count in produce_errors:  # the next `count` Produce requests fail with `code`
        errors = (ctypes.c_int * count)(*([code] * count))
        lib.rd_kafka_mock_push_request_errors_array(cluster, PRODUCE_API, count, errors)
    sys.stdout.write(f"BOOTSTRAP {lib.rd_kafka_mock_cluster_bootstraps(cluster).decode()}\n")
    sys.stdout.flush()
    signal.sigwait({signal.SIGTERM, signal.SIGINT})


@dataclass
class Broker:
    bootstrap: str
    process: subprocess.Popen

    def kill(self) -> None:
        """Kill -9: the broker vanishes mid-conversation, like a crashed host."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def mock_broker(
    topics: dict[str, int] | None = None, brokers: int = 1, produce_errors: dict[int, int] | None = None
) -> Iterator[Broker]:
    """A broker process; `produce_errors` {Kafka error code: count} fails that many Produce
    requests (e.g. {29: 100}: topic authorization failed)."""
    args = [sys.executable, "-m", "mlplatform.devstack.kafka_broker", "--brokers", str(brokers)]
    for code, count in (produce_errors or {}).items():
        args += ["--produce-error", f"{code}:{count}"]
    for name, partitions in (topics or {}).items():
        args += ["--topic", f"{name}:{partitions}"]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        line = ""
        while time.monotonic() < deadline and not line.startswith("BOOTSTRAP"):
            line = process.stdout.readline() if process.stdout else ""
            if not line and process.poll() is not None:
                raise RuntimeError(f"mock broker exited with {process.returncode}")
        if not line.startswith("BOOTSTRAP"):
            raise RuntimeError("mock broker did not report its address")
        yield Broker(line.split()[1], process)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--brokers", type=int, default=1)
    parser.add_argument("--topic", action="append", default=[], help="NAME:PARTITIONS")
    parser.add_argument("--produce-error", action="append", default=[], help="CODE:COUNT")
    args = parser.parse_args()
    topics = [(t.split(":")[0], int(t.split(":")[1]) if ":" in t else 4) for t in args.topic]
    errors = [(int(code), int(count)) for code, count in (e.split(":") for e in args.produce_error)]
    serve(args.brokers, topics, errors)


if __name__ == "__main__":
    main()

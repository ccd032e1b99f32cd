"""Publishing one committed date from several processes, each with its own producer.

A Python `produce()` call holds the GIL, so one process tops out well below what librdkafka and
the broker could take (benchmarks/publish_bench.py), and reading the parts back and building the
JSON documents competes for that same GIL. Helper processes have a GIL
and an idempotent acks=all producer each. They are spawned, not forked: librdkafka is not
fork-safe, and this process has threads of its own.

The committed parts are the unit of work: this process and its helpers take the next part from
one queue until none is left, so a helper that starts late (~0.4 s of imports) takes fewer parts
and nobody waits for it. Every producer counts its own deliveries and the counts are added up;
the first failure anywhere stops every producer, with the same one-line error (counts for the
whole date) as a single process gives. A helper that dies has its messages counted as failed
(their fate is unknown: `mlplatform publish` sends them again), and no helper outlives this
process (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import logging
import logging.handlers
import multiprocessing
import os
import queue
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlplatform.clients import Clients
from mlplatform.concurrency import available_cores
from mlplatform.errors import PipelineError
from mlplatform.locks import die_with
from mlplatform.sinks.committed import CommittedOutput
from mlplatform.sinks.kafka_producer import KafkaResult, TrackedProducer

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Event

    from mlplatform.config.inference import KafkaSettings

STOPPED = "stopped: another publishing process failed"
PARALLEL_FROM_ROWS = 200_000  # below this, starting a helper (~0.4 s) costs more than it saves


CORES_PER_PROCESS = 2  # one publishing process keeps ~1.5 cores busy (its Python, librdkafka's threads)


def helper_count(processes: int, rows: int, parts: int, cores: int | None = None) -> int:
    """Helper processes for a date: `processes` - 1, never more than there are parts to share.
    0 (auto) is one process per two cores, for large dates only: on 2 cores a second process
    only competes with the first (README, benchmark section)."""
    if processes == 0:
        if rows < PARALLEL_FROM_ROWS:
            return 0
        processes = max(1, (cores or available_cores()) // CORES_PER_PROCESS)
    return max(0, min(processes, parts) - 1)


@dataclass(frozen=True)
class HelperJob:
    """What a helper process is handed (pickled through a pipe: credentials never hit a log)."""

    settings: KafkaSettings
    client_id: str
    headers: list[tuple[str, bytes]] | None
    s3_endpoint: str | None
    region: str
    uri: str
    manifest: dict[str, Any]
    parent: int
    log_level: int = logging.WARNING


def take_parts(
    publisher: TrackedProducer,
    output: CommittedOutput,
    tasks: Queue[int | None],
    stop: Event,
    advance: Callable[[int], None],
    idle: Callable[[], None] = lambda: None,
) -> None:
    """Publish the parts taken from `tasks` until it runs dry (None) or `stop` is set. The wait
    for the queue is bounded (a process killed while reading it keeps its lock): `idle` runs
    between tries."""
    while not stop.is_set():
        try:
            index = tasks.get(timeout=1)
        except queue.Empty:
            idle()
            continue
        if index is None:
            return
        for keys, values in output.messages(parts=[index]):
            if stop.is_set():
                return
            publisher.submit(keys, values)
            advance(len(keys))


def helper(
    job: HelperJob, tasks: Queue[int | None], events: Queue[tuple[str, str, Any]], stop: Event, logs: Queue[Any]
) -> None:
    """A helper process: publish parts until none is left, then report its counts."""
    arm = die_with(job.parent)
    if arm is not None:
        arm()
    name = multiprocessing.current_process().name
    root = logging.getLogger()  # records go to the parent, which formats and redacts them as its own
    root.handlers[:] = [logging.handlers.QueueHandler(logs)]
    root.setLevel(job.log_level)
    publisher: TrackedProducer | None = None
    try:
        clients = Clients(job.s3_endpoint, job.region)
        publisher = TrackedProducer(job.settings, job.client_id, job.headers, clients)
        output = CommittedOutput(clients, job.uri, job.manifest)
        publisher.start(output.run_date, 0, job.headers)
        take_parts(publisher, output, tasks, stop, lambda n: events.put(("advance", name, n)))
        result = publisher.stop(STOPPED) if stop.is_set() else publisher.finish()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which decides
        why = exc.headline if isinstance(exc, PipelineError) else f"{type(exc).__name__}: {exc}"
        stop.set()  # the others stop at their next batch, whatever the parent is busy with
        if publisher is None:
            events.put(("crashed", name, why))
            return
        # a delivery failure has its counts already; anything else (a part that cannot be read)
        # stops the producer so that what was acknowledged and what was dropped are known
        result = publisher.result if publisher.result.reason else publisher.stop(f"{name}: {why}")
    if result.reason and result.reason != STOPPED:
        stop.set()
    events.put(("done", name, result))


class _AsIfLoggedHere(logging.Handler):
    """A helper's record, handled by this process's logger of the same name (its handlers
    format and redact it like any record of ours)."""

    def emit(self, record: logging.LogRecord) -> None:
        logging.getLogger(record.name).handle(record)


class HelperProcesses:
    """The helper processes and what they report: progress, their counts, or that they died."""

    def __init__(self, count: int, job: HelperJob, tasks: Queue[int | None], advance: Callable[[int], None]) -> None:
        context = multiprocessing.get_context("spawn")
        self.events: Queue[tuple[str, str, Any]] = context.Queue()
        self.logs: Queue[Any] = context.Queue()
        self.listener = logging.handlers.QueueListener(self.logs, _AsIfLoggedHere())
        self.listening = False
        self.stop = context.Event()
        self.advance = advance
        self.topic = job.settings.topic
        self.processes: dict[str, BaseProcess] = {}
        for number in range(1, count + 1):
            name = f"kafka-publisher-{number}"
            self.processes[name] = context.Process(
                target=helper, args=(job, tasks, self.events, self.stop, self.logs), name=name, daemon=True
            )
        self.sent = dict.fromkeys(self.processes, 0)
        self.results: dict[str, KafkaResult] = {}

    def start(self) -> None:
        self.listener.start()
        self.listening = True
        for process in self.processes.values():
            process.start()

    def poll(self, timeout: float = 0.0) -> None:
        """Take in what the helpers reported; wait up to `timeout` for the first report."""
        while True:
            try:
                kind, name, value = self.events.get(timeout=timeout) if timeout else self.events.get_nowait()
            except queue.Empty:
                return
            timeout = 0.0
            if kind == "advance":
                self.sent[name] += value
                self.advance(value)
            elif kind == "done":
                self.results[name] = value
                if value.reason:
                    self.stop.set()
            else:
                self._crashed(name, str(value))

    def _crashed(self, name: str, why: str) -> None:
        self.results[name] = lost_helper(self.topic, name, self.sent[name], why)
        self.stop.set()

    def wait(self) -> None:
        """Until every helper reported (or died)."""
        while len(self.results) < len(self.processes):
            self.poll(timeout=0.2)
            self.check()

    def check(self) -> None:
        """Take in the reports; a helper that is gone without one died."""
        self.poll()
        for name, process in self.processes.items():
            if name not in self.results and not process.is_alive():
                self.poll(timeout=0.5)  # its last reports may still be in the pipe
                if name not in self.results:
                    self._crashed(name, f"exited with code {process.exitcode}")

    def close(self) -> None:
        self.stop.set()
        for process in self.processes.values():
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
                process.join()
        if self.listening:  # the helpers' last records are handled before it stops
            self.listener.stop()
            self.listening = False
        self.events.close()
        self.logs.close()


def publish_with_helpers(
    publisher: TrackedProducer, output: CommittedOutput, helpers: int, advance: Callable[[int], None]
) -> KafkaResult:
    """Publish `output` from this process and `helpers` more; the counts of all of them."""
    context = multiprocessing.get_context("spawn")
    tasks: Queue[int | None] = context.Queue()
    for index in range(output.part_count):
        tasks.put(index)
    for _ in range(helpers + 1):
        tasks.put(None)
    tasks.cancel_join_thread()  # parts nobody took (after a failure) must not hold up the exit
    job = HelperJob(
        publisher.resolved,
        publisher.client_id,
        publisher.headers,
        output.clients.s3_endpoint,
        output.clients.region,
        output.uri,
        output.manifest,
        os.getpid(),
        logging.getLogger().getEffectiveLevel(),
    )
    team = HelperProcesses(helpers, job, tasks, advance)
    try:
        team.start()
        try:
            take_parts(publisher, output, tasks, team.stop, lambda n: (advance(n), team.poll()), team.check)
            own = publisher.stop(STOPPED) if team.stop.is_set() else publisher.finish()
        except Exception as exc:  # noqa: BLE001 - counted and reported as one line below
            team.stop.set()
            why = exc.headline if isinstance(exc, PipelineError) else f"{type(exc).__name__}: {exc}"
            # a delivery failure has its counts already; anything else (a part that cannot be
            # read) stops the producer so that what was acknowledged and what was dropped are known
            own = publisher.result if publisher.result.reason else publisher.stop(f"main: {why}")
        team.wait()
    finally:
        team.close()
        tasks.close()
    total = merged({"main": own} | team.results, output.rows, publisher.topic)
    if total.reason:
        raise total.error(output.run_date)
    return total


def lost_helper(topic: str, name: str, handed_over: int, why: str) -> KafkaResult:
    """The counts of a helper that died without reporting: the messages it had handed to its
    producer may or may not have arrived, so they count as failed (a publish again sends them)."""
    return KafkaResult(topic, produced=handed_over, unacknowledged=handed_over, reason=f"{name}: {why}")


def merged(results: dict[str, KafkaResult], total: int, topic: str) -> KafkaResult:
    """The counts of several producers (by process name) as one; the reason is the first
    failure that was not just being stopped because of another."""
    out = KafkaResult(topic, total=total, by_process={name: r.produced for name, r in results.items()})
    for result in results.values():
        out.produced += result.produced
        out.delivered += result.delivered
        out.failed += result.failed
        out.purged += result.purged
        out.unacknowledged += result.unacknowledged
    reported = list(results.values())
    failures = [r for r in reported if r.reason and r.reason != STOPPED] or [r for r in reported if r.reason]
    if failures:
        first = failures[0]
        out.reason, out.first_error, out.first_failed_key = first.reason, first.first_error, first.first_failed_key
    return out

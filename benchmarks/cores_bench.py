"""Where a 10M-row score spends its CPU, and what more cores would buy.

Runs `mlplatform score --rows N` (files only, and files + Kafka against a fresh mock broker)
pinned with `taskset` to one core and to two, in turn. While a run goes, every thread of the
process and of its children is sampled from /proc (CPU seconds of the scoring process's main
thread, of its other threads together (sink writer, Arrow and OpenMP pools, the Kafka producer
thread), of librdkafka's threads by name, and of the publishing helper processes). From the
1- and 2-core wall times, Amdahl's law gives the serial and parallel parts, and from those an
estimate for 4 and 8 cores (an upper bound on the gain: memory bandwidth and the broker are
assumed not to limit).

    python -m benchmarks.cores_bench --rows 10000000 --repeats 1
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.score_bench import BIN, RESULTS, ROOT, STATE, bench_env, machine, train_for

TICK = os.sysconf("SC_CLK_TCK")


def _descendants(pid: int) -> list[int]:
    found, queue = [], [pid]
    while queue:
        parent = queue.pop()
        found.append(parent)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{parent}/task").iterdir():
                queue += [int(c) for c in (task / "children").read_text().split()]
    return found


def _sample(pids: list[int], seen: dict[tuple[int, int], tuple[str, float]]) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pid}/task").iterdir():
                stat = (task / "stat").read_text()
                name = stat[stat.index("(") + 1 : stat.rindex(")")]
                fields = stat[stat.rindex(")") + 2 :].split()
                seen[(pid, int(task.name))] = (name, (int(fields[11]) + int(fields[12])) / TICK)


def profiled(command: list[str], env: dict[str, str]) -> tuple[float, dict[str, float]]:
    """(wall seconds, CPU seconds by thread name) of one run."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen: dict[tuple[int, int], tuple[str, float]] = {}
    while process.poll() is None:
        _sample(_descendants(process.pid), seen)
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{process.stderr.read().decode()[-3000:]}")  # type: ignore[union-attr]
    by_name: Counter[str] = Counter()
    for (pid, tid), (name, cpu) in seen.items():
        # Python threads carry the process's name: the main thread and the others apart, by pid
        role = "main" if tid == pid else "thread" if name.startswith(("mlplatform", "python")) else name
        by_name[f"{'scoring' if pid == process.pid else 'helper'} {role}".rstrip("0123456789_-")] += cpu
    return seconds, dict(by_name.most_common())


def table(results: dict[str, dict[str, list]]) -> list[str]:
    """Medians, and Amdahl's estimate for 4 and 8 cores when the second core helped at all (on a
    busy machine it may not be free: then there is nothing to extrapolate from)."""
    lines = ["| variant | 1 core | 2 cores | serial part | est. 4 cores | est. 8 cores |", "|---" * 6 + "|"]
    for variant in ("files", "files + Kafka"):
        one = statistics.median(results[f"{variant} @ 1 core(s)"]["seconds"])
        two = statistics.median(results[f"{variant} @ 2 core(s)"]["seconds"])
        if two >= one:
            lines.append(f"| {variant} | {one:.1f} s | {two:.1f} s | n/a: the second core was not free | | |")
            continue
        parallel = 2 * (one - two)  # Amdahl: T(n) = serial + parallel / n
        serial = one - parallel
        lines.append(f"| {variant} | {one:.1f} s | {two:.1f} s | {serial:.1f} s | {serial + parallel / 4:.1f} s "
                     f"| {serial + parallel / 8:.1f} s |")  # fmt: skip
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    from mlplatform.devstack.kafka_broker import mock_broker

    env = bench_env(STATE)
    if not (STATE / "mlflow.db").exists():
        train_for(args.rows, env)
    results: dict[str, dict[str, list]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-cores-") as tmp:
        for _, kafka, cores in ((t, k, c) for t in range(args.repeats) for k in (False, True) for c in ("0", "0,1")):
            score = ["taskset", "-c", cores, str(BIN / "mlplatform"), "score", "--rows", str(args.rows),
                     "--data-root", f"{tmp}/out", "--date", "2026-11-22"]  # fmt: skip
            with contextlib.ExitStack() as stack:
                run_env = env
                if kafka:  # the broker on the other core when there is one: it stands for a remote cluster
                    broker = stack.enter_context(mock_broker({"predictions": 16}))
                    run_env = env | {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "KAFKA_TOPIC": "predictions"}
                load = os.getloadavg()[0]
                seconds, cpu = profiled(score, run_env)
            label = f"{'files + Kafka' if kafka else 'files'} @ {len(cores.split(','))} core(s)"
            entry = results.setdefault(label, {"seconds": [], "cpu": [], "load": []})
            entry["seconds"].append(seconds)
            entry["cpu"].append(cpu)
            entry["load"].append(load)
            top = ", ".join(f"{n} {s:.1f}" for n, s in list(cpu.items())[:6])
            print(f"{label:<28} {seconds:7.2f} s  CPU {sum(cpu.values()):6.1f} s ({top})  load {load:.1f}", flush=True)

    lines = [f"Machine: {machine()}; {time.strftime('%Y-%m-%d')}; {args.rows:,} rows", "", *table(results)]
    RESULTS.mkdir(exist_ok=True)
    report = {"machine": machine(), "rows": args.rows, "results": results}
    (RESULTS / "cores.json").write_text(json.dumps(report, indent=2))
    (RESULTS / "cores.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

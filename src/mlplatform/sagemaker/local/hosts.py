"""The instances of a job: one process per host running the container's entrypoint, its output
streamed with the host's prefix, all stopped at the job's time limit."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from mlplatform.sagemaker.local.records import Job, StepFailure, client_error

STOP_GRACE_S = 5.0


def container_command(entrypoint: list[str] | None, arguments: list[Any] | None) -> list[str]:
    """The container's command. Without ContainerEntrypoint the image's ENTRYPOINT runs, which
    run-local cannot read from a local folder: the definitions set it."""
    if not entrypoint:
        raise client_error("run-local needs the step's ContainerEntrypoint")
    search = os.pathsep.join([str(Path(sys.executable).parent), os.defpath, os.environ.get("PATH", "")])
    program = shutil.which(entrypoint[0], path=search)
    if program is None:
        raise client_error(f"entrypoint {entrypoint[0]} is not installed here")
    return [program, *entrypoint[1:], *[str(a) for a in arguments or []]]


def run_hosts(
    job: Job, hosts: dict[str, Path], command: list[str], env: dict[str, str], echo: Callable[[str], None]
) -> dict[str, int]:
    """Start one process per host, stream their output, stop them all at the job's limit."""
    processes: dict[str, subprocess.Popen[str]] = {}
    readers = []
    for name, host in hosts.items():
        log_file = open(host / "logs.txt", "w")  # noqa: SIM115 - closed after the process ends
        try:
            process = subprocess.Popen(
                command,
                cwd=host,
                env=env | {"MLPLATFORM_SAGEMAKER_ROOT": str(host)},
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            log_file.close()
            stop_processes(processes)
            raise client_error(f"cannot start {command[0]}: {exc.strerror}") from None
        processes[name] = process
        prefix = f"[{job.step}/{name}]"
        reader = threading.Thread(target=_pump, args=(process.stdout, log_file, prefix, echo), daemon=True)
        reader.start()
        readers.append(reader)
    try:
        return _wait(job, processes)
    finally:
        for reader in readers:
            reader.join(timeout=5)


def _wait(job: Job, processes: dict[str, subprocess.Popen[str]]) -> dict[str, int]:
    deadline = time.monotonic() + job.max_runtime_s
    codes: dict[str, int] = {}
    try:
        for name, process in processes.items():
            codes[name] = process.wait(timeout=max(deadline - time.monotonic(), 0.01))
    except subprocess.TimeoutExpired:
        stop_processes(processes)
        raise StepFailure(
            "MaxRuntimeExceeded",
            f"MaxRuntimeExceeded: the job ran past MaxRuntimeInSeconds={job.max_runtime_s:g} and was stopped",
            status="Stopped",
        ) from None
    return codes


def _pump(stream: IO[str] | None, log_file: IO[str], prefix: str, echo: Callable[[str], None]) -> None:
    with log_file:
        for line in stream or []:
            log_file.write(line)
            echo(f"{prefix} {line.rstrip()}")


def stop_processes(processes: dict[str, subprocess.Popen[str]]) -> None:
    """SIGTERM to each process group, then SIGKILL after the grace period (SageMaker: 120 s)."""
    for process in processes.values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for process in processes.values():
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.01))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

"""One exclusive lock between processes, for every job that must not run twice at once (the
scheduler daemon, a pipeline's runs, alias moves): `filelock` underneath, plus the holder's pid
written into the lock file so a refused process can say who is in the way."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from mlplatform.errors import EXIT_BUSY, MLPlatformError


class LockBusyError(MLPlatformError):
    """Another process holds the lock and we were told not to wait."""


class RunInProgressError(LockBusyError):
    """The same run (model and date) is going on in another process: a distinct exit code, so a
    scheduler or CI job can tell "try later" from a failure."""

    exit_code = EXIT_BUSY


def _write_pid(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)


def holder_of(path: Path) -> str:
    """The pid written by the process holding `path`, or 'unknown'."""
    try:
        return path.read_text().strip() or "unknown"
    except OSError:
        return "unknown"


@contextlib.contextmanager
def exclusive_lock(
    path: Path, what: str, *, wait: bool = True, fix: str = "", error: type[LockBusyError] = LockBusyError
) -> Iterator[None]:
    """Hold `path` for the block; when busy, wait or raise LockBusyError naming the holder.

    `what` completes "... is already running" (e.g. "a scheduler on this state directory").
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, timeout=-1 if wait else 0, preserve_lock_file=True, on_acquired=_write_pid)
    try:
        lock.acquire()
    except Timeout:
        raise error(
            f"{what} is already running (pid {holder_of(path)}, lock {path})",
            fix or "wait for it to finish, or stop it first",
        ) from None
    try:
        yield
    finally:
        lock.release()


def process_alive(pid: int) -> bool:
    """A process with this pid runs on this machine (a zombie, killed but not reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    return True


def is_free(path: Path) -> bool:
    """Nobody holds `path` right now (a probe: the answer may change the moment after)."""
    if not path.exists():
        return True
    lock = FileLock(path, timeout=0, preserve_lock_file=True)
    try:
        lock.acquire()
    except Timeout:
        return False
    lock.release()
    return True


def die_with(parent: int) -> Callable[[], None] | None:
    """A hook for a child process (preexec, or the first thing a helper process runs): the child
    gets SIGTERM when `parent` dies, even by kill -9 (Linux PR_SET_PDEATHSIG), so an orphan
    can never commit a run or publish a date its parent gave up on. None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork: the child only calls

    def arm() -> None:
        prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return arm

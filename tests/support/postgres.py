"""Debian's PostgreSQL server for tests: initdb in a temp dir, listening on a loopback port with
password (SCRAM) authentication, stopped afterwards. `make test-tools` installs the package.

initdb refuses to run as root: as root, the server runs as Debian's `postgres` user."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.integration.services import free_port

USER = "mlplatform"
PASSWORD = "pg-s3cret-canary"


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    dbname: str = "postgres"

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.dbname}"

    @property
    def keyword_dsn(self) -> str:
        return f"host={self.host} port={self.port} dbname={self.dbname} user={self.user} password={self.password}"


def server_binaries() -> Path | None:
    """The newest installed server's bin folder (Debian: /usr/lib/postgresql/<major>/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A server in a fresh folder directly under the system temp dir (pytest's own temp dirs are
    private to root, and the server may run as another user)."""
    binaries = server_binaries()
    if binaries is None:
        raise RuntimeError("PostgreSQL is not installed: run `make test-tools` (Debian package postgresql)")
    workdir = Path(tempfile.mkdtemp(prefix="mlplatform-postgres-"))
    try:
        with _running(binaries, workdir) as server:
            yield server
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def _running(binaries: Path, workdir: Path) -> Iterator[PostgresServer]:
    as_user: list[str] = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
        os.chown(workdir, owner.pw_uid, owner.pw_gid)
    data, password_file = workdir / "data", workdir / "password"
    password_file.write_text(PASSWORD)
    if as_user:
        os.chown(password_file, owner.pw_uid, owner.pw_gid)
    initdb = [str(binaries / "initdb"), "-D", str(data), "-U", USER, "--pwfile", str(password_file)]
    initdb += ["--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "--no-sync", "-E", "UTF8"]
    subprocess.run([*as_user, *initdb], check=True, capture_output=True, cwd=workdir)
    port = free_port()
    options = f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off"
    pg_ctl = [str(binaries / "pg_ctl"), "-D", str(data), "-l", str(workdir / "server.log")]
    subprocess.run([*as_user, *pg_ctl, "-o", options, "-w", "-t", "60", "start"], check=True, capture_output=True)
    try:
        yield PostgresServer("127.0.0.1", port, USER, PASSWORD)
    finally:
        subprocess.run([*as_user, *pg_ctl, "-m", "immediate", "stop"], check=False, capture_output=True)

"""A throwaway PostgreSQL server for one test: initdb, pg_ctl start, a database, teardown.

The server's data directory and unix socket live in a fresh directory, it listens on a
free loopback port only, with fsync off (a test database need not survive a power cut),
and it is stopped at teardown whatever happened (`pg_ctl stop -m immediate`, then SIGKILL
of the postmaster as the last resort).

PostgreSQL refuses to run as root (initdb and postgres both check the effective uid). When
the tests run as root, as in a CI container, the server runs as an unprivileged account:
`postgres` when the PostgreSQL packages created it, else `nobody`; the binaries are started
with `subprocess`'s `user=`/`group=` (setuid before exec), no sudo and no new accounts.
An unprivileged user cannot enter pytest's root-only (0700) temporary directory, so then
the server's directory is made with `tempfile.mkdtemp` in the system temp directory,
owned by that user, and removed at teardown; as a normal user it is under `tmp_path`.

Clients authenticate with a password (scram-sha-256 over TCP), so tests exercise
`store.password_env` the way a real deployment does; the URL handed out has no password.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

__all__ = ["PostgresServer", "find_binaries", "postgres_server"]

USER = "watchstander"
DATABASE = "watchstander"


def find_binaries() -> Path:
    """The directory with initdb and pg_ctl: on PATH (e.g. /usr/local/bin), else the
    newest /usr/lib/postgresql/<major>/bin."""
    initdb = shutil.which("initdb")
    if initdb is not None and shutil.which("pg_ctl") is not None:
        return Path(initdb).resolve().parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if not candidates:
        raise RuntimeError(
            "PostgreSQL's initdb is not installed (looked on PATH and in "
            "/usr/lib/postgresql/*/bin): install the postgresql package"
        )
    return Path(candidates[-1]).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """One running server; `url` has no password (use `password`, or `url_with_password`)."""

    port: int
    password: str
    directory: Path

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def url_with_password(self) -> str:
        return f"postgresql+psycopg://{USER}:{self.password}@127.0.0.1:{self.port}/{DATABASE}"

    def create_database(self, name: str) -> str:
        """Create another empty database; returns its URL with the password."""
        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=USER,
            password=self.password,
            dbname="postgres",
            autocommit=True,
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://{USER}:{self.password}@127.0.0.1:{self.port}/{name}"


def _account() -> tuple[int, int] | None:
    """(uid, gid) to run the server as, or None to run it as ourselves."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
    raise RuntimeError("running as root and there is no 'postgres' or 'nobody' account")


@contextlib.contextmanager
def postgres_server(tmp_path: Path) -> Iterator[PostgresServer]:
    """Start a server for the duration of the block and stop it afterwards."""
    bindir = find_binaries()
    account = _account()
    if account is None:
        directory = tmp_path / "postgres"
        directory.mkdir()
    else:
        directory = Path(tempfile.mkdtemp(prefix="watchstander-pg-"))
        os.chown(directory, *account)
    data, sockets, log = directory / "data", directory / "sock", directory / "server.log"
    password = secrets.token_hex(12)
    port = _free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(directory),
        "LC_ALL": "C",
        "LANG": "C",
    }
    as_user = {} if account is None else {"user": account[0], "group": account[1]}

    def run(*argv: str, timeout: float = 60) -> None:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            argv,
            capture_output=True,
            text=True,
            env=env,
            cwd=directory,
            timeout=timeout,
            check=False,
            extra_groups=[] if account is not None else None,
            **as_user,  # type: ignore[arg-type]
        )
        if done.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(
                f"{Path(argv[0]).name} failed ({done.returncode}): "
                f"{done.stderr.strip() or done.stdout.strip()}\n{tail}"
            )

    pwfile = directory / "pwfile"
    try:
        pwfile.write_text(password + "\n", encoding="utf-8")
        sockets.mkdir()
        if account is not None:
            os.chown(pwfile, *account)
            os.chown(sockets, *account)
        run(
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            USER,
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--no-sync",
        )
        pwfile.unlink()
        options = " ".join(
            [
                f"-p {port}",
                f"-k {sockets}",
                "-c listen_addresses=127.0.0.1",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=100",
                "-c lock_timeout=30s",  # a test waiting on a lock fails instead of hanging
            ]
        )
        run(
            str(bindir / "pg_ctl"),
            "start",
            "-D",
            str(data),
            "-l",
            str(log),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            timeout=90,
        )
        server = PostgresServer(port=port, password=password, directory=directory)
        server.create_database(DATABASE)
        yield server
    finally:
        pidfile = data / "postmaster.pid"
        if pidfile.exists():
            with contextlib.suppress(Exception):
                run(str(bindir / "pg_ctl"), "stop", "-D", str(data), "-m", "immediate", "-w")
        if pidfile.exists():  # pg_ctl could not stop it: kill the postmaster itself
            with contextlib.suppress(ValueError, OSError, IndexError):
                os.kill(int(pidfile.read_text().splitlines()[0]), signal.SIGKILL)
        shutil.rmtree(directory, ignore_errors=True)

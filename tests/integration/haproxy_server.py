"""A real HAProxy for one test: `haproxy -db` on free loopback ports, its config and admin
socket in tmp_path, stopped at teardown (SIGTERM, then SIGKILL of its process group).

    server = HaproxyServer.start(tmp_path, backend_lines=["server web1 127.0.0.1:8001 check"])
    server.pid            # the same for the whole test: weights never reload HAProxy
    server.runtime_api    # "unix:/tmp/.../admin.sock", for target.runtime_api
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["HaproxyServer", "BACKEND", "DOC", "documented", "free_port", "haproxy_config"]

BACKEND = "shop"
DOC = Path(__file__).resolve().parents[2] / "docs" / "backends" / "haproxy.md"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def documented(info: str, nth: int = 0) -> str:
    """The `nth` fenced block of docs/backends/haproxy.md whose info string is `info`."""
    blocks = re.findall(r"^```(\S*)\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.M | re.S)
    return [body for kind, body in blocks if kind == info][nth]


def haproxy_config(*, socket_path: Path, listen: str, backend_lines: Sequence[str] = ()) -> str:
    """The haproxy.cfg of docs/backends/haproxy.md, on this test's socket and port, with
    quick health checks, plus `backend_lines` in the backend."""
    text = documented("haproxy")
    for old, new in (
        ("/run/haproxy/admin.sock", str(socket_path)),
        ("bind 127.0.0.1:8080", f"bind {listen}"),
        ("default-server inter 1s fall 3 rise 1", "default-server inter 200ms fall 2 rise 1"),
    ):
        assert old in text, f"docs/backends/haproxy.md no longer has {old!r}"
        text = text.replace(old, new)
    return text + "".join(f"    {line}\n" for line in backend_lines)


@dataclass
class HaproxyServer:
    process: subprocess.Popen[bytes]
    config_path: Path
    socket_path: Path
    listen: str

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def runtime_api(self) -> str:
        return f"unix:{self.socket_path}"

    @classmethod
    def start(
        cls, root: Path, *, backend_lines: Sequence[str] = (), timeout: float = 10.0
    ) -> HaproxyServer:
        binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
        root.mkdir(parents=True, exist_ok=True)
        socket_path = root / "admin.sock"
        listen = f"127.0.0.1:{free_port()}"
        config_path = root / "haproxy.cfg"
        config_path.write_text(
            haproxy_config(socket_path=socket_path, listen=listen, backend_lines=backend_lines),
            encoding="utf-8",
        )
        log = open(root / "haproxy.log", "wb")  # noqa: SIM115 - closed in stop()
        process = subprocess.Popen(
            [binary, "-db", "-f", str(config_path)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        server = cls(process, config_path, socket_path, listen)
        deadline = time.monotonic() + timeout
        while not server.answers():
            if process.poll() is not None or time.monotonic() > deadline:
                server.stop()
                output = (root / "haproxy.log").read_text(errors="replace")
                raise RuntimeError(f"haproxy did not start: {output.strip()[-500:]}")
            # Poll interval: wait on the process itself, so an exit is seen at once.
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.02)
        return server

    def answers(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.connect(str(self.socket_path))
                sock.sendall(b"show info\n")
                return b"Name: HAProxy" in sock.recv(4096)
        except OSError:
            return False

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)

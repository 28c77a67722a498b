"""`openday api --workers N`: each worker listens on a socket of its own (SO_REUSEPORT), so
connections that arrive together are spread over the workers, not all accepted by one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy.engine import Engine

from tests.ports import free_port

OPENDAY = str(Path(sys.executable).parent / "openday")


def _tcp_table() -> list[tuple[int, int, str]]:
    """(local port, socket inode, state) of every IPv4 TCP socket."""
    rows = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        rows.append((int(fields[1].rsplit(":", 1)[1], 16), int(fields[9]), fields[3]))
    return rows


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_two_workers_each_listen_and_share_the_connections(engine: Engine, tmp_path) -> None:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OPENDAY_")},
        "OPENDAY_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "OPENDAY_LOG_LEVEL": "warning",
        "OPENDAY_ALLOW_PRIVILEGED_DB_ROLE": "true",  # the suite's superuser
    }
    log = (tmp_path / "api.log").open("w")
    api = subprocess.Popen(
        [OPENDAY, "api", "--port", str(port), "--workers", "2"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    clients: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 60
        while sum(p == port and st == "0A" for p, _, st in _tcp_table()) < 2:
            assert api.poll() is None, (tmp_path / "api.log").read_text()
            assert time.monotonic() < deadline, "two workers never listened"
            time.sleep(0.1)
        for _ in range(16):  # as a load generator's keep-alive clients: all at once
            clients.append(socket.create_connection(("127.0.0.1", port)))
        for c in clients:
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        for c in clients:
            assert c.recv(4096).startswith(b"HTTP/1.1 200")
        established = {inode for p, inode, st in _tcp_table() if p == port and st == "01"}
        workers = _children(api.pid)
        assert len(workers) >= 2  # the supervisor's two workers (and multiprocessing's tracker)
        per_worker = sorted(len(_socket_inodes(pid) & established) for pid in workers)
        assert sum(per_worker) == 16
        # The kernel hashes each connection to one of the two sockets: all 16 on one worker
        # (what uvicorn's shared socket gave) has odds of 1 in 32,768.
        assert per_worker[-2] >= 1, per_worker
    finally:
        for c in clients:
            c.close()
        os.killpg(api.pid, signal.SIGTERM)
        api.wait(30)
        log.close()

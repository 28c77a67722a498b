"""Serving the API: uvicorn, one process or several sharing the port by SO_REUSEPORT.

Kept apart from api.py so the supervising parent process never imports the application.
"""

from __future__ import annotations

import socket
from typing import Any

import uvicorn
from uvicorn.supervisors.multiprocess import Multiprocess


def serve(app: str, host: str, port: int, workers: int, **uvicorn_options: Any) -> None:
    """Run an ASGI app ("module:attribute", as uvicorn takes it; the API is "api:app") under
    uvicorn: one process, or `workers` processes each with its own
    listening socket on the same port (SO_REUSEPORT, so the kernel spreads connections).

    uvicorn's own supervisor hands every worker one shared socket, and whichever worker wakes
    first accepts every pending connection: 16 keep-alive clients connecting at once all landed
    on one of two workers (measured with `ss`: 16/0, 16/0, 14/2), so the second core sat idle.
    """
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_config": None,
        "proxy_headers": True,
    }
    options.update(uvicorn_options)
    if workers <= 1:
        uvicorn.run(app, **options)
        return
    config = uvicorn.Config(app, workers=workers, **options)
    _ReusePortSupervisor(config, sockets=[]).run()


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port in the port's SO_REUSEPORT group (not yet listening:
    the worker's server listens on it, and only then does it get connections)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


class _ReusePortSupervisor(Multiprocess):
    """uvicorn's supervisor (health checks, restarts, signals), except that each worker it
    starts gets a socket of its own: Multiprocess reads `self.sockets` once per new worker."""

    @property
    def sockets(self) -> list[socket.socket]:
        sock = _reuse_port_socket(self.config.host, self.config.port)
        self.__dict__.setdefault("_handed", []).append(sock)
        return [sock]

    @sockets.setter
    def sockets(self, _value: list[socket.socket]) -> None:
        """Multiprocess.__init__ assigns the one shared socket list: there is none here."""

    def keep_subprocess_alive(self) -> None:
        # Workers started since the last check hold their socket now: the supervisor's copy
        # goes, so a worker that dies takes its socket out of the port's group with it.
        for sock in self.__dict__.pop("_handed", []):
            sock.close()
        super().keep_subprocess_alive()

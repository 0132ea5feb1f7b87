"""Connections of the model server: how many, and for how long.

A per-`recv` timeout does not bound a request: a client that sends one byte every few
seconds never trips it and holds its thread for as long as it likes. So every phase of a
connection has a deadline for the phase as a whole, and the server admits a bounded number
of connections (one thread each) and answers 503 beyond it.
"""

from __future__ import annotations

import io
import json
import math
import socket
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class ServerLimits:
    max_connections: int = 64
    # A keep-alive connection waiting for its next request.
    idle_seconds: float = 60.0
    # From the first byte of a request to the last byte of its body.
    request_seconds: float = 60.0
    # Writing one response.
    response_seconds: float = 60.0


class DeadlineSocketIO(io.RawIOBase):
    """A socket read and written against one deadline per phase, however the bytes trickle.

    `expect_request` starts the idle phase; the first byte that arrives starts the request's
    own deadline. `start_response` gives the answer its deadline. Past a deadline, reads and
    writes raise TimeoutError.
    """

    def __init__(self, sock: socket.socket, limits: ServerLimits) -> None:
        super().__init__()
        self._sock = sock
        self._limits = limits
        self._deadline = math.inf
        self._waiting_for_first_byte = False

    def expect_request(self) -> None:
        self._deadline = time.monotonic() + self._limits.idle_seconds
        self._waiting_for_first_byte = True

    def start_response(self) -> None:
        self._deadline = time.monotonic() + self._limits.response_seconds

    def _remaining(self) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the connection ran out of time")
        return left

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        self._sock.settimeout(self._remaining())
        n = self._sock.recv_into(buffer)
        if n and self._waiting_for_first_byte:
            self._waiting_for_first_byte = False
            self._deadline = time.monotonic() + self._limits.request_seconds
        return n

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        # sendall's timeout covers the whole call (Python >= 3.5), so it is a deadline too.
        self._sock.settimeout(self._remaining())
        self._sock.sendall(data)
        return len(data)


def refuse_connection(sock: socket.socket, max_connections: int) -> None:
    """Answers 503 on a connection the server has no thread for, without ever blocking.

    Whatever the client already sent is read and dropped first: closing a socket with unread
    input resets the connection, and the client might never see the answer.
    """
    body = json.dumps({"error": f"the server is busy: all {max_connections} connections are in use; retry shortly"})
    head = (
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
    )
    try:
        sock.setblocking(False)
        sock.send((head + body).encode())  # a fresh socket's send buffer takes this at once
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(65536):
            pass
    except OSError:  # BlockingIOError included: nothing more to read now
        pass
    finally:
        sock.close()

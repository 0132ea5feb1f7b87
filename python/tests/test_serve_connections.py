"""The model server's connection limits, with real sockets against a server in this process:
a request has a deadline however slowly its bytes come, and stalled connections hold a
bounded number of threads."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any, cast

import pytest
from mloop_runtime.serve_connection import ServerLimits
from mloop_runtime.serve_http import InferenceServer, make_server
from mloop_runtime.serve_model import ServedModel


class _Unserved:
    """Routing needs only the name; these tests never get as far as a model."""

    name = "m"
    version = "1"


def _start(limits: ServerLimits) -> tuple[InferenceServer, threading.Thread]:
    server = make_server("127.0.0.1", 0, cast(ServedModel, _Unserved()), limits=limits)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def serve() -> Iterator[Any]:
    started: list[tuple[InferenceServer, threading.Thread]] = []

    def start(limits: ServerLimits) -> InferenceServer:
        started.append(_start(limits))
        return started[-1][0]

    yield start
    for server, thread in started:
        server.stop()
        thread.join(timeout=10)


def _connect(server: InferenceServer) -> socket.socket:
    sock = socket.create_connection(server.server_address[:2], timeout=10)
    return sock


def _answer(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _health(server: InferenceServer) -> bytes:
    with _connect(server) as sock:
        sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return _answer(sock)


def test_a_body_trickling_one_byte_at_a_time_is_cut_off_at_the_request_deadline(serve: Any) -> None:
    server = serve(ServerLimits(request_seconds=2.0, idle_seconds=30.0))
    sock = _connect(server)
    head = b"POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
    sock.sendall(head)
    started = time.monotonic()
    cut_off_after = None
    # One byte every 0.5 s: far below any per-recv timeout, so only a deadline stops it.
    for _ in range(40):
        try:
            sock.sendall(b"{")
        except OSError:
            cut_off_after = time.monotonic() - started
            break
        sock.settimeout(0.5)
        try:
            data = sock.recv(65536)
        except TimeoutError:
            continue
        cut_off_after = time.monotonic() - started
        sock.settimeout(5)
        data += _answer(sock)
        assert data.startswith(b"HTTP/1.1 408 "), data
        assert b"the request did not arrive within 2 s" in data
        break
    sock.close()
    print(f"slow-loris body cut off after {cut_off_after} s (deadline 2 s)")
    assert cut_off_after is not None and 1.5 < cut_off_after < 4.0
    assert b"200 OK" in _health(server)


def test_headers_trickling_in_are_cut_off_too(serve: Any) -> None:
    server = serve(ServerLimits(request_seconds=1.5, idle_seconds=30.0))
    sock = _connect(server)
    started = time.monotonic()
    sock.sendall(b"GET /v2/health/live HTTP/1.1\r\n")
    closed_after = None
    for i in range(40):
        try:
            sock.sendall(f"X-Slow-{i}: y\r\n".encode())
            time.sleep(0.3)
        except OSError:
            closed_after = time.monotonic() - started
            break
        sock.settimeout(0.01)
        try:
            if sock.recv(1) == b"":
                closed_after = time.monotonic() - started
                break
        except TimeoutError:
            pass
    sock.close()
    assert closed_after is not None and closed_after < 3.5, closed_after


def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(serve: Any) -> None:
    server = serve(ServerLimits(idle_seconds=1.0))
    sock = _connect(server)
    sock.settimeout(10)
    started = time.monotonic()
    assert sock.recv(1) == b""  # the server closed it
    assert 0.8 < time.monotonic() - started < 3.0
    sock.close()


def test_stalled_connections_hold_a_bounded_number_of_threads_and_the_rest_get_503(serve: Any) -> None:
    threads_before = threading.active_count()
    server = serve(ServerLimits(max_connections=8, request_seconds=30.0, idle_seconds=30.0))
    stalled = []
    for _ in range(8):
        sock = _connect(server)
        sock.sendall(b"POST /v2/models/m/infer HTTP/1.1\r\n")  # and never the rest
        stalled.append(sock)
    time.sleep(0.3)
    refused = []
    for _ in range(192):  # 200 stalled or refused connections in all
        sock = _connect(server)
        refused.append(_answer(sock))
        sock.close()
    threads = threading.active_count() - threads_before
    print(f"200 connections, 8 of them stalled: {threads} threads (serve_forever's included)")
    assert threads <= 8 + 1
    assert all(a.startswith(b"HTTP/1.1 503 Service Unavailable\r\n") for a in refused), refused[0]
    assert b"all 8 connections are in use" in refused[0] and b"Retry-After: 1" in refused[0]
    # Once the stalled ones go, the server serves again.
    for sock in stalled:
        sock.close()
    deadline = time.monotonic() + 5
    while b"200 OK" not in _health(server):
        assert time.monotonic() < deadline, "the slots of closed connections were never freed"
        time.sleep(0.05)


def test_keep_alive_requests_each_get_their_own_deadline(serve: Any) -> None:
    server = serve(ServerLimits(request_seconds=1.0, idle_seconds=5.0))
    with _connect(server) as sock:
        for _ in range(3):  # 3 requests over ~2.4 s on one connection, each quick itself
            sock.sendall(b"GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while not data.endswith(b'{"ready":true}'):
                data += sock.recv(65536)
            assert data.startswith(b"HTTP/1.1 200 OK")
            time.sleep(0.8)


def test_keep_alive_answers_are_not_held_back_by_nagle_and_delayed_acks(serve: Any) -> None:
    # Headers and body leave in two sends; with Nagle's algorithm on, the body waits for the
    # client's ACK of the headers, which a delayed ACK holds up to 40 ms: 20 requests took > 0.8 s.
    server = serve(ServerLimits())
    with _connect(server) as sock:
        reader = sock.makefile("rb")
        started = time.monotonic()
        for _ in range(20):
            sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            assert reader.read(length) == b'{"live":true}'
        elapsed = time.monotonic() - started
    assert elapsed < 0.4, f"20 keep-alive requests took {elapsed:.2f} s"

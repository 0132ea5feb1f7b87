"""The HTTP side of `serve`: Open Inference Protocol (KServe V2) REST endpoints.

A ThreadingHTTPServer (one thread per connection, HTTP/1.1 keep-alive) that admits at most
`ServerLimits.max_connections` connections (503 beyond) and gives each request a deadline
(serve_connection.py). Shutting down stops accepting, lets requests that have started
finish and closes idle keep-alive connections, so a stop never cuts a response short.
"""

from __future__ import annotations

import io
import json
import socket
import socketserver
import sys
import threading
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from . import __version__, serve_binary
from .entrypoints import describe_exception, traceback_tail
from .errors import TrainingFailed
from .protocol import json_safe
from .serve_connection import DeadlineSocketIO, ServerLimits, refuse_connection
from .serve_model import PLATFORM, ServedModel
from .serve_request import BadRequest, parse_infer_request

MAX_BODY_BYTES = 16 * 1024 * 1024
# An oversized body is read and dropped up to this size, so the client can read the 413
# instead of seeing its upload fail; beyond it the connection is just closed.
MAX_DISCARDED_BYTES = 64 * 1024 * 1024


class _Reply(Exception):
    """Ends a request with this status and `{"error": message, **fields}`."""

    def __init__(
        self, status: HTTPStatus, message: str, allow: str | None = None, fields: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.allow = allow
        self.fields = fields or {}


def _log(text: str) -> None:
    sys.stderr.write(text.rstrip("\n") + "\n")
    sys.stderr.flush()


class InferenceServer(ThreadingHTTPServer):
    # Not daemons: server_close joins only non-daemon threads, and a stop must wait for
    # the requests in progress.
    daemon_threads = False
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        served: ServedModel,
        log_requests: bool = False,
        limits: ServerLimits = ServerLimits(),
    ) -> None:
        self.served = served
        self.log_requests = log_requests
        self.limits = limits
        self._lock = threading.Lock()
        self._stopping = False
        self._connections: dict[_Handler, bool] = {}  # handler -> idle (waiting for a request)
        self._admitted = 0
        super().__init__(address, _Handler)

    # Admission: a thread per connection, at most limits.max_connections of them.
    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            admitted = self._admitted < self.limits.max_connections
            if admitted:
                self._admitted += 1
        if not admitted:
            refuse_connection(request, self.limits.max_connections)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread started: nothing will release the slot
            self._release()
            self.shutdown_request(request)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release()

    def _release(self) -> None:
        with self._lock:
            self._admitted -= 1

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn) that can take seconds.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    # Connection bookkeeping for a graceful stop.
    def connection_idle(self, handler: _Handler) -> bool:
        """Marks the connection as waiting for a request; False when stopping."""
        with self._lock:
            if self._stopping:
                return False
            self._connections[handler] = True
            return True

    def connection_busy(self, handler: _Handler) -> None:
        with self._lock:
            self._connections[handler] = False

    def connection_closed(self, handler: _Handler) -> None:
        with self._lock:
            self._connections.pop(handler, None)

    @property
    def stopping(self) -> bool:
        return self._stopping

    def stop(self) -> None:
        """Stops accepting, ends idle connections, waits for requests in progress."""
        self.shutdown()  # serve_forever returns: no more accepts
        with self._lock:
            self._stopping = True
            idle = [h for h, is_idle in self._connections.items() if is_idle]
        for handler in idle:  # their next read sees the end of the stream
            try:
                handler.connection.shutdown(socket.SHUT_RD)
            except OSError:
                pass
        self.server_close()  # closes the listening socket, joins the handler threads


class _IPv6InferenceServer(InferenceServer):
    address_family = socket.AF_INET6


def make_server(
    host: str, port: int, served: ServedModel, log_requests: bool = False, limits: ServerLimits = ServerLimits()
) -> InferenceServer:
    server_class = _IPv6InferenceServer if ":" in host else InferenceServer
    return server_class((host, port), served, log_requests, limits)


class _Handler(BaseHTTPRequestHandler):
    server: InferenceServer
    protocol_version = "HTTP/1.1"  # keep-alive
    server_version = f"mloop-serve/{__version__}"

    def setup(self) -> None:
        # StreamRequestHandler.setup with deadline-bound reads and writes instead of a
        # per-recv timeout.
        self.connection = self.request
        # The status line and headers go out in one send and the body in another: with Nagle's
        # algorithm the body waits for the client's (delayed, up to 40 ms) ACK of the headers.
        if self.connection.family in (socket.AF_INET, socket.AF_INET6):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._io = DeadlineSocketIO(self.connection, self.server.limits)
        self.rfile = io.BufferedReader(self._io)
        self.wfile = self._io
        self._body_pending = False

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.connection_closed(self)

    def handle_one_request(self) -> None:
        if not self.server.connection_idle(self):
            self.close_connection = True
            return
        self._io.expect_request()
        super().handle_one_request()
        if self.server.stopping:
            self.close_connection = True

    def parse_request(self) -> bool:
        # The request line has arrived: from now on this request is in progress.
        self.server.connection_busy(self)
        self._body_pending = False
        ok = super().parse_request()
        if ok:
            self._body_pending = "Transfer-Encoding" in self.headers or self.headers.get("Content-Length", "0") != "0"
        return ok

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log_requests:
            super().log_message(format, *args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Malformed HTTP (bad request line, unsupported method, ...): JSON like everything else.
        self.log_error("code %d, message %s", code, message)
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        self._send_json(code, {"error": message or phrase})

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    # Routing.
    def _dispatch(self, method: str) -> None:
        try:
            status, payload = self._route(method)
            if status is not None:  # None: the client went away
                self._send_json(status, payload)
        except TimeoutError:
            self.close_connection = True
            limit = self.server.limits.request_seconds
            self._send_json(HTTPStatus.REQUEST_TIMEOUT, {"error": f"the request did not arrive within {limit:g} s"})
        except _Reply as reply:
            headers = {"Allow": reply.allow} if reply.allow else {}
            self._send_json(reply.status, {"error": reply.message, **reply.fields}, headers)
        except Exception as exc:  # a bug in mloop_runtime, not in the request or the model
            _log(f"mloop serve: internal error: {describe_exception(exc)}\n{traceback_tail(exc)}")
            self._send_json(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                {"error": f"mloop_runtime failed unexpectedly: {describe_exception(exc)}"},
            )

    def _route(self, method: str) -> tuple[HTTPStatus | None, Any]:
        path = urlsplit(self.path).path
        parts = [unquote(p) for p in path.split("/")[1:]] if path.startswith("/") else []
        served = self.server.served
        if parts == ["v2"]:
            self._allow(method, "GET")
            return HTTPStatus.OK, {"name": PLATFORM, "version": __version__, "extensions": [serve_binary.EXTENSION]}
        if parts in (["v2", "health", "live"], ["v2", "health", "ready"]):
            self._allow(method, "GET")
            return HTTPStatus.OK, {parts[2]: True}
        if len(parts) < 3 or parts[:2] != ["v2", "models"]:
            raise _Reply(HTTPStatus.NOT_FOUND, f"no such endpoint: {method} {path}")
        name, rest = parts[2], parts[3:]
        if name != served.name:
            raise _Reply(HTTPStatus.NOT_FOUND, f"model {name!r} not found (this server serves model {served.name!r})")
        if rest[:1] == ["versions"] and len(rest) >= 2:
            if rest[1] != served.version:
                raise _Reply(
                    HTTPStatus.NOT_FOUND,
                    f"model {name!r} has no version {rest[1]!r} (this server serves version {served.version!r})",
                )
            rest = rest[2:]
        if rest == []:
            self._allow(method, "GET")
            return HTTPStatus.OK, served.metadata()
        if rest == ["ready"]:
            self._allow(method, "GET")
            return HTTPStatus.OK, {"name": served.name, "ready": True}
        if rest == ["infer"]:
            self._allow(method, "POST")
            return self._infer()
        raise _Reply(HTTPStatus.NOT_FOUND, f"no such endpoint: {method} {path}")

    def _allow(self, method: str, allowed: str) -> None:
        if method != allowed:
            raise _Reply(HTTPStatus.METHOD_NOT_ALLOWED, f"{method} is not allowed here (use {allowed})", allow=allowed)

    def _infer(self) -> tuple[HTTPStatus | None, Any]:
        body = self._read_body()
        if body is None:
            return None, None  # the client went away
        served = self.server.served
        try:
            request = serve_binary.decode_request(body, self.headers.get(serve_binary.HEADER))
            serve_binary.check_outputs(request)
            rid, frame = parse_infer_request(request, served.manifest)
        except BadRequest as exc:
            # The bad rows by position, so a client can score the others (an mloop extension).
            fields = {"row_errors": exc.row_errors} if exc.row_errors else None
            raise _Reply(HTTPStatus.BAD_REQUEST, exc.message, fields=fields) from exc
        try:
            outputs = served.infer(frame)
        except TrainingFailed as exc:
            _log(f"mloop serve: {exc.message}" + (f"\n{exc.traceback_tail}" if exc.traceback_tail else ""))
            raise _Reply(HTTPStatus.INTERNAL_SERVER_ERROR, exc.message) from exc
        response = {
            "model_name": served.name,
            "model_version": served.version,
            "id": rid if rid is not None else str(uuid.uuid4()),
            "outputs": outputs,
        }
        try:
            return HTTPStatus.OK, serve_binary.encode_response(response, request)
        except BadRequest as exc:
            raise _Reply(HTTPStatus.BAD_REQUEST, exc.message) from exc

    # Bodies and responses.
    def _read_body(self) -> bytes | None:
        if "Transfer-Encoding" in self.headers:
            self.close_connection = True
            raise _Reply(HTTPStatus.LENGTH_REQUIRED, "chunked request bodies are not supported: send Content-Length")
        text = self.headers.get("Content-Length")
        if text is None:
            raise _Reply(HTTPStatus.LENGTH_REQUIRED, "the request needs a Content-Length header")
        try:
            length = int(text)
            if length < 0:
                raise ValueError(text)
        except ValueError as exc:
            self.close_connection = True
            raise _Reply(HTTPStatus.BAD_REQUEST, f"invalid Content-Length {text!r}") from exc
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            if length <= MAX_DISCARDED_BYTES:
                self._discard(length)
            raise _Reply(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"request body of {length} bytes is larger than the limit of {MAX_BODY_BYTES} bytes "
                "(16 MiB); split the batch",
            )
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True
            return None
        self._body_pending = False
        return body

    def _discard(self, length: int) -> None:
        try:
            while length > 0:
                chunk = self.rfile.read(min(length, 1 << 20))
                if not chunk:
                    return
                length -= len(chunk)
        except OSError:
            return

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        # Serialised first: a failure here leaves nothing half-sent.
        content_type = "application/json"
        if isinstance(payload, serve_binary.BinaryResponse):
            body, content_type = payload.body, "application/octet-stream"
            headers = {**(headers or {}), **payload.headers}
        else:
            body = json.dumps(json_safe(payload), allow_nan=False, separators=(",", ":")).encode("utf-8")
        if self._body_pending or self.server.stopping:  # an unread body would be taken for the next request
            self.close_connection = True
        self._io.start_response()
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self.wfile.flush()
        except OSError:  # the client went away
            self.close_connection = True

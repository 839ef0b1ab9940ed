"""HTTP/1.1 request handler: parsing, routing, fault application and (paced) writing."""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from typing_extensions import override

from fake_backstory.config import RequestLog
from fake_backstory.faults import (
    ERROR_KINDS,
    HOSTILE_KINDS,
    Fault,
    bad_crc_response,
    truncate_response,
)
from fake_backstory.render import Chunk
from fake_backstory.responses import ApiError, Response, error_response
from fake_backstory.state import ApiRequest, ApiState

JOBS_PATH = "/pull/v1/export/contacts/jobs"
TOKEN_PATH = "/auth/v1/tokens"  # noqa: S105 - a URL path, not a secret
_WRITE_CHUNK = 256 * 1024


def route(method: str, path: str) -> tuple[str, str | None]:
    """Map a request to (endpoint, job id); unsupported methods and paths are "other"."""
    if path == TOKEN_PATH:
        return ("token" if method == "POST" else "other"), None
    if path == JOBS_PATH:
        return ("create" if method == "POST" else "other"), None
    if path.startswith(JOBS_PATH + "/") and method == "GET":
        parts = path[len(JOBS_PATH) + 1 :].split("/")
        if len(parts) == 1 and parts[0]:
            return "status", unquote(parts[0])
        if len(parts) == 2 and parts[0] and parts[1] == "data":
            return "data", unquote(parts[0])
    return "other", None


class FakeHTTPServer(ThreadingHTTPServer):
    """Threading server that knows its ApiState and its open connections."""

    daemon_threads = True
    request_queue_size = 128  # parallel fragment downloads must not overflow the backlog

    def __init__(self, address: tuple[str, int], state: ApiState) -> None:
        """Bind to ``address`` and serve ``state``."""
        self.state = state
        #: Set by FakeBackstory.stop(): ends "delay" and "stall" faults at once.
        self.stopping = threading.Event()
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, FakeRequestHandler)

    @override
    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore client disconnects; report anything else on stderr."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        traceback.print_exc()

    def close_connections(self) -> None:
        """Shut down every open client connection (wakes idle keep-alive handlers)."""
        with self.connections_lock:
            connections = list(self.connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class FakeRequestHandler(BaseHTTPRequestHandler):
    """Serves one connection of the fake Backstory API."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server_version = "FakeBackstory/1.0"
    server: FakeHTTPServer

    @override
    def setup(self) -> None:
        """Register the connection so that stop() can close it."""
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    @override
    def finish(self) -> None:
        """Unregister the connection."""
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    @override
    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log (see FakeConfig.log_requests)."""

    def do_GET(self) -> None:
        """Serve GET."""
        self._serve()

    def do_POST(self) -> None:
        """Serve POST."""
        self._serve()

    def do_PUT(self) -> None:
        """Serve PUT (always 404)."""
        self._serve()

    def do_PATCH(self) -> None:
        """Serve PATCH (always 404)."""
        self._serve()

    def do_DELETE(self) -> None:
        """Serve DELETE (always 404)."""
        self._serve()

    def do_HEAD(self) -> None:
        """Serve HEAD (always 404, no body)."""
        self._serve()

    # ---- request ------------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        """Read the request body announced by Content-Length."""
        raw = self.headers.get("Content-Length")
        if not raw:
            return b""
        try:
            length = int(raw)
        except ValueError:
            raise ApiError(400, "Invalid Content-Length") from None
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        """Parse, route, apply any fault, answer and log one request."""
        state = self.server.state
        split = urlsplit(self.path)
        path = split.path
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        endpoint, job_id = route(self.command, path)
        headers = dict(self.headers.items())
        try:
            body = self._read_body()
        except ApiError as exc:
            self.close_connection = True
            self._finish(
                RequestLog(self.command, path, query, exc.status, endpoint, self.path, headers),
                exc.response(),
            )
            return
        fault = self._take_fault(state, endpoint, query)
        kind = fault.kind if fault else None
        if fault is not None and kind == "delay":
            self.server.stopping.wait(fault.seconds)
        if kind == "reset":
            state.record(RequestLog(self.command, path, query, 0, endpoint, self.path, headers))
            self._reset()
            return
        response: Response
        if fault is not None and kind in ERROR_KINDS:
            response = fault.error().response()
        elif fault is not None and kind in HOSTILE_KINDS:
            response = fault.hostile(self.command, self.path, self.headers, body)
        else:
            request = ApiRequest(self.command, path, query, self.headers, body, job_id)
            try:
                response = state.handle(endpoint, request, fault)
            except Exception as exc:  # a bug in the fake: answer 500, show the traceback
                traceback.print_exc()
                response = error_response(500, f"Fake server error: {exc!r}")
        if kind == "truncate":
            response = truncate_response(response)
        if kind == "bad_crc":
            response = bad_crc_response(response)
        cut = kind if kind in ("drop_mid_body", "short_body") else None
        stall = fault if kind == "stall" else None
        entry = RequestLog(self.command, path, query, response.status, endpoint, self.path, headers)
        self._finish(entry, response, cut, paced=endpoint == "data", stall=stall)

    @staticmethod
    def _take_fault(state: ApiState, endpoint: str, query: dict[str, str]) -> Fault | None:
        """Consume the first queued fault matching this request."""
        if endpoint == "other":
            return None
        raw = query.get("fragment", "")
        fragment = int(raw) if endpoint == "data" and raw.isascii() and raw.isdigit() else None
        return state.faults.take(endpoint, fragment)

    # ---- response -----------------------------------------------------------------------------

    def _finish(
        self,
        entry: RequestLog,
        response: Response,
        cut: str | None = None,
        paced: bool = False,
        stall: Fault | None = None,
    ) -> None:
        """Log the request, then write the response (possibly cut short, stalled or
        throttled)."""
        self.server.state.record(entry)
        try:
            self._write(response, cut, paced, stall)
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def _write(
        self, response: Response, cut: str | None, paced: bool, stall: Fault | None = None
    ) -> None:
        """Write status, headers and body; ``cut`` stops the body early and closes."""
        total = response.length
        claimed = max(total, 1) if cut else total
        if cut == "drop_mid_body":
            limit = total // 2
        elif cut == "short_body":
            limit = max(0, total - max(1, total // 10))
        else:
            limit = total
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(claimed))
        if self.close_connection and not cut:
            self.send_header("Connection", "close")
        self.end_headers()
        if cut:
            self.close_connection = True
        if self.command != "HEAD":
            rate = self.server.state.config.throttle_bytes_per_second if paced else None
            stall_at = None if stall is None else stall.stall_at(total)
            if stall_at == 0 and stall is not None:
                self._stall(stall)
            self._write_body(response.body, limit, rate, stall_at, stall)

    def _write_body(
        self,
        body: list[Chunk],
        limit: int,
        rate: int | None,
        stall_at: int | None = None,
        stall: Fault | None = None,
    ) -> None:
        """Write up to ``limit`` bytes, paced to ``rate`` bytes/second when given, stalling
        once ``stall_at`` bytes are out."""
        step = max(1024, rate // 20) if rate else _WRITE_CHUNK
        started = time.monotonic()
        sent = 0
        for chunk in body:
            view = memoryview(chunk)
            pos = 0
            while pos < len(view) and sent < limit:
                size = min(step, limit - sent)
                if stall_at is not None and sent < stall_at:
                    size = min(size, stall_at - sent)
                piece = view[pos : pos + size]
                self.wfile.write(piece)
                pos += len(piece)
                sent += len(piece)
                if stall is not None and sent == stall_at:
                    self._stall(stall)
                if rate:
                    delay = started + sent / rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
            if sent >= limit:
                break

    def _stall(self, fault: Fault) -> None:
        """Send nothing for the fault's time; end the connection if the server stops."""
        self.wfile.flush()
        if self.server.stopping.wait(fault.stall_seconds):
            self.close_connection = True
            raise ConnectionAbortedError("the fake server is stopping")

    def _reset(self) -> None:
        """Abort the connection with a TCP reset and no response."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

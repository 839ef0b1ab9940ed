"""HTTP/1.1 request handler: parsing, routing, fault application and (paced) writing."""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from typing_extensions import override

from fake_backstory.config import RequestLog
from fake_backstory.endpoints import handle
from fake_backstory.exchange import Exchange, Fault, Phase
from fake_backstory.responses import ApiError, Response, error_response
from fake_backstory.state import ApiRequest, ApiState
from fake_backstory.writer import Pause, write_body

JOBS_PATH = "/pull/v1/export/contacts/jobs"
TOKEN_PATH = "/auth/v1/tokens"  # noqa: S105 - a URL path, not a secret


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


def read_body(content_length: str | None, rfile: BufferedIOBase) -> bytes:
    """Read the request body announced by Content-Length (400 when it is not a number)."""
    if not content_length:
        return b""
    try:
        length = int(content_length)
    except ValueError:
        raise ApiError(400, "Invalid Content-Length") from None
    return rfile.read(length) if length > 0 else b""


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

    @override
    def server_close(self) -> None:
        """Shut down every open client connection (wakes idle keep-alive handlers), then
        close the listening socket."""
        with self.connections_lock:
            connections = list(self.connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        super().server_close()


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

    # ---- request ------------------------------------------------------------------------------

    def _serve(self) -> None:
        """Parse, route, apply any fault, answer and log one request."""
        state = self.server.state
        split = urlsplit(self.path)
        path = split.path
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        endpoint, job_id = route(self.command, path)
        headers = dict(self.headers.items())
        try:
            body = read_body(self.headers.get("Content-Length"), self.rfile)
        except ApiError as exc:
            self.close_connection = True
            self._finish(
                RequestLog(self.command, path, query, exc.status, endpoint, self.path, headers),
                exc.response(),
            )
            return
        fault = self._take_fault(state, endpoint, query)
        ex = Exchange(
            self.command, self.path, self.headers, body, endpoint, self.server.stopping, fault
        )
        ex.run(Phase.BEFORE)
        ex.run(Phase.INSTEAD)
        if ex.response is None and not ex.reset:
            request = ApiRequest(self.command, path, query, self.headers, body, job_id)
            try:
                ex.response = handle(state, endpoint, request, ex)
            except Exception as exc:  # a bug in the fake: answer 500, show the traceback
                traceback.print_exc()
                ex.response = error_response(500, f"Fake server error: {exc!r}")
        ex.run(Phase.SENT)
        if ex.reset or ex.response is None:
            state.record(RequestLog(self.command, path, query, 0, endpoint, self.path, headers))
            self._reset()
            return
        status = ex.response.status
        entry = RequestLog(self.command, path, query, status, endpoint, self.path, headers)
        self._finish(entry, ex.response, ex.cut_at, paced=endpoint == "data", pause=ex.pause)

    #: PUT, PATCH, DELETE and HEAD reach only "other" (404; HEAD without a body).
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

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
        cut_at: int | None = None,
        paced: bool = False,
        pause: Pause | None = None,
    ) -> None:
        """Log the request, then write the response (possibly cut short, stalled or
        throttled)."""
        self.server.state.record(entry)
        try:
            self._write(response, cut_at, paced, pause)
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def _write(
        self, response: Response, cut_at: int | None, paced: bool, pause: Pause | None
    ) -> None:
        """Write status, headers and body; ``cut_at`` stops the body early and closes."""
        total = response.length
        cut = cut_at is not None
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(max(total, 1) if cut else total))
        if self.close_connection and not cut:
            self.send_header("Connection", "close")
        self.end_headers()
        if cut:
            self.close_connection = True
        if self.command == "HEAD":
            return
        rate = self.server.state.config.throttle_bytes_per_second if paced else None
        limit = total if cut_at is None else cut_at
        write_body(self.wfile, response.body, limit, rate, pause, self._stall)

    def _stall(self, seconds: float | None) -> None:
        """Send nothing for ``seconds``; end the connection if the server stops."""
        self.wfile.flush()
        if self.server.stopping.wait(seconds):
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

"""A second loopback server that records every request it receives: the target of a
"redirect" fault, so that a test can assert that nothing (no client_secret) arrived there."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from typing_extensions import override

from fake_backstory.serving import HOST, LoopbackServer

#: What the recorder answers: a token, as a server that wants the redirect followed would.
DEFAULT_ANSWER = {"access_token": "token-from-redirect-target", "expires_in": 3600}


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the recorder received it."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes


class _RecordingHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], answer: dict[str, Any]) -> None:
        self.received: list[ReceivedRequest] = []
        self.lock = threading.Lock()
        self.answer = orjson.dumps(answer)
        super().__init__(address, _RecordingHandler)


class _RecordingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _RecordingHTTPServer

    @override
    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default access log."""

    def _record_and_answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        entry = ReceivedRequest(self.command, self.path, dict(self.headers.items()), body)
        with self.server.lock:
            self.server.received.append(entry)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.server.answer)))
        self.end_headers()
        self.wfile.write(self.server.answer)

    do_GET = do_POST = do_PUT = do_DELETE = _record_and_answer


class RecordingServer(LoopbackServer[_RecordingHTTPServer]):
    """``with RecordingServer() as target:`` serves on ``target.url``; every request lands in
    ``target.received`` and is answered 200 with ``answer`` (JSON)."""

    def __init__(self, answer: dict[str, Any] | None = None) -> None:
        """Prepare (but do not bind) the server."""
        super().__init__()
        self._answer = DEFAULT_ANSWER if answer is None else answer
        self._received: list[ReceivedRequest] = []
        self._lock = threading.Lock()

    @override
    def _make_server(self) -> _RecordingHTTPServer:
        """Bind a free port on 127.0.0.1; its requests are the ones ``received`` shows."""
        server = _RecordingHTTPServer((HOST, 0), self._answer)
        self._received, self._lock = server.received, server.lock
        return server

    @property
    def received(self) -> list[ReceivedRequest]:
        """Requests received so far (also after stop), in arrival order (a copy)."""
        with self._lock:
            return list(self._received)

"""A second loopback server that records every request it receives: the target of a
"redirect" fault, so that a test can assert that nothing (no client_secret) arrived there."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import orjson
from typing_extensions import override

HOST = "127.0.0.1"
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


class RecordingServer:
    """``with RecordingServer() as target:`` serves on ``target.url``; every request lands in
    ``target.received`` and is answered 200 with ``answer`` (JSON)."""

    def __init__(self, answer: dict[str, Any] | None = None) -> None:
        """Prepare (but do not bind) the server."""
        self._answer = DEFAULT_ANSWER if answer is None else answer
        self._server: _RecordingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._received: list[ReceivedRequest] = []
        self._lock = threading.Lock()

    def start(self) -> RecordingServer:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        server = _RecordingHTTPServer((HOST, 0), self._answer)
        self._received, self._lock = server.received, server.lock
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()
        self._server = self._thread = None

    def __enter__(self) -> RecordingServer:
        """Start the server."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321``."""
        if self._server is None:
            raise RuntimeError("RecordingServer is not running; call start() first")
        return f"http://{HOST}:{self._server.server_address[1]}"

    @property
    def received(self) -> list[ReceivedRequest]:
        """Requests received so far (also after stop), in arrival order (a copy)."""
        with self._lock:
            return list(self._received)

"""An HTTP server on 127.0.0.1 served from a daemon thread: start, stop, ``with``, its URL.
The fake API and the recording server share it."""

from __future__ import annotations

import contextlib
import socket
import threading
from abc import ABC, abstractmethod
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Generic, Self, TypeVar

HOST = "127.0.0.1"
ServerT = TypeVar("ServerT", bound=ThreadingHTTPServer)


class LoopbackServer(ABC, Generic[ServerT]):
    """Start and stop a server made by ``_make_server``; ``with`` serves for the block."""

    def __init__(self) -> None:
        """Prepare (but do not bind) the server."""
        self._server: ServerT | None = None
        self._thread: threading.Thread | None = None

    @abstractmethod
    def _make_server(self) -> ServerT:
        """Bind a new server on HOST."""

    def _stopping(self, server: ServerT) -> None:
        """Called first by stop(), while the server still serves."""

    def start(self) -> Self:
        """Bind 127.0.0.1 and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        server = self._make_server()
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.5},
            name=f"{type(self).__name__}-{server.server_address[1]}",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop serving, close the server (and its open connections) and release the port."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._stopping(server)
        stopper = threading.Thread(target=server.shutdown, daemon=True)
        stopper.start()
        while stopper.is_alive():  # wake the accept loop instead of waiting for its poll
            with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), 1):
                pass
            stopper.join(0.01)
        thread.join()
        server.server_close()
        self._server = self._thread = None

    def __enter__(self) -> Self:
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
    def port(self) -> int:
        """The bound port."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321``."""
        return f"http://{HOST}:{self.port}"

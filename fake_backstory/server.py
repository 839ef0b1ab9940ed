"""FakeBackstory: the public, in-process handle on a running fake API server."""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType
from typing import Any

from fake_backstory.config import FakeConfig, RequestLog
from fake_backstory.faults import FaultQueue
from fake_backstory.handler import FakeHTTPServer
from fake_backstory.jobs import KNOWN_PARAMS, FakeJob, job_records, parse_day
from fake_backstory.responses import ApiError
from fake_backstory.state import ApiState

HOST = "127.0.0.1"


class FakeBackstory:
    """A real HTTP fake of the Backstory Enriched Contacts bulk export API.

    ``with FakeBackstory(FakeConfig(contacts_per_day=5)) as api:`` serves on ``api.url`` until
    the block ends. ``api.config`` may be changed between requests; see FakeConfig for which
    fields are frozen into a job when it is created.
    """

    def __init__(self, config: FakeConfig | None = None) -> None:
        """Prepare (but do not bind) a server for ``config``."""
        self._state = ApiState(config or FakeConfig())
        self._server: FakeHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ----------------------------------------------------------------------------

    @property
    def config(self) -> FakeConfig:
        """The live configuration (mutable between calls)."""
        return self._state.config

    @config.setter
    def config(self, value: FakeConfig) -> None:
        self._state.config = value

    def start(self) -> FakeBackstory:
        """Bind 127.0.0.1 (config.port, 0 = free port) and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("FakeBackstory is already running")
        self.config.validate()
        server = FakeHTTPServer((HOST, self.config.port), self._state)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.5},
            name=f"fake-backstory-{server.server_address[1]}",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and release the port."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.stopping.set()
        stopper = threading.Thread(target=server.shutdown, daemon=True)
        stopper.start()
        while stopper.is_alive():  # wake the accept loop instead of waiting for its poll
            with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), 1):
                pass
            stopper.join(0.01)
        thread.join()
        server.close_connections()
        server.server_close()
        self._server = self._thread = None

    def __enter__(self) -> FakeBackstory:
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
            raise RuntimeError("FakeBackstory is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321``."""
        return f"http://{HOST}:{self.port}"

    # ---- inspection and control ----------------------------------------------------------------

    @property
    def faults(self) -> FaultQueue:
        """Fault queue: ``faults.add(endpoint, kind, times=1, **opts)`` and ``faults.clear()``."""
        return self._state.faults

    @property
    def requests(self) -> list[RequestLog]:
        """Logged requests in arrival order (a copy)."""
        with self._state.lock:
            return list(self._state.log)

    def count(self, endpoint: str, status: int | None = None) -> int:
        """Number of logged requests to ``endpoint`` (optionally answered with ``status``)."""
        return self._state.count(endpoint, status)

    @property
    def tokens(self) -> list[str]:
        """Bearer tokens issued so far, oldest first."""
        with self._state.lock:
            return list(self._state.tokens)

    @property
    def jobs(self) -> dict[str, FakeJob]:
        """Jobs by id (as str); a copy of the mapping holding the live job objects."""
        with self._state.lock:
            return dict(self._state.jobs)

    def created_jobs(self) -> list[FakeJob]:
        """Jobs in creation order."""
        with self._state.lock:
            return list(self._state.jobs.values())

    def expire_job(self, job_id: str | int) -> None:
        """Make status and data of a job answer 404 (or config.expired_status)."""
        self._state.expire(job_id)

    def reset(self) -> None:
        """Clear the request log, jobs and faults; keep the config (and issued tokens)."""
        self._state.reset()

    def expected_records(
        self, start_date: str, end_date: str, **params: Any
    ) -> list[dict[str, Any]]:
        """The API records a job with these params would export now, in export order."""
        unknown = set(params) - set(KNOWN_PARAMS)
        if unknown:
            raise TypeError(f"unknown job parameters: {sorted(unknown)}")
        try:
            start = parse_day(start_date, "start_date")
            end = parse_day(end_date, "end_date")
        except ApiError as exc:
            raise ValueError(exc.message) from None
        return list(job_records(self.config, start, end, params))

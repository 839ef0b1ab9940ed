"""FakeBackstory: the public, in-process handle on a running fake API server."""

from __future__ import annotations

from typing import Any

from typing_extensions import override

from fake_backstory.config import FakeConfig, RequestLog
from fake_backstory.fault_queue import FaultQueue
from fake_backstory.handler import FakeHTTPServer
from fake_backstory.jobs import KNOWN_PARAMS, FakeJob, job_records, parse_day
from fake_backstory.responses import ApiError
from fake_backstory.serving import HOST, LoopbackServer
from fake_backstory.state import ApiState


class FakeBackstory(LoopbackServer[FakeHTTPServer]):
    """A real HTTP fake of the Backstory Enriched Contacts bulk export API.

    ``with FakeBackstory(FakeConfig(contacts_per_day=5)) as api:`` serves on ``api.url`` until
    the block ends. ``api.config`` may be changed between requests; see FakeConfig for which
    fields are frozen into a job when it is created.
    """

    def __init__(self, config: FakeConfig | None = None) -> None:
        """Prepare (but do not bind) a server for ``config``."""
        super().__init__()
        self._state = ApiState(config or FakeConfig())

    @property
    def config(self) -> FakeConfig:
        """The live configuration (mutable between calls)."""
        return self._state.config

    @config.setter
    def config(self, value: FakeConfig) -> None:
        self._state.config = value

    @override
    def _make_server(self) -> FakeHTTPServer:
        """Bind 127.0.0.1 (config.port, 0 = free port)."""
        self.config.validate()
        return FakeHTTPServer((HOST, self.config.port), self._state)

    @override
    def _stopping(self, server: FakeHTTPServer) -> None:
        """End "delay" and "stall" faults at once."""
        server.stopping.set()

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

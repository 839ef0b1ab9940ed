"""The API's state: tokens, jobs, the request log and the fault queue, behind one lock."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import sys
import threading
import time
from dataclasses import dataclass
from datetime import date
from email.message import Message
from typing import Any

import orjson

from fake_backstory.config import FakeConfig, RequestLog
from fake_backstory.fault_queue import FaultQueue
from fake_backstory.jobs import FINAL_STATES, FakeJob
from fake_backstory.responses import ApiError

_JOB_ID_RE = re.compile(r"[A-Za-z0-9-]+")
_FIRST_INT_JOB_ID = 976_511


@dataclass(frozen=True)
class ApiRequest:
    """What an endpoint needs to know about a request."""

    method: str
    path: str
    query: dict[str, str]
    headers: Message
    body: bytes
    job_id: str | None = None


def _b64url(data: bytes) -> str:
    """Unpadded base64url, as in JWTs."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class ApiState:
    """Tokens, jobs, request log and faults behind one lock."""

    def __init__(self, config: FakeConfig) -> None:
        """Start with no tokens, jobs or requests."""
        self.config = config
        self.faults = FaultQueue()
        self.lock = threading.RLock()
        self.tokens: dict[str, float] = {}
        self.jobs: dict[str, FakeJob] = {}
        self.log: list[RequestLog] = []
        self._token_serial = 0
        self._job_serial = 0

    def reset(self) -> None:
        """Forget requests, jobs and faults (tokens stay valid)."""
        with self.lock:
            self.log.clear()
            self.jobs.clear()
            self._job_serial = 0
        self.faults.clear()

    def record(self, entry: RequestLog) -> None:
        """Append to the request log."""
        with self.lock:
            self.log.append(entry)
        if self.config.log_requests:
            query = "&".join(f"{k}={v}" for k, v in entry.query.items())
            target = f"{entry.path}?{query}" if query else entry.path
            print(f"{entry.status} {entry.method} {target} [{entry.endpoint}]", file=sys.stderr)

    # ---- tokens and jobs ------------------------------------------------------------------

    def mint(self, client_id: str, secret: str, ttl: float) -> str:
        """A unique JWT-looking token, valid for ``ttl`` seconds."""
        now = time.time()
        with self.lock:
            self._token_serial += 1
            serial = self._token_serial
        header = _b64url(b'{"alg":"HS256","typ":"JWT"}')
        claims = {
            "iss": "fake-backstory",
            "sub": client_id,
            "iat": int(now),
            "exp": int(now + ttl),
            "jti": f"{serial}-{secrets.token_hex(8)}",
        }
        payload = _b64url(orjson.dumps(claims))
        signing_input = f"{header}.{payload}".encode()
        signature = _b64url(hmac.new(secret.encode(), signing_input, hashlib.sha256).digest())
        token = f"{header}.{payload}.{signature}"
        with self.lock:
            self.tokens[token] = time.monotonic() + ttl
        return token

    def authorize(self, request: ApiRequest) -> None:
        """Require ``Authorization: Bearer <valid, unexpired token>``."""
        scheme, _, token = (request.headers.get("Authorization") or "").strip().partition(" ")
        with self.lock:
            expires = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if expires is None:
            raise ApiError(401, "Invalid token", {"WWW-Authenticate": "Bearer"})
        if time.monotonic() >= expires:
            raise ApiError(401, "Token expired", {"WWW-Authenticate": "Bearer"})

    def new_job(self, params: dict[str, Any], start: date, end: date) -> FakeJob:
        """Create a job for validated ``params`` (429 past the limit of two running jobs)."""
        config = self.config
        with self.lock:
            if config.enforce_job_limits and self._active_jobs() >= 2:
                raise ApiError(429, "Too many concurrent export jobs")
            self._job_serial += 1
            serial = self._job_serial
            wire_id: str | int
            if serial <= len(config.job_ids):
                wire_id = config.job_ids[serial - 1]
            elif config.job_id_type == "int":
                wire_id = _FIRST_INT_JOB_ID + serial - 1
            else:
                wire_id = f"ce-{serial:06d}"
            final = "Completed"
            if config.fail_jobs > 0:
                config.fail_jobs -= 1
                final = "Failed"
            elif config.cancel_jobs > 0:
                config.cancel_jobs -= 1
                final = "Canceled"
            job = FakeJob(
                job_id=str(wire_id),
                wire_id=wire_id,
                params=params,
                settings=config.snapshot(),
                start=start,
                end=end,
                final_state=final,
            )
            self.jobs[job.job_id] = job
        return job

    def _active_jobs(self) -> int:
        """Jobs not yet in a final state (expired ones do not count)."""
        return sum(
            1 for job in self.jobs.values() if not job.expired and job.state not in FINAL_STATES
        )

    def job(self, request: ApiRequest) -> FakeJob:
        """Authorize, then look up the job of the path (400 malformed, 404/410 gone)."""
        self.authorize(request)
        job_id = request.job_id or ""
        with self.lock:
            job = self.jobs.get(job_id)  # odd ids from config.job_ids are found, too
        if job is None:
            if not _JOB_ID_RE.fullmatch(job_id):
                raise ApiError(400, f"Invalid job id: {job_id}")
            raise ApiError(404)
        if job.expired:
            raise ApiError(self.config.expired_status)
        return job

    # ---- helpers for the public API ---------------------------------------------------------

    def count(self, endpoint: str, status: int | None = None) -> int:
        """Logged requests to ``endpoint`` (optionally only those answered ``status``)."""
        with self.lock:
            return sum(
                1
                for entry in self.log
                if entry.endpoint == endpoint and (status is None or entry.status == status)
            )

    def expire(self, job_id: str | int) -> None:
        """Mark a job as past retention."""
        with self.lock:
            self.jobs[str(job_id)].expired = True

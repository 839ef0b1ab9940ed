"""The API's state (tokens, jobs, request log) and its endpoints, free of HTTP plumbing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import sys
import threading
import time
import zlib
from dataclasses import dataclass
from email.message import Message
from urllib.parse import parse_qs

import orjson

from fake_backstory.config import FakeConfig, RequestLog
from fake_backstory.faults import (
    DEFLATE_BOMB_BYTES,
    LONG_LINE_LENGTH,
    Fault,
    FaultQueue,
    corrupt_bytes,
    deflate_bomb,
    long_line_body,
)
from fake_backstory.jobs import FINAL_STATES, FakeJob, validate_job_params
from fake_backstory.render import Chunk, gzip_bytes, join
from fake_backstory.responses import ApiError, Response, json_response

_JOB_ID_RE = re.compile(r"[A-Za-z0-9-]+")
_FIRST_INT_JOB_ID = 976_511
_OCTET_STREAM = "application/octet-stream"


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
    """Tokens, jobs, request log and faults behind one lock; endpoint implementations."""

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

    # ---- endpoints -------------------------------------------------------------------------

    def handle(self, endpoint: str, request: ApiRequest, fault: Fault | None = None) -> Response:
        """Dispatch to an endpoint; a "corrupt" or DATA_KINDS ``fault`` alters the body
        (before any compression)."""
        corrupt = fault is not None and fault.kind == "corrupt"
        try:
            if endpoint == "token":
                response = self.token(request)
            elif endpoint == "create":
                response = self.create(request)
            elif endpoint == "status":
                response = self.status(request)
            elif endpoint == "data":
                return self.data(request, fault)
            else:
                raise ApiError(404)  # noqa: TRY301 - one place turns ApiError into a response
        except ApiError as exc:
            response = exc.response()
        if corrupt:
            response.body = [corrupt_bytes(join(response.body), "json")]
        return response

    def token(self, request: ApiRequest) -> Response:
        """POST /auth/v1/tokens (client-credentials grant, form-encoded)."""
        content_type = request.headers.get_content_type()
        if content_type != "application/x-www-form-urlencoded":
            raise ApiError(400, "Content-Type must be application/x-www-form-urlencoded")
        try:
            form = parse_qs(request.body.decode(), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise ApiError(400, "Malformed form body") from None
        fields = {key: values[-1] for key, values in form.items()}
        if fields.get("grant_type") != "client_credentials":
            raise ApiError(400, "Unsupported grant_type: expected client_credentials")
        config = self.config
        if (fields.get("client_id"), fields.get("client_secret")) != (
            config.client_id,
            config.client_secret,
        ):
            raise ApiError(401, "Invalid client credentials")
        ttl = float(config.token_ttl_seconds)
        token = self._mint(config.client_id, config.client_secret, ttl)
        return json_response(
            {"access_token": token, "token_type": "bearer", "expires_in": int(ttl)}
        )

    def _mint(self, client_id: str, secret: str, ttl: float) -> str:
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

    def create(self, request: ApiRequest) -> Response:
        """POST /pull/v1/export/contacts/jobs."""
        self.authorize(request)
        try:
            body = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            raise ApiError(400, "Malformed JSON request body") from None
        config = self.config
        config.validate()  # a broken runtime change surfaces as a 500 naming the field
        start, end = validate_job_params(body, config.max_window_days)
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
                params=body,
                settings=config.snapshot(),
                start=start,
                end=end,
                final_state=final,
            )
            self.jobs[job.job_id] = job
        return json_response(job.describe("Queued"))

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

    def status(self, request: ApiRequest) -> Response:
        """GET /pull/v1/export/contacts/jobs/{job_id} (counts as a poll)."""
        job = self.job(request)
        state = job.poll()
        payload = job.describe(state)
        payload["results_size"] = None
        payload["fragments"] = None
        if state == "Completed":
            export = job.export()
            payload["results_size"] = export.results_size
            payload["fragments"] = export.fragments
            if self.config.fragments_override is not None:
                payload["fragments"] = self.config.fragments_override
            hide = export.fragments == 0 and self.config.empty_fragments == "missing"
            if hide or not self.config.report_fragments:
                del payload["fragments"]
        payload["params"] = orjson.dumps(job.params).decode()
        if self.config.status_override is not None:
            payload["state"] = self.config.status_override
        return json_response(payload)

    def data(self, request: ApiRequest, fault: Fault | None = None) -> Response:
        """GET /pull/v1/export/contacts/jobs/{job_id}/data[?fragment=i]."""
        kind = fault.kind if fault is not None else None
        corrupt = kind == "corrupt"
        try:
            job = self.job(request)
            if job.state != "Completed":
                raise ApiError(400, "Job is not completed")  # noqa: TRY301
            export = job.export()
            fragment = self._fragment_param(request, export.fragments)
            if export.fragments == 0 and self.config.empty_data_status != 200:
                if self.config.empty_data_status == 404:
                    raise ApiError(404, "HTTP 404 Not Found")  # noqa: TRY301
                return Response(204, [], export.content_type, {})
        except ApiError as exc:
            response = exc.response()
            if corrupt:
                response.body = [corrupt_bytes(join(response.body), "json")]
            return response
        if fault is not None and kind == "deflate_bomb":
            size = int(fault.opts.get("decoded_bytes", DEFLATE_BOMB_BYTES))
            bomb = {"Content-Encoding": "deflate"}
            return Response(200, [deflate_bomb(size)], export.content_type, bomb)
        if kind == "empty_body":
            blank = b" \n" * (int(fault.opts.get("whitespace", 0)) // 2) if fault else b""
            return Response(200, [blank], export.content_type)
        body: list[Chunk]
        body = export.stitched() if fragment is None else export.fragment(fragment)
        if kind == "no_header":
            if export.layout != "csv":
                raise ValueError("the no_header fault needs a CSV export")
            body = body[1:]
        content_type = export.content_type
        headers: dict[str, str] = {}
        mode = self.config.gzip
        altered = corrupt or kind in ("long_line", "no_header")
        if corrupt:
            body = [corrupt_bytes(join(body), export.layout)]
        if fault is not None and kind == "long_line":
            length = int(fault.opts.get("length", LONG_LINE_LENGTH))
            body = [long_line_body(join(body), export.layout, length)]
        if mode == "deflate":
            body = [zlib.compress(join(body), 1)]
            headers["Content-Encoding"] = "deflate"
        elif mode != "none":
            body = [gzip_bytes(body) if altered else job.gzipped(fragment)]
            if mode == "header":
                headers["Content-Encoding"] = "gzip"
            else:
                content_type = _OCTET_STREAM
        return Response(200, body, content_type, headers)

    @staticmethod
    def _fragment_param(request: ApiRequest, count: int) -> int | None:
        """The validated ``fragment`` query parameter (None when absent)."""
        raw = request.query.get("fragment")
        if raw is None:
            return None
        if not raw.isascii() or not raw.isdigit():
            raise ApiError(400, "Invalid parameter format: fragment")
        index = int(raw)
        if index >= count:
            raise ApiError(400, f"Fragment {index} out of range: the job has {count} fragments")
        return index

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

"""The API's endpoints (token, create, status, data) over ApiState, free of HTTP plumbing."""

from __future__ import annotations

import zlib
from urllib.parse import parse_qs

import orjson

from fake_backstory.exchange import Exchange, Phase
from fake_backstory.jobs import validate_job_params
from fake_backstory.render import Chunk, gzip_bytes, join
from fake_backstory.responses import ApiError, Response, json_response
from fake_backstory.state import ApiRequest, ApiState

_OCTET_STREAM = "application/octet-stream"


def handle(state: ApiState, endpoint: str, request: ApiRequest, ex: Exchange) -> Response:
    """Answer one request; a ``BODY`` fault in ``ex`` alters the body before compression."""
    try:
        if endpoint == "token":
            response = token(state, request)
        elif endpoint == "create":
            response = create(state, request)
        elif endpoint == "status":
            response = status(state, request)
        elif endpoint == "data":
            return data(state, request, ex)  # errors (below) are JSON answers
        else:
            raise ApiError(404)  # noqa: TRY301 - one place turns ApiError into a response
    except ApiError as exc:
        response = exc.response()
    if ex.has(Phase.BODY):
        response.body = [ex.alter_body(join(response.body), "json", response.content_type, False)]
    return response


def token(state: ApiState, request: ApiRequest) -> Response:
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
    config = state.config
    if (fields.get("client_id"), fields.get("client_secret")) != (
        config.client_id,
        config.client_secret,
    ):
        raise ApiError(401, "Invalid client credentials")
    ttl = float(config.token_ttl_seconds)
    issued = state.mint(config.client_id, config.client_secret, ttl)
    return json_response({"access_token": issued, "token_type": "bearer", "expires_in": int(ttl)})


def create(state: ApiState, request: ApiRequest) -> Response:
    """POST /pull/v1/export/contacts/jobs."""
    state.authorize(request)
    try:
        body = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        raise ApiError(400, "Malformed JSON request body") from None
    state.config.validate()  # a broken runtime change surfaces as a 500 naming the field
    start, end = validate_job_params(body, state.config.max_window_days)
    job = state.new_job(body, start, end)
    return json_response(job.describe("Queued"))


def status(state: ApiState, request: ApiRequest) -> Response:
    """GET /pull/v1/export/contacts/jobs/{job_id} (counts as a poll)."""
    job = state.job(request)
    config = state.config
    job_state = job.poll()
    payload = job.describe(job_state)
    payload["results_size"] = None
    payload["fragments"] = None
    if job_state == "Completed":
        export = job.export()
        payload["results_size"] = export.results_size
        payload["fragments"] = export.fragments
        if config.fragments_override is not None:
            payload["fragments"] = config.fragments_override
        hide = export.fragments == 0 and config.empty_fragments == "missing"
        if hide or not config.report_fragments:
            del payload["fragments"]
    payload["params"] = orjson.dumps(job.params).decode()
    if config.status_override is not None:
        payload["state"] = config.status_override
    return json_response(payload)


def data(state: ApiState, request: ApiRequest, ex: Exchange) -> Response:
    """GET /pull/v1/export/contacts/jobs/{job_id}/data[?fragment=i]."""
    job = state.job(request)
    if job.state != "Completed":
        raise ApiError(400, "Job is not completed")
    export = job.export()
    fragment = _fragment_param(request, export.fragments)
    config = state.config
    if export.fragments == 0 and config.empty_data_status != 200:
        if config.empty_data_status == 404:
            raise ApiError(404, "HTTP 404 Not Found")
        return Response(204, [], export.content_type, {})
    body: list[Chunk]
    body = export.stitched() if fragment is None else export.fragment(fragment)
    content_type = export.content_type
    altered = ex.has(Phase.BODY)
    if altered:
        body = [ex.alter_body(join(body), export.layout, content_type, True)]
        if ex.response is not None:  # the fault answered instead
            return ex.response
    headers: dict[str, str] = {}
    mode = config.gzip
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

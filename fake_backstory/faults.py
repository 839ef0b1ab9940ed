"""Fault injection: the table of fault kinds (where and when each applies, with which options,
and how). The queue that hands faults to requests is in fault_queue.py.

A request takes at most one queued fault. The handler runs the fault's ``apply`` function at
the fault's phase, on the request's ``Exchange`` (exchange.py):

- ``BEFORE``:  before the request is served; the normal answer follows.
- ``INSTEAD``: instead of the normal answer: set ``ex.response``, or ``ex.reset``.
- ``BODY``:    on the answer's body before any compression, in ``ex.body``: a data export's
  records (``ex.export`` True, ``ex.layout`` "array"/"lines"/"wrapper"/"csv") or a JSON answer
  (error answers included; ``ex.export`` False, ``ex.layout`` "json"). Setting ``ex.response``
  replaces the whole answer.
- ``SENT``:    on the finished answer (compressed, headers set) and how it is written:
  ``ex.response``, ``ex.cut_at`` (close after that many body bytes), ``ex.pause``,
  ``ex.reset`` (the answer is lost: a TCP reset instead).

Adding a kind: one row in ``KINDS`` and its apply function.
"""

from __future__ import annotations

import email.utils
import time

import orjson

from fake_backstory import answers, damage
from fake_backstory.exchange import (
    COMMON_OPTIONS,
    ENDPOINTS,
    FAULT_ENDPOINTS,
    Exchange,
    Fault,
    FaultKind,
    Phase,
)
from fake_backstory.responses import ERROR_NAMES, ApiError, Response
from fake_backstory.writer import Pause

__all__ = [
    "COMMON_OPTIONS",
    "ENDPOINTS",
    "FAULT_ENDPOINTS",
    "KINDS",
    "Exchange",
    "Fault",
    "FaultKind",
    "Phase",
]

_RETRY_AFTER = ("retry_after", "retry_after_http_date")

# ---- apply functions --------------------------------------------------------------------------


def _retry_after(fault: Fault) -> dict[str, str]:
    """A Retry-After header when the fault asks for one: delta seconds or an HTTP-date."""
    if fault.kind != "429_retry_after" and not set(_RETRY_AFTER) & set(fault.opts):
        return {}
    seconds = fault.number("retry_after", 1)
    if fault.opts.get("retry_after_http_date"):
        return {"Retry-After": email.utils.formatdate(time.time() + seconds, usegmt=True)}
    return {"Retry-After": str(int(seconds)) if seconds.is_integer() else str(seconds)}


_ERRORS = {
    "401": ApiError(401, "Invalid token", {"WWW-Authenticate": "Bearer"}),
    "409": ApiError(409, "Too many queued export jobs"),
    "429": ApiError(429, "Rate limit exceeded"),
    "429_retry_after": ApiError(429, "Rate limit exceeded"),
}


def _error(fault: Fault, ex: Exchange) -> None:
    """The API's JSON error for the kind's status (Retry-After when asked for)."""
    error = _ERRORS.get(fault.kind) or ApiError(int(fault.kind))
    headers = {**error.headers, **_retry_after(fault)}
    ex.response = ApiError(error.status, error.message, headers).response()


def _reset(fault: Fault, ex: Exchange) -> None:
    ex.reset = True


def _echo(fault: Fault, ex: Exchange) -> None:
    """An error whose text repeats the request (the Authorization header, the form)."""
    status = int(fault.opts.get("status", 500))
    text = damage.echo_text(ex.method, ex.target, ex.headers, ex.request_body)
    if fault.opts.get("plain"):
        content_type = "text/plain; charset=utf-8"
        ex.response = Response(status, [text.encode()], content_type, _retry_after(fault))
        return
    payload = {"error": ERROR_NAMES.get(status, "HttpException"), "message": text}
    ex.response = Response(status, [orjson.dumps(payload)], headers=_retry_after(fault))


def _redirect(fault: Fault, ex: Exchange) -> None:
    status = int(fault.opts.get("status", 307))
    location = str(fault.opts["location"])
    ex.response = Response(status, [b""], "text/plain", {"Location": location})


def _delay(fault: Fault, ex: Exchange) -> None:
    ex.stopping.wait(fault.number("seconds", 1.0))


def _corrupt(fault: Fault, ex: Exchange) -> None:
    ex.body = damage.corrupt_bytes(ex.body, ex.layout)


def _long_line(fault: Fault, ex: Exchange) -> None:
    if ex.export:  # error answers pass unchanged
        length = int(fault.number("length", damage.LONG_LINE_LENGTH))
        ex.body = damage.long_line_body(ex.body, ex.layout, length)


def _deflate_bomb(fault: Fault, ex: Exchange) -> None:
    if ex.export:  # error answers pass unchanged
        bomb = damage.deflate_bomb(int(fault.number("decoded_bytes", damage.DEFLATE_BOMB_BYTES)))
        ex.response = Response(200, [bomb], ex.content_type, {"Content-Encoding": "deflate"})


def _empty_body(fault: Fault, ex: Exchange) -> None:
    if ex.export:  # error answers pass unchanged
        blank = b" \n" * (int(fault.number("whitespace", 0)) // 2)
        ex.response = Response(200, [blank], ex.content_type)


def _no_header(fault: Fault, ex: Exchange) -> None:
    if ex.export:  # error answers pass unchanged
        if ex.layout != "csv":
            raise ValueError("no_header needs a CSV export")
        ex.body = ex.body[ex.body.find(b"\n") + 1 :]


def _token_answer(fault: Fault, ex: Exchange) -> None:
    """A token answer (200) with access_token/expires_in set or left out; errors pass."""
    try:
        answer = orjson.loads(ex.body)
    except orjson.JSONDecodeError:
        return
    if not isinstance(answer, dict) or "access_token" not in answer:
        return
    answer.update({k: v for k, v in fault.opts.items() if k in ("access_token", "expires_in")})
    for name in fault.opts.get("omit", ()):
        answer.pop(name, None)
    ex.body = orjson.dumps(answer)


def _truncate(fault: Fault, ex: Exchange) -> None:
    if ex.response is not None:
        ex.response = damage.truncate_response(ex.response)


def _bad_crc(fault: Fault, ex: Exchange) -> None:
    if ex.response is not None:
        ex.response = damage.bad_crc_response(ex.response)


def _drop_mid_body(fault: Fault, ex: Exchange) -> None:
    ex.cut_at = ex.response.length // 2 if ex.response is not None else 0


def _short_body(fault: Fault, ex: Exchange) -> None:
    total = ex.response.length if ex.response is not None else 0
    ex.cut_at = max(0, total - max(1, total // 10))


def _stall(fault: Fault, ex: Exchange) -> None:
    total = ex.response.length if ex.response is not None else 0
    seconds = fault.opts.get("seconds")
    after = min(total, int(fault.opts.get("after_bytes", total // 2)))
    ex.pause = Pause(after, None if seconds is None else float(seconds))


# ---- the table ----------------------------------------------------------------------------------

_ERROR_ROW = FaultKind(
    Phase.INSTEAD,
    _error,
    options=_RETRY_AFTER,
    doc="the API's JSON error for that status; retry_after (seconds) or "
    "retry_after_http_date add Retry-After (429_retry_after always has it)",
)
_ERROR_KINDS = ("429", "429_retry_after", "500", "502", "503", "504", "401", "404", "409", "410")

#: Every fault kind; each also takes COMMON_OPTIONS.
KINDS: dict[str, FaultKind] = {
    **dict.fromkeys(_ERROR_KINDS, _ERROR_ROW),
    "reset": FaultKind(Phase.INSTEAD, _reset, doc="a TCP reset, no answer (logged as status 0)"),
    "echo": FaultKind(
        Phase.INSTEAD,
        _echo,
        options=("status", "plain", *_RETRY_AFTER),
        doc="error status (default 500) whose text repeats the request: Authorization, body, "
        "decoded form; plain=True for text/plain; Retry-After as for errors",
    ),
    "redirect": FaultKind(
        Phase.INSTEAD,
        _redirect,
        options=("location", "status"),
        required=("location",),
        doc="status (default 307) to location",
    ),
    "delay": FaultKind(
        Phase.BEFORE, _delay, options=("seconds",), doc="wait seconds (default 1), then answer"
    ),
    "corrupt": FaultKind(
        Phase.BODY, _corrupt, doc="garbage mid-body (CSV: the rest of the middle line dropped)"
    ),
    "long_line": FaultKind(
        Phase.BODY,
        _long_line,
        endpoints=("data",),
        options=("length",),
        doc="a first record of length bytes (JSON Lines or array exports; CSV answers 500)",
    ),
    "deflate_bomb": FaultKind(
        Phase.BODY,
        _deflate_bomb,
        endpoints=("data",),
        options=("decoded_bytes",),
        doc="a deflate body of decoded_bytes of whitespace in a JSON array",
    ),
    "empty_body": FaultKind(
        Phase.BODY,
        _empty_body,
        endpoints=("data",),
        options=("whitespace",),
        doc="a 200 with an empty body (Content-Length: 0, as a proxy sends on a backend "
        "timeout), or whitespace bytes of only whitespace",
    ),
    "no_header": FaultKind(
        Phase.BODY,
        _no_header,
        endpoints=("data",),
        doc="a CSV export without its header row (other layouts answer 500)",
    ),
    "token_answer": FaultKind(
        Phase.BODY,
        _token_answer,
        endpoints=("token",),
        options=("access_token", "expires_in", "omit"),
        doc="the token answer (200) with access_token and/or expires_in set to the values "
        "given (any JSON value, None for null) and the fields named in omit (a list) left "
        "out; a token not overridden is a real, valid one",
    ),
    "truncate": FaultKind(Phase.SENT, _truncate, doc="half the (compressed) body, sent whole"),
    "bad_crc": FaultKind(
        Phase.SENT, _bad_crc, doc="gzip body altered in transit, trailer with the original CRC"
    ),
    "drop_mid_body": FaultKind(
        Phase.SENT, _drop_mid_body, doc="half the promised body, then the connection closes"
    ),
    "short_body": FaultKind(
        Phase.SENT, _short_body, doc="90% of the promised body, then the connection closes"
    ),
    "stall": FaultKind(
        Phase.SENT,
        _stall,
        options=("seconds", "after_bytes"),
        doc="headers and after_bytes (default: half) of the body, then nothing for seconds "
        "(default: until the server stops), then the rest",
    ),
    "patch_json": FaultKind(
        Phase.BODY,
        answers.patch_json,
        endpoints=("token", "create", "status"),
        options=("fields", "drop", "body"),
        doc="the JSON answer (not an error) updated with fields (a dict), without the keys in "
        "drop; or replaced by the raw text body",
    ),
    "lost_answer": FaultKind(
        Phase.SENT,
        answers.lost_answer,
        options=("status",),
        doc="the request is served (a job created), then answered with error status "
        "(default 504) instead, or reset when status is 0",
    ),
    "bad_integer": FaultKind(
        Phase.BODY,
        answers.bad_integer,
        endpoints=("data",),
        options=("value",),
        doc="the first numeric total_inbound of a JSON export becomes the JSON text value "
        '(default "1_000"); CSV exports unchanged',
    ),
}
FAULT_KINDS = tuple(KINDS)

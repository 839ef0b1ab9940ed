"""Fault kinds that alter an answer the API did serve (their rows are in faults.py): a patched
JSON answer, an answer lost after the work was done, a JSON export with a hostile integer."""

from __future__ import annotations

import re
import typing as t

import orjson

from fake_backstory.responses import ApiError

if t.TYPE_CHECKING:
    from fake_backstory.exchange import Exchange, Fault

_INTEGER_FIELD = re.compile(rb'("total_inbound"\s*:\s*)-?[0-9]+')


def patch_json(fault: Fault, ex: Exchange) -> None:
    """A JSON answer (not an error) updated with ``fields``, without the keys in ``drop``;
    or replaced by the raw text ``body``."""
    try:
        payload = orjson.loads(ex.body)
    except orjson.JSONDecodeError:
        return
    if not isinstance(payload, dict) or "error" in payload:
        return
    if "body" in fault.opts:
        ex.body = str(fault.opts["body"]).encode()
        return
    payload.update(dict(fault.opts.get("fields", {})))
    for key in fault.opts.get("drop", ()):
        payload.pop(key, None)
    ex.body = orjson.dumps(payload)


def lost_answer(fault: Fault, ex: Exchange) -> None:
    """The request was served (a job created), then its answer lost: error ``status``
    (default 504), or a reset when ``status`` is 0."""
    status = int(fault.opts.get("status", 504))
    if status == 0:
        ex.reset = True
    else:
        ex.response = ApiError(status).response()


def bad_integer(fault: Fault, ex: Exchange) -> None:
    """The first numeric ``total_inbound`` of a JSON export replaced by the JSON text
    ``value`` (default ``"1_000"``); CSV exports unchanged."""
    if not ex.export or ex.layout == "csv":
        return
    value = str(fault.opts.get("value", '"1_000"')).encode()
    ex.body = _INTEGER_FIELD.sub(lambda m: m.group(1) + value, ex.body, count=1)

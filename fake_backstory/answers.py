"""Answers altered after the request was served: a patched JSON answer, an empty 200 body, a
CSV body without its header, a JSON body with a hostile integer (faults.py queues them)."""

from __future__ import annotations

import re
import typing as t

import orjson

from fake_backstory.responses import Response

if t.TYPE_CHECKING:
    from fake_backstory.faults import Fault


def patch_json_response(response: Response, fault: Fault) -> Response:
    """A "patch_json" fault's answer: the 200 JSON object patched, or a raw ``body``."""
    if response.status != 200:
        return response
    if "body" in fault.opts:
        raw = fault.opts["body"]
        data = raw if isinstance(raw, bytes) else str(raw).encode()
    else:
        payload = orjson.loads(join_body(response))
        if not isinstance(payload, dict):
            return response
        payload.update(dict(fault.opts.get("fields", {})))
        for key in fault.opts.get("drop", ()):
            payload.pop(key, None)
        data = orjson.dumps(payload)
    return Response(200, [data], response.content_type, dict(response.headers))


def empty_body_response(response: Response) -> Response:
    """A 200 answer with nothing in it, as a proxy or CDN sends on a backend timeout."""
    if response.status != 200:
        return response
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-encoding"}
    return Response(200, [], response.content_type, headers)


def join_body(response: Response) -> bytes:
    """The whole body of ``response``."""
    return b"".join(bytes(chunk) for chunk in response.body)


def without_header(data: bytes, layout: str) -> bytes:
    """A CSV body without its first (header) row; other layouts unchanged."""
    if layout != "csv":
        return data
    ends = [pos for pos in (data.find(b"\n"), data.find(b"\r")) if pos >= 0]
    if not ends:
        return b""
    end = min(ends)
    if data[end : end + 2] == b"\r\n":
        end += 1
    return data[end + 1 :]


_INTEGER_FIELD = re.compile(rb'("total_inbound"\s*:\s*)-?[0-9]+')


def with_bad_integer(data: bytes, layout: str, value: str) -> bytes:
    """The first numeric ``total_inbound`` of a JSON body replaced by the JSON text ``value``."""
    if layout == "csv":
        return data
    return _INTEGER_FIELD.sub(lambda m: m.group(1) + value.encode(), data, count=1)

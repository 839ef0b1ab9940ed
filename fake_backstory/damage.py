"""What damaging faults do to bytes: corrupt, truncate or re-sign a body, echo a request,
build a record too long or a deflate bomb. Pure functions; the table in faults.py says when."""

from __future__ import annotations

import functools
import gzip
import zlib
from email.message import Message
from urllib.parse import parse_qsl

from fake_backstory.responses import Response

LONG_LINE_LENGTH = 16 * 1024 * 1024
DEFLATE_BOMB_BYTES = 1024 * 1024 * 1024
_GARBAGE = b'"{{{garbage"{{{garbage'


def corrupt_bytes(data: bytes, layout: str) -> bytes:
    """Damage a body so that it is no longer valid JSON / CSV.

    JSON layouts get a quote-and-brace sequence inserted mid-body (invalid whether it lands
    inside a string or not); CSV loses the rest of the middle line (wrong column count).
    """
    mid = len(data) // 2
    while mid < len(data) and 0x80 <= data[mid] < 0xC0:  # stay on a UTF-8 boundary
        mid += 1
    if layout != "csv":
        return data[:mid] + _GARBAGE + data[mid:]
    ends = [pos for pos in (data.find(b"\n", mid), data.find(b"\r", mid)) if pos >= 0]
    end = min(ends) if ends else len(data)
    return data[:mid] + b"{{{garbage" + data[end:]


def truncate_response(response: Response) -> Response:
    """Keep only the first half of the (possibly compressed) body; headers stay valid."""
    data = b"".join(response.body)
    return Response(
        response.status, [data[: len(data) // 2]], response.content_type, dict(response.headers)
    )


def bad_crc_response(response: Response) -> Response:
    """A gzip body whose content was altered in transit (one '@' became '#') but whose
    trailer still carries the original CRC: it decompresses to well-formed, wrong records
    and only the CRC check at its very end tells. Bodies that are not gzip pass unchanged."""
    data = b"".join(response.body)
    if not data.startswith(b"\x1f\x8b"):
        return response
    original = gzip.decompress(data)
    damaged = bytearray(gzip.compress(original.replace(b"@", b"#", 1), compresslevel=1))
    damaged[-8:-4] = zlib.crc32(original).to_bytes(4, "little")
    return Response(
        response.status, [bytes(damaged)], response.content_type, dict(response.headers)
    )


def echo_text(method: str, target: str, headers: Message, body: bytes) -> str:
    """An error text that repeats the request, as careless servers and proxies do: the
    Authorization header, the raw body and the decoded form fields (client_secret too)."""
    raw = body.decode("utf-8", "replace")
    form = dict(parse_qsl(raw, keep_blank_values=True)) if "=" in raw else {}
    return (
        f"Cannot process {method} {target}; Authorization: {headers.get('Authorization')}; "
        f"body: {raw}; form: {form}"
    )


def long_line_body(body: bytes, layout: str, length: int) -> bytes:
    """``body`` with one valid record of ``length`` bytes first (JSON Lines or JSON array)."""
    prefix = b'{"email":"long-line@example.com","first_name":"'
    pad = length - len(prefix) - 2
    if pad < 0:
        raise ValueError(f"long_line length must be at least {len(prefix) + 2}")
    record = prefix + b"x" * pad + b'"}'
    if layout == "lines":
        return record + b"\n" + body
    if layout == "array":
        rest = body[1:]
        return b"[" + record + (b"" if rest.lstrip().startswith(b"]") else b",") + rest
    raise ValueError(f"long_line needs a JSON array or JSON Lines export, not {layout!r}")


@functools.lru_cache(maxsize=2)
def deflate_bomb(decoded_bytes: int) -> bytes:
    """A zlib ("Content-Encoding: deflate") stream of a JSON array holding ``decoded_bytes``
    bytes of whitespace: about a thousandth of that on the wire."""
    compressor = zlib.compressobj(9)
    block = b" " * (1 << 20)
    out = [compressor.compress(b"[")]
    left = max(0, decoded_bytes - 2)
    while left > 0:
        size = min(left, len(block))
        out.append(compressor.compress(block if size == len(block) else block[:size]))
        left -= size
    out.append(compressor.compress(b"]"))
    out.append(compressor.flush())
    return b"".join(out)

"""Incremental JSON over a byte stream, under one grammar: orjson's (RFC 8259: no NaN or
Infinity, valid Unicode only), also where the stdlib decoder has to step in."""

from __future__ import annotations

import gzip
import json
import math
import re
import typing as t
import zlib

import orjson

from tap_backstory_contacts import limits
from tap_backstory_contacts.errors import UnreadableDataError
from tap_backstory_contacts.limits import LimitExceededError, mib

if t.TYPE_CHECKING:
    from collections.abc import Iterator

# What reading damaged compressed data raises.
DAMAGED = (EOFError, gzip.BadGzipFile, zlib.error, OSError)
UTF8_BOM = b"\xef\xbb\xbf"
# Keys under which a wrapper object may hold the records array.
WRAPPER_KEYS = ("data", "records", "results", "contacts", "items")
NOT_JSON = "{} is not JSON (JSON has no NaN, Infinity or -Infinity)"
# The stdlib decoder (slow path) first looks at this much text for one value, then doubles it.
SLOW_WINDOW = 1 << 16
# Fast path: '}' cut points tried per run, orjson attempts among them, and elements parsed
# one by one after it failed.
FAST_PATH_CUTS = 16
FAST_PATH_PARSES = 2
SLOW_PATH_ELEMENTS = 1000
_NOT_SPACE = re.compile(rb"[^ \t\r\n]")
# What follows the '}' that ends an array element: the next element, or the array's end.
_ELEMENT_END = re.compile(rb"[ \t\r\n]*(?:,[ \t\r\n]*\{|\])")
_CONTINUATION_BYTES = bytes(range(0x80, 0xC0))
_INT64_MIN, _UINT64_END = -(1 << 63), 1 << 64


class NotJsonError(ValueError):
    """Text the stdlib decoder would accept but JSON (and orjson) does not."""


class RecordNotWrapperError(Exception):
    """The object taken for a wrapper has a field of a record: it is a record."""


def _refuse_constant(name: str) -> t.NoReturn:
    raise NotJsonError(NOT_JSON.format(name))


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise NotJsonError(f"the number {text[:40]} is too large (beyond the range of a double)")
    return value


def _int(text: str) -> int | float:
    """Integers as orjson reads them: beyond 64 bits they become floats."""
    value = int(text)
    return value if _INT64_MIN <= value < _UINT64_END else float(text)


DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_float, parse_int=_int)


def grammar_error(text: bytes) -> str | None:
    """Why the grammar refuses ``text`` when orjson's message would not say it (NaN,
    Infinity, a number too large), so that every shape says the same; else None."""
    try:
        DECODER.raw_decode(text.decode("utf-8", "surrogateescape").strip())
    except NotJsonError as exc:
        return str(exc)
    except (json.JSONDecodeError, RecursionError):
        return None
    return None


def _encode_text(value: t.Any) -> None:
    """Encode every string in ``value`` as UTF-8, raising on lone surrogates."""
    if isinstance(value, str):
        value.encode()
    elif isinstance(value, dict):
        for key, item in value.items():
            _encode_text(key)
            _encode_text(item)
    elif isinstance(value, list):
        for item in value:
            _encode_text(item)


class _Buffer:
    """A window on a byte stream: whitespace skipping, one value at a time by the stdlib
    decoder, error positions in characters."""

    def __init__(self, stream: t.BinaryIO, where: str, chunk_bytes: int) -> None:
        self._stream = stream
        self._where = where
        self._chunk_bytes = chunk_bytes
        self._buf = b""
        self._pos = 0
        self._offset = 0  # stream offset of the buffer's first byte
        self._chars = 0  # characters before the buffer (for error positions)
        self._eof = False

    @property
    def offset(self) -> int:
        """The stream offset of the next byte to scan."""
        return self._offset + self._pos

    def peek_after_bom(self) -> bytes:
        """The first byte that is neither a byte order mark nor whitespace."""
        self._more()
        if self._buf.startswith(UTF8_BOM):
            self._pos = len(UTF8_BOM)
        return self._peek()

    def head(self, size: int) -> bytes:
        """Up to ``size`` bytes from the current position (for error messages)."""
        return self._buf[self._pos : self._pos + size]

    def _slow_value(self) -> t.Any:
        """The next value, by the stdlib decoder under orjson's grammar."""
        self._peek()
        window = SLOW_WINDOW
        while True:
            available = len(self._buf) - self._pos
            size = min(window, available)
            text = self._buf[self._pos : self._pos + size].decode("utf-8", "surrogateescape")
            try:
                value, end = DECODER.raw_decode(text)
            except json.JSONDecodeError as exc:
                if size < available:
                    window *= 2
                elif self._eof:
                    raise self._error(exc.msg, text[: exc.pos]) from exc
                elif available > limits.MAX_RECORD_BYTES:
                    raise self._too_long(exc.msg) from exc
                else:
                    self._more()
                continue
            except NotJsonError as exc:
                raise self._error(str(exc)) from exc
            except RecursionError as exc:
                raise self._error("values nested too deeply") from exc
            # A number at the very end of the text may continue after it.
            if end == len(text) and not isinstance(value, dict | list):
                if size < available:
                    window *= 2
                    continue
                if not self._eof:
                    self._more()
                    continue
            break
        try:
            _encode_text(value)
        except UnicodeEncodeError as exc:
            raise self._error(f"a record that is not valid Unicode text: {exc}") from exc
        self._pos += len(text[:end].encode("utf-8", "surrogateescape"))
        return value

    def _peek(self) -> bytes:
        """The next non-whitespace byte (b"" at the end), without consuming it."""
        while True:
            found = _NOT_SPACE.search(self._buf, self._pos)
            if found is not None:
                self._pos = found.start()
                return self._buf[self._pos : self._pos + 1]
            self._pos = len(self._buf)
            if self._eof:
                return b""
            self._more()

    def _expect(self, char: bytes) -> None:
        found = self._peek()
        if found != char:
            shown = repr(found.decode(errors="replace")) if found else "the end of the data"
            raise self._error(f"expected {char.decode()!r}, found {shown}")
        self._pos += 1

    def _expect_end(self) -> None:
        found = self._peek()
        if found:
            raise self._error(f"unexpected data after the records: {self.head(40)!r}")

    def _more(self) -> None:
        """Append the next chunk to the buffer, dropping what was consumed."""
        try:
            chunk = self._stream.read(self._chunk_bytes)
        except DAMAGED as exc:
            raise self._error(f"the data cannot be read: {exc}") from exc
        if not chunk:
            self._eof = True
            return
        done = self._buf[: self._pos]
        self._chars += len(done.translate(None, _CONTINUATION_BYTES))
        self._offset += self._pos
        self._buf = self._buf[self._pos :] + chunk
        self._pos = 0

    def _too_long(self, complaint: str) -> LimitExceededError:
        limit = limits.MAX_RECORD_BYTES
        return LimitExceededError(
            f"{self._where}: the JSON value at character {self._position()} does not end within "
            f"the limit of {mib(limit)} for one record (or is invalid: {complaint})"
        )

    def _position(self, more: str = "") -> int:
        before = self._buf[: self._pos].decode("utf-8", "replace")
        return self._chars + len(before) + len(more)

    def _error(self, message: str, more: str = "") -> UnreadableDataError:
        return UnreadableDataError(
            f"{self._where}: invalid JSON near character {self._position(more)}: {message}"
        )


class JsonScanner(_Buffer):
    """Records of a JSON array or wrapper object: runs of array elements are parsed by orjson
    in one call (fast path, profiled); other values one at a time by the stdlib decoder."""

    def __init__(self, stream: t.BinaryIO, where: str, chunk_bytes: int) -> None:
        super().__init__(stream, where, chunk_bytes)
        self._elements = 0  # array elements parsed so far
        self._fast_after = 0  # element count from which the orjson fast path may run again

    def array_items(self) -> Iterator[dict[str, t.Any]]:
        """Records of a top-level array."""
        self._expect(b"[")
        yield from self._items()
        self._expect_end()

    def wrapper_items(self, record_fields: frozenset[str]) -> Iterator[dict[str, t.Any]]:
        """Records from the array under a wrapper key; other keys are skipped. A key in
        ``record_fields`` before the array raises RecordNotWrapperError."""
        self._expect(b"{")
        found = False
        if self._peek() == b"}":
            self._pos += 1
        else:
            while True:
                key = self._slow_value()
                if not isinstance(key, str):
                    raise self._error(f"an object key that is not a string: {key!r}")
                if not found and key in record_fields:
                    raise RecordNotWrapperError
                self._expect(b":")
                if not found and key in WRAPPER_KEYS and self._peek() == b"[":
                    found = True
                    self._pos += 1
                    yield from self._items()
                elif self._slow_value() is None and key in WRAPPER_KEYS:
                    found = True  # {"data": null}: an empty export
                separator = self._peek()
                self._pos += 1
                if separator == b"}":
                    break
                if separator != b",":
                    raise self._error(f"expected ',' or '}}' in the object, found {separator!r}")
        if not found:
            raise UnreadableDataError(
                f"{self._where}: a JSON object with no records array under any of "
                f"{', '.join(WRAPPER_KEYS)}"
            )
        self._expect_end()

    def _items(self) -> Iterator[dict[str, t.Any]]:
        """Array elements after '[' up to and including the closing ']'."""
        if self._peek() == b"]":
            self._pos += 1
            return
        while True:
            run = self._fast_run()
            for item in [self._slow_value()] if run is None else run:
                self._elements += 1
                if not isinstance(item, dict):
                    raise self._error(f"an array element is not an object: {str(item)[:80]!r}")
                yield item
            separator = self._peek()
            self._pos += 1
            if separator == b"]":
                return
            if separator != b",":
                raise self._error(f"expected ',' or ']' between records, found {separator!r}")

    def _fast_run(self) -> list[t.Any] | None:
        """Every element from here up to a '}' that ends an element (followed by ',' and
        '{', or by ']'), parsed by orjson in one call; None if no such run parses.

        A '}' inside a string makes the slice invalid JSON (its string never closes), and so
        does one that closes a nested object; a wrong cut can only fail, never mis-parse.
        After failures the element-by-element path runs for a while.
        """
        if self._elements < self._fast_after:
            return None
        self._peek()
        while True:
            run = self._parse_run()
            if run is not None or self._fast_after > self._elements:
                return run
            if self._eof or len(self._buf) - self._pos > limits.MAX_RECORD_BYTES:
                return None  # the slow path tells what is wrong
            self._more()

    def _parse_run(self) -> list[t.Any] | None:
        buf, start, end = self._buf, self._pos, len(self._buf)
        parses = 0
        for _ in range(FAST_PATH_CUTS):
            cut = buf.rfind(b"}", start, end)
            if cut < 0:
                return None
            end = cut
            if not _ELEMENT_END.match(buf, cut + 1):
                continue
            try:
                run = orjson.loads(b"".join((b"[", memoryview(buf)[start : cut + 1], b"]")))
            except orjson.JSONDecodeError:
                parses += 1
                if parses == FAST_PATH_PARSES:
                    break
                continue
            self._pos = cut + 1
            return t.cast("list[t.Any]", run)
        self._fast_after = self._elements + SLOW_PATH_ELEMENTS
        return None

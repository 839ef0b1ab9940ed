"""Streaming record readers for fragment files: JSON (array, lines, wrapper), CSV, gzip.

Every JSON shape is read with one grammar: orjson's (RFC 8259: no NaN or Infinity, valid
Unicode only), also where the stdlib decoder has to step in. Sizes are bounded by ``limits``.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import gzip
import importlib.resources
import json
import math
import re
import typing as t
import zlib

import orjson

from tap_backstory_contacts import limits, schemas
from tap_backstory_contacts.errors import DataFormatError, UnreadableDataError
from tap_backstory_contacts.limits import LimitExceededError, mib

if t.TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
# What reading damaged compressed data raises.
DAMAGED = (EOFError, gzip.BadGzipFile, zlib.error, OSError)
CHUNK_BYTES = 1 << 20
# Keys under which a wrapper object may hold the records array.
WRAPPER_KEYS = ("data", "records", "results", "contacts", "items")
# The stdlib decoder (slow path) first looks at this much text for one value, then doubles it.
SLOW_WINDOW = 1 << 16
# Fast path: '}' cut points tried per run, orjson attempts among them, and elements parsed
# one by one after it failed.
FAST_PATH_CUTS = 16
FAST_PATH_PARSES = 2
SLOW_PATH_ELEMENTS = 1000
NOT_JSON = "{} is not JSON (JSON has no NaN, Infinity or -Infinity)"
_NOT_SPACE = re.compile(rb"[^ \t\r\n]")
# What follows the '}' that ends an array element: the next element, or the array's end.
_ELEMENT_END = re.compile(rb"[ \t\r\n]*(?:,[ \t\r\n]*\{|\])")
_CONTINUATION_BYTES = bytes(range(0x80, 0xC0))
_INT64_MIN, _UINT64_END = -(1 << 63), 1 << 64


@functools.cache
def schema_fields() -> frozenset[str]:
    """The record fields of the stream's schema (how a JSON Lines record is recognised)."""
    text = importlib.resources.files(schemas).joinpath("enriched_contacts.json").read_text()
    return frozenset(json.loads(text)["properties"])


@contextlib.contextmanager
def open_binary(path: Path) -> Iterator[t.BinaryIO]:
    """Open a spooled fragment, transparently gunzipping it when it starts with gzip magic."""
    with path.open("rb") as raw:
        if raw.read(2) == GZIP_MAGIC:
            raw.seek(0)
            with gzip.GzipFile(fileobj=raw) as unzipped:
                yield t.cast("t.BinaryIO", unzipped)
        else:
            raw.seek(0)
            yield raw


def verify_compression(path: Path, where: str) -> None:
    """Check a fragment's size limit, and for gzip decompress it once to check its CRC before
    any record is read: a damaged body can decompress to plausible but wrong records."""
    limit = limits.MAX_FRAGMENT_BYTES
    with path.open("rb") as raw:
        if raw.read(2) != GZIP_MAGIC:
            size = path.stat().st_size
            if size > limit:
                raise LimitExceededError(
                    f"{where}: the fragment is {size} bytes, more than the limit of {mib(limit)}"
                )
            return
        raw.seek(0)
        size = 0
        with _damaged_data_is_an_error(where), gzip.GzipFile(fileobj=raw) as unzipped:
            while chunk := unzipped.read(CHUNK_BYTES):
                size += len(chunk)
                if size > limit:
                    raise LimitExceededError(
                        f"{where}: the fragment decompresses to more than the limit of "
                        f"{mib(limit)} (a gzip bomb or a far larger export than expected)"
                    )


def read_json(stream: t.BinaryIO, where: str) -> Iterator[dict[str, t.Any]]:
    """Records from a JSON array, JSON Lines, or an object wrapping the records array.

    ``stream`` must be seekable: the first line is sniffed, then it is read again.
    """
    scanner = _JsonScanner(stream, where)
    with _damaged_data_is_an_error(where):
        first = scanner.peek_after_bom()
    if not first:
        return
    if first == b"[":
        yield from scanner.array_items()
    elif first == b"{":
        start = scanner.offset
        head = _first_line(stream, start, where)
        if isinstance(head, dict) and not schema_fields().isdisjoint(head):
            stream.seek(start)
            yield from _json_lines(stream, where)
        elif isinstance(head, dict):
            yield from _one_line_wrapper(head, where)
            _only_whitespace_after_line(stream, start, where)
        else:
            stream.seek(0)
            wrapper = _JsonScanner(stream, where)
            wrapper.peek_after_bom()
            try:
                yield from wrapper.wrapper_items()
            except _RecordNotWrapperError:
                # A JSON Lines record that is invalid or too long: say so, naming its line.
                stream.seek(start)
                yield from _json_lines(stream, where)
    else:
        raise UnreadableDataError(
            f"{where}: expected JSON (an array, JSON Lines or an object), "
            f"found {scanner.head(40)!r}"
        )


def read_csv(stream: t.BinaryIO, where: str) -> Iterator[dict[str, t.Any]]:
    """Rows of a CSV file with a header row, as dicts of strings (empty cells kept)."""
    lines = _CsvLines(stream, where)
    reader = csv.reader(lines, strict=True)
    try:
        raw_header = next(reader, None)
        if raw_header is None:
            return
        header = _csv_header(raw_header, where)
        width = len(header)
        for row in reader:
            if not row:
                continue
            if len(row) != width:
                raise UnreadableDataError(
                    f"{where}, CSV line {reader.line_num}: {len(row)} cells, the header has {width}"
                )
            yield dict(zip(header, row, strict=True))
    except csv.Error as exc:
        raise UnreadableDataError(f"{where}, CSV line {reader.line_num}: {exc}") from exc


def _csv_header(raw_header: list[str], where: str) -> list[str]:
    """Normalised header names: "First Name" or "FIRST_NAME" also name first_name (header
    names are undocumented). Two columns with one name would make one of them vanish."""
    header = [name.strip().lower().replace(" ", "_") for name in raw_header]
    if len(set(header)) < len(header):
        twice = next(name for name in header if header.count(name) > 1)
        columns = ", ".join(
            f"{number} {raw!r}"
            for number, (raw, name) in enumerate(zip(raw_header, header, strict=True), start=1)
            if name == twice
        )
        raise DataFormatError(
            f"{where}: the CSV header names the column {twice!r} more than once "
            f"(columns {columns}); which one holds the data is unclear"
        )
    return header


class _CsvLines:
    """The lines of a CSV file as text, each at most ``MAX_RECORD_BYTES`` long."""

    def __init__(self, stream: t.BinaryIO, where: str) -> None:
        self._stream = stream
        self._where = where
        self._number = 0

    def __iter__(self) -> _CsvLines:
        return self

    def __next__(self) -> str:
        limit = limits.MAX_RECORD_BYTES
        try:
            line = self._stream.readline(limit + 1)
        except DAMAGED as exc:
            raise UnreadableDataError(
                f"{self._where}, after CSV line {self._number}: {exc}"
            ) from exc
        if not line:
            raise StopIteration
        self._number += 1
        if len(line) > limit and not line.endswith(b"\n"):
            raise LimitExceededError(
                f"{self._where}, CSV line {self._number}: longer than the limit of {mib(limit)}"
            )
        if self._number == 1:
            line = line.removeprefix(UTF8_BOM)
        try:
            return line.decode()
        except UnicodeDecodeError as exc:
            raise UnreadableDataError(
                f"{self._where}, CSV line {self._number}: not UTF-8 text: {exc}"
            ) from exc


def _first_line(stream: t.BinaryIO, start: int, where: str) -> t.Any:
    """The first line's value when it is one whole JSON value within the record limit,
    else None (a wrapper object spread over lines, or longer than any record)."""
    limit = limits.MAX_RECORD_BYTES
    stream.seek(start)
    with _damaged_data_is_an_error(where):
        line = stream.readline(limit + 1)
    if len(line) > limit and not line.endswith(b"\n"):
        return None
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return None


def _one_line_wrapper(wrapper: dict[str, t.Any], where: str) -> Iterator[dict[str, t.Any]]:
    """Records of a wrapper object already parsed whole (it fits on one line)."""
    for key, value in wrapper.items():
        if key not in WRAPPER_KEYS or not (value is None or isinstance(value, list)):
            continue
        for number, item in enumerate(value or (), start=1):
            if not isinstance(item, dict):
                raise UnreadableDataError(
                    f"{where}: element {number} under {key!r} is not an object: {str(item)[:80]!r}"
                )
            yield item
        return
    shown = ", ".join(repr(str(key)[:40]) for key in list(wrapper)[:5])
    raise UnreadableDataError(
        f"{where}: a JSON object with none of the schema's fields (keys: {shown or 'none'}) "
        f"and no records array under any of {', '.join(WRAPPER_KEYS)}"
    )


def _json_lines(stream: t.BinaryIO, where: str) -> Iterator[dict[str, t.Any]]:
    limit = limits.MAX_RECORD_BYTES
    number = 0
    loads = orjson.loads
    while True:
        try:
            line = stream.readline(limit + 1)
        except DAMAGED as exc:
            raise UnreadableDataError(f"{where}, after JSON line {number}: {exc}") from exc
        if not line:
            return
        number += 1
        if len(line) > limit and not line.endswith(b"\n"):
            _skip_long_blank_line(stream, line, f"{where}, JSON line {number}")
            continue
        try:
            record = loads(line)
        except orjson.JSONDecodeError as exc:
            if line.isspace():
                continue
            raise UnreadableDataError(
                f"{where}, JSON line {number}: {_grammar_error(line) or exc}"
            ) from exc
        if not isinstance(record, dict):
            raise UnreadableDataError(f"{where}, JSON line {number}: not an object: {line[:80]!r}")
        yield record


def _only_whitespace_after_line(stream: t.BinaryIO, start: int, where: str) -> None:
    """After a one-line wrapper object, only whitespace may follow."""
    with _damaged_data_is_an_error(where):
        stream.seek(start)
        stream.readline(limits.MAX_RECORD_BYTES + 1)
        while chunk := stream.read(CHUNK_BYTES):
            if not chunk.isspace():
                found = chunk.strip()[:40]
                raise UnreadableDataError(
                    f"{where}: unexpected data after the records on line 1: {found!r}"
                )


def _skip_long_blank_line(stream: t.BinaryIO, piece: bytes, where: str) -> None:
    """Read past a line longer than the record limit if it is all whitespace, else fail."""
    limit = limits.MAX_RECORD_BYTES
    while piece:
        if not piece.isspace():
            raise LimitExceededError(f"{where}: longer than the limit of {mib(limit)}")
        if piece.endswith(b"\n"):
            return
        piece = stream.readline(limit + 1)


def _grammar_error(text: bytes) -> str | None:
    """Why the strict grammar refuses ``text`` when it is NaN/Infinity or a number too large
    (so that every shape says the same), else None."""
    try:
        _DECODER.raw_decode(text.decode("utf-8", "surrogateescape").strip())
    except _NotJsonError as exc:
        return str(exc)
    except (json.JSONDecodeError, RecursionError):
        return None
    return None


class _RecordNotWrapperError(Exception):
    """The object taken for a wrapper has a schema field: it is a record."""


class _NotJsonError(ValueError):
    """Text the stdlib decoder would accept but JSON (and orjson) does not."""


def _refuse_constant(name: str) -> t.NoReturn:
    raise _NotJsonError(NOT_JSON.format(name))


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _NotJsonError(f"the number {text[:40]} is too large (beyond the range of a double)")
    return value


def _int(text: str) -> int | float:
    """Integers as orjson reads them: beyond 64 bits they become floats."""
    value = int(text)
    return value if _INT64_MIN <= value < _UINT64_END else float(text)


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_float, parse_int=_int)


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


@contextlib.contextmanager
def _damaged_data_is_an_error(where: str) -> Iterator[None]:
    try:
        yield
    except DAMAGED as exc:
        raise UnreadableDataError(f"{where}: the compressed data is damaged: {exc}") from exc


class _JsonScanner:
    """Incremental JSON over a byte buffer: runs of array elements are parsed by orjson in
    one call (fast path, profiled); other values one at a time by the stdlib decoder."""

    def __init__(self, stream: t.BinaryIO, where: str) -> None:
        self._stream = stream
        self._where = where
        self._buf = b""
        self._pos = 0
        self._offset = 0  # stream offset of the buffer's first byte
        self._chars = 0  # characters before the buffer (for error positions)
        self._eof = False
        self._elements = 0  # array elements parsed so far
        self._fast_after = 0  # element count from which the orjson fast path may run again

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

    def array_items(self) -> Iterator[dict[str, t.Any]]:
        """Records of a top-level array."""
        self._expect(b"[")
        yield from self._items()
        self._expect_end()

    def wrapper_items(self) -> Iterator[dict[str, t.Any]]:
        """Records from the array under a wrapper key; other keys are skipped."""
        self._expect(b"{")
        found = False
        if self._peek() == b"}":
            self._pos += 1
        else:
            while True:
                key = self._slow_value()
                if not found and key in schema_fields():
                    raise _RecordNotWrapperError
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

    def _slow_value(self) -> t.Any:
        """The next value, by the stdlib decoder under orjson's grammar."""
        self._peek()
        window = SLOW_WINDOW
        while True:
            available = len(self._buf) - self._pos
            size = min(window, available)
            text = self._buf[self._pos : self._pos + size].decode("utf-8", "surrogateescape")
            try:
                value, end = _DECODER.raw_decode(text)
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
            except _NotJsonError as exc:
                raise self._error(str(exc)) from exc
            except RecursionError as exc:
                raise self._error("values nested too deeply") from exc
            # A number at the very end of the text may continue after it.
            if end == len(text) and not isinstance(value, dict | list) and not self._eof:
                if size < available:
                    window *= 2
                else:
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
            chunk = self._stream.read(CHUNK_BYTES)
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

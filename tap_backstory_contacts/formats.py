"""Streaming record readers for fragment files: JSON (array, lines, wrapper), CSV, gzip."""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import typing as t
import zlib

import orjson

from tap_backstory_contacts.errors import UnreadableDataError

if t.TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
# What reading damaged compressed data raises.
DAMAGED = (EOFError, gzip.BadGzipFile, zlib.error, OSError)
# A single JSON value larger than this is taken for invalid JSON rather than read on.
MAX_VALUE_CHARS = 16 << 20
CHUNK_CHARS = 1 << 20
# The longest first line still taken for a JSON Lines record (larger means one-line wrapper).
SNIFF_BYTES = 1 << 16
# Keys under which a wrapper object may hold the records array.
WRAPPER_KEYS = ("data", "records", "results", "contacts", "items")
_WHITESPACE = " \t\r\n"
# Cut points the fast path tries per run, and elements parsed one by one after it fails.
FAST_PATH_TRIES = 3
SLOW_PATH_ELEMENTS = 1000


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
    """For a gzip file, decompress it once to check its CRC before any record is read: a
    damaged body can decompress to plausible but wrong records before gzip notices."""
    with path.open("rb") as raw:
        if raw.read(2) != GZIP_MAGIC:
            return
        raw.seek(0)
        with _damaged_data_is_an_error(where), gzip.GzipFile(fileobj=raw) as unzipped:
            while unzipped.read(CHUNK_CHARS):
                pass


def read_json(stream: t.BinaryIO, where: str) -> Iterator[dict[str, t.Any]]:
    """Records from a JSON array, JSON Lines, or an object wrapping the records array.

    ``stream`` must be seekable: the first bytes are sniffed, then it is rewound.
    """
    with _damaged_data_is_an_error(where):
        head = stream.read(SNIFF_BYTES)
        stream.seek(len(UTF8_BOM) if head.startswith(UTF8_BOM) else 0)
    head = head.removeprefix(UTF8_BOM).lstrip()
    first = head[:1]
    if not first:
        return
    if first == b"[":
        yield from _JsonScanner(stream, where).array_items()
    elif first == b"{" and _is_json_lines(head):
        yield from _json_lines(stream, where)
    elif first == b"{":
        yield from _JsonScanner(stream, where).wrapper_items()
    else:
        raise UnreadableDataError(
            f"{where}: expected JSON (an array, JSON Lines or an object), found {head[:40]!r}"
        )


def read_csv(stream: t.BinaryIO, where: str) -> Iterator[dict[str, t.Any]]:
    """Rows of a CSV file with a header row, as dicts of strings (empty cells kept)."""
    text = io.TextIOWrapper(t.cast("t.Any", stream), encoding="utf-8-sig", newline="")
    reader = csv.reader(text, strict=True)
    try:
        raw_header = next(reader, None)
        if raw_header is None:
            return
        # Header names are undocumented: "First Name" or "FIRST_NAME" also name first_name.
        header = [name.strip().lower().replace(" ", "_") for name in raw_header]
        width = len(header)
        for row in reader:
            if not row:
                continue
            if len(row) != width:
                raise UnreadableDataError(
                    f"{where}, CSV line {reader.line_num}: {len(row)} cells, the header has {width}"
                )
            yield dict(zip(header, row, strict=True))
    except (csv.Error, UnicodeDecodeError, *DAMAGED) as exc:
        raise UnreadableDataError(f"{where}, CSV line {reader.line_num}: {exc}") from exc
    finally:
        text.detach()


def _is_json_lines(head: bytes) -> bool:
    """True when the first line is a whole record object (not a one-line wrapper)."""
    line, newline, _ = head.partition(b"\n")
    if not newline:
        return len(head) < SNIFF_BYTES and _parses_as_record(head)
    return _parses_as_record(line)


def _parses_as_record(text: bytes) -> bool:
    """A whole flat object that is not a wrapper (no wrapper key, no list or object value)."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return (
        isinstance(value, dict)
        and not any(key in value for key in WRAPPER_KEYS)
        and not any(isinstance(v, dict | list) for v in value.values())
    )


def _json_lines(stream: t.BinaryIO, where: str) -> Iterator[dict[str, t.Any]]:
    number = 0
    try:
        for number, line in enumerate(stream, start=1):
            if line.isspace():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise UnreadableDataError(f"{where}, JSON line {number}: {exc}") from exc
            if not isinstance(record, dict):
                raise UnreadableDataError(
                    f"{where}, JSON line {number}: not an object: {line[:80]!r}"
                )
            yield record
    except DAMAGED as exc:
        raise UnreadableDataError(f"{where}, after JSON line {number}: {exc}") from exc


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
    """Incremental JSON over a text buffer: decodes one value at a time with the C scanner."""

    def __init__(self, stream: t.BinaryIO, where: str) -> None:
        self._text = io.TextIOWrapper(t.cast("t.Any", stream), encoding="utf-8-sig")
        self._where = where
        self._decoder = json.JSONDecoder()
        self._buf = ""
        self._pos = 0
        self._consumed = 0  # characters dropped from the front of the buffer so far
        self._eof = False
        self._elements = 0  # array elements parsed so far
        self._fast_after = 0  # element count from which the orjson fast path may run again

    def array_items(self) -> Iterator[dict[str, t.Any]]:
        """Records of a top-level array."""
        try:
            self._expect("[")
            yield from self._items()
            self._expect_end()
        finally:
            self._text.detach()

    def wrapper_items(self) -> Iterator[dict[str, t.Any]]:
        """Records from the array under a wrapper key; other keys are skipped."""
        try:
            yield from self._wrapper_items()
        finally:
            self._text.detach()

    def _wrapper_items(self) -> Iterator[dict[str, t.Any]]:
        self._expect("{")
        found = False
        if self._peek() == "}":
            self._pos += 1
        else:
            while True:
                key = self._value()
                self._expect(":")
                if not found and key in WRAPPER_KEYS and self._peek() == "[":
                    found = True
                    self._pos += 1
                    yield from self._items()
                elif self._value() is None and key in WRAPPER_KEYS:
                    found = True  # {"data": null}: an empty export
                separator = self._peek()
                self._pos += 1
                if separator == "}":
                    break
                if separator != ",":
                    raise self._error(f"expected ',' or '}}' in the object, found {separator!r}")
        if not found:
            raise UnreadableDataError(
                f"{self._where}: a JSON object with no records array under any of "
                f"{', '.join(WRAPPER_KEYS)}"
            )
        self._expect_end()

    def _items(self) -> Iterator[dict[str, t.Any]]:
        """Array elements after '[' up to and including the closing ']'."""
        if self._peek() == "]":
            self._pos += 1
            return
        while True:
            run = self._complete_run()
            for item in [self._checked_value()] if run is None else run:
                self._elements += 1
                if not isinstance(item, dict):
                    raise self._error(f"an array element is not an object: {str(item)[:80]!r}")
                yield item
            separator = self._peek()
            self._pos += 1
            if separator == "]":
                return
            if separator != ",":
                raise self._error(f"expected ',' or ']' between records, found {separator!r}")

    def _complete_run(self) -> list[t.Any] | None:
        """Fast path (profiled): every element from here up to the buffer's last '}' that is
        followed by ',' or ']', parsed by orjson in one call; None if there is none.

        A '}' inside a string makes the slice invalid JSON (its string never closes), so a
        wrong cut can only fail, never mis-parse; after a failure the element-by-element
        path runs for a while.
        """
        if self._elements < self._fast_after:
            return None
        self._peek()
        end = len(self._buf)
        for _ in range(FAST_PATH_TRIES):
            cut = self._buf.rfind("}", self._pos, end)
            if cut < 0:
                return None
            follow = cut + 1
            while follow < len(self._buf) and self._buf[follow] in _WHITESPACE:
                follow += 1
            if follow == len(self._buf):
                if self._eof:
                    return None
                self._fill()  # the separator is in the next chunk
                end = len(self._buf)
                continue
            if self._buf[follow] not in ",]":
                end = cut
                continue
            try:
                run = orjson.loads("[" + self._buf[self._pos : cut + 1] + "]")
            except orjson.JSONDecodeError:
                self._fast_after = self._elements + SLOW_PATH_ELEMENTS
                return None
            self._pos = cut + 1
            return t.cast("list[t.Any]", run)
        return None

    def _checked_value(self) -> t.Any:
        """One element by the slow path, refused if it holds text that is not valid Unicode
        (the stdlib decoder lets lone surrogates such as "\\ud800" through; orjson does not)."""
        value = self._value()
        try:
            _encode_text(value)
        except UnicodeEncodeError as exc:
            raise self._error(f"a record that is not valid Unicode text: {exc}") from exc
        return value

    def _value(self) -> t.Any:
        self._peek()
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                if self._eof:
                    raise self._error(exc.msg) from exc
                if len(self._buf) - self._pos > MAX_VALUE_CHARS:
                    raise self._error(
                        f"{exc.msg} (no value ends within {MAX_VALUE_CHARS} characters)"
                    ) from exc
                self._fill()
                continue
            # A number at the very end of the buffer may continue in the next chunk.
            if end == len(self._buf) and not self._eof and not isinstance(value, dict | list):
                self._fill()
                continue
            self._pos = end
            return value

    def _peek(self) -> str:
        """The next non-whitespace character ('' at the end), without consuming it."""
        while True:
            while self._pos < len(self._buf) and self._buf[self._pos] in _WHITESPACE:
                self._pos += 1
            if self._pos < len(self._buf) or self._eof:
                return self._buf[self._pos : self._pos + 1]
            self._fill()

    def _expect(self, char: str) -> None:
        found = self._peek()
        if found != char:
            raise self._error(f"expected {char!r}, found {found or 'the end of the data'!r}")
        self._pos += 1

    def _expect_end(self) -> None:
        found = self._peek()
        if found:
            raise self._error(f"unexpected data after the records: {found!r}")

    def _fill(self) -> None:
        try:
            chunk = self._text.read(CHUNK_CHARS)
        except (*DAMAGED, UnicodeDecodeError) as exc:
            raise self._error(f"the data cannot be read: {exc}") from exc
        if not chunk:
            self._eof = True
            return
        self._consumed += self._pos
        self._buf = self._buf[self._pos :] + chunk
        self._pos = 0

    def _error(self, message: str) -> UnreadableDataError:
        return UnreadableDataError(
            f"{self._where}: invalid JSON near character {self._consumed + self._pos}: {message}"
        )

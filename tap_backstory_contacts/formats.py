"""Streaming record readers for fragment files: JSON (array, lines, wrapper), CSV, gzip.

Every JSON shape is read with one grammar (see ``jsonscan``); sizes are bounded by ``limits``.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import importlib.resources
import json
import typing as t

import orjson

from tap_backstory_contacts import limits
from tap_backstory_contacts.decoding import is_compressed, open_decoded
from tap_backstory_contacts.errors import DataFormatError, UnreadableDataError
from tap_backstory_contacts.jsonscan import (
    DAMAGED,
    UTF8_BOM,
    WRAPPER_KEYS,
    JsonScanner,
    RecordNotWrapperError,
    grammar_error,
)
from tap_backstory_contacts.limits import LimitExceededError, mib

if t.TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

CHUNK_BYTES = 1 << 20


@functools.cache
def schema_fields() -> frozenset[str]:
    """The record fields of the stream's schema (how a JSON Lines record is recognised)."""
    text = (
        importlib.resources.files("tap_backstory_contacts.schemas")
        .joinpath("enriched_contacts.json")
        .read_text()
    )
    return frozenset(json.loads(text)["properties"])


def open_binary(path: Path, encoding: str = "identity") -> t.ContextManager[t.BinaryIO]:
    """Open a spooled fragment as its decoded bytes (see ``decoding.open_decoded``)."""
    return open_decoded(path, encoding)


def verify_compression(path: Path, where: str, encoding: str = "identity") -> bool:
    """Check a fragment's size limit, and for gzip or deflate decompress it once to check
    it (gzip's CRC) before any record is read: a damaged body can decompress to plausible
    but wrong records. Returns whether the data holds anything but whitespace."""
    limit = limits.MAX_FRAGMENT_BYTES
    compressed = is_compressed(path, encoding)
    if not compressed:
        size = path.stat().st_size
        if size > limit:
            raise LimitExceededError(
                f"{where}: the fragment is {size} bytes, more than the limit of {mib(limit)}"
            )
    size = 0
    blank = True
    with _damaged_data_is_an_error(where), open_decoded(path, encoding) as data:
        while chunk := data.read(CHUNK_BYTES):
            size += len(chunk)
            blank = blank and chunk.isspace()
            if not compressed and not blank:
                break
            if size > limit:
                raise LimitExceededError(
                    f"{where}: the fragment decompresses to more than the limit of "
                    f"{mib(limit)} (a compression bomb or a far larger export than expected)"
                )
    return not blank


def read_json(stream: t.BinaryIO, where: str) -> Iterator[dict[str, t.Any]]:
    """Records from a JSON array, JSON Lines, or an object wrapping the records array.

    ``stream`` must be seekable: the first line is sniffed, then it is read again.
    """
    scanner = JsonScanner(stream, where, CHUNK_BYTES)
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
            wrapper = JsonScanner(stream, where, CHUNK_BYTES)
            wrapper.peek_after_bom()
            try:
                yield from wrapper.wrapper_items(schema_fields())
            except RecordNotWrapperError:
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
    if schema_fields().isdisjoint(header):
        # Most likely a fragment without its header row: its first contact would be read
        # as the header and silently dropped.
        shown = ", ".join(repr(name[:40]) for name in raw_header[:3])
        raise DataFormatError(
            f"{where}, CSV line 1: the header row names none of the schema's fields ({shown}"
            f"{', …' if len(raw_header) > 3 else ''}); a CSV fragment must start with its "
            "header row. Contact Backstory support with the job id"
        )
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
                f"{where}, JSON line {number}: {grammar_error(line) or exc}"
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


@contextlib.contextmanager
def _damaged_data_is_an_error(where: str) -> Iterator[None]:
    try:
        yield
    except DAMAGED as exc:
        raise UnreadableDataError(f"{where}: the compressed data is damaged: {exc}") from exc

"""Rendering of an export into fragment bytes (JSON array/wrapper/lines, CSV) and gzip."""

from __future__ import annotations

import csv
import io
import itertools
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import orjson

Chunk = bytes | memoryview

CSV_BOOL_WORDS = {
    "true": ("true", "false"),
    "True": ("True", "False"),
    "1": ("1", "0"),
    "yes": ("yes", "no"),
}
CONTENT_TYPES = {
    "array": "application/json",
    "wrapper": "application/json",
    "lines": "application/x-ndjson",
    "csv": "text/csv",
}
BOM = "\ufeff".encode()
# Hostile bodies are built from one shared chunk repeated, so that a huge body costs the fake
# no memory (tests measure the tap's memory in the same process).
_FILLER_CHUNK = 1 << 16
_WHITESPACE_CHUNK = (b" " * 1023 + b"\n") * (_FILLER_CHUNK // 1024)
_LONG_VALUE_CHUNK = b"x" * _FILLER_CHUNK


@dataclass(frozen=True)
class RenderOptions:
    """How a job's records become bytes."""

    layout: str  # "array", "wrapper", "lines" or "csv"
    fields: tuple[str, ...]
    fragment_size: int = 1000
    csv_bool: str = "true"
    csv_bom: bool = False
    csv_line_terminator: str = "\r\n"
    csv_header_names: tuple[tuple[str, str], ...] = ()
    pretty: bool = False
    added_fields: tuple[tuple[str, Any], ...] = ()
    hostile_body: str | None = None
    hostile_bytes: int = 0


def layout_for(output_format: str, json_shape: str) -> str:
    """The body layout of a job: CSV, JSONLines, or JSON in the configured shape."""
    if output_format == "CSV":
        return "csv"
    if output_format == "JSONLines":
        return "lines"
    return json_shape


@dataclass
class RenderedExport:
    """Pre-rendered fragments of one job; bodies are lists of byte chunks (no big copies).

    ``parts[i]`` is a JSON array (array/wrapper), a block of lines (lines) or a block of CSV
    rows without header (csv).
    """

    layout: str
    parts: list[bytes]
    counts: list[int]
    csv_head: bytes = b""
    #: Chunks before the first record of every fragment (hostile bodies).
    lead: list[Chunk] = field(default_factory=list)
    results_size: int = field(init=False)

    def __post_init__(self) -> None:
        """Compute the size of the stitched, uncompressed export."""
        self.results_size = sum(len(chunk) for chunk in self.stitched())

    @property
    def content_type(self) -> str:
        """Content-Type of an uncompressed body."""
        return CONTENT_TYPES[self.layout]

    @property
    def fragments(self) -> int:
        """Number of fragments (0 for an empty export)."""
        return len(self.parts)

    @property
    def record_count(self) -> int:
        """Number of records in the export."""
        return sum(self.counts)

    def fragment(self, index: int) -> list[Chunk]:
        """Body of fragment ``index`` as stand-alone file."""
        part = self.parts[index]
        if self.layout == "csv":
            return [self.csv_head, part]
        if self.layout == "lines":
            return [*self.lead, part]
        records: list[Chunk] = [part]
        if self.lead:
            records = [b"[", *self.lead, memoryview(part)[1:]]
        if self.layout == "wrapper":
            return [b'{"data":', *records, b',"count":%d}' % self.counts[index]]
        return records

    def stitched(self) -> list[Chunk]:
        """Body of all fragments stitched into one file."""
        if self.layout == "csv":
            return [self.csv_head, *self.parts]
        if self.layout == "lines":
            return [*self.lead, *self.parts]
        inner: list[Chunk] = [*self.lead]
        for number, part in enumerate(self.parts):
            if number:
                inner.append(b",")
            inner.append(memoryview(part)[1:-1])
        if self.layout == "wrapper":
            return [b'{"data":[', *inner, b'],"count":%d}' % self.record_count]
        return [b"[", *inner, b"]"]


def _render_csv_rows(records: Sequence[dict[str, Any]], opts: RenderOptions) -> bytes:
    """CSV rows (no header) for ``records``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=opts.csv_line_terminator, quoting=csv.QUOTE_MINIMAL)
    getter = itemgetter(*opts.fields)
    true_word, false_word = CSV_BOOL_WORDS[opts.csv_bool]
    bool_cols = [i for i, name in enumerate(opts.fields) if name == "from_cc"]
    rows = []
    for record in records:
        row = list(getter(record))
        for col in bool_cols:
            value = row[col]
            if value is True:
                row[col] = true_word
            elif value is False:
                row[col] = false_word
        rows.append(row)
    writer.writerows(rows)
    return buf.getvalue().encode()


def csv_head(opts: RenderOptions) -> bytes:
    """Optional BOM plus the header row."""
    buf = io.StringIO()
    names = dict(opts.csv_header_names)
    header = [names.get(name, name) for name in opts.fields]
    csv.writer(buf, lineterminator=opts.csv_line_terminator).writerow(header)
    return (BOM if opts.csv_bom else b"") + buf.getvalue().encode()


def _render_part(records: list[dict[str, Any]], opts: RenderOptions) -> bytes:
    """Bytes of one fragment's records in the layout's part form."""
    if opts.layout == "csv":
        return _render_csv_rows(records, opts)
    if opts.added_fields:
        added = dict(opts.added_fields)
        records = [{**record, **added} for record in records]
    if opts.layout == "lines":
        # dumps([record])[1:-1] is measurably faster than dumps(record) for many distinct dicts.
        dumps = orjson.dumps
        return b"\n".join([dumps([record])[1:-1] for record in records]) + b"\n"
    return orjson.dumps(records, option=orjson.OPT_INDENT_2 if opts.pretty else 0)


def _hostile_lead(opts: RenderOptions) -> list[Chunk]:
    """The hostile chunks put before the first record of every JSON fragment (sizes in
    whole 64 KiB chunks)."""
    if opts.hostile_body is None or opts.layout == "csv":
        return []
    repeats = opts.hostile_bytes // _FILLER_CHUNK
    if opts.hostile_body == "whitespace":
        return [_WHITESPACE_CHUNK] * repeats
    separator = b"\n" if opts.layout == "lines" else b","
    filler = [_LONG_VALUE_CHUNK] * repeats
    return [b'{"first_name":"Hostile","notes":"', *filler, b'"}' + separator]


def render_export(records: Iterable[dict[str, Any]], opts: RenderOptions) -> RenderedExport:
    """Render ``records`` (streamed) into fragments of ``opts.fragment_size`` records."""
    parts: list[bytes] = []
    counts: list[int] = []
    iterator = iter(records)
    while batch := list(itertools.islice(iterator, opts.fragment_size)):
        parts.append(_render_part(batch, opts))
        counts.append(len(batch))
    head = csv_head(opts) if opts.layout == "csv" else b""
    return RenderedExport(
        layout=opts.layout, parts=parts, counts=counts, csv_head=head, lead=_hostile_lead(opts)
    )


def join(chunks: Iterable[Chunk]) -> bytes:
    """Concatenate body chunks."""
    return b"".join(chunks)


def gzip_bytes(chunks: Iterable[Chunk], level: int = 1) -> bytes:
    """Gzip-compress body chunks (fast level: this is a fake)."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    out = [compressor.compress(chunk) for chunk in chunks]
    out.append(compressor.flush())
    return b"".join(out)

"""Spooled fragments as they were sent, decoded while they are read.

A body sent with ``Content-Encoding: gzip`` or ``deflate`` stays compressed on disk: a
small compressed body must not become hundreds of megabytes in the temp folder. A gzip file
is recognised by its magic bytes; a deflate body by the encoding recorded at download.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import typing as t
import zlib

from typing_extensions import override

if t.TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

GZIP_MAGIC = b"\x1f\x8b"
CHUNK_BYTES = 1 << 20
#: Transport encodings kept as sent in the spool (and decoded by ``open_decoded``).
STORED_ENCODINGS = frozenset({"identity", "gzip", "x-gzip", "deflate"})


@contextlib.contextmanager
def open_decoded(path: Path, encoding: str = "identity") -> Iterator[t.BinaryIO]:
    """Open a spooled fragment as its decoded bytes: gunzipped when it starts with gzip
    magic, inflated when it was sent with ``Content-Encoding: deflate``."""
    with path.open("rb") as raw:
        if encoding == "deflate":
            yield t.cast("t.BinaryIO", io.BufferedReader(DeflateReader(raw), CHUNK_BYTES))
        elif raw.read(2) == GZIP_MAGIC:
            raw.seek(0)
            with gzip.GzipFile(fileobj=raw) as unzipped:
                yield t.cast("t.BinaryIO", unzipped)
        else:
            raw.seek(0)
            yield raw


def is_compressed(path: Path, encoding: str) -> bool:
    """Whether reading ``path`` decompresses it (gzip magic, or a deflate body)."""
    if encoding == "deflate":
        return True
    with path.open("rb") as raw:
        return raw.read(2) == GZIP_MAGIC


class DeflateReader(io.RawIOBase):
    """The decoded bytes of a deflate body: a zlib stream (RFC 1950, as HTTP specifies),
    raw deflate (RFC 1951) or gzip, which some servers send instead. Seeking back starts
    over, as gzip does."""

    def __init__(self, raw: t.BinaryIO) -> None:
        super().__init__()
        self._raw = raw
        self._inflate = zlib.decompressobj()
        self._position = 0
        self._rewind()

    def _rewind(self) -> None:
        self._raw.seek(0)
        head = self._raw.read(2)
        self._raw.seek(0)
        wrapped = len(head) == 2 and head[0] & 0x0F == 8 and int.from_bytes(head) % 31 == 0
        if head == GZIP_MAGIC:  # labelled deflate, sent as gzip (seen from some servers)
            wbits = 16 + zlib.MAX_WBITS
        else:
            wbits = zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS
        self._inflate = zlib.decompressobj(wbits)
        self._position = 0

    @override
    def readable(self) -> bool:
        return True

    @override
    def seekable(self) -> bool:
        return True

    @override
    def tell(self) -> int:
        return self._position

    @override
    def readinto(self, buffer: t.Any) -> int:
        view = memoryview(buffer).cast("B")
        while not self._inflate.eof:
            data = self._inflate.unconsumed_tail or self._raw.read(CHUNK_BYTES)
            if not data:
                raise EOFError("the deflate data ends before its end marker (cut off)")
            out = self._inflate.decompress(data, len(view))
            if out:
                view[: len(out)] = out
                self._position += len(out)
                return len(out)
        return 0

    @override
    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._position
        elif whence != io.SEEK_SET:
            raise io.UnsupportedOperation("seek from the end of a deflate stream")
        if offset < self._position:
            self._rewind()
        while self._position < offset:
            if not self.read(min(CHUNK_BYTES, offset - self._position)):
                break
        return self._position

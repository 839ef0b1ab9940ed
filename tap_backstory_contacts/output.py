"""How Singer messages leave the tap: msgspec, RECORDs in 64 KiB writes, flushed at every STATE,
and never split or repeated by a signal that arrives while a write is blocked."""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import select
import stat
import sys
import time
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import Message, SingerMessageType
from typing_extensions import override

from tap_backstory_contacts.errors import NO_ROOM, OutputError

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator

BUFFER_BYTES = 1 << 16


class StateFlushingWriter(MsgSpecWriter):
    """Writes messages with msgspec, RECORDs gathered into large writes.

    The SDK's writers write and flush every message: one system call per record (a fifth
    of the tap's time, profiled; stdout is unbuffered under PYTHONUNBUFFERED). Here RECORDs
    wait in a buffer that is written, in order, before any other message (STATE, SCHEMA,
    BATCH) and whenever it fills. A target therefore never holds a STATE whose records it
    has not received, and a killed tap loses only records that no STATE vouched for.

    The buffer is written to stdout's file descriptor directly, a pipe without blocking:
    the wait for a slow target is a ``select``, where a signal handler may run and write
    (``when_idle``), while each write and its bookkeeping run as one step that a handler
    never interrupts to write, so bytes are never sent twice or spliced into a line.
    """

    def __init__(self) -> None:
        super().__init__()
        self._pending = bytearray()
        self._sent = 0  # bytes of _pending already written
        self._busy = False  # in a write and its bookkeeping
        self._deferred: Callable[[], None] | None = None
        self._deadline: float | None = None
        self._closed = False

    @override
    def write_message(self, message: Message) -> None:
        """Write ``message``; a RECORD may wait in the buffer, anything else flushes."""
        if self._closed:
            return
        self._pending += self.format_message(message)
        if message.type != SingerMessageType.RECORD or len(self._pending) >= BUFFER_BYTES:
            self.flush()

    def flush(self) -> bool:
        """Write out whatever is buffered; at the end of a sync, even one ending with an
        error, so that records extracted before it still reach the target (no STATE
        vouches for them). False if the writer is closed or its deadline passed first; an
        ``OutputError`` names why a write failed."""
        if self._closed:
            return False
        try:
            return self._flush()
        except OSError as exc:
            raise output_error(exc) from exc

    def _flush(self) -> bool:
        out = sys.stdout
        fd = _fileno(out)
        if fd is None:  # not a file (tests capture stdout in memory)
            self._step(lambda: self._write_to(out))
            return True
        out.flush()  # anything written through sys.stdout goes first
        with _without_blocking(fd):
            while self._sent < len(self._pending):
                if not self._wait_writable(fd):
                    return False
                self._step(lambda: self._write_some(fd))
        return True

    def when_idle(self, action: Callable[[], None]) -> None:
        """Run ``action`` (a signal handler's) now, or right after the write in progress."""
        if self._busy:
            self._deferred = action
        else:
            action()

    def limit_to(self, seconds: float) -> None:
        """Give up on writes still waiting for the target ``seconds`` from now."""
        self._deadline = time.monotonic() + seconds

    def close(self) -> None:
        """Write nothing more (the process is ending)."""
        self._closed = True

    def _step(self, write: Callable[[], None]) -> None:
        self._busy = True
        try:
            write()
        finally:
            self._busy = False
        action, self._deferred = self._deferred, None
        if action is not None:
            action()

    def _write_to(self, out: t.TextIO) -> None:
        out.buffer.write(self._pending)
        self._pending.clear()
        out.flush()

    def _write_some(self, fd: int) -> None:
        try:
            with memoryview(self._pending) as view:
                written = os.write(fd, view[self._sent :])
        except BlockingIOError:
            return
        self._sent += written
        if self._sent == len(self._pending):
            self._pending.clear()
            self._sent = 0

    def _wait_writable(self, fd: int) -> bool:
        timeout = None if self._deadline is None else self._deadline - time.monotonic()
        if timeout is not None and timeout <= 0:
            return False
        _, ready, _ = select.select([], [fd], [], timeout)
        return bool(ready)


def output_error(exc: OSError) -> OutputError:
    """The error for a failed write to stdout: the target stopped reading, or no room."""
    if isinstance(exc, BrokenPipeError | ConnectionResetError):
        return OutputError(
            "The target stopped reading the tap's output (its end of the pipe closed): it "
            "ended or crashed; its own log says why. Nothing is lost: the windows it did not "
            "confirm with a STATE are extracted again by the next run."
        )
    if exc.errno in NO_ROOM:
        return OutputError(
            f"The tap's output (stdout) could not be written: {exc.strerror}. stdout is a "
            "file on a disk without room: free space there or redirect it elsewhere, then "
            "run again (windows not confirmed by a STATE are extracted again)."
        )
    return OutputError(f"The tap's output (stdout) could not be written: {exc}")


def _fileno(out: t.TextIO) -> int | None:
    try:
        return out.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None


@contextlib.contextmanager
def _without_blocking(fd: int) -> Iterator[None]:
    """A pipe or socket without blocking while the block runs (other files are left as
    they are: a write to them does not wait for a reader)."""
    mode = os.fstat(fd).st_mode
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        yield
        return
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, fcntl.F_SETFL, flags)

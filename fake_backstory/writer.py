"""Writing a response body: paced to a byte rate, cut short, or paused once part-way."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from io import BufferedIOBase

from fake_backstory.render import Chunk

_WRITE_CHUNK = 256 * 1024


@dataclass(frozen=True)
class Pause:
    """Stop sending once ``after`` body bytes are out, for ``seconds`` (None: until the
    server stops)."""

    after: int
    seconds: float | None


def write_body(
    out: BufferedIOBase,
    body: list[Chunk],
    limit: int,
    rate: int | None,
    pause: Pause | None,
    wait: Callable[[float | None], None],
) -> None:
    """Write up to ``limit`` bytes of ``body``, paced to ``rate`` bytes/second when given,
    calling ``wait`` once ``pause.after`` bytes are out."""
    if pause is not None and pause.after == 0:
        wait(pause.seconds)
    step = max(1024, rate // 20) if rate else _WRITE_CHUNK
    started = time.monotonic()
    sent = 0
    for chunk in body:
        view = memoryview(chunk)
        pos = 0
        while pos < len(view) and sent < limit:
            size = min(step, limit - sent)
            if pause is not None and sent < pause.after:
                size = min(size, pause.after - sent)
            piece = view[pos : pos + size]
            out.write(piece)
            pos += len(piece)
            sent += len(piece)
            if pause is not None and sent == pause.after:
                wait(pause.seconds)
            if rate:
                delay = started + sent / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        if sent >= limit:
            break

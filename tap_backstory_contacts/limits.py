"""Documented limits on untrusted input (the API's bodies); docs/limits.md explains each.

Past a limit the run ends with a LimitExceededError naming the job, the fragment and the
place; a new download would give the same bytes, so the fragment is not fetched again.
"""

from __future__ import annotations

from tap_backstory_contacts.errors import DataFormatError

#: One record's text: a JSON Lines line, one element of a JSON array (or any other value in
#: a wrapper object), a CSV line. Thousands of times a real contact record.
MAX_RECORD_BYTES = 8 << 20
#: One fragment's data after gzip decompression (a gzip bomb stops here).
MAX_FRAGMENT_BYTES = 4 << 30
#: Default of the ``max_spool_bytes`` setting: all fragments waiting on disk together, as
#: sent (compressed bodies stay compressed). Real fragments are megabytes; a container's
#: temp folder is often a small tmpfs or overlay.
DEFAULT_MAX_SPOOL_BYTES = 1 << 30


class LimitExceededError(DataFormatError):
    """A fragment exceeds one of the limits above."""


def mib(size: int) -> str:
    """A limit as users read it: ``8 MiB (8388608 bytes)``."""
    if size >= 1 << 30 and size % (1 << 30) == 0:
        return f"{size >> 30} GiB ({size} bytes)"
    if size % (1 << 20) == 0:
        return f"{size >> 20} MiB ({size} bytes)"
    return f"{size} bytes"

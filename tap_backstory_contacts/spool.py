"""Where downloaded fragments wait to be read: one owner-only folder per sync.

Fragments hold contact data, so the folder is 0700 and each file 0600. The bytes in the
folder never pass ``max_spool_bytes``: a download that would pass it ends the run with an
error naming the folder, as does a full disk. A folder is named
after the process that made it; a run removes the folders of runs that are no longer alive
(killed with SIGKILL, so they could not clean up after themselves).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path

from tap_backstory_contacts import clock, logger
from tap_backstory_contacts.errors import NO_ROOM, DiskSpaceError
from tap_backstory_contacts.limits import DEFAULT_MAX_SPOOL_BYTES, mib

PREFIX = "tap-backstory-contacts-spool-"
TMPDIR_HINT = "set TMPDIR to a folder on a disk with more room"
_NAME = re.compile(re.escape(PREFIX) + r"(\d+)-")


class Spool:
    """The sync's spool folder, created on first use and removed by ``remove``; once removed
    it hands out no more files (a download thread still starting must not create another)."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_SPOOL_BYTES) -> None:
        self._path: Path | None = None
        self._removed = False
        self._numbers = itertools.count()
        # Reentrant: a signal handler removes the spool on the main thread, which may be
        # interrupted inside release() holding this lock.
        self._lock = threading.RLock()
        self._max_bytes = max_bytes
        self._sizes: dict[Path, int] = {}

    def new_file(self) -> Path:
        """A new empty owner-only file in the spool; ``CancelledError`` once removed."""
        with self._lock:
            if self._removed:
                raise clock.CancelledError
            if self._path is None:
                remove_stale_spools()
                self._path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
            path = self._path / f"fragment-{next(self._numbers)}"
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return path

    def grow(self, path: Path, size: int, label: str) -> None:
        """Count ``size`` more bytes written to ``path``; past ``max_spool_bytes`` for the
        whole folder, a ``DiskSpaceError`` naming it."""
        with self._lock:
            total = sum(self._sizes.values()) + size
            if total > self._max_bytes:
                raise DiskSpaceError(
                    f"Downloading {label} would put more than max_spool_bytes "
                    f"({mib(self._max_bytes)}) in the spool folder {path.parent} "
                    f"({total - size} bytes of fragments are there already). Raise "
                    "max_spool_bytes if the temp folder has the room (or "
                    f"{TMPDIR_HINT}), or lower max_parallel_downloads so that fewer "
                    "fragments wait on disk."
                )
            self._sizes[path] = self._sizes.get(path, 0) + size

    def restart(self, path: Path) -> None:
        """``path`` is written again from its start."""
        with self._lock:
            self._sizes.pop(path, None)

    def discard(self, path: Path) -> None:
        """Delete ``path``: its fragment has been read."""
        path.unlink(missing_ok=True)
        self.restart(path)

    def release(self, path: Path) -> None:
        """A download that wrote ``path`` has ended. If the spool was removed meanwhile (the
        sync ended while it ran), delete its file and the folder: its write may have raced
        ``remove``, which cannot wait for downloads without risking a hang."""
        with self._lock:
            removed = self._removed
        if removed:
            path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # another late download may still write
                path.parent.rmdir()

    def remove(self) -> None:
        """Delete the spool folder and everything in it, for good."""
        with self._lock:
            self._removed = True
            if self._path is not None:
                shutil.rmtree(self._path, ignore_errors=True)
                self._path = None
            self._sizes.clear()


def disk_full(exc: OSError, label: str) -> DiskSpaceError | None:
    """The error to raise for ``exc`` when it says the temp folder's disk has no room
    (None for any other error)."""
    if exc.errno not in NO_ROOM:
        return None
    return DiskSpaceError(
        f"The temp folder {tempfile.gettempdir()} has no room for the downloaded fragments "
        f"({exc.strerror}) while downloading {label}. Free space there, or {TMPDIR_HINT}; "
        "max_spool_bytes bounds what the tap itself puts there."
    )


def remove_stale_spools(root: Path | None = None) -> int:
    """Delete this user's spool folders whose process is gone; return how many."""
    removed = 0
    for folder in (root or Path(tempfile.gettempdir())).glob(f"{PREFIX}*"):
        match = _NAME.match(folder.name)
        try:
            owned = folder.is_dir() and folder.stat().st_uid == os.getuid()
        except OSError:
            continue
        if match and owned and not _alive(int(match.group(1))):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    if removed:
        logger.info("Removed %d spool folder(s) left behind by killed runs", removed)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True

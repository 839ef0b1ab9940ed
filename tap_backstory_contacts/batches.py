"""BATCH files for the SDK's ``batch_config``: gzip JSON Lines, owner-only, removed next run.

The SDK's own JSON Lines batcher holds a whole batch in memory and compresses with
simplejson and gzip level 9: 2.6x the tap's run time (profiled, 200,000 records). This
writes each record as it comes, with orjson and gzip level 1; the files are the same format.

The files hold contact data. On a local root they are created 0600 in a directory the tap
creates 0700. No target deletes a file it has loaded, so when a sync starts the tap removes
the files its earlier runs wrote to the same root (recognised by their names): a sync starts
only after the previous pipeline's target has ended, and the records of a file it never
loaded were never vouched for by a STATE the target emitted, so they are extracted again.
"""

from __future__ import annotations

import contextlib
import gzip
import itertools
import os
import re
import stat
import typing as t
import uuid
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import fsspec  # type: ignore[import-untyped]
import orjson

from tap_backstory_contacts import logger
from tap_backstory_contacts.environment import SETTING_FALSE_WORDS
from tap_backstory_contacts.errors import NO_ROOM, DiskSpaceError

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from singer_sdk.helpers._batch import BatchConfig, StorageTarget

WRITE_BYTES = 1 << 20
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700
SUFFIX = ".json.gz"
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def enabled(raw: t.Any) -> t.TypeGuard[t.Mapping[str, t.Any]]:
    """Whether a ``batch_config`` asks for BATCH messages.

    Meltano merges every layer of an object setting (meltano.yml, environments, inherited
    plugins, environment variables), so no layer can take ``batch_config`` away once
    meltano.yml sets it; ``{"enabled": false}`` in any layer turns it off.
    """
    if not raw:
        return False
    switch = raw.get("enabled", True)
    # A string too: Meltano may pass "false".
    return str(switch).lower() not in SETTING_FALSE_WORDS


def without_switch(raw: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """``raw`` without the tap's own ``enabled`` key, for the SDK's BatchConfig."""
    return {key: value for key, value in raw.items() if key != "enabled"}


def can_write(batch_config: BatchConfig) -> bool:
    """Whether these files are what ``batch_config`` asks for (JSON Lines, gzip)."""
    encoding = batch_config.encoding
    return encoding.format == "jsonl" and encoding.compression in (None, "gzip")


def file_pattern(storage: StorageTarget, name: str) -> re.Pattern[str]:
    """Names of the files ``write_batches`` writes for ``name`` under this storage prefix."""
    stem = re.escape(f"{storage.prefix or ''}{name}")
    return re.compile(rf"{stem}-{_UUID}-[1-9][0-9]*{re.escape(SUFFIX)}")


def local_directory(storage: StorageTarget) -> Path | None:
    """The root as a local directory, or None for remote storage (s3://, gs://, ...)."""
    parsed = urlparse(storage.root)
    if parsed.scheme == "file":
        return Path(url2pathname(parsed.path)).resolve()
    if not parsed.scheme:
        return Path(storage.root).resolve()
    return None


def remove_earlier_files(storage: StorageTarget, name: str) -> list[str]:
    """Delete the batch files of earlier runs (our names only); return their names."""
    pattern = file_pattern(storage, name)
    directory = local_directory(storage)
    removed = []
    if directory is not None:
        if not directory.is_dir():
            return []
        own = os.geteuid()
        for entry in os.scandir(directory):
            if (
                pattern.fullmatch(entry.name)
                and entry.is_file(follow_symlinks=False)
                and entry.stat(follow_symlinks=False).st_uid == own
            ):
                os.unlink(entry.path)
                removed.append(entry.name)
    else:
        fs, root = _remote(storage)
        for path in fs.ls(root, detail=False) if fs.isdir(root) else []:
            filename = str(path).rstrip("/").rsplit("/", 1)[-1]
            if pattern.fullmatch(filename):
                fs.rm(path)
                removed.append(filename)
    if removed:
        logger.info(
            "Removed %d batch file(s) of earlier runs from %s (batch_config.storage.root)",
            len(removed),
            storage.root,
        )
    return sorted(removed)


def private_directory(directory: Path) -> None:
    """Create ``directory`` (and missing parents) owner-only; warn if it exists and is not."""
    missing = [p for p in (directory, *directory.parents) if not p.exists()]
    for path in reversed(missing):
        path.mkdir(mode=DIRECTORY_MODE)
        path.chmod(DIRECTORY_MODE)  # mkdir's mode passes through the umask
    mode = stat.S_IMODE(directory.stat().st_mode)
    if not missing and mode & 0o077:
        logger.warning(
            "batch_config.storage.root %s is open to other users (mode %04o); the batch files "
            "in it are owner-only, but their names are visible: consider a private directory",
            directory,
            mode,
        )


def write_batches(
    records: Iterator[dict[str, t.Any]], batch_config: BatchConfig, name: str
) -> Iterator[list[str]]:
    """Write ``records`` into files of at most ``batch_size`` records; yield each manifest.

    Files of earlier runs under the same root and name are removed before the first is written.
    """
    storage = batch_config.storage
    remove_earlier_files(storage, name)
    directory = local_directory(storage)
    if directory is not None:
        private_directory(directory)
    sync_id = f"{storage.prefix or ''}{name}-{uuid.uuid4()}"
    for number in itertools.count(1):
        first = next(records, None)
        if first is None:
            return
        filename = f"{sync_id}-{number}{SUFFIX}"
        with _named_when_full(storage):
            if directory is None:
                fs, root = _remote(storage)
                fs.makedirs(root, exist_ok=True)
                with fs.open(f"{root}/{filename}", "wb") as raw:
                    _write_file(raw, first, records, batch_config.batch_size)
                manifest = [fs.unstrip_protocol(f"{root}/{filename}")]
            else:
                path = directory / filename
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
                with open(descriptor, "wb") as raw:
                    _write_file(raw, first, records, batch_config.batch_size)
                manifest = [path.as_uri()]
        yield manifest


@contextlib.contextmanager
def _named_when_full(storage: StorageTarget) -> Iterator[None]:
    """A write that fails for want of room names the BATCH root and what to do."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in NO_ROOM:
            raise
        raise DiskSpaceError(
            f"The BATCH files' folder {storage.root} (batch_config.storage.root) has no room "
            f"({exc.strerror}). Free space there or set batch_config.storage.root to a disk "
            "with more room, then run again. The file being written was not announced to the "
            "target; the next run removes it and extracts its windows again."
        ) from exc


def _remote(storage: StorageTarget) -> tuple[t.Any, str]:
    fs, root = fsspec.core.url_to_fs(storage.root, **storage.params)
    return fs, str(root).rstrip("/")


def _write_file(
    raw: t.IO[bytes], first: dict[str, t.Any], records: Iterator[dict[str, t.Any]], size: int
) -> None:
    with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as out:
        pending = bytearray(orjson.dumps(first, option=orjson.OPT_APPEND_NEWLINE))
        for record in itertools.islice(records, size - 1):
            pending += orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
            if len(pending) >= WRITE_BYTES:
                out.write(pending)
                pending.clear()
        out.write(pending)

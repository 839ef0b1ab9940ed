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
from singer_sdk import typing as th
from singer_sdk.helpers._batch import BatchConfig

from tap_backstory_contacts import logger
from tap_backstory_contacts.environment import SETTING_FALSE_WORDS, SETTING_TRUE_WORDS
from tap_backstory_contacts.errors import NO_ROOM, DiskSpaceError

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from singer_sdk.helpers._batch import StorageTarget

WRITE_BYTES = 1 << 20
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700
SUFFIX = ".json.gz"
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

#: The tap's ``batch_config`` setting: the SDK's, plus ``enabled`` and ``batch_size``, each
#: described (Meltano declares every part as a setting of its own, e.g. for environment
#: variables such as TAP_BACKSTORY_CONTACTS_BATCH_CONFIG_STORAGE_ROOT).
SCHEMA = th.Property(
    "batch_config",
    th.ObjectType(
        th.Property(
            "enabled",
            # A string too: "false" from a JSON value written by hand.
            th.CustomType({"type": ["boolean", "string"]}),
            title="Batch Enabled",
            description="Send the records as BATCH messages (gzip JSON Lines files, read by "
            "target-postgres) instead of RECORD messages. A batch_config without it is on; "
            "false turns it off whatever the other parts say (for target-jsonl).",
        ),
        th.Property(
            "encoding",
            th.ObjectType(
                th.Property(
                    "format",
                    th.StringType(),
                    allowed_values=["jsonl", "parquet"],
                    title="Batch Encoding Format",
                    description="Format of the BATCH files: jsonl (written by the tap, "
                    "owner-only, removed by the next run) or parquet (the SDK's writer).",
                ),
                th.Property(
                    "compression",
                    th.StringType(),
                    allowed_values=["gzip", "none"],
                    title="Batch Compression",
                    description="Compression of the BATCH files: gzip or none.",
                ),
            ),
            title="Batch Encoding",
            description="Format and compression of the BATCH files.",
        ),
        th.Property(
            "storage",
            th.ObjectType(
                th.Property(
                    "root",
                    th.StringType(),
                    title="Batch Storage Root",
                    description="Where the BATCH files are written: a file:// URL or a path "
                    "(or s3://, gs://, ... through fsspec). The loader must see it too.",
                ),
                th.Property(
                    "prefix",
                    th.StringType(),
                    title="Batch File Prefix",
                    description="Prefix of the BATCH file names.",
                ),
            ),
            title="Batch Storage",
            description="Where the BATCH files go.",
        ),
        th.Property(
            "batch_size",
            th.IntegerType(minimum=1),
            title="Batch Size",
            description="Records a BATCH file holds at most; a file also closes at each "
            "window's end, so that the state can advance.",
        ),
    ),
    title="Batch Configuration",
    description="BATCH messages: all of encoding (format, compression), storage.root and "
    "batch_size, or enabled false. See docs/batch-files.md.",
)


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


def config_errors(raw: t.Any) -> list[str]:
    """Why ``raw`` (the ``batch_config`` setting) cannot be used, if it asks for BATCH."""
    if raw is None or not isinstance(raw, t.Mapping):
        return []  # not an object: the schema says so
    switch = raw.get("enabled")
    if isinstance(switch, str) and switch.lower() not in SETTING_TRUE_WORDS | SETTING_FALSE_WORDS:
        return [f"batch_config: enabled {switch!r} is neither true nor false"]
    if not enabled(raw):
        return []
    parts = without_switch(raw)
    encoding, storage = parts.get("encoding"), parts.get("storage")
    missing = [
        name
        for name, value in (
            ("encoding.format", encoding.get("format") if isinstance(encoding, dict) else None),
            (
                "encoding.compression",
                encoding.get("compression") if isinstance(encoding, dict) else None,
            ),
            ("storage.root", storage.get("root") if isinstance(storage, dict) else None),
            ("batch_size", parts.get("batch_size")),
        )
        if value in (None, "")
    ]
    if missing:
        return [
            f"batch_config: {', '.join(missing)} missing: BATCH messages need all of "
            "encoding.format, encoding.compression, storage.root and batch_size (e.g. "
            '{"encoding": {"format": "jsonl", "compression": "gzip"}, "storage": {"root": '
            '"file:///var/lib/backstory/batches"}, "batch_size": 20000}); or turn BATCH off '
            'with {"enabled": false}'
        ]
    try:
        BatchConfig.from_dict(parts)
    except (TypeError, ValueError, KeyError) as exc:
        return [f"batch_config: not usable ({type(exc).__name__}: {exc})"]
    return []


def without_switch(raw: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """``raw`` without the tap's own ``enabled`` key, for the SDK's BatchConfig."""
    return {key: value for key, value in raw.items() if key != "enabled"}


def can_write(batch_config: BatchConfig) -> bool:
    """Whether these files are what ``batch_config`` asks for (JSON Lines, gzip)."""
    encoding = batch_config.encoding
    return encoding.format == "jsonl" and encoding.compression in (None, "gzip")


def file_pattern(storage: StorageTarget, name: str) -> re.Pattern[str]:
    """Names of the files ``BatchFiles`` writes for ``name`` under this storage prefix."""
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


class BatchFiles:
    """Writes records into files of at most ``batch_size`` records, one file at a time.

    A file is closed when it is full (``add`` returns its manifest) or when ``close`` is
    called, e.g. at a window's end, so that its BATCH message, and the STATE after it, need
    not wait for the file to fill. Files of earlier runs under the same root and name are
    removed when this is created.
    """

    def __init__(self, batch_config: BatchConfig, name: str) -> None:
        self.encoding = batch_config.encoding
        self._storage = storage = batch_config.storage
        self._size = batch_config.batch_size
        remove_earlier_files(storage, name)
        self._directory = local_directory(storage)
        if self._directory is not None:
            private_directory(self._directory)
        self._sync_id = f"{storage.prefix or ''}{name}-{uuid.uuid4()}"
        self._numbers = itertools.count(1)
        self._raw: t.IO[bytes] | None = None
        self._out: gzip.GzipFile | None = None
        self._url = ""
        self._count = 0
        self._pending = bytearray()

    def add(self, record: dict[str, t.Any]) -> list[str] | None:
        """Write ``record``; the manifest of the file it filled, if it did."""
        if self._out is None:
            with _named_when_full(self._storage):
                self._open()
        self._pending += orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
        self._count += 1
        if len(self._pending) >= WRITE_BYTES:
            with _named_when_full(self._storage):
                self._write()
        if self._count >= self._size:
            return self.close()
        return None

    def close(self) -> list[str] | None:
        """Close the file being written; its manifest, or None if no file is open."""
        if self._out is None or self._raw is None:
            return None
        with _named_when_full(self._storage):
            self._write()
            self._out.close()
            self._raw.close()
        self._out = self._raw = None
        self._count = 0
        return [self._url]

    def discard(self) -> None:
        """Close the open file unannounced (the sync failed): the next run removes it."""
        for handle in (self._out, self._raw):
            if handle is not None:
                with contextlib.suppress(OSError, ValueError):
                    handle.close()
        self._out = self._raw = None
        self._pending.clear()

    def _open(self) -> None:
        filename = f"{self._sync_id}-{next(self._numbers)}{SUFFIX}"
        if self._directory is None:
            fs, root = _remote(self._storage)
            fs.makedirs(root, exist_ok=True)
            self._raw = fs.open(f"{root}/{filename}", "wb")
            self._url = fs.unstrip_protocol(f"{root}/{filename}")
        else:
            path = self._directory / filename
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            self._raw = open(descriptor, "wb")  # noqa: SIM115 - closed by close()/discard()
            self._url = path.as_uri()
        self._out = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=1)

    def _write(self) -> None:
        if self._out is not None and self._pending:
            self._out.write(self._pending)
            self._pending.clear()


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

"""Parallel, streamed, retried fragment downloads into spool files, handed out in order."""

from __future__ import annotations

import collections
import contextlib
import socket
import threading
import typing as t
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import requests
import urllib3.exceptions

from tap_backstory_contacts import clock, limits, logger
from tap_backstory_contacts.decoding import STORED_ENCODINGS
from tap_backstory_contacts.errors import ApiError, TapBackstoryError
from tap_backstory_contacts.retry import TransientError, call_with_retries
from tap_backstory_contacts.spool import Spool, disk_full

if t.TYPE_CHECKING:
    from collections.abc import Generator, Iterator
    from pathlib import Path

    from tap_backstory_contacts.client import BackstoryClient
    from tap_backstory_contacts.jobs.model import ExportJob
    from tap_backstory_contacts.shutdown import Shutdown

CHUNK_BYTES = 1 << 20
# The most an export with no record can weigh: `[]`, a wrapper, or a CSV header row.
EMPTY_FILE_BYTES = 1024


class DownloadCancelledError(TapBackstoryError):
    """The sync is ending; a download still running stops."""


@dataclass(frozen=True, slots=True)
class Fragment:
    """A downloaded fragment: ``index`` is None for the stitched (whole-export) file."""

    index: int | None
    count: int
    path: Path
    size: int
    #: The transport encoding the body is stored in (see ``decoding``).
    encoding: str = "identity"
    #: The API said the export is empty (204, or 404 for an export it reported empty).
    said_empty: bool = False

    def describe(self) -> str:
        """``fragment i of n`` or ``the stitched export``, for messages."""
        if self.index is None:
            return "the stitched export (no fragment parameter)"
        return f"fragment {self.index} of {self.count}"


def fragment_indices(job: ExportJob, skip: int = 0) -> Iterator[int | None]:
    """The fragments to fetch, lazily; one stitched download (``None``) if the count is 0
    or absent."""
    if not job.fragments:
        return iter([None])
    return iter(range(skip, job.fragments))


class FragmentDownloader:
    """The download threads of one sync (at most ``max_parallel``), shared by its jobs so
    that each thread keeps one HTTP session for the whole run."""

    def __init__(self, client: BackstoryClient, max_parallel: int, max_spool_bytes: int) -> None:
        self._client = client
        self._max_parallel = max_parallel
        self._pool = ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="fragment")
        self._spool = Spool(max_spool_bytes)
        self._cancel = threading.Event()
        self._responses: set[requests.Response] = set()
        # Reentrant: the SIGTERM/SIGINT handler runs close() on the main thread, which it
        # may have interrupted holding this lock (download_again tracks a response too).
        self._lock = threading.RLock()
        self._submitting = False
        self._pool_shut = False

    def __enter__(self) -> FragmentDownloader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextlib.contextmanager
    def stopped_by(self, shutdown: Shutdown) -> Iterator[None]:
        """Open while the block runs; ``shutdown``'s signal stops it until it has closed: a
        signal landing in close() ends the process from there, and must remove the spool."""
        with shutdown.stopping(self.close), self:
            yield

    def close(self) -> None:
        """Stop at once: queued downloads are dropped, waiting ones wake, and the sockets of
        running ones are shut, so no thread keeps the process alive; the spool is removed.
        A signal handler may call it again while it runs (the sync's own end): the second
        call removes the spool, since the interrupted one will not go on."""
        self._cancel.set()
        with self._lock:
            for response in self._responses:
                _shut(response)
        # submit() and shutdown() hold the pool's non-reentrant lock: a handler that
        # interrupted either must not shut the pool again (deadlock). The cancel flag ends
        # whatever the pool still runs or starts.
        if not (self._submitting or self._pool_shut):
            self._pool_shut = True
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._spool.remove()

    def fragments(self, job: ExportJob, skip: int = 0) -> Generator[Fragment, None, None]:
        """Yield the job's fragments in index order while later ones download in parallel.

        At most ``max_parallel`` downloads run at once, and no more than that many finished
        fragments wait on disk; each spool file is deleted once the consumer moves on.
        """
        indices = fragment_indices(job, skip)
        count = job.fragments or 1
        pending: collections.deque[Future[Fragment]] = collections.deque()
        try:
            while True:
                for index in indices:
                    self._submitting = True
                    try:
                        future = self._pool.submit(self._download, job, index, count)
                    finally:
                        self._submitting = False
                    pending.append(future)
                    if len(pending) >= self._max_parallel:
                        break
                if not pending:
                    return
                fragment = pending.popleft().result()
                try:
                    yield fragment
                finally:
                    self._spool.discard(fragment.path)
        finally:
            for future in pending:  # ended early (an error): don't wait for the rest
                future.cancel()

    def download_again(self, job: ExportJob, fragment: Fragment) -> Fragment:
        """Fetch ``fragment`` once more into the same spool file (its content was damaged)."""
        return download_fragment(
            self._client, job, fragment.index, fragment.count, fragment.path, self._files
        )

    def _download(self, job: ExportJob, index: int | None, count: int) -> Fragment:
        with clock.cancellable(self._cancel):
            clock.check_cancelled()
            try:
                path = self._spool.new_file()
            except OSError as exc:
                _raise_disk_full(exc, f"{describe(index, count)} of {job.describe()}")
            try:
                return download_fragment(self._client, job, index, count, path, self._files)
            finally:
                self._spool.release(path)

    @property
    def _files(self) -> Files:
        return Files(self._spool, self._track)

    @contextlib.contextmanager
    def _track(self, response: requests.Response) -> Iterator[None]:
        """Know the response while its body is read, so that ``close`` can cut it off."""
        with self._lock:
            self._responses.add(response)
        try:
            yield
        finally:
            with self._lock:
                self._responses.discard(response)


Tracker = t.Callable[[requests.Response], t.ContextManager[None]]


@dataclass(frozen=True, slots=True)
class Files:
    """Where a download writes (the spool, which counts its bytes) and who may cut it off."""

    spool: Spool
    track: Tracker


def describe(index: int | None, count: int) -> str:
    """``fragment i of n`` or ``the stitched export``."""
    return "the stitched export" if index is None else f"fragment {index} of {count}"


def download_fragment(
    client: BackstoryClient,
    job: ExportJob,
    index: int | None,
    count: int,
    path: Path,
    files: Files,
) -> Fragment:
    """Download one fragment (``None``: the stitched export) to ``path``, retrying cut bodies."""
    label = describe(index, count)
    what = f"Downloading {label} of {job.describe()}"
    params = None if index is None else {"fragment": index}

    def attempt() -> Fragment:
        # One retry loop (and one time budget) covers bad statuses and broken bodies alike.
        try:
            response = client.exchange(
                "GET", f"{job.path}/data", what=what, params=params, stream=True
            )
        except ApiError as exc:
            if not (exc.status == 404 and index is None and reported_empty(job)):
                raise
            # The API may answer "no file" for an export it reported empty (undocumented).
            path.write_bytes(b"")
            return Fragment(index=index, count=count, path=path, size=0, said_empty=True)
        with response, files.track(response):
            size, encoding = _spool(response, path, f"{label} of {job.describe()}", files.spool)
        return Fragment(index, count, path, size, encoding, said_empty=response.status_code == 204)

    fragment = call_with_retries(attempt, what=what, policy=client.policy)
    logger.info("Downloaded %s of %s: %d bytes", label, job.describe(), fragment.size)
    return fragment


def reported_empty(job: ExportJob) -> bool:
    """The status said the export is empty, and nothing in it said otherwise: 0 fragments
    and a results_size no larger than an empty file (`[]`, a CSV header), or size 0."""
    size = job.results_size
    if job.fragments == 0:
        return size is None or size <= EMPTY_FILE_BYTES
    return job.fragments is None and size == 0


def _spool(response: requests.Response, path: Path, label: str, spool: Spool) -> tuple[int, str]:
    """Write the body to ``path`` as sent (gzip and deflate stay compressed: see
    ``decoding``); return its size and encoding. A short or cut body is transient; a body
    past ``MAX_FRAGMENT_BYTES`` or ``max_spool_bytes``, or a full disk, is an error."""
    expected = response.headers.get("Content-Length")
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower() or "identity"
    # Encodings the reader cannot decode (br, zstd) are decoded here, bounded the same way.
    decode = encoding not in STORED_ENCODINGS
    size = 0
    spool.restart(path)
    try:
        with path.open("wb") as out:
            for chunk in response.raw.stream(CHUNK_BYTES, decode_content=decode):
                clock.check_cancelled()
                size += len(chunk)
                if size > limits.MAX_FRAGMENT_BYTES:
                    raise limits.LimitExceededError(
                        f"{label} is larger than {limits.mib(limits.MAX_FRAGMENT_BYTES)} on "
                        f"disk{' once decoded (' + encoding + ')' if decode else ''}, the most "
                        "the tap accepts for one fragment; lower window_days so that each job "
                        "exports less, or contact Backstory support with the job id."
                    )
                spool.grow(path, len(chunk), label)
                out.write(chunk)
    except clock.CancelledError as exc:
        raise DownloadCancelledError(label) from exc
    except (
        urllib3.exceptions.HTTPError,
        requests.RequestException,
        ConnectionError,
        TimeoutError,
    ) as exc:
        raise TransientError(
            f"the body of {label} broke off after {size} bytes ({type(exc).__name__})"
        ) from exc
    except OSError as exc:
        _raise_disk_full(exc, label)
    if expected is not None and not decode and expected.isdigit() and int(expected) != size:
        raise TransientError(
            f"the body of {label} has {size} bytes, Content-Length said {expected}"
        )
    return size, "deflate" if encoding == "deflate" else "identity"


def _raise_disk_full(exc: OSError, label: str) -> t.NoReturn:
    """Raise the error naming the temp folder if ``exc`` says its disk is full, else ``exc``."""
    error = disk_full(exc, label)
    if error is None:
        raise exc
    raise error from exc


def _shut(response: requests.Response) -> None:
    """Shut the response's socket, so a thread blocked reading it wakes at once."""
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

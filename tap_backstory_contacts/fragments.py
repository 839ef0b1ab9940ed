"""Parallel, streamed, retried fragment downloads into spool files, handed out in order."""

from __future__ import annotations

import collections
import logging
import shutil
import tempfile
import threading
import typing as t
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests
import urllib3.exceptions

from tap_backstory_contacts.errors import ApiError, TapBackstoryError
from tap_backstory_contacts.jobs import JOBS_PATH
from tap_backstory_contacts.retry import TransientError, call_with_retries

if t.TYPE_CHECKING:
    from collections.abc import Generator

    from tap_backstory_contacts.client import BackstoryClient
    from tap_backstory_contacts.jobs import ExportJob

CHUNK_BYTES = 1 << 20
# The most an export with no record can weigh: `[]`, a wrapper, or a CSV header row.
EMPTY_FILE_BYTES = 1024
logger = logging.getLogger("tap-backstory-contacts")


class DownloadCancelledError(TapBackstoryError):
    """The sync is ending; a download still running stops."""


@dataclass(frozen=True, slots=True)
class Fragment:
    """A downloaded fragment: ``index`` is None for the stitched (whole-export) file."""

    index: int | None
    count: int
    path: Path
    size: int

    def describe(self) -> str:
        """``fragment i of n`` or ``the stitched export``, for messages."""
        if self.index is None:
            return "the stitched export (no fragment parameter)"
        return f"fragment {self.index} of {self.count}"


def fragment_indices(job: ExportJob, skip: int = 0) -> list[int | None]:
    """The fragments to fetch; ``[None]`` (one stitched download) if the count is 0 or absent."""
    if not job.fragments:
        return [None]
    return list(range(skip, job.fragments))


class FragmentDownloader:
    """The download threads of one sync (at most ``max_parallel``), shared by its jobs so
    that each thread keeps one HTTP session for the whole run."""

    def __init__(self, client: BackstoryClient, max_parallel: int) -> None:
        self._client = client
        self._max_parallel = max_parallel
        self._pool = ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="fragment")
        self._running: set[threading.Event] = set()

    def close(self) -> None:
        """Stop: queued downloads are dropped, running ones end at their next chunk."""
        for cancel in list(self._running):
            cancel.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def fragments(self, job: ExportJob, skip: int = 0) -> Generator[Fragment, None, None]:
        """Yield the job's fragments in index order while later ones download in parallel.

        At most ``max_parallel`` downloads run at once, and no more than that many finished
        fragments wait on disk; each spool file is deleted once the consumer moves on.
        """
        indices = collections.deque(fragment_indices(job, skip))
        count = job.fragments or 1
        spool = Path(tempfile.mkdtemp(prefix=f"tap-backstory-{job.job_id}-"))
        pending: collections.deque[Future[Fragment]] = collections.deque()
        cancel = threading.Event()  # this job's downloads only
        self._running.add(cancel)
        try:
            while indices or pending:
                while indices and len(pending) < self._max_parallel:
                    index = indices.popleft()
                    pending.append(
                        self._pool.submit(
                            download_fragment,
                            self._client,
                            job,
                            index,
                            count,
                            spool / f"{index}",
                            cancel,
                        )
                    )
                fragment = pending.popleft().result()
                try:
                    yield fragment
                finally:
                    fragment.path.unlink(missing_ok=True)
        finally:
            if pending:  # ended early (an error): don't wait for the rest
                cancel.set()
                for future in pending:
                    future.cancel()
            self._running.discard(cancel)
            shutil.rmtree(spool, ignore_errors=True)


def download_fragment(
    client: BackstoryClient,
    job: ExportJob,
    index: int | None,
    count: int,
    path: Path,
    cancel: threading.Event | None = None,
) -> Fragment:
    """Download one fragment (``None``: the stitched export) to ``path``, retrying cut bodies."""
    label = "the stitched export" if index is None else f"fragment {index} of {count}"
    what = f"Downloading {label} of {job.describe()}"
    params = None if index is None else {"fragment": index}

    def attempt() -> Fragment:
        # One retry loop (and one time budget) covers bad statuses and broken bodies alike.
        if cancel is not None and cancel.is_set():
            raise DownloadCancelledError(what)
        try:
            response = client.request(
                "GET",
                f"{JOBS_PATH}/{job.job_id}/data",
                params=params,
                stream=True,
                what=what,
                retry=False,
            )
        except ApiError as exc:
            if not (exc.status == 404 and index is None and _reported_empty(job)):
                raise
            # The API may answer "no file" for an export it reported empty (undocumented).
            path.write_bytes(b"")
            return Fragment(index=index, count=count, path=path, size=0)
        with response:
            size = _spool(response, path, label, cancel)
        return Fragment(index=index, count=count, path=path, size=size)

    fragment = call_with_retries(attempt, what=what, policy=client.policy)
    logger.info("Downloaded %s of %s: %d bytes", label, job.describe(), fragment.size)
    return fragment


def _reported_empty(job: ExportJob) -> bool:
    """The status said the export is empty, and nothing in it said otherwise: 0 fragments
    and a results_size no larger than an empty file (`[]`, a CSV header), or size 0."""
    size = job.results_size
    if job.fragments == 0:
        return size is None or size <= EMPTY_FILE_BYTES
    return job.fragments is None and size == 0


def _spool(
    response: requests.Response, path: Path, label: str, cancel: threading.Event | None
) -> int:
    """Write the raw (possibly gzip) body to ``path``; a short body is transient."""
    expected = response.headers.get("Content-Length")
    encoding = response.headers.get("Content-Encoding", "identity").lower()
    # gzip stays compressed on disk (the reader sniffs its magic bytes); others are decoded.
    decode = encoding not in ("identity", "gzip")
    size = 0
    try:
        with path.open("wb") as out:
            for chunk in response.raw.stream(CHUNK_BYTES, decode_content=decode):
                if cancel is not None and cancel.is_set():
                    raise DownloadCancelledError(label)
                out.write(chunk)
                size += len(chunk)
    except (
        urllib3.exceptions.HTTPError,
        requests.RequestException,
        ConnectionError,
        TimeoutError,
    ) as exc:
        raise TransientError(
            f"the body of {label} broke off after {size} bytes ({type(exc).__name__})"
        ) from exc
    if expected is not None and not decode and expected.isdigit() and int(expected) != size:
        raise TransientError(
            f"the body of {label} has {size} bytes, Content-Length said {expected}"
        )
    return size

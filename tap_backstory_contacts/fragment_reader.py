"""A fragment's records, shaped; a damaged fragment is downloaded again and read on.

Reading resumes after the records already emitted, so that none is emitted twice.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from tap_backstory_contacts import logger
from tap_backstory_contacts.errors import UnreadableDataError
from tap_backstory_contacts.formats import open_binary, read_csv, read_json, verify_compression

if t.TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator

    from tap_backstory_contacts.fragments import Fragment
    from tap_backstory_contacts.jobs.model import ExportJob
    from tap_backstory_contacts.records import RecordShaper

# Downloads of one fragment whose content turns out damaged before it counts as bad data.
FRAGMENT_READ_ATTEMPTS = 3

Redownload = t.Callable[["ExportJob", "Fragment"], "Fragment"]


class FragmentReader:
    """Reads fragments of one output format into schema-exact records."""

    def __init__(self, output_format: str, shaper: RecordShaper, redownload: Redownload) -> None:
        csv = output_format == "CSV"
        self._reader: Callable[[t.BinaryIO, str], Iterator[dict[str, t.Any]]] = (
            read_csv if csv else read_json
        )
        self._unit = "CSV row" if csv else "record"
        self._shaper = shaper
        self._redownload = redownload

    def records(
        self, job: ExportJob, fragment: Fragment, lineage: dict[str, str]
    ) -> Generator[dict[str, t.Any], None, int]:
        """Yield the fragment's records; return how many."""
        position = f"{job.describe()}, {fragment.describe()}"
        where = _Where(position, self._unit)
        for attempt in range(1, FRAGMENT_READ_ATTEMPTS + 1):
            try:
                if not verify_compression(fragment.path, position, fragment.encoding):
                    _check_empty_is_honest(job, fragment, position)
                with open_binary(fragment.path, fragment.encoding) as stream:
                    for number, raw in enumerate(self._reader(stream, position), start=1):
                        if number > where.number:
                            where.number = number
                            yield self._shaper.shape(raw, lineage, where)
                break
            except UnreadableDataError as exc:
                if attempt == FRAGMENT_READ_ATTEMPTS:
                    raise UnreadableDataError(
                        f"{exc} (the same after {attempt} downloads: the export itself is bad; "
                        "contact Backstory support with the job id)"
                    ) from exc
                logger.warning(
                    "%s; downloading it again (%d of %d), %d record(s) already emitted",
                    exc,
                    attempt,
                    FRAGMENT_READ_ATTEMPTS - 1,
                    where.number,
                )
                fragment = self._redownload(job, fragment)
        logger.info(
            "Emitted %d record(s) from %s (%d bytes)", where.number, position, fragment.size
        )
        return where.number


def _check_empty_is_honest(job: ExportJob, fragment: Fragment, position: str) -> None:
    """An empty (or whitespace-only) body is an empty export only when nothing the API said
    promises records: a 204, one fragment or none, and no ``results_size`` above 0. Else it
    is a damaged download (a proxy or gateway answering 200 without a body)."""
    if fragment.said_empty:
        return
    if fragment.index is not None and fragment.count > 1:
        promise = f"the job status reports {fragment.count} fragments"
    elif job.results_size:
        promise = f"the job status reports results_size {job.results_size}"
    else:
        return
    what = "only whitespace" if fragment.size else "empty"
    raise UnreadableDataError(
        f"{position}: the body is {what} ({fragment.size} bytes), but {promise}: the "
        "download is damaged (a proxy or gateway may have answered without the data)"
    )


@dataclass(slots=True)
class _Where:
    """The current record's position, formatted only for an error message."""

    position: str
    unit: str
    number: int = 0

    def __call__(self) -> str:
        return f"{self.position}, {self.unit} {self.number}"

"""The ``enriched_contacts`` stream: windows → export jobs → records, bookmarked per window."""

from __future__ import annotations

import contextlib
import functools
import logging
import typing as t
from importlib import resources

import singer_sdk.singerlib as singer
from singer_sdk.schema.source import SchemaDirectory, StreamSchema
from singer_sdk.singerlib.catalog import REPLICATION_INCREMENTAL
from typing_extensions import override

from tap_backstory_contacts import clock
from tap_backstory_contacts.batches import BatchFiles, can_write, enabled, without_switch
from tap_backstory_contacts.checkpoints import Checkpoints
from tap_backstory_contacts.client import BackstoryClient
from tap_backstory_contacts.errors import OutputError
from tap_backstory_contacts.export import ContactsExport
from tap_backstory_contacts.jobs.keeper import JobKeeper
from tap_backstory_contacts.record_messages import FastRecordMessages
from tap_backstory_contacts.records import RecordShaper
from tap_backstory_contacts.saved_state import REPLICATION_KEY, advance_bookmark, read_bookmark
from tap_backstory_contacts.settings import Settings
from tap_backstory_contacts.windows import Window, last_complete_day, split, sync_range

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from singer_sdk import Tap
    from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig
    from singer_sdk.helpers.types import Context, Record

    from tap_backstory_contacts.shutdown import Shutdown


class EnrichedContactsStream(FastRecordMessages):
    """Backstory Enriched Contacts, exported window by window through bulk export jobs."""

    name = "enriched_contacts"
    primary_keys: t.ClassVar[list[str]] = ["contact_key"]
    replication_key = REPLICATION_KEY
    is_sorted = True
    # schemas/ at the top of the repository, installed as this package (pyproject.toml).
    schema = StreamSchema(SchemaDirectory(resources.files("tap_backstory_contacts.schemas")))
    _batch_files: BatchFiles | None = None  # the files of a sync in BATCH mode

    @override
    def apply_catalog(self, catalog: singer.Catalog) -> None:
        """The catalog's selection and schema; a FULL_TABLE request runs as INCREMENTAL, with
        a warning.

        Re-exporting every day since start_date on every run would occupy the org's job
        slots for hours; a full re-extraction is a run without state (``--full-refresh``).
        """
        super().apply_catalog(catalog)
        if self.forced_replication_method not in (None, REPLICATION_INCREMENTAL):
            self.logger.warning(
                "Stream '%s': the catalog asks for replication method %s, which this tap does "
                "not support; running INCREMENTAL from the bookmark instead. To extract again "
                "from start_date, run without state (`meltano run --full-refresh ...`).",
                self.name,
                self.forced_replication_method,
            )
            self.forced_replication_method = REPLICATION_INCREMENTAL

    def __init__(self, tap: Tap, *, shutdown: Shutdown, flush: Callable[[], None]) -> None:
        """The stream of ``tap``: ``shutdown`` stops its downloads on a signal; ``flush``
        writes out the tap's buffered messages when a sync ends, even with an error."""
        super().__init__(tap)
        self._shutdown = shutdown
        self._flush = flush

    @functools.cached_property
    def _checkpoints(self) -> Checkpoints:
        """When state changes may go out: one per stream, whichever method runs first."""
        batch_mode = self.get_batch_config(self.config) is not None
        return Checkpoints(
            self._emit_state, batch_mode=batch_mode, close_file=self._close_batch_file
        )

    @override
    def get_records(self, context: Context | None) -> Iterable[Record]:
        """Records of every window from the bookmark (or start_date) to yesterday."""
        state = self.get_context_state(context)
        settings = Settings.from_config(self.config)
        windows = planned_windows(state, settings, self.logger, self.name)
        client = BackstoryClient.from_settings(settings)
        try:
            jobs = JobKeeper(client, settings, state, self._checkpoints)
            jobs.plan(windows)  # forgets jobs of windows not planned (all, when up to date)
            if not windows:
                return
            export = ContactsExport(
                client=client,
                settings=settings,
                jobs=jobs,
                shaper=RecordShaper(self.schema),
                checkpoints=self._checkpoints,
                window_done=functools.partial(advance_bookmark, state),
                shutdown=self._shutdown,
            )
            yield from export.records(windows)
        finally:
            client.close()
            with contextlib.suppress(OutputError):
                self._flush()

    @override
    def get_batch_config(self, config: t.Mapping[str, t.Any]) -> BatchConfig | None:
        """The SDK's batch config, or None (RECORD messages) when absent or turned off
        with ``"enabled": false`` (e.g. for target-jsonl, which cannot read BATCH)."""
        raw = config.get("batch_config")
        if not enabled(raw):
            return None
        return super().get_batch_config({"batch_config": without_switch(raw)})

    @override
    def get_batches(
        self, batch_config: BatchConfig, context: Context | None = None
    ) -> Iterator[tuple[BaseBatchFileEncoding, list[str]]]:
        """BATCH files written by ``batches.BatchFiles`` (faster, flat memory) when the
        config asks for gzip JSON Lines; any other encoding goes to the SDK's batchers.

        A file closes when full, here, or at a window's end (``_close_batch_file``)."""
        if can_write(batch_config):
            records = self._sync_records(context, write_messages=False)
            self._batch_files = files = BatchFiles(batch_config, f"{self.tap_name}--{self.name}")
            try:
                for record in records:
                    manifest = files.add(record)
                    if manifest:
                        yield files.encoding, manifest
                        # The SDK has now written this file's BATCH message (and a STATE):
                        # the state changes for its records may go with the next STATE.
                        # Released any earlier, a STATE written on SIGTERM could claim
                        # records no BATCH message announced.
                        self._checkpoints.release()
                manifest = files.close()
                if manifest:
                    yield files.encoding, manifest
            finally:
                files.discard()
                self._batch_files = None
        else:
            # The SDK's batchers give no hook per file: state moves only at the end.
            yield from super().get_batches(batch_config, context)
        self._checkpoints.release()

    def _close_batch_file(self) -> bool:
        """At a window's end: close the BATCH file being written and send its BATCH message.
        False when the SDK's batchers write the files (they have no such hook)."""
        files = self._batch_files
        if files is None:
            return False
        manifest = files.close()
        if manifest:
            self._write_batch_message(encoding=files.encoding, manifest=manifest)
        return True

    @override
    def _increment_stream_state(
        self, latest_record: Record, *, context: Context | None = None
    ) -> None:
        """Do nothing per record: the bookmark moves only when a whole window is emitted.

        The SDK would otherwise set the bookmark to a window's end date at that window's
        first record, and any STATE message sent mid-window would skip its remaining records.
        """

    def _emit_state(self) -> None:
        """Send a STATE message now (the SDK's public way to flush stream state)."""
        self.finalize_state_progress_markers(self.stream_state)


def planned_windows(
    state: dict[str, t.Any], settings: Settings, log: logging.Logger, stream: str
) -> list[Window]:
    """The windows this run exports: none (logged to the stream's ``log``) when the stream
    is up to date."""
    today = clock.utc_today()
    end_date = settings.end_date
    days = sync_range(
        start_date=settings.start_date,
        end_date=end_date,
        bookmark=read_bookmark(state, start_date=settings.start_date, today=today),
        lookback_days=settings.lookback_days,
        today=today,
    )
    if days is None:
        last = last_complete_day(today)
        if settings.start_date > last:  # validation refused any later start_date
            log.warning(
                "start_date %s is today: its data is complete only tomorrow; nothing is "
                "extracted until then.",
                settings.start_date,
            )
        log.info(
            "Stream '%s' is up to date: bookmark %s, nothing to extract up to %s (%s); "
            "no export job needed.",
            stream,
            state.get("replication_key_value"),
            min(last, end_date) if end_date else last,
            "end_date" if end_date and end_date < last else "the last complete UTC day",
        )
        return []
    windows = split(days, settings.window_days)
    log.info("Extracting %s in %d window(s)", days, len(windows))
    return windows

"""Command line: ``python -m fake_backstory --port 8765 ...`` serves until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from fake_backstory.config import (
    CSV_BOOLS,
    EMPTY_FRAGMENTS,
    GZIP_MODES,
    JOB_ID_TYPES,
    JSON_SHAPES,
    FakeConfig,
)
from fake_backstory.server import FakeBackstory


def _bool(value: str) -> bool:
    """Parse a yes/no style flag value."""
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {value!r}")


def build_parser() -> argparse.ArgumentParser:
    """Flags for the main FakeConfig fields."""
    d = FakeConfig()
    p = argparse.ArgumentParser(
        prog="python -m fake_backstory",
        description="Serve a fake Backstory Enriched Contacts bulk export API on 127.0.0.1.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = p.add_argument
    add("--port", type=int, default=d.port, help="port (0 = pick a free one)")
    add("--client-id", default=d.client_id)
    add("--client-secret", default=d.client_secret)
    add("--token-ttl", type=float, default=d.token_ttl_seconds, help="token lifetime, seconds")
    add("--contacts-per-day", type=int, default=d.contacts_per_day)
    add("--seed", type=int, default=d.seed)
    add("--data-last-day", default=d.data_last_day, help="YYYY-MM-DD; no contacts after it")
    add("--polls-queued", type=int, default=d.polls_queued)
    add("--polls-running", type=int, default=d.polls_running)
    add("--job-seconds", type=float, default=d.job_seconds, help="time-based jobs when > 0")
    add("--fragment-size", type=int, default=d.fragment_size)
    add("--empty-fragments", choices=EMPTY_FRAGMENTS, default=d.empty_fragments)
    add("--json-shape", choices=JSON_SHAPES, default=d.json_shape)
    add("--json-pretty", type=_bool, default=d.json_pretty, help="one field per line")
    add("--gzip", choices=GZIP_MODES, default=d.gzip)
    add("--csv-bool", choices=CSV_BOOLS, default=d.csv_bool)
    add("--csv-bom", type=_bool, default=d.csv_bom)
    add("--csv-line-terminator", choices=("crlf", "lf"), default="crlf")
    add("--job-id-type", choices=JOB_ID_TYPES, default=d.job_id_type)
    add("--extra-fields", type=_bool, default=d.extra_fields)
    add("--max-window-days", type=int, default=d.max_window_days)
    add("--enforce-job-limits", type=_bool, default=d.enforce_job_limits)
    add("--throttle-bytes-per-second", type=int, default=d.throttle_bytes_per_second)
    add("--fail-jobs", type=int, default=d.fail_jobs)
    add("--cancel-jobs", type=int, default=d.cancel_jobs)
    add("--status-override", default=d.status_override)
    add("--expired-status", type=int, choices=(404, 410), default=d.expired_status)
    add("--log-requests", action="store_true", help="print one line per request to stderr")
    add("--ready-file", type=Path, help="write the base URL to this file once listening")
    return p


def config_from_args(args: argparse.Namespace) -> FakeConfig:
    """Translate parsed flags into a FakeConfig."""
    return FakeConfig(
        port=args.port,
        client_id=args.client_id,
        client_secret=args.client_secret,
        token_ttl_seconds=args.token_ttl,
        contacts_per_day=args.contacts_per_day,
        seed=args.seed,
        data_last_day=args.data_last_day,
        polls_queued=args.polls_queued,
        polls_running=args.polls_running,
        job_seconds=args.job_seconds,
        fragment_size=args.fragment_size,
        empty_fragments=args.empty_fragments,
        json_shape=args.json_shape,
        json_pretty=args.json_pretty,
        gzip=args.gzip,
        csv_bool=args.csv_bool,
        csv_bom=args.csv_bom,
        csv_line_terminator="\r\n" if args.csv_line_terminator == "crlf" else "\n",
        job_id_type=args.job_id_type,
        extra_fields=args.extra_fields,
        max_window_days=args.max_window_days,
        enforce_job_limits=args.enforce_job_limits,
        throttle_bytes_per_second=args.throttle_bytes_per_second,
        fail_jobs=args.fail_jobs,
        cancel_jobs=args.cancel_jobs,
        status_override=args.status_override,
        expired_status=args.expired_status,
        log_requests=args.log_requests,
    )


def _write_ready_file(path: Path, url: str) -> None:
    """Atomically write ``url`` to ``path``."""
    fd, tmp = tempfile.mkstemp(prefix=".ready-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(url + "\n")
    os.replace(tmp, path)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fake until SIGINT or SIGTERM; returns the exit status."""
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    try:
        config.validate()
    except ValueError as exc:
        print(f"fake-backstory: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    api = FakeBackstory(config).start()
    try:
        print(f"fake-backstory listening on {api.url}", flush=True)
        if args.ready_file is not None:
            _write_ready_file(args.ready_file, api.url)
        while not stop.wait(0.2):
            pass
    finally:
        api.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

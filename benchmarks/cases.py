"""The benchmark cases: each returns table rows with its ratio against a same-run baseline."""

from __future__ import annotations

import contextlib
import datetime
import statistics
import subprocess
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.harness import ROOT, FakeApi, Measurement, measure, tap_command, write_config

MELTANO = ROOT / ".meltano-venv" / "bin" / "meltano"


@dataclass(frozen=True)
class Context:
    """Where cases write files, and whether to run a small, quick version."""

    scratch: Path
    quick: bool = False

    @property
    def repetitions(self) -> int:
        """Runs per measured variant (the median is kept)."""
        return 1 if self.quick else 3


@dataclass
class Row:
    """One measured variant of a case."""

    case: str
    variant: str
    records: int
    seconds: float
    peak_rss_mb: float
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    ratio_label: str = field(default="")

    @property
    def ratio_text(self) -> str:
        """The ratio as printed."""
        return "" if self.ratio is None else f"{self.ratio:.2f}{self.ratio_label}"


def _config(api: FakeApi, **overrides: t.Any) -> dict[str, t.Any]:
    config: dict[str, t.Any] = {
        "client_id": "test-client",
        "client_secret": "test-secret",
        "api_url": api.url,
        "poll_interval_seconds": 0.05,
        "poll_max_interval_seconds": 0.1,
    }
    config.update(overrides)
    return config


def _runs_by(
    context: Context, api: FakeApi, setting: str, values: tuple[int, ...], **config: t.Any
) -> dict[int, Measurement]:
    """One tap run per value of ``setting``, the rest of the config alike."""
    runs = {}
    for value in values:
        path = write_config(context.scratch, _config(api, **config, **{setting: value}))
        runs[value] = measure(tap_command(path))
    return runs


def _median(context: Context, command: list[str]) -> Measurement:
    return _median_of([measure(command) for _ in range(context.repetitions)])


def _median_of(runs: list[Measurement]) -> Measurement:
    return Measurement(
        seconds=statistics.median(m.seconds for m in runs),
        peak_rss_mb=max(m.peak_rss_mb for m in runs),
    )


# Issue 11, target 4: the tap's records/s against the orjson baseline's, and its peak RSS.
BASELINE_SHARE = 0.45
MAX_RSS_MB = 120


def throughput(context: Context) -> list[Row]:
    """Compact JSON arrays: >= 45% of an orjson baseline's records/s, >= 3x the SDK-default
    tap, peak RSS < 120 MB."""
    with _throughput_api(context, pretty=False) as (api, records):
        config = _throughput_config(context, api)
        baseline, tap = _tap_against_baseline(context, config)
        default = _median(context, tap_command(config, "benchmarks.default_sdk_tap"))
    vs_default = default.seconds / tap.seconds
    return [
        *_baseline_rows("throughput", records, baseline, tap),
        Row(
            "throughput",
            "tap, SDK default writer + conformance",
            records,
            default.seconds,
            default.peak_rss_mb,
            vs_default,
            "tap >= 3x this records/s",
            vs_default >= 3,
            "x",
        ),
    ]


def throughput_pretty(context: Context) -> list[Row]:
    """JSON arrays pretty-printed one field per line: >= 45% of the orjson baseline's
    records/s, peak RSS < 120 MB."""
    with _throughput_api(context, pretty=True) as (api, records):
        config = _throughput_config(context, api)
        baseline, tap = _tap_against_baseline(context, config)
    return _baseline_rows("throughput, pretty-printed", records, baseline, tap)


@contextlib.contextmanager
def _throughput_api(context: Context, *, pretty: bool) -> t.Iterator[tuple[FakeApi, int]]:
    """The fake API with the throughput data: 25,000 records per fragment (quick: 5,000);
    the generator's nullable fields are null in varied patterns."""
    days, per_day = (20, 1000) if context.quick else (100, 2000)
    fragment_size = 5_000 if context.quick else 25_000
    with FakeApi(contacts_per_day=per_day, fragment_size=fragment_size, json_pretty=pretty) as api:
        yield api, days * per_day


def _throughput_config(context: Context, api: FakeApi) -> Path:
    days = 20 if context.quick else 100
    return write_config(
        context.scratch,
        _config(
            api,
            start_date="2025-01-01",
            end_date=_day(days),
            window_days=days,
            max_parallel_downloads=4,
        ),
    )


def _tap_against_baseline(context: Context, config: Path) -> tuple[Measurement, Measurement]:
    """The baseline and the tap, run alternately (the median of each is kept)."""
    measure(tap_command(config, "benchmarks.baseline"))  # the fake renders the export once
    baselines, taps = [], []
    for _ in range(context.repetitions):
        baselines.append(measure(tap_command(config, "benchmarks.baseline")))
        taps.append(measure(tap_command(config)))
    return _median_of(baselines), _median_of(taps)


def _baseline_rows(case: str, records: int, baseline: Measurement, tap: Measurement) -> list[Row]:
    share = baseline.seconds / tap.seconds
    return [
        Row(case, "orjson baseline", records, baseline.seconds, baseline.peak_rss_mb),
        Row(
            case,
            "tap",
            records,
            tap.seconds,
            tap.peak_rss_mb,
            share,
            f">= {BASELINE_SHARE:.2f} of baseline records/s, RSS < {MAX_RSS_MB} MB",
            share >= BASELINE_SHARE and tap.peak_rss_mb < MAX_RSS_MB,
        ),
    ]


def memory(context: Context) -> list[Row]:
    """Target 2: peak RSS under 120 MB at 1M contacts, within 10% of 200k contacts."""
    sizes = (20_000, 100_000) if context.quick else (200_000, 1_000_000)
    rows = []
    peaks = []
    for records in sizes:
        per_day = records // 100
        with FakeApi(contacts_per_day=per_day, fragment_size=20_000) as api:
            config = write_config(
                context.scratch,
                _config(api, start_date="2025-01-01", end_date=_day(100), window_days=25),
            )
            run = measure(tap_command(config))
        peaks.append(run.peak_rss_mb)
        rows.append(
            Row("memory", f"tap, {records:,} contacts", records, run.seconds, run.peak_rss_mb)
        )
    growth = peaks[1] / peaks[0]
    rows[-1].ratio = growth
    rows[-1].target = "< 120 MB and <= 1.10x the smaller run"
    rows[-1].met = peaks[1] < 120 and growth <= 1.10
    rows[-1].ratio_label = "x RSS"
    return rows


def parallel_fragments(context: Context) -> list[Row]:
    """Target 3: 8 throttled fragments (1 MB/s a connection) >= 4x faster with 8 downloads."""
    per_day, days = (560, 10) if context.quick else (2240, 10)
    records = per_day * days
    with FakeApi(
        contacts_per_day=per_day,
        fragment_size=records // 8,
        throttle_bytes_per_second=1_000_000,
    ) as api:
        runs = _runs_by(
            context,
            api,
            "max_parallel_downloads",
            (1, 8),
            start_date="2025-01-01",
            end_date=_day(days),
            window_days=days,
        )
    speedup = runs[1].seconds / runs[8].seconds
    return [
        Row(
            "parallel fragments",
            "1 download at a time",
            records,
            runs[1].seconds,
            runs[1].peak_rss_mb,
        ),
        Row(
            "parallel fragments",
            "8 downloads at a time",
            records,
            runs[8].seconds,
            runs[8].peak_rss_mb,
            speedup,
            ">= 4x faster than 1",
            speedup >= 4,
            "x",
        ),
    ]


def pipelined_jobs(context: Context) -> list[Row]:
    """Target 4: 6 windows of fixed-time jobs take <= 0.6x with 2 jobs in flight than 1."""
    job_seconds = 1.0 if context.quick else 2.0
    with FakeApi(contacts_per_day=20, job_seconds=job_seconds) as api:
        runs = _runs_by(
            context,
            api,
            "max_concurrent_jobs",
            (1, 2),
            start_date="2025-01-01",
            end_date=_day(6),
            window_days=1,
        )
    ratio = runs[2].seconds / runs[1].seconds
    return [
        Row("pipelined jobs", "1 job in flight", 120, runs[1].seconds, runs[1].peak_rss_mb),
        Row(
            "pipelined jobs",
            "2 jobs in flight",
            120,
            runs[2].seconds,
            runs[2].peak_rss_mb,
            ratio,
            "<= 0.60x the time of 1",
            ratio <= 0.60,
            "x time",
        ),
    ]


def _psql(sql: str) -> str:
    done = subprocess.run(  # noqa: S603
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-tAc", sql],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def _day(days: int) -> str:
    """The ISO date ``days - 1`` days after 2025-01-01 (a range of ``days`` days)."""
    return (datetime.date(2025, 1, 1) + datetime.timedelta(days=days - 1)).isoformat()


CASES: dict[str, t.Callable[[Context], list[Row]]] = {
    "throughput": throughput,
    "throughput-pretty": throughput_pretty,
    "memory": memory,
    "parallel-fragments": parallel_fragments,
    "pipelined-jobs": pipelined_jobs,
}

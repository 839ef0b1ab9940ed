"""The benchmark harness still runs (its figures are judged by `make bench`, not here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quick_rows(case: str, row_prefix: str) -> list[str]:
    """The table rows that ``python -m benchmarks --quick --only <case>`` prints."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", case],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return [line for line in done.stdout.splitlines() if line.startswith(row_prefix)]


def test_quick_throughput_benchmark_runs_and_prints_its_table() -> None:
    rows = quick_rows("throughput", "| throughput |")
    assert [row.split("|")[2].strip() for row in rows] == [
        "orjson baseline",
        "tap",
        "tap, SDK default writer + conformance",
    ]
    assert all(" 20,000 " in row for row in rows)


def test_quick_pretty_printed_throughput_benchmark_runs() -> None:
    rows = quick_rows("throughput-pretty", "| throughput, pretty")
    assert [row.split("|")[2].strip() for row in rows] == ["orjson baseline", "tap"]
    assert all(" 20,000 " in row for row in rows)
    assert ">= 0.45 of baseline records/s, RSS < 120 MB" in rows[1]

"""Run every benchmark case and print a table of ratios measured in this same run.

Usage: ``python -m benchmarks [--quick]`` (``make bench``). Each case starts the fake API in
its own process; the tap runs as a child process with stdout to /dev/null unless noted.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path

from benchmarks import pipeline, results
from benchmarks.cases import CASES, Context, Row


def main() -> int:
    """Run the cases and print the table; a full run also saves benchmarks/results.json and
    shows it in docs/performance.md. 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller data, one repetition")
    parser.add_argument("--only", nargs="*", help="case names to run (default: all)")
    args = parser.parse_args()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as scratch:
        context = Context(Path(scratch), quick=args.quick)
        for name, case in {**CASES, **pipeline.CASES}.items():
            if args.only and name not in args.only:
                continue
            print(f"running {name} ...", file=sys.stderr, flush=True)
            rows += case(context)
    if args.quick:
        # Fixed costs (start-up, polls) dominate small data: the targets are not judged.
        for row in rows:
            row.met = None
    machine = (
        f"{platform.machine()}, {_cores()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )
    saved = [result_row(row) for row in rows]
    print(results.table(machine, saved))
    if not args.quick and not args.only:
        results.save(machine, saved)
        page = results.PERFORMANCE_PAGE
        page.write_text(results.page_with_table(page.read_text(), machine, saved))
    return 0 if all(row.met is not False for row in rows) else 1


def result_row(row: Row) -> results.ResultRow:
    """A measured row as results.json keeps it."""
    return {
        "case": row.case,
        "variant": row.variant,
        "records": row.records,
        "seconds": row.seconds,
        "records_per_second": row.records / row.seconds if row.records else None,
        "peak_rss_mb": row.peak_rss_mb,
        "ratio": row.ratio_text,
        "target": row.target,
        "met": row.met,
    }


def _cores() -> int:
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    raise SystemExit(main())

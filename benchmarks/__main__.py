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

from benchmarks import pipeline
from benchmarks.cases import CASES, Context, Row

RESULTS = Path(__file__).with_name("results.md")


def main() -> int:
    """Run the cases, print the table, write benchmarks/results.md; 1 if a target is missed."""
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
    table = render(rows)
    print(table)
    if not args.quick and not args.only:
        RESULTS.write_text(table + "\n", encoding="utf-8")
    return 0 if all(row.met is not False for row in rows) else 1


def render(rows: list[Row]) -> str:
    """A Markdown table of the rows, with the machine it ran on."""
    lines = [
        f"Machine: {platform.machine()}, {_cores()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}",
        "",
        "| case | variant | records | seconds | records/s | peak RSS MB | ratio | target | met |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        rate = f"{row.records / row.seconds:,.0f}" if row.records else ""
        lines.append(
            f"| {row.case} | {row.variant} | {row.records:,} | {row.seconds:.2f} | {rate} | "
            f"{row.peak_rss_mb:.0f} | {row.ratio_text} | {row.target} | "
            f"{'' if row.met is None else ('yes' if row.met else 'NO')} |"
        )
    return "\n".join(lines)


def _cores() -> int:
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    raise SystemExit(main())

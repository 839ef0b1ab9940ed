"""The last full `make bench` run: its rows in results.json (the one source), shown as a table in
docs/performance.md between the ``bench:start``/``bench:end`` markers. ``make bench`` writes
both; ``make generate`` re-renders the table from results.json."""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

RESULTS = Path(__file__).with_name("results.json")
PERFORMANCE_PAGE = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
START = "<!-- bench:start: generated from benchmarks/results.json; do not edit -->"
END = "<!-- bench:end -->"
HEADER = (
    "| case | variant | records | seconds | records/s | peak RSS MB | ratio | target | met |\n"
    "|---|---|---:|---:|---:|---:|---:|---|---|"
)


class ResultRow(t.TypedDict):
    """One measured variant of a case, as results.json keeps it."""

    case: str
    variant: str
    records: int
    seconds: float
    records_per_second: float | None
    peak_rss_mb: float
    ratio: str
    target: str
    met: bool | None


def table(machine: str, rows: t.Sequence[ResultRow]) -> str:
    """The Markdown table of ``rows``, under the machine they ran on."""
    lines = [f"Machine: {machine}", "", HEADER]
    for row in rows:
        rate = row["records_per_second"]
        met = "" if row["met"] is None else ("yes" if row["met"] else "NO")
        lines.append(
            f"| {row['case']} | {row['variant']} | {row['records']:,} | {row['seconds']:.2f} | "
            f"{'' if rate is None else f'{rate:,.0f}'} | {row['peak_rss_mb']:.0f} | "
            f"{row['ratio']} | {row['target']} | {met} |"
        )
    return "\n".join(lines)


def load(path: Path = RESULTS) -> tuple[str, list[ResultRow]]:
    """The machine and rows of the saved run."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return str(data["machine"]), list(data["rows"])


def save(machine: str, rows: t.Sequence[ResultRow], path: Path = RESULTS) -> None:
    """Save a full run's results."""
    data = {"machine": machine, "rows": list(rows)}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def page_with_table(page: str, machine: str, rows: t.Sequence[ResultRow]) -> str:
    """``page`` (docs/performance.md's text) with the table between its markers replaced."""
    if page.count(START) != 1 or page.count(END) != 1:
        raise ValueError(f"{PERFORMANCE_PAGE.name}: expected one {START} ... {END} block")
    head, rest = page.split(START)
    _, tail = rest.split(END)
    return f"{head}{START}\n{table(machine, rows)}\n{END}{tail}"

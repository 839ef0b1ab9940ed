"""The ```sh blocks of README.md and docs/*.md, as a reader copies them.

A block preceded (on the line right before its fence) by ``<!-- not-run: <reason> -->`` is
not run by the tests, for the reason given; it is reported as not run, never as passed.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOT_RUN = re.compile(r"<!--\s*not-run:\s*(?P<reason>.+?)\s*-->")
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>\S*)\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced ```sh block: where it is, its text, and why it is not run (if it is not)."""

    path: Path
    line: int
    text: str
    not_run: str | None

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def documents() -> list[Path]:
    """README.md and every page under docs/."""
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def sh_blocks(path: Path) -> list[Block]:
    """The ```sh blocks of ``path``, in order."""
    lines = path.read_text().splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith("```"):
            end += 1
        if opening["lang"] == "sh":
            marker = NOT_RUN.fullmatch(lines[index - 1].strip()) if index else None
            blocks.append(
                Block(
                    path=path,
                    line=index + 1,
                    text=textwrap.dedent("\n".join(lines[index + 1 : end])) + "\n",
                    not_run=marker["reason"] if marker else None,
                )
            )
        index = end + 1
    return blocks


def section_blocks(path: Path, heading: str) -> list[Block]:
    """The runnable ```sh blocks under the ``## heading`` of ``path`` (up to the next one)."""
    text = path.read_text()
    start = text.index(f"\n## {heading}\n")
    after = text.find("\n## ", start + 1)
    first = text[:start].count("\n") + 1
    last = text[: after if after >= 0 else len(text)].count("\n") + 1
    return [b for b in sh_blocks(path) if first <= b.line <= last and b.not_run is None]

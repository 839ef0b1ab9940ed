"""The README's settings table is the one `--about --format=markdown` generates."""

from __future__ import annotations

import re
from pathlib import Path

from scripts import plugin_files
from tests.singer_run import run_cli

ROOT = Path(__file__).resolve().parent.parent
MARKER = plugin_files.README_BEGIN


def _table(text: str, after: str) -> list[str]:
    lines = text[text.index(after) + len(after) :].splitlines()
    rows = [line for line in lines if line.strip()]
    table = []
    for line in rows:
        if not line.startswith("|"):
            break
        table.append(line)
    return table


def test_readme_settings_table_matches_about(tmp_path: Path) -> None:
    about = run_cli(tmp_path, {}, "--about", "--format=markdown")
    assert about.returncode == 0
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    generated = _table(about.stdout, "## Settings")
    assert len(generated) > 20
    assert _table(readme, MARKER) == generated


def test_readme_starts_with_the_demo_and_test_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", readme, flags=re.DOTALL)
    assert blocks[:2] == ["make demo\n", "make test\n"]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci


def test_readme_is_short_and_user_first() -> None:
    readme = (ROOT / "README.md").read_bytes()
    assert len(readme) <= 16 * 1024
    headings = re.findall(r"^## (.+)$", readme.decode(), flags=re.MULTILINE)
    assert headings[:3] == ["What it does", "Install", "Configure"]


def test_every_relative_link_in_the_docs_resolves() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    checked = 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
            checked += 1
    assert checked >= 10

"""Every derived file has one source and `make generate` (scripts/plugin_files.py) writes it: the
Hub definition, meltano.yml's extractor block, .env.example and the README's settings table from
the tap's `--about`; docs/performance.md's results table from benchmarks/results.json."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
import yaml

from benchmarks import results
from benchmarks.__main__ import result_row
from benchmarks.cases import Row
from scripts import plugin_files
from tests.singer_run import run_cli

ROOT = Path(__file__).resolve().parent.parent
TAP = "tap-backstory-contacts"


@pytest.fixture(scope="module")
def about(tmp_path_factory: pytest.TempPathFactory) -> dict[str, t.Any]:
    """`tap-backstory-contacts --about --format=json`, run as its own process."""
    result = run_cli(tmp_path_factory.mktemp("about"), {}, "--about", "--format=json")
    assert result.returncode == 0, result.stderr
    return t.cast("dict[str, t.Any]", json.loads(result.stdout))


def extractor() -> dict[str, t.Any]:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    (plugin,) = (p for p in project["plugins"]["extractors"] if p["name"] == TAP)
    return t.cast("dict[str, t.Any]", plugin)


def test_generated_files_are_up_to_date() -> None:
    """`make generate` would change nothing: no derived file was edited by hand or left stale."""
    files = plugin_files.generated()
    assert {path.relative_to(ROOT).as_posix() for path in files} == {
        "hub/tap-backstory-contacts.yml",
        "meltano.yml",
        ".env.example",
        "README.md",
        "docs/performance.md",
    }
    for path, text in files.items():
        assert path.read_text() == text, f"{path.name} is stale: run `make generate`"
    assert plugin_files.main(["--check"]) == 0


#: One generated line in each derived file, and an edit of it.
EDITS = {
    "HUB_FILE": ("Never logged.", "Logged."),
    "MELTANO_FILE": ("- structured-logging", "- structured-logs"),
    "ENV_FILE": ("Never logged.", "Logged."),
    "README_FILE": ("| api_url | False |", "| api_url | True |"),
    "PERFORMANCE_FILE": ("| 8,459 |", "| 9,999 |"),
}


@pytest.fixture
def copies(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Path]:
    """The generator pointed at copies of the derived files under ``tmp_path``."""
    monkeypatch.setattr(plugin_files, "ROOT", tmp_path)
    paths = {}
    for name in EDITS:
        real: Path = getattr(plugin_files, name)
        copy = tmp_path / real.relative_to(ROOT)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(real.read_text())
        monkeypatch.setattr(plugin_files, name, copy)
        paths[name] = copy
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    return paths


@pytest.mark.parametrize("name", sorted(EDITS))
def test_check_names_a_stale_file_and_generate_rewrites_it(
    copies: dict[str, Path], name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = copies[name]
    original = path.read_text()
    old, new = EDITS[name]
    assert old in original
    path.write_text(original.replace(old, new, 1))
    assert plugin_files.main(["--check"]) == 1
    stale = path.relative_to(plugin_files.ROOT).as_posix()
    assert f"Out of date: {stale}; run `make generate`" in capsys.readouterr().err
    assert new in path.read_text()
    assert plugin_files.main([]) == 0
    assert path.read_text() == original
    assert plugin_files.main(["--check"]) == 0


def test_text_outside_the_markers_is_kept(copies: dict[str, Path]) -> None:
    readme = copies["README_FILE"]
    readme.write_text(readme.read_text().replace("## Install", "## Installing", 1))
    assert plugin_files.main(["--check"]) == 0
    assert "## Installing" in readme.read_text()


def test_the_documented_command_runs_as_a_script() -> None:
    """`.venv/bin/python scripts/plugin_files.py` (what `make generate` runs) works from any
    directory; run by a Python without the project's packages, it says what to run instead."""
    command = [sys.executable, str(ROOT / "scripts" / "plugin_files.py"), "--check"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT / "docs", check=False)
    assert (done.returncode, done.stderr) == (0, "")
    bare = subprocess.run(
        [sys.executable, "-S", command[1]], capture_output=True, text=True, check=False
    )
    assert bare.returncode == 1
    assert "run `make generate`" in bare.stderr
    assert "Traceback" not in bare.stderr


def test_the_benchmark_table_is_in_one_place() -> None:
    machine, rows = results.load()
    table = results.table(machine, rows)
    assert len(rows) >= 10
    pages = [ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("benchmarks/*.md")]
    holding = [page.name for page in pages if results.HEADER in page.read_text()]
    assert holding == ["performance.md"]
    assert table in (ROOT / "docs" / "performance.md").read_text()


def test_results_round_trip_through_results_json(tmp_path: Path) -> None:
    machine, rows = results.load()
    results.save(machine, rows, tmp_path / "results.json")
    assert results.load(tmp_path / "results.json") == (machine, rows)
    first = rows[0]
    line = results.table(machine, [first]).splitlines()[-1]
    assert line.startswith(f"| {first['case']} | {first['variant']} | {first['records']:,} |")


def test_a_measured_row_is_saved_and_shown_as_make_bench_prints_it() -> None:
    row = Row("memory", "tap", 200_000, 6.2512, 71.4, 1.0412, "<= 1.10x", True, "x RSS")
    empty = Row("pipeline", "again", 0, 6.72, 0.0)
    saved = [result_row(row), result_row(empty)]
    assert saved[0]["records_per_second"] == pytest.approx(200_000 / 6.2512)
    assert results.table("m", saved).splitlines()[-2:] == [
        "| memory | tap | 200,000 | 6.25 | 31,994 | 71 | 1.04x RSS | <= 1.10x | yes |",
        "| pipeline | again | 0 | 6.72 |  | 0 |  |  |  |",
    ]


def test_hub_definition_equals_about(about: dict[str, t.Any]) -> None:
    hub = yaml.safe_load((ROOT / "hub" / f"{TAP}.yml").read_text())
    assert (hub["name"], hub["namespace"], hub["executable"]) == (
        TAP,
        "tap_backstory_contacts",
        TAP,
    )
    assert hub["pip_url"] == TAP
    assert hub["capabilities"] == about["capabilities"]
    schema = about["settings"]
    assert hub["settings_group_validation"] == [sorted(schema["required"])]
    props = dict(plugin_files.declared(schema["properties"]))
    assert [s["name"] for s in hub["settings"]] == list(props)
    assert list(schema["properties"]) == [name for name in props if "." not in name]
    for setting in hub["settings"]:
        prop = props[setting["name"]]
        expected = {
            "description": " ".join(prop["description"].split()),
            "label": prop["title"],
            "sensitive": prop.get("secret", False),
            "kind": plugin_files.setting_kind(prop),
            "options": prop.get("enum", []),
            **plugin_files.SETTING_OVERRIDES.get(setting["name"], {}),
        }
        actual = {
            **setting,
            "sensitive": setting.get("sensitive", False),
            "options": [o["value"] for o in setting.get("options", [])],
        }
        assert {key: actual.get(key) for key in expected} == expected, setting["name"]
    kinds = {s["name"]: s["kind"] for s in hub["settings"]}
    # Dates are strings the tap parses: Meltano's date_iso8601 would rewrite typos.
    assert (kinds["start_date"], kinds["output_format"], kinds["batch_config"]) == (
        "string",
        "options",
        "object",
    )
    parts = {s["name"]: s for s in hub["settings"] if s["name"].startswith("batch_config.")}
    assert list(parts) == [
        "batch_config.enabled",
        "batch_config.encoding.format",
        "batch_config.encoding.compression",
        "batch_config.storage.root",
        "batch_config.storage.prefix",
        "batch_config.batch_size",
    ], "batch_config is declared part by part, so each part has its own variable"
    assert {name: part.get("value") for name, part in parts.items()} == (plugin_files.PART_DEFAULTS)
    assert [o["value"] for o in parts["batch_config.encoding.format"]["options"]] == [
        "jsonl",
        "parquet",
    ]
    assert parts["batch_config.storage.root"]["kind"] == "string"
    assert parts["batch_config.batch_size"]["kind"] == "integer"
    assert hub["commands"]["test"]["args"] == "--config=ENV --test"
    assert hub["repo"].startswith("https://")


def test_meltano_yml_extractor_matches_about(about: dict[str, t.Any]) -> None:
    plugin = extractor()
    hub = yaml.safe_load((ROOT / "hub" / f"{TAP}.yml").read_text())
    assert plugin["capabilities"] == about["capabilities"]
    assert plugin["commands"] == hub["commands"]
    own = {
        name: prop
        for name, prop in plugin_files.declared(about["settings"]["properties"])
        if not name.startswith(plugin_files.CAPABILITY_SETTINGS)
    }
    assert [s["name"] for s in plugin["settings"]] == list(own)
    by_name = {s["name"]: s for s in hub["settings"]}
    assert plugin["settings"] == [by_name[name] for name in own]


def test_env_example_has_every_tap_setting_with_its_description(about: dict[str, t.Any]) -> None:
    text = (ROOT / ".env.example").read_text()
    schema = about["settings"]
    flat = re.sub(r"\n# ", " ", text)
    for name, prop in schema["properties"].items():
        if name.startswith(plugin_files.CAPABILITY_SETTINGS):
            continue
        variable = f"TAP_BACKSTORY_CONTACTS_{name.upper()}="
        (line,) = (line for line in text.splitlines() if variable in line)
        assert line.startswith(variable) == (name in schema["required"]), line
        assert " ".join(prop["description"].split()) in flat, name

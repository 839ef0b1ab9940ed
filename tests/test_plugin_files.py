"""Each setting's description has one source, the settings schema (`--about`): meltano.yml's
extractor settings, .env.example and the Hub definition are generated from it and must not drift."""

from __future__ import annotations

import json
import re
import typing as t
from pathlib import Path

import pytest
import yaml

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
    """`python scripts/plugin_files.py --check` passes: nothing was edited by hand."""
    for path, text in plugin_files.generated().items():
        assert path.read_text() == text, f"{path.name} drifted: run scripts/plugin_files.py"
    assert plugin_files.main(["--check"]) == 0


def test_check_names_a_drifted_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edited = tmp_path / ".env.example"
    edited.write_text((ROOT / ".env.example").read_text().replace("Never logged.", "Logged.", 1))
    monkeypatch.setattr(plugin_files, "ENV_FILE", edited)
    monkeypatch.setattr(plugin_files, "ROOT", tmp_path)
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    monkeypatch.setattr(plugin_files, "HUB_FILE", tmp_path / "hub.yml")
    monkeypatch.setattr(plugin_files, "MELTANO_FILE", tmp_path / "meltano.yml")
    (tmp_path / "hub.yml").write_text(plugin_files.hub_text())
    (tmp_path / "meltano.yml").write_text((ROOT / "meltano.yml").read_text())
    assert plugin_files.main(["--check"]) == 1
    assert "Out of date: .env.example" in capsys.readouterr().err
    assert "Logged." in edited.read_text()
    assert plugin_files.main([]) == 0
    assert edited.read_text() == (ROOT / ".env.example").read_text()


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
    assert [s["name"] for s in hub["settings"] if "." not in s["name"]] == list(
        schema["properties"]
    )
    for setting in hub["settings"]:
        prop = schema
        for part in setting["name"].split("."):  # batch_config.storage.root: a part
            prop = prop["properties"][part]
        assert setting["description"] == " ".join(prop["description"].split())
        assert setting["label"] == prop["title"]
        assert setting.get("sensitive", False) == prop.get("secret", False)
        assert setting["kind"] == plugin_files.setting_kind(prop)
        assert [o["value"] for o in setting.get("options", [])] == prop.get("enum", [])
    kinds = {s["name"]: s["kind"] for s in hub["settings"]}
    # Dates are strings the tap parses: Meltano's date_iso8601 would rewrite typos.
    assert (kinds["start_date"], kinds["output_format"], kinds["batch_config"]) == (
        "string",
        "options",
        "object",
    )
    parts = {s["name"]: s.get("value") for s in hub["settings"] if "." in s["name"]}
    assert parts == plugin_files.PART_DEFAULTS
    assert kinds["batch_config.storage.root"] == "string"
    assert kinds["batch_config.batch_size"] == "integer"
    assert hub["commands"]["test"]["args"] == "--config=ENV --test"
    assert hub["repo"].startswith("https://")


def test_meltano_yml_extractor_matches_about(about: dict[str, t.Any]) -> None:
    plugin = extractor()
    hub = yaml.safe_load((ROOT / "hub" / f"{TAP}.yml").read_text())
    assert plugin["capabilities"] == about["capabilities"]
    assert plugin["commands"] == hub["commands"]
    own = {
        name: prop
        for name, prop in about["settings"]["properties"].items()
        if not name.startswith(plugin_files.CAPABILITY_SETTINGS)
    }
    assert [s["name"] for s in plugin["settings"] if "." not in s["name"]] == list(own)
    hub_own = [s for s in hub["settings"] if s["name"].split(".")[0] in own]
    assert plugin["settings"] == hub_own


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

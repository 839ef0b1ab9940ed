"""hub/target-postgres.yml, the loader docs/meltano.md adds, is the one meltano.yml tests with."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_the_loader_definition_equals_meltano_yml_s_target_postgres() -> None:
    definition = yaml.safe_load((ROOT / "hub" / "target-postgres.yml").read_text())
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    (loader,) = (p for p in project["plugins"]["loaders"] if p["name"] == "target-postgres")
    for key in ("name", "namespace", "pip_url", "executable", "settings"):
        assert definition[key] == loader[key], key
    names = {s["name"] for s in definition["settings"]}
    # What docs/meltano.md's setup sets must be declared, or Meltano would not pass it on.
    setup = (ROOT / "docs" / "meltano.md").read_text()
    for name in ("use_copy", "validate_records", "batch_size_rows", "add_record_metadata"):
        assert f"meltano config set target-postgres {name} " in setup
        assert name in names

"""The built package: wheel and sdist metadata and files, and the wheel alone in a fresh venv
running --discover and a sync against the fake API."""

from __future__ import annotations

import ast
import email.parser
import email.policy
import json
import re
import shutil
import subprocess
import sys
import tarfile
import typing as t
import venv
import zipfile
from importlib import metadata, resources
from pathlib import Path

import pytest

from fake_backstory import FakeBackstory
from tests.conftest import make_config
from tests.singer_run import SyncOutput

ROOT = Path(__file__).resolve().parent.parent
NAME = "tap_backstory_contacts"
SCHEMA = "enriched_contacts.json"
PYTHON_VERSIONS = ("3.11", "3.12", "3.13")
# Local folders that are not part of the source (venvs, caches, build output).
NOT_SOURCE = (".*", "build", "dist", "output", "*.egg-info", "__pycache__")


class Built(t.NamedTuple):
    """A wheel and an sdist built from this checkout."""

    wheel: Path
    sdist: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Build both distributions once, as `python -m build` does (isolated, backend from PyPI)."""
    out = tmp_path_factory.mktemp("dist")
    # From a copy: building writes build/ and *.egg-info into the source folder, which the
    # nox sessions of `make test` install from at the same time.
    source = tmp_path_factory.mktemp("source") / "tap-backstory-contacts"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return Built(wheel, sdist)


def parse_metadata(text: str) -> email.message.EmailMessage:
    parser = email.parser.Parser(policy=email.policy.compat32)
    return t.cast("email.message.EmailMessage", parser.parsestr(text))


def wheel_metadata(wheel: Path) -> tuple[email.message.EmailMessage, set[str]]:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (meta,) = (n for n in names if n.endswith(".dist-info/METADATA"))
        return parse_metadata(archive.read(meta).decode()), names


def test_wheel_metadata_declares_license_urls_keywords_and_pythons(built: Built) -> None:
    meta, _ = wheel_metadata(built.wheel)
    assert meta["Metadata-Version"] >= "2.4"
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta.get_all("License-File") == ["LICENSE"]
    # An SPDX expression replaces the deprecated license table and License classifiers.
    assert meta["License"] is None
    classifiers = meta.get_all("Classifier") or []
    assert not [c for c in classifiers if c.startswith("License ::")]
    for version in PYTHON_VERSIONS:
        assert f"Programming Language :: Python :: {version}" in classifiers
    assert "Typing :: Typed" in classifiers
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert {"Homepage", "Repository", "Issues", "Changelog"} <= set(urls)
    assert all(u.startswith("https://") for u in urls.values())
    assert {"singer", "meltano", "backstory"} <= set(meta["Keywords"].split(","))
    assert meta["Requires-Python"] == ">=3.11"


def test_wheel_ships_license_schema_and_py_typed(built: Built) -> None:
    _, names = wheel_metadata(built.wheel)
    dist_info = next(n.split("/")[0] for n in names if ".dist-info/" in n)
    assert f"{dist_info}/licenses/LICENSE" in names
    assert {
        f"{NAME}/py.typed",
        f"{NAME}/schemas/__init__.py",
        f"{NAME}/schemas/{SCHEMA}",
        f"{NAME}/tap.py",
    } <= names
    assert not [n for n in names if n.startswith(("tests/", "fake_backstory/", "schemas/"))]
    with zipfile.ZipFile(built.wheel) as archive:
        shipped = archive.read(f"{NAME}/schemas/{SCHEMA}")
        shipped_license = archive.read(f"{dist_info}/licenses/LICENSE")
    assert shipped == (ROOT / "schemas" / SCHEMA).read_bytes()
    assert shipped_license == (ROOT / "LICENSE").read_bytes()


def test_sdist_ships_license_schema_and_metadata(built: Built) -> None:
    with tarfile.open(built.sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
        top = archive.getnames()[0].split("/")[0]
        pkg_info = archive.extractfile(f"{top}/PKG-INFO")
        assert pkg_info is not None
        meta = parse_metadata(pkg_info.read().decode())
    assert {"LICENSE", f"schemas/{SCHEMA}", "schemas/__init__.py", f"{NAME}/py.typed"} <= names
    assert "pyproject.toml" in names
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta.get_all("License-File") == ["LICENSE"]


def test_license_is_the_apache_2_text() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.lstrip().startswith("Apache License\n                           Version 2.0")
    assert "END OF TERMS AND CONDITIONS" in text
    assert len(text.splitlines()) > 190


def imported_top_levels() -> set[str]:
    """Top-level modules the package imports (absolute imports, outside the stdlib)."""
    found = set()
    for path in (ROOT / NAME).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {NAME}


def normalised(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_imported_distribution_is_declared() -> None:
    """Each third-party import comes from a distribution in Requires-Dist (not `backoff`)."""
    requires = metadata.requires("tap-backstory-contacts") or []
    declared = {
        normalised(re.split(r"[\[<>=;! ]", r, maxsplit=1)[0])
        for r in requires
        if "extra ==" not in r
    }
    owners = metadata.packages_distributions()
    imported = imported_top_levels()
    assert {"singer_sdk", "requests", "click", "urllib3", "orjson"} <= imported
    for module in imported:
        distributions = {normalised(d) for d in owners[module]}
        assert distributions & declared, f"{module} (from {distributions}) is not declared"
    assert "python-backoff" in declared
    assert "backoff" not in declared


def test_checkout_reads_the_top_level_schema() -> None:
    """One schema file: the top-level one, which this (editable) install reads too."""
    assert not (ROOT / NAME / "schemas").exists()
    installed = resources.files(f"{NAME}.schemas").joinpath(SCHEMA)
    assert installed.read_bytes() == (ROOT / "schemas" / SCHEMA).read_bytes()
    assert Path(str(installed)).resolve() == (ROOT / "schemas" / SCHEMA).resolve()


def test_wheel_alone_in_a_fresh_venv_discovers_and_syncs(
    built: Built, api: FakeBackstory, tmp_path: Path
) -> None:
    """Installed from the wheel only (dependencies from the index), run outside the checkout."""
    home = tmp_path / "venv"
    venv.create(home, with_pip=True)
    python = home / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", str(built.wheel)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    config = tmp_path / "config.json"
    config.write_text(json.dumps(make_config(api, end_date="2026-01-05")))
    work = tmp_path / "elsewhere"
    work.mkdir()
    tap = str(home / "bin" / "tap-backstory-contacts")
    where = subprocess.run(
        [python, "-c", f"import {NAME}.schemas as s; print(s.__file__)"],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(home))

    discovered = subprocess.run(
        [tap, "--config", str(config), "--discover"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert discovered.returncode == 0, discovered.stderr
    (stream,) = json.loads(discovered.stdout)["streams"]
    schema_file = json.loads((ROOT / "schemas" / SCHEMA).read_text())
    assert set(schema_file["properties"]) <= set(stream["schema"]["properties"])
    assert api.requests == []

    synced = subprocess.run(
        [tap, "--config", str(config)],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert synced.returncode == 0, synced.stderr
    out = SyncOutput.parse(synced.stdout)
    assert len(out.records) == len(api.expected_records("2026-01-01", "2026-01-05")) > 0
    assert out.bookmark() == "2026-01-05"

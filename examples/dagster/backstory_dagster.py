"""Many Backstory orgs on Dagster: one job per org, each running that org's Meltano pipeline.

Each job runs `meltano run tap-backstory-<org> target-postgres-<org>` (the inherited plugins of
docs/meltano.md) in the Meltano project BACKSTORY_MELTANO_PROJECT, with:

- no Dagster retry: the tap retries requests and export jobs itself, and a blind rerun of a
  failed run could create export jobs the first one still holds;
- at most one run per org at a time: the op takes a per-org lock and refuses a second launch
  while one runs (two overlapping runs create duplicate export jobs), and dagster.yaml beside this
  file makes Dagster queue a second launch instead (run coordinator, one run per `backstory/org`);
- the tap's exit status and last error line as the step's metadata and failure description.

    BACKSTORY_ORGS=org-a,org-b BACKSTORY_MELTANO_PROJECT=/srv/backstory \\
      dagster dev -f examples/dagster/backstory_dagster.py
"""

import fcntl
import os
import re
import subprocess
from pathlib import Path

import dagster as dg

ORG_TAG = "backstory/org"
# Error lines: a plugin's ("| ERROR |", relayed by Meltano) and Meltano's own ("[error    ]").
PLUGIN_ERROR = re.compile(r"\|\s*(ERROR|CRITICAL)\s*\|")
MELTANO_ERROR = re.compile(r"\[error\s*\]")


def project_dir() -> Path:
    return Path(os.environ.get("BACKSTORY_MELTANO_PROJECT", ".")).resolve()


def meltano() -> str:
    return os.environ.get("MELTANO_BIN", "meltano")


def lock_dir() -> Path:
    return Path(os.environ.get("BACKSTORY_LOCK_DIR", project_dir() / ".meltano" / "run-locks"))


def run_pipeline(context: dg.OpExecutionContext, org: str) -> dg.Output[int]:
    """`meltano run` for ``org`` under its lock; its exit status is the output."""
    lock_dir().mkdir(parents=True, exist_ok=True)
    lock_path = lock_dir() / f"{org}.lock"
    with lock_path.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise dg.Failure(
                description=f"{org}: a run of this org's pipeline is still going (lock "
                f"{lock_path} is held); this launch is refused, so that no export job is "
                "created twice. Launch it again once that run has ended.",
                metadata={"org": org, "lock": str(lock_path)},
                allow_retries=False,
            ) from None
        command = [meltano(), "run", f"tap-backstory-{org}", f"target-postgres-{org}"]
        context.log.info(f"{org}: {' '.join(command)} in {project_dir()}")
        status, last_error = _run(context, command)
    metadata = {"org": org, "exit_status": status, "last_error": last_error or "(none)"}
    if status != 0:
        raise dg.Failure(
            description=f"{org}: meltano run exited {status}: {last_error or 'no error line'}",
            metadata=metadata,
            allow_retries=False,
        )
    return dg.Output(status, metadata=metadata)


def _run(context: dg.OpExecutionContext, command: list[str]) -> tuple[int, str]:
    """Run ``command``, its output into Dagster's log; (exit status, last error line): the
    tap's or the loader's own if any (it names the cause), else Meltano's."""
    plugin_error = meltano_error = ""
    with subprocess.Popen(  # noqa: S603 - meltano, with our own arguments
        command,
        cwd=project_dir(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            context.log.info(line.rstrip())
            if PLUGIN_ERROR.search(line):
                plugin_error = line.strip()
            elif MELTANO_ERROR.search(line):
                meltano_error = line.strip()
    return process.returncode, plugin_error or meltano_error


def org_job(org: str) -> dg.JobDefinition:
    """The job of one org: a single op running its pipeline, tagged with the org."""
    slug = re.sub(r"\W", "_", org)

    @dg.op(name=f"meltano_run_{slug}")
    def pipeline(context: dg.OpExecutionContext) -> int:
        return run_pipeline(context, org).value

    @dg.job(name=f"backstory_{slug}", tags={ORG_TAG: org})
    def job() -> None:
        pipeline()

    return job


def orgs() -> list[str]:
    return [org.strip() for org in os.environ.get("BACKSTORY_ORGS", "").split(",") if org.strip()]


def definitions(org_names: list[str]) -> dg.Definitions:
    """A job and a nightly schedule (03:30 UTC, as meltano.yml's) per org."""
    jobs = [org_job(org) for org in org_names]
    schedules = [
        dg.ScheduleDefinition(job=job, cron_schedule="30 3 * * *", execution_timezone="UTC")
        for job in jobs
    ]
    return dg.Definitions(jobs=jobs, schedules=schedules)


defs = definitions(orgs())

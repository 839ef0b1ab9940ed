"""`python -m local_postgres up DIR` / `down DIR` for shell scripts (scripts/demo.sh).

`up` prints `export` lines (PG* for psql, TARGET_POSTGRES_* for target-postgres, PSQL, and
LOCAL_POSTGRES_EMBEDDED=1 or 0): the configured server's, or those of an embedded server it starts
in DIR (left running, owned by the calling shell; `down DIR` stops it and removes DIR, and any later
`up` does so once that shell has gone).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

import local_postgres


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_postgres", description=__doc__)
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("data_dir", type=Path, help="the embedded server's folder (created)")
    parser.add_argument(
        "--database", help="on an embedded server: create this database and connect to it"
    )
    args = parser.parse_args(argv)
    data_dir: Path = args.data_dir.resolve()
    if args.action == "down":
        local_postgres.stop(data_dir)
        return 0
    connection = local_postgres.configured()
    if connection is None:
        local_postgres.sweep(data_dir.parent)
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = local_postgres.start(data_dir)
        except Exception:
            local_postgres.stop(data_dir)
            raise
        # The owner is the calling shell, which runs `down` when it exits.
        (data_dir / local_postgres.OWNER_FILE).write_text(str(os.getppid()))
        if args.database:
            local_postgres.psql(connection, f'create database "{args.database}"')
            connection = connection.with_database(args.database)
    env = {
        **connection.libpq_env(),
        **connection.target_env(),
        "PSQL": str(local_postgres.psql_executable()),
        "LOCAL_POSTGRES_EMBEDDED": "1" if connection.embedded else "0",
    }
    for name, value in env.items():
        sys.stdout.write(f"export {name}={shlex.quote(value)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

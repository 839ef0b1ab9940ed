"""The baseline: the same job and fragments, parsed with orjson, written as RECORD envelopes.

What a hand-written exporter with no Singer SDK, no typing and no state could reach on this
machine. Usage: ``python -m benchmarks.baseline --config CONFIG_JSON`` (the tap's config file).
"""

from __future__ import annotations

import datetime
import json
import sys
import time
import typing as t
from concurrent.futures import ThreadPoolExecutor

import orjson
import requests

JOBS = "/pull/v1/export/contacts/jobs"


def main(config_path: str) -> None:
    """Create one job for the config's range, download its fragments, write RECORDs."""
    config = json.loads(open(config_path, encoding="utf-8").read())  # noqa: SIM115
    url = config["api_url"]
    session = requests.Session()
    token = session.post(
        f"{url}/auth/v1/tokens",
        data={
            "grant_type": "client_credentials",
            "client_id": config["client_id"],
            "client_secret": config["client_secret"],
        },
        timeout=60,
    ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    params = {
        "start_date": config["start_date"],
        "end_date": config["end_date"],
        "include_historical": True,
        "include_existing": True,
        "is_sourced_by_people_ai": False,
        "output_format": "JSON",
    }
    job = session.post(f"{url}{JOBS}", json=params, headers=auth, timeout=60).json()
    status: dict[str, t.Any] = {}
    while status.get("state") != "Completed":
        time.sleep(float(config.get("poll_interval_seconds", 0.05)))
        status = session.get(f"{url}{JOBS}/{job['job_id']}", headers=auth, timeout=60).json()

    def fetch(index: int) -> bytes:
        with requests.get(
            f"{url}{JOBS}/{job['job_id']}/data",
            params={"fragment": index},
            headers=auth,
            timeout=300,
        ) as response:
            return response.content

    out = sys.stdout.buffer
    extracted = datetime.datetime.now(datetime.UTC).isoformat()
    with ThreadPoolExecutor(int(config.get("max_parallel_downloads", 4))) as pool:
        for body in pool.map(fetch, range(status["fragments"])):
            for record in orjson.loads(body):
                out.write(
                    orjson.dumps(
                        {
                            "type": "RECORD",
                            "stream": "enriched_contacts",
                            "record": record,
                            "time_extracted": extracted,
                        }
                    )
                )
                out.write(b"\n")
    out.flush()


if __name__ == "__main__":
    main(sys.argv[-1])  # the config path, also when given as --config PATH

"""The ``--test`` connection check: credentials and reachability, without creating a job."""

from __future__ import annotations

import typing as t

from tap_backstory_contacts.client import BackstoryClient
from tap_backstory_contacts.errors import ApiError
from tap_backstory_contacts.jobs.model import job_path
from tap_backstory_contacts.retry import RetryPolicy

# A job id that cannot exist: the API answers 404 (or 400) to an authorised caller
# and 401/403 to one whose key it refuses, and no export job is created.
PROBE_JOB_ID = "connection-test"


def check_connection(config: t.Mapping[str, t.Any]) -> str:
    """Fetch a token and make one authorised call; return what was verified.

    Only the connection settings are read: the check needs nothing else.
    """
    client = BackstoryClient(
        api_url=config["api_url"],
        client_id=config["client_id"],
        client_secret=config["client_secret"],
        policy=RetryPolicy(max_tries=3, max_seconds=60),
    )
    try:
        client.auth.token()
        try:
            client.get_json(
                job_path(PROBE_JOB_ID), what="Checking access to the contacts export API"
            )
        except ApiError as exc:
            if exc.status not in (400, 404):
                raise
    finally:
        client.close()
    return (
        f"client_id '{config['client_id']}' got a token and may call the Enriched Contacts "
        f"export API at {client.api_url}"
    )

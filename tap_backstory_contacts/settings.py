"""The tap's settings: JSON schema (with titles, descriptions and bounds) and semantic checks."""

from __future__ import annotations

import datetime
import typing as t
from dataclasses import dataclass

from singer_sdk import typing as th

from tap_backstory_contacts import batches
from tap_backstory_contacts.api_url import api_url_problem
from tap_backstory_contacts.dates import DATE_FORMS, parse_setting_date
from tap_backstory_contacts.jobs.model import MAX_RUNNING_JOBS
from tap_backstory_contacts.limits import DEFAULT_MAX_SPOOL_BYTES
from tap_backstory_contacts.retry import RetryPolicy
from tap_backstory_contacts.windows import date_range_error

DEFAULT_API_URL = "https://api.people.ai"

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "client_id",
        th.StringType(min_length=1),
        required=True,
        title="Client ID",
        description="Backstory API key. It must be an Object API key (Settings > API Key "
        "Management); Activity and Insight keys are refused.",
    ),
    th.Property(
        "client_secret",
        th.StringType(min_length=1),
        required=True,
        secret=True,
        title="Client Secret",
        description="Backstory API secret paired with client_id. Never logged.",
    ),
    th.Property(
        "api_url",
        th.StringType(),
        default=DEFAULT_API_URL,
        title="API URL",
        description="Base URL of the Backstory API. Change it only for a proxy or a test server.",
    ),
    # Strings, not `format: date`: the tap parses them itself (dates.parse_setting_date),
    # relative forms included, so that Meltano declares them `string` and passes them as
    # written instead of rewriting typos with its lenient date parser.
    th.Property(
        "start_date",
        th.StringType(),
        required=True,
        title="Start Date",
        description="First UTC day to extract on a first run, when no bookmark exists yet: "
        "YYYY-MM-DD; an ISO 8601 date-time (no zone means UTC; a zone converts to its UTC "
        "day); or relative to today's UTC date: 'today', 'yesterday', 'N days ago'.",
    ),
    th.Property(
        "end_date",
        th.StringType(),
        title="End Date",
        description="Last UTC day to extract, in the same forms as start_date. Default: "
        "yesterday, the last complete UTC day; later dates are capped to yesterday.",
    ),
    th.Property(
        "lookback_days",
        th.IntegerType(minimum=0, maximum=366),
        default=0,
        title="Lookback Days",
        description="Days before the bookmark to extract again on each run, to pick up "
        "enrichment that changed after a day was first exported. Never before start_date.",
    ),
    th.Property(
        "include_historical",
        th.BooleanType(),
        default=True,
        title="Include Historical",
        description="Also export contacts not matched to an account or opportunity "
        "(the API's include_historical).",
    ),
    th.Property(
        "include_existing",
        th.BooleanType(),
        default=True,
        title="Include Existing",
        description="Also export contacts that already exist in the CRM "
        "(the API's include_existing).",
    ),
    th.Property(
        "is_sourced_by_people_ai",
        th.BooleanType(),
        default=False,
        title="Sourced by Backstory Only",
        description="Export only contacts Backstory created, plus generated candidates "
        "(the API's is_sourced_by_people_ai).",
    ),
    th.Property(
        "country",
        th.StringType(min_length=1),
        title="Country Filter",
        description="Export only contacts in this country, by full name "
        "(e.g. 'United States'). Sent only when set.",
    ),
    th.Property(
        "state",
        th.StringType(min_length=1),
        title="State Filter",
        description="Export only contacts in this US state, by full name (e.g. 'New York'). "
        "Sent only when set.",
    ),
    th.Property(
        "output_format",
        th.StringType(),
        default="JSON",
        allowed_values=["JSON", "CSV"],
        title="Output Format",
        description="Export file format requested from the API. Both give identical records.",
    ),
    th.Property(
        "window_days",
        th.IntegerType(minimum=1, maximum=366),
        default=14,
        title="Window Days",
        description="Days per export job. The API may limit a job's date range (14 days for "
        "delta exports); a window it refuses as too large is split in half.",
    ),
    th.Property(
        "max_concurrent_jobs",
        th.IntegerType(minimum=1, maximum=MAX_RUNNING_JOBS),
        default=2,
        title="Max Concurrent Jobs",
        description="Export jobs in flight at once: with 2, the next window's job runs on the "
        f"server while the current window downloads. The API runs at most {MAX_RUNNING_JOBS}.",
    ),
    th.Property(
        "max_parallel_downloads",
        th.IntegerType(minimum=1, maximum=32),
        default=4,
        title="Max Parallel Downloads",
        description="Fragments of one job downloaded at once.",
    ),
    th.Property(
        "max_spool_bytes",
        th.IntegerType(minimum=1 << 20, maximum=1 << 40),
        default=DEFAULT_MAX_SPOOL_BYTES,
        title="Max Spool Bytes",
        description="Most disk the downloaded fragments waiting to be read may take in the "
        "temp folder (TMPDIR), all together; past it the run fails naming the folder.",
    ),
    th.Property(
        "poll_interval_seconds",
        th.NumberType(exclusive_minimum=0, maximum=3600),
        default=5,
        title="Poll Interval Seconds",
        description="First wait between job status polls; doubles after each poll.",
    ),
    th.Property(
        "poll_max_interval_seconds",
        th.NumberType(exclusive_minimum=0, maximum=3600),
        default=60,
        title="Poll Max Interval Seconds",
        description="Longest wait between job status polls.",
    ),
    th.Property(
        "job_timeout_seconds",
        th.NumberType(minimum=1, maximum=7 * 24 * 3600),
        default=21600,
        title="Job Timeout Seconds",
        description="Longest wait for one export job to complete (including time queued "
        "behind other jobs) before the run fails.",
    ),
    th.Property(
        "job_retries",
        th.IntegerType(minimum=0, maximum=10),
        default=1,
        title="Job Retries",
        description="New export jobs created for a window whose job ends Failed or Canceled, "
        "before the run fails.",
    ),
    th.Property(
        "max_retries",
        th.IntegerType(minimum=0, maximum=100),
        default=8,
        title="Max Retries",
        description="Retries of one request after a transient failure (429, 5xx, dropped "
        "connection, cut-off download), with capped exponential backoff and jitter.",
    ),
    th.Property(
        "max_retry_seconds",
        th.NumberType(minimum=0, maximum=24 * 3600),
        default=900,
        title="Max Retry Seconds",
        description="Longest total time spent retrying one request.",
    ),
    batches.SCHEMA,
    additional_properties=False,
).to_dict()


def semantic_errors(config: t.Mapping[str, t.Any]) -> list[str]:
    """Problems the JSON schema cannot express: date forms and order, URL, interval order."""
    errors = []
    dates: dict[str, datetime.date] = {}
    for name in ("start_date", "end_date"):
        value = config.get(name)
        if value is None:
            continue
        try:
            dates[name] = parse_setting_date(str(value))
        except ValueError:
            errors.append(f"{name}: {value!r} is not {DATE_FORMS}")
    errors += [error for name, day in dates.items() if (error := date_range_error(name, day))]
    if "start_date" in dates and "end_date" in dates and dates["end_date"] < dates["start_date"]:
        errors.append(f"end_date: {dates['end_date']} is before start_date {dates['start_date']}")
    api_url = config.get("api_url")
    problem = api_url_problem(api_url) if isinstance(api_url, str) else None
    if problem:
        errors.append(problem)
    first = config.get("poll_interval_seconds")
    largest = config.get("poll_max_interval_seconds")
    if isinstance(first, int | float) and isinstance(largest, int | float) and largest < first:
        errors.append(
            f"poll_max_interval_seconds: {largest} is less than poll_interval_seconds {first}"
        )
    return errors


@dataclass(frozen=True, slots=True)
class PollSettings:
    """How to wait for a job: first and largest wait between polls, and the total."""

    first_wait: float
    max_wait: float
    timeout: float


@dataclass(frozen=True, slots=True)
class Settings:
    """The validated config, typed; built once per sync. Defaults live only in the schema
    above: the SDK has applied them before this is built."""

    client_id: str
    client_secret: str
    api_url: str
    start_date: datetime.date
    end_date: datetime.date | None
    lookback_days: int
    include_historical: bool
    include_existing: bool
    is_sourced_by_people_ai: bool
    country: str | None
    state: str | None
    output_format: str
    window_days: int
    max_concurrent_jobs: int
    max_parallel_downloads: int
    max_spool_bytes: int
    poll: PollSettings
    job_retries: int
    retry_policy: RetryPolicy

    @classmethod
    def from_config(cls, config: t.Mapping[str, t.Any]) -> Settings:
        """Settings from a config that passed validation (so every default is present)."""
        end_date = config.get("end_date")
        return cls(
            client_id=config["client_id"],
            client_secret=config["client_secret"],
            api_url=config["api_url"],
            start_date=parse_setting_date(config["start_date"]),
            end_date=parse_setting_date(end_date) if end_date else None,
            lookback_days=config["lookback_days"],
            include_historical=config["include_historical"],
            include_existing=config["include_existing"],
            is_sourced_by_people_ai=config["is_sourced_by_people_ai"],
            country=config.get("country"),
            state=config.get("state"),
            output_format=config["output_format"],
            window_days=config["window_days"],
            max_concurrent_jobs=config["max_concurrent_jobs"],
            max_parallel_downloads=config["max_parallel_downloads"],
            max_spool_bytes=config["max_spool_bytes"],
            poll=PollSettings(
                first_wait=float(config["poll_interval_seconds"]),
                max_wait=float(config["poll_max_interval_seconds"]),
                timeout=float(config["job_timeout_seconds"]),
            ),
            job_retries=config["job_retries"],
            retry_policy=RetryPolicy(
                max_tries=config["max_retries"] + 1,
                max_seconds=float(config["max_retry_seconds"]),
            ),
        )

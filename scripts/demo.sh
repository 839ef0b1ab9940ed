#!/usr/bin/env bash
# Demo: the main job, `meltano run tap-backstory-contacts target-postgres`, syncs ~30 days of
# contacts from a local fake Backstory API into PostgreSQL, then reads the count back with SQL and
# prints the bookmark. PostgreSQL is the one PG* / TARGET_POSTGRES_* configure, or else an embedded
# server started here under .postgres/ and stopped at the end (also after a failure or Ctrl-C).
# Each run starts fresh: its own Meltano system database (state).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
make --no-print-directory install
meltano=$root/.meltano-venv/bin/meltano
python=$root/.venv/bin/python

yesterday=$(date -u -d yesterday +%F)
start=$(date -u -d '30 days ago' +%F)
export MELTANO_DATABASE_URI="sqlite:///$root/.meltano/demo.db"
rm -f .meltano/demo.db

tmp=$(mktemp -d)
pgdir=$root/.postgres/demo-$$
fake=
cleanup() {
  [ -z "$fake" ] || { kill "$fake" 2>/dev/null || true; wait "$fake" 2>/dev/null || true; }
  "$python" -m local_postgres down "$pgdir" || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# PostgreSQL: exports PG* (for psql), TARGET_POSTGRES_* (for the loader) and PSQL.
"$python" -m local_postgres up "$pgdir" --database backstory > "$tmp/postgres.env"
# shellcheck disable=SC1091
. "$tmp/postgres.env"
schema=backstory_demo
if [ "$LOCAL_POSTGRES_EMBEDDED" = 1 ]; then
  echo "PostgreSQL: an embedded server (socket in $PGHOST), stopped when the demo ends"
else
  echo "PostgreSQL: the configured server $PGHOST:$PGPORT"
fi
export TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA=$schema

# The fake API on a free port, stopped whatever happens.
.venv/bin/python -m fake_backstory --port 0 --ready-file "$tmp/url" \
  --contacts-per-day 20 --data-last-day "$yesterday" --polls-queued 0 --polls-running 0 &
fake=$!
for _ in $(seq 100); do
  [ -f "$tmp/url" ] && break
  kill -0 "$fake" 2>/dev/null || { echo "fake API failed to start" >&2; exit 1; }
  sleep 0.1
done
[ -f "$tmp/url" ] || { echo "fake API not ready after 10 s" >&2; exit 1; }

export TAP_BACKSTORY_CONTACTS_API_URL=$(cat "$tmp/url")
export TAP_BACKSTORY_CONTACTS_CLIENT_ID=test-client
export TAP_BACKSTORY_CONTACTS_CLIENT_SECRET=test-secret
export TAP_BACKSTORY_CONTACTS_START_DATE=$start
# The fake's jobs complete on their first poll: poll every second, not every 5 s.
export TAP_BACKSTORY_CONTACTS_POLL_INTERVAL_SECONDS=1
"$meltano" run tap-backstory-contacts target-postgres

count=$("$PSQL" -X -tA -v ON_ERROR_STOP=1 -c "select count(*) from $schema.enriched_contacts")
state=$("$meltano" state get dev:tap-backstory-contacts-to-target-postgres 2>/dev/null)
echo "$count contacts in PostgreSQL: database $PGDATABASE, schema $schema, table enriched_contacts ($start to $yesterday)"
echo "bookmark (meltano state get dev:tap-backstory-contacts-to-target-postgres): $state"
[ "$count" -gt 0 ] || { echo "no contacts landed" >&2; exit 1; }

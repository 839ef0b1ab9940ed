#!/usr/bin/env bash
# Demo: a first sync of ~30 days of contacts from a local fake Backstory API into
# output/enriched_contacts.jsonl through `meltano run tap-backstory-contacts target-jsonl`.
# Each run starts fresh: its own Meltano system database (state) and an empty output file.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
make --no-print-directory install
meltano=$root/.meltano-venv/bin/meltano

yesterday=$(date -u -d yesterday +%F)
start=$(date -u -d '30 days ago' +%F)
export MELTANO_DATABASE_URI="sqlite:///$root/.meltano/demo.db"
rm -f .meltano/demo.db output/enriched_contacts.jsonl

# The fake API on a free port, stopped whatever happens.
tmp=$(mktemp -d)
.venv/bin/python -m fake_backstory --port 0 --ready-file "$tmp/url" \
  --contacts-per-day 20 --data-last-day "$yesterday" --polls-queued 0 --polls-running 0 &
fake=$!
trap 'kill "$fake" 2>/dev/null || true; wait "$fake" 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do
  [ -f "$tmp/url" ] && break
  kill -0 "$fake" 2>/dev/null || { echo "fake API failed to start" >&2; exit 1; }
  sleep 0.1
done
[ -f "$tmp/url" ] || { echo "fake API not ready after 10 s" >&2; exit 1; }

url=$(cat "$tmp/url")
export TAP_BACKSTORY_CONTACTS_API_URL=$url
export TAP_BACKSTORY_CONTACTS_CLIENT_ID=test-client
export TAP_BACKSTORY_CONTACTS_CLIENT_SECRET=test-secret
export TAP_BACKSTORY_CONTACTS_START_DATE=$start
# The fake's jobs complete on their first poll: poll every second, not every 5 s.
export TAP_BACKSTORY_CONTACTS_POLL_INTERVAL_SECONDS=1
# meltano.yml has the tap send BATCH messages (for target-postgres); target-jsonl cannot read
# them, so this run sends RECORD messages (docs/batch-files.md).
export TAP_BACKSTORY_CONTACTS_BATCH_CONFIG='{"enabled": false}'
"$meltano" run tap-backstory-contacts target-jsonl

count=$(wc -l < output/enriched_contacts.jsonl)
state=$("$meltano" state get dev:tap-backstory-contacts-to-target-jsonl 2>/dev/null)
echo "$count contacts landed in output/enriched_contacts.jsonl ($start to $yesterday)"
echo "bookmark (meltano state get dev:tap-backstory-contacts-to-target-jsonl): $state"
[ "$count" -gt 0 ] || { echo "no contacts landed" >&2; exit 1; }

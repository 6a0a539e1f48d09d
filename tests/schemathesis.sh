#!/usr/bin/env bash
# Fuzzes the served OpenAPI document with schemathesis (`--checks all`), as
# an admin and as a customer, against a fresh `fieldops serve --demo`.
# Expected: no server errors and no undocumented status codes or content
# types (the `not_a_server_error`, `status_code_conformance` and
# `content_type_conformance` checks). The exit status says whether any
# check failed (read from the JUnit report); schemathesis's own errors are
# listed but not judged.
#
#   tests/schemathesis.sh [SECONDS_PER_TOKEN] [DATABASE_URL]
#
# SECONDS_PER_TOKEN defaults to 300; DATABASE_URL to a new SQLite file (give
# a Postgres URL with its own database or schema for the Postgres half).
# CHECKS (default `all`) and SEED (default random) pass through. Installs
# schemathesis into target/st-venv on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-300}
checks=${CHECKS:-all}
seed=()
[ -n "${SEED:-}" ] && seed=(--seed "$SEED")
work=$(mktemp -d)
db=${2:-sqlite://$work/fieldops.db}

venv=target/st-venv
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check schemathesis
fi
cargo build --quiet --bin fieldops

FIELDOPS_LOG=warn,fieldops=info target/debug/fieldops serve --demo --listen 127.0.0.1:0 \
  --database-url "$db" >"$work/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
addr=""
for _ in $(seq 1 300); do
  addr=$(sed -n 's/.*listening on http:\/\/\([0-9.:]*\).*/\1/p' "$work/server.log" | head -n1)
  [ -n "$addr" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$addr" ] || { echo "the server did not start" >&2; exit 1; }
echo "fieldops on http://$addr (database $db)"

token() {
  curl -fsS "http://$addr/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$1\",\"password\":\"$2\"}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}

# Both tokens first: the fuzzer's own sign-in attempts slow this address.
declare -A tokens
for who in "admin@example.com admin123" "customer@example.com customer123"; do
  set -- $who
  tokens[$1]=$(token "$1" "$2")
done

status=0
for who in admin@example.com customer@example.com; do
  set -- "$who"
  echo "=== schemathesis as $1 for ${secs}s ==="
  # Logging out would end the fuzzer's own session.
  "$venv/bin/schemathesis" run "http://$addr/api/v1/openapi.json" \
    --checks "$checks" "${seed[@]}" --max-time "$secs" --workers 2 \
    --exclude-path /api/v1/auth/logout \
    -H "Authorization: Bearer ${tokens[$1]}" \
    --generation-database none \
    --report junit --report-dir "$work/$1" || true
  # Judged on the report: a failed check fails the run. Schemathesis's own
  # errors (bodies it cannot serialise: tus chunks and sync frames; its
  # internal crashes) are listed, not held against the server.
  python3 - "$work/$1" <<'PY' || status=1
import glob, sys, xml.etree.ElementTree as ET
reports = glob.glob(sys.argv[1] + "/*.xml")
if not reports:
    sys.exit("no JUnit report: schemathesis did not run")
root = ET.parse(reports[0]).getroot()
failures, errors = int(root.get("failures", "0")), int(root.get("errors", "0"))
print(f"checks failed: {failures}; schemathesis errors (not judged): {errors}")
sys.exit(1 if failures else 0)
PY
done
echo "reports in $work"
exit $status

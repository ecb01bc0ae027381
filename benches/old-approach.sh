#!/usr/bin/env bash
# The old approach, for comparison with sopbot (BENCHMARKS.md): one re-check of the qa gate as
# the CI workflows did it — curl + jq against the Gitea API, three calls:
#   1. GET  /repos/acme/widgets/pulls/7/reviews          the approvals (jq picks the candidates)
#   2. GET  /teams/20/members/{login}                     is the approver in qa? (200 = yes)
#   3. POST /repos/acme/widgets/statuses/{sha}            the verdict
# run N times in a row against the emulator (PR #7 approved by bob, who is in qa). What this
# cannot show is the CI job around each re-check — queueing for a runner, starting a container,
# checking out — which took tens of seconds to minutes and cannot be run here.
#
#   cargo build --release --workspace --bins
#   N=200 LATENCY_MS=0 benches/old-approach.sh
#
# Prints one JSON line: wall and CPU milliseconds per re-check (the script's processes only).
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-200}
LATENCY_MS=${LATENCY_MS:-0}
EMU=${EMU:-target/release/gitea-emu}
command -v jq >/dev/null || { echo "old-approach.sh needs jq" >&2; exit 2; }
[ -x "$EMU" ] || { echo "no $EMU: cargo build --release --workspace --bins" >&2; exit 2; }

out=$(mktemp)
"$EMU" --listen 127.0.0.1:0 --latency-ms "$LATENCY_MS" --approved-by bob >"$out" 2>/dev/null &
emu=$!
trap 'kill "$emu" 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 100); do
  grep -q '^token=' "$out" && break
  sleep 0.05
done
URL=$(sed -n 's/^url=//p' "$out")
TOKEN=$(sed -n 's/^token=//p' "$out")
API="$URL/api/v1"
AUTH="Authorization: token $TOKEN"
TEAM=20 # qa
# The workflow got the head SHA from its event payload: no call for it.
SHA=$(curl -fsS -H "$AUTH" "$API/repos/acme/widgets/pulls/7" | jq -r .head.sha)

check() {
  local reviews state=failure login code
  reviews=$(curl -fsS -H "$AUTH" "$API/repos/acme/widgets/pulls/7/reviews")
  for login in $(jq -r '.[] | select(.state == "APPROVED" and .dismissed != true
                                     and .official != false) | .user.login' <<<"$reviews"); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" "$API/teams/$TEAM/members/$login")
    if [ "$code" = 200 ]; then
      state=success
      break
    fi
  done
  curl -fsS -o /dev/null -X POST -H "$AUTH" -H 'Content-Type: application/json' \
    -d "{\"state\":\"$state\",\"context\":\"qa-review / approved\",\"description\":\"checked\"}" \
    "$API/repos/acme/widgets/statuses/$SHA"
}

check # warm up
TIMEFORMAT='%R %U %S'
times=$( { time (for _ in $(seq "$N"); do check; done) ; } 2>&1 )
read -r wall user sys <<<"$times"
state=$(curl -fsS -H "$AUTH" "$API/repos/acme/widgets/commits/$SHA/status" \
  | jq -r '.statuses[] | select(.context == "qa-review / approved") | .status')
[ "$state" = success ] || { echo "the re-check did not pass the gate: $state" >&2; exit 1; }
awk -v n="$N" -v w="$wall" -v u="$user" -v s="$sys" -v l="$LATENCY_MS" 'BEGIN {
  printf "{\"bench\":\"old-approach\",\"checks\":%d,\"emulator_latency_ms\":%d,", n, l
  printf "\"wall_ms_per_check\":%.2f,\"cpu_ms_per_check\":%.2f,\"api_calls_per_check\":3}\n",
    1000 * w / n, 1000 * (u + s) / n
}'

#!/usr/bin/env bash
# HTTP load on loopback against a release talkod on the SQLite default:
#   1. post texts (distinct Idempotency-Keys), 2. read timeline pages.
# Usage: control/load/run.sh [DURATION_S] [CONNECTIONS]   (defaults 15 s, 32 connections)
# Starts talkod on 127.0.0.1:$TALKO_LOAD_PORT (default 18090) with a fresh data dir, sets up an
# account and a group, runs wrk twice, prints wrk's reports, and stops talkod (SIGTERM).
set -euo pipefail
cd "$(dirname "$0")/../.."
dur=${1:-15}
conns=${2:-32}
port=${TALKO_LOAD_PORT:-18090}
target=${CARGO_TARGET_DIR:-target}
[ -n "${TALKO_LOAD_NO_BUILD:-}" ] || cargo build --release -p talko-control --bin talkod --bin talko >/dev/null
data=$(mktemp -d)
TALKO_LISTEN=127.0.0.1:$port TALKO_DATA_DIR=$data RUST_LOG=warn "$target/release/talkod" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
talko="$target/release/talko --server http://127.0.0.1:$port"
$talko register load@example.org "load test password" Load >/dev/null
export TALKO_TOKEN=$($talko login load@example.org "load test password" | jq -r .access_token)
export TALKO_GROUP=$($talko --token "$TALKO_TOKEN" group-create load | jq -r .group_id)
echo "== post texts: wrk -t2 -c$conns -d${dur}s --latency"
wrk -t2 -c"$conns" -d"${dur}s" --latency -s control/load/post_texts.lua "http://127.0.0.1:$port"
echo "== read timeline: wrk -t2 -c$conns -d${dur}s --latency"
wrk -t2 -c"$conns" -d"${dur}s" --latency -s control/load/read_timeline.lua "http://127.0.0.1:$port"
half=$(( (conns + 1) / 2 ))
echo "== mixed: posts and reads at once, wrk -t1 -c$half -d${dur}s each"
wrk -t1 -c"$half" -d"${dur}s" --latency -s control/load/post_texts.lua "http://127.0.0.1:$port" >"$data/mixed-post.txt" &
mixed=$!
wrk -t1 -c"$half" -d"${dur}s" --latency -s control/load/read_timeline.lua "http://127.0.0.1:$port"
wait "$mixed" || true
echo "-- the concurrent posts:"
cat "$data/mixed-post.txt"
echo "== server metrics (request counts)"
curl -s "http://127.0.0.1:$port/metrics" | grep '^talko_http_requests_total' | grep -v ' 0$' || true

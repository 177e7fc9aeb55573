#!/usr/bin/env bash
# Benchmark: leen-sim serving List Connections pages of 100 out of 100,000 connections in 1,000
# organizations (the figure issue #2 asks for). Prints a table; record it in docs/benchmarks.md.
#
#   ./scripts/bench-sim.sh            # defaults below
#   DURATION=20 CONNS=16 ./scripts/bench-sim.sh
#
# Load comes from wrk on loopback (bounded by DURATION); the simulator and wrk share this machine's cores.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-18181}
ORGS=${ORGS:-1000}
CONNECTIONS=${CONNECTIONS:-100000}
DURATION=${DURATION:-10}
CONNS=${CONNS:-16}
THREADS=${THREADS:-1}
KEY=bench-key
BASE="http://127.0.0.1:$PORT"
WORK=$(mktemp -d)
trap 'kill $SIM_PID 2>/dev/null || true; wait $SIM_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT

for tool in wrk curl jq; do
    command -v $tool >/dev/null || { echo "bench-sim: '$tool' is missing (make bench-sim installs it)" >&2; exit 1; }
done

swift build -c release --product leen-sim >/dev/null
BIN=$(swift build -c release --show-bin-path)/leen-sim

start=$(date +%s.%N)
"$BIN" --listen "127.0.0.1:$PORT" --api-key "$KEY" --organizations "$ORGS" --connections "$CONNECTIONS" \
    --seed 1 --time-scale 60 --log-level warning >"$WORK/sim.log" 2>&1 &
SIM_PID=$!
for _ in $(seq 1 200); do
    curl -sf "$BASE/_sim/organizations" -o "$WORK/orgs.json" && break
    sleep 0.05
done
ready=$(date +%s.%N)
[ -s "$WORK/orgs.json" ] || { echo "bench-sim: leen-sim did not start" >&2; cat "$WORK/sim.log" >&2; exit 1; }

# A wrk script that asks for a random organization's page on every request.
{
    echo "math.randomseed(42)"
    echo -n "ids = {"; jq -r 'map("\"" + . + "\"") | join(",")' "$WORK/orgs.json"; echo "}"
    cat <<'LUA'
query = os.getenv("QUERY") or "limit=100"
path_kind = os.getenv("PATH_KIND") or "connections"
request = function()
  local id = ids[math.random(#ids)]
  local path
  if path_kind == "organizations" then
    path = "/v1/provisioning/organizations?" .. query .. "&offset=" .. math.random(0, #ids - 100)
  else
    path = "/v1/provisioning/organizations/" .. id .. "/connections?" .. query
  end
  return wrk.format("GET", path, { ["X-API-KEY"] = "bench-key" })
end
LUA
} >"$WORK/pages.lua"

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$SIM_PID/status"; }
page_bytes=$(curl -s "$BASE/v1/provisioning/organizations/$(jq -r '.[0]' "$WORK/orgs.json")/connections?limit=100" \
    -H "X-API-KEY: $KEY" | wc -c)

run() { # name, env for the lua script
    local name=$1; shift
    env "$@" wrk -t"$THREADS" -c"$CONNS" -d2s -s "$WORK/pages.lua" "$BASE" >/dev/null  # warm-up
    env "$@" wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$WORK/pages.lua" "$BASE" >"$WORK/$name.txt"
    local rps p50 p99 errors
    rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/$name.txt")
    p50=$(awk '$1=="50%" {print $2}' "$WORK/$name.txt")
    p99=$(awk '$1=="99%" {print $2}' "$WORK/$name.txt")
    errors=$(awk '/Non-2xx|Socket errors/ {print}' "$WORK/$name.txt" | tr '\n' ' ')
    printf "| %-38s | %10s | %8s | %8s | %s\n" "$name" "$rps" "$p50" "$p99" "${errors:-none} |"
}

echo
echo "leen-sim benchmark: $CONNECTIONS connections in $ORGS organizations; wrk -t$THREADS -c$CONNS -d${DURATION}s"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); $(swift --version 2>/dev/null | head -1)"
printf "startup to first answer: %.2f s; RSS after start: %d MiB; one page of 100 connections: %d bytes\n" \
    "$(echo "$ready - $start" | bc)" "$(( $(rss_kib) / 1024 ))" "$page_bytes"
echo
echo "| request                                | requests/s |      p50 |      p99 | errors |"
echo "|----------------------------------------|-----------:|---------:|---------:|--------|"
run "list connections, offset, limit=100" QUERY="limit=100&offset=0"
run "list connections, cursor, limit=100" QUERY="limit=100&enableCursor=true"
run "list connections, limit=10" QUERY="limit=10"
run "list organizations, limit=100" PATH_KIND=organizations QUERY="limit=100"
echo
echo "RSS after the runs: $(( $(rss_kib) / 1024 )) MiB"

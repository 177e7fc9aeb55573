#!/usr/bin/env bash
# Benchmark: the cost of one /metrics scrape for 1k, 10k and 100k monitored connections (a synthetic fleet,
# see HealthdMetrics/SyntheticFleet.swift), then real HTTP scrapes with wrk. Prints tables; record them in
# docs/benchmarks.md. scripts/bench-daemon-scrape.sh measures the daemon itself (polls on schedule under load).
#
#   ./scripts/bench-metrics.sh                    # defaults below
#   SIZES="1000 10000" DURATION=5 ./scripts/bench-metrics.sh
#
# Part 1 runs `leen-healthd-bench --connections N` (MetricsBenchmark.run: render time and bytes,
# median of ITERATIONS runs, release build). Part 2 serves a synthetic fleet with
# `leen-healthd-bench --serve 127.0.0.1:PORT --connections N` and scrapes it with wrk: CONNS (8)
# concurrent scrapers asking as Prometheus does (OpenMetrics, gzip), then IDENTITY_CONNS (2) asking for
# uncompressed text. wrk and the server share this machine's cores.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"1000 10000 100000"}
ITERATIONS=${ITERATIONS:-5}
PORT=${PORT:-19464}
DURATION=${DURATION:-10}
CONNS=${CONNS:-8}
IDENTITY_CONNS=${IDENTITY_CONNS:-2}
PROMETHEUS_ACCEPT='application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
HTTP_SIZES=${HTTP_SIZES:-"10000 100000"}
BASE="http://127.0.0.1:$PORT"
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

for tool in wrk curl; do
    command -v $tool >/dev/null || { echo "bench-metrics: '$tool' is missing (apt-get install $tool)" >&2; exit 1; }
done

swift build -c release --product leen-healthd-bench >/dev/null
BIN=$(swift build -c release --show-bin-path)/leen-healthd-bench

echo
echo "leen-healthd /metrics benchmark; machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); $(swift --version 2>/dev/null | head -1)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "## Rendering (median of $ITERATIONS runs)"
echo
first=1
for n in $SIZES; do
    # The table header once, then only rows.
    if [ $first -eq 1 ]; then
        "$BIN" --connections "$n" --iterations "$ITERATIONS"
        first=0
    else
        "$BIN" --connections "$n" --iterations "$ITERATIONS" | tail -n +3
    fi
done

echo
echo "## HTTP scrapes (wrk -t2 -d${DURATION}s; as Prometheus: OpenMetrics + gzip)"
echo
echo "| connections | request  | scrapers | scrapes/s |      p50 |      p99 |      max | body bytes | server RSS after |"
echo "|------------:|----------|---------:|----------:|---------:|---------:|---------:|-----------:|-----------------:|"
for n in $HTTP_SIZES; do
    "$BIN" --serve "127.0.0.1:$PORT" --connections "$n" >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 600); do
        curl -sf "$BASE/-/healthy" -o /dev/null && break
        sleep 0.1
    done
    curl -sf "$BASE/-/healthy" -o /dev/null || { echo "bench-metrics: server did not start" >&2; cat "$WORK/server.log" >&2; exit 1; }
    # Warm-up: the first gzip scrape compresses every organization once.
    curl -s -H "Accept-Encoding: gzip" "$BASE/metrics" -o /dev/null
    for encoding in gzip identity; do
        if [ "$encoding" = gzip ]; then
            scrapers=$CONNS; headers=(-H "Accept: $PROMETHEUS_ACCEPT" -H "Accept-Encoding: gzip")
        else
            scrapers=$IDENTITY_CONNS; headers=(-H "Accept-Encoding: identity")
        fi
        bytes=$(curl -s "${headers[@]}" "$BASE/metrics" | wc -c)
        wrk -t2 -c"$scrapers" -d"${DURATION}s" --latency --timeout 30s "${headers[@]}" "$BASE/metrics" >"$WORK/wrk.txt"
        rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt")
        p50=$(awk '$1=="50%" {print $2}' "$WORK/wrk.txt")
        p99=$(awk '$1=="99%" {print $2}' "$WORK/wrk.txt")
        max=$(awk '$1=="Latency" {print $4}' "$WORK/wrk.txt")
        rss=$(awk '/VmRSS/ {printf "%d MiB", $2/1024}' "/proc/$SERVER_PID/status")
        printf "| %11s | %-8s | %8s | %9s | %8s | %8s | %8s | %10s | %16s |\n" \
            "$n" "$encoding" "$scrapers" "$rps" "$p50" "$p99" "$max" "$bytes" "$rss"
    done
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

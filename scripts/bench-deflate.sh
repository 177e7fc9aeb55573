#!/usr/bin/env bash
# What compressing the /metrics runs costs with igzip: level 1 (a Huffman code made for every run, what
# leen-healthd did before), level 0 with igzip's default code, and level 0 with one code made from the
# first SAMPLE bytes of runs (what the daemon does after its first runs). bench/deflate-runs.c, built with
# the C compiler against ISA-L, reads a /metrics text scrape: FILE, or one of a synthetic fleet of
# CONNECTIONS served by leen-healthd-bench (release build). Prints a table of the median of ROUNDS rounds
# (docs/benchmarks.md, the nineteenth round).
#
#   scripts/bench-deflate.sh [FILE]        CONNECTIONS=100000 SAMPLE=1048576 ROUNDS=3 BIN_DIR=.build/release
set -euo pipefail
cd "$(dirname "$0")/.."
CONNECTIONS=${CONNECTIONS:-100000} SAMPLE=${SAMPLE:-1048576} ROUNDS=${ROUNDS:-3}
BIN_DIR=${BIN_DIR:-.build/release}
BENCH_NAME=bench-deflate
. scripts/bench-lib.sh
WORK=$(mktemp -d)
SERVER_PID=
trap 'stop "$SERVER_PID"; rm -rf "$WORK"' EXIT
cc -O2 -o "$WORK/deflate-runs" bench/deflate-runs.c -lisal
FILE=${1:-}
if [ -z "$FILE" ]; then
    [ -x "$BIN_DIR/leen-healthd-bench" ] || die "$BIN_DIR/leen-healthd-bench missing (make release)"
    port=$(free_port)
    "$BIN_DIR/leen-healthd-bench" metrics --serve "127.0.0.1:$port" --connections "$CONNECTIONS" >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 600); do
        curl -sf -o "$WORK/scrape.prom" "http://127.0.0.1:$port/metrics" && break
        sleep 0.5
    done
    [ -s "$WORK/scrape.prom" ] || { cat "$WORK/server.log" >&2; die "no scrape from the synthetic fleet"; }
    FILE=$WORK/scrape.prom
    source_text="a synthetic fleet of $CONNECTIONS connections"
else
    source_text=$FILE
fi
"$WORK/deflate-runs" "$FILE" "$SAMPLE" "$ROUNDS" >"$WORK/lines"
read -r runs text sampled < <(awk -F'[ =]' 'NR == 1 { print $2, $4, $6 }' "$WORK/lines")
echo "igzip on the runs of $source_text: $runs runs, $(awk -v b="$text" 'BEGIN { printf "%.1f", b / 1e6 }') MB of text, code from $sampled bytes; median of $ROUNDS rounds"
echo
echo "| way | CPU | MB/s | bytes out | of the text |"
echo "|---|---:|---:|---:|---:|"
for way in level-1 level-0 level-0-code; do
    median() {
        grep "way=$way " "$WORK/lines" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2 }' | sort -n \
            | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
    }
    case $way in
        level-1) label="level 1, a code per run (before)" ;;
        level-0) label="level 0, igzip's default code" ;;
        level-0-code) label="level 0, one code from the sample (now)" ;;
    esac
    out=$(median out_bytes)
    echo "| $label | $(median cpu_s) s | $(median mb_s) | $out | $(awk -v o="$out" -v t="$text" 'BEGIN { printf "%.1f%%", 100 * o / t }') |"
done

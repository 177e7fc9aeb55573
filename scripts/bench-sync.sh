#!/usr/bin/env bash
# What a commit's fdatasync costs, per record, on the filesystem of DIRECTORY (default /var/tmp, on disk,
# unlike a tmpfs /tmp): bench/sync-cost.c, built with the C compiler, run ROUNDS times; prints a table of
# the median CPU (user + system) and wall time per record for one fdatasync per organization's log and for
# the shared change log synced once per 1, 5 and 10 records (docs/benchmarks.md, the eighteenth round).
#
#   scripts/bench-sync.sh [DIRECTORY [RECORDS [ROUNDS]]]
set -euo pipefail
DIRECTORY=${1:-/var/tmp} RECORDS=${2:-2000} ROUNDS=${3:-3}
WORK=$(mktemp -d "$DIRECTORY/leen-bench-sync.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cc -O2 -o "$WORK/sync-cost" "$(dirname "$0")/../bench/sync-cost.c"
mkdir "$WORK/data"
for _ in $(seq 1 "$ROUNDS"); do
    rm -f "$WORK"/data/*
    "$WORK/sync-cost" "$WORK/data" "$RECORDS"
done >"$WORK/lines"
filesystem=$(df -T "$WORK" | awk 'NR == 2 { print $2 }')
echo "fdatasync per record, $RECORDS records of 700 bytes, median of $ROUNDS rounds, $filesystem at $DIRECTORY"
echo
echo "| way | CPU per record | wall per record |"
echo "|---|---:|---:|"
for way in per-log shared-1 shared-5 shared-10; do
    median() {
        grep "way=$way " "$WORK/lines" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2 }' | sort -n \
            | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
    }
    case $way in
        per-log) label="one fdatasync per organization's log (before)" ;;
        shared-1) label="shared change log, a sync per record" ;;
        *) label="shared change log, a sync per ${way#shared-} records" ;;
    esac
    echo "| $label | $(median cpu_us) µs | $(median wall_us) µs |"
done

#!/usr/bin/env bash
# The journal part of `make bench`: the daemon's journal path (`leen-healthd-bench journal`: Outbox,
# JournalWriter, EventEmitter, sd_journal_sendv) next to bench/journal-ceiling.c (sd_journal_sendv with
# the same fields), taking turns, against a private journald (scripts/with-journald.sh: no rate limit,
# volatile, the host's journal untouched; root). Each side's best round counts: both meet the same
# journald, and the best is the one least disturbed by the rest of the machine. Prints one line:
#   daemon=EVENTS/S ceiling=EVENTS/S daemon_cpu_us=US ceiling_cpu_us=US bytes=B events=N rounds=R
#
#   scripts/bench-journal.sh BENCH_BIN CEILING_BIN [EVENTS [ROUNDS]]
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 BENCH_BIN CEILING_BIN [EVENTS [ROUNDS]]" >&2; exit 2; }
if [ "${LEEN_E2E_JOURNAL:-}" != 1 ]; then
    exec "$(dirname "$0")/with-journald.sh" "$0" "$@"
fi
BENCH=$1 CEILING=$2 EVENTS=${3:-100000} ROUNDS=${4:-2}
FIELDS=$(mktemp -t bench-journal-fields.XXXXXX)
trap 'rm -f "$FIELDS"' EXIT
"$BENCH" journal --fields-out "$FIELDS"

# value KEY LINE: KEY's value in a line of KEY=VALUE pairs.
value() { tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k { print $2 }'; }
best_daemon=0 best_ceiling=0 daemon_cpu= ceiling_cpu=
for _ in $(seq 1 "$ROUNDS"); do
    line=$("$CEILING" "$EVENTS" "$FIELDS")
    rate=$(value events_per_second "$line")
    if [ "$rate" -gt "$best_ceiling" ]; then best_ceiling=$rate ceiling_cpu=$(value cpu_us_per_event "$line"); fi
    bytes=$(value bytes_per_event "$line")
    line=$("$BENCH" journal --events "$EVENTS")
    [ "$(value send_errors "$line")" = 0 ] || { echo "bench-journal: the daemon's sends failed: $line" >&2; exit 1; }
    rate=$(value events_per_second "$line")
    if [ "$rate" -gt "$best_daemon" ]; then best_daemon=$rate daemon_cpu=$(value cpu_us_per_event "$line"); fi
done
echo "daemon=$best_daemon ceiling=$best_ceiling daemon_cpu_us=$daemon_cpu ceiling_cpu_us=$ceiling_cpu bytes=$bytes events=$EVENTS rounds=$ROUNDS"

#!/usr/bin/env bash
# Soak: a release leen-healthd over CONNECTIONS connections that keep changing, with SCRAPERS concurrent
# scrapers on /metrics, for MINUTES. Every SAMPLE seconds it records the daemon's RSS, open file descriptors,
# worst poll lag (now minus the oldest leen_poll_last_success_timestamp_seconds) and event backlog; at the end
# it fails unless
#   - RSS and open fds stayed flat: the last third's highest RSS at most 15% above the first third's, the
#     fds at most 16 above;
#   - the poll lag stayed under LAG_LIMIT poll intervals in every sample;
#   - no event was lost or repeated: the events on stderr (the daemon has no journal here), counted between
#     two scrapes, lie between their leen_events_total; no journal send failed.
# Prints a Markdown table of the samples and one summary line (docs/reliability.md, "Soak").
#
#   make soak                                  # the defaults below, 10 minutes + setup
#   MINUTES=2 CONNECTIONS=2000 make soak       # a quick check
#
# Environment (defaults): MINUTES=10 CONNECTIONS=10000 ORGS=100 INTERVAL=10s SCRAPERS=50 SAMPLE=30
# FAILURE_RATE=0.05 (share of a healthy connection's jobs that fail: the churn) TIME_SCALE=60 LAG_LIMIT=3
# BIN_DIR (default: build release here). Debian packages: wrk curl jq procps.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${MINUTES:-10}
CONNECTIONS=${CONNECTIONS:-10000}
ORGS=${ORGS:-100}
INTERVAL=${INTERVAL:-10s}
SCRAPERS=${SCRAPERS:-50}
SAMPLE=${SAMPLE:-30}
FAILURE_RATE=${FAILURE_RATE:-0.05}
TIME_SCALE=${TIME_SCALE:-60}
LAG_LIMIT=${LAG_LIMIT:-3}
die() { echo "soak: $*" >&2; exit 1; }
for tool in wrk curl jq awk; do command -v "$tool" >/dev/null || die "'$tool' is missing"; done
INTERVAL_S=${INTERVAL%s}
[[ "$INTERVAL" =~ ^[0-9]+s$ ]] || die "INTERVAL must be whole seconds such as 10s"

if [ -z "${BIN_DIR:-}" ]; then
    swift build -c release --product leen-healthd >/dev/null && swift build -c release --product leen-sim >/dev/null \
        || die "release build failed"
    BIN_DIR=$(swift build -c release --show-bin-path)
fi
WORK=$(mktemp -d -t leen-soak.XXXXXX)
PIDS=()
cleanup() {
    local status=$?
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ "${KEEP_WORK:-0}" = 1 ] && echo "soak: kept $WORK" >&2 || rm -rf "$WORK"
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

umask 077
mkdir -p "$WORK/state"
printf 'leen-sim-key\n' >"$WORK/api-key"
head -c 24 /dev/urandom | base64 | tr -d '\n=+/' >"$WORK/secret"
umask 022

"$BIN_DIR/leen-sim" fleet scenario --organizations "$ORGS" --connections "$CONNECTIONS" --seed 7 \
    --output "$WORK/scenario.json" >/dev/null
REFRESH=$((INTERVAL_S * TIME_SCALE))
"$BIN_DIR/leen-sim" --listen 127.0.0.1:0 --scenario "$WORK/scenario.json" --time-scale "$TIME_SCALE" \
    --refresh-interval "$REFRESH" --failure-rate "$FAILURE_RATE" --seed 7 --log-level notice >"$WORK/sim.log" 2>&1 &
PIDS+=($!)
API=
for _ in $(seq 1 600); do
    API=$(grep -o 'http://127\.0\.0\.1:[0-9]*/v1' "$WORK/sim.log" | head -n 1 || true)
    [ -n "$API" ] && break
    sleep 0.1
done
[ -n "$API" ] || die "leen-sim did not start: $(tail -n 5 "$WORK/sim.log")"
PORT=$((20000 + RANDOM % 30000))
"$BIN_DIR/leen-sim" fleet config --from-scenario "$WORK/scenario.json" --base-url "$API" --key-file "$WORK/api-key" \
    --secret-file "$WORK/secret" --state-directory "$WORK/state" --listen "127.0.0.1:$PORT" --interval "$INTERVAL" \
    --jitter 10% --concurrency 4 --page-size 1000 --output "$WORK/config.yaml" >/dev/null
printf 'events:\n  stderr_format: json\n' >>"$WORK/config.yaml"
METRICS=http://127.0.0.1:$PORT
"$BIN_DIR/leen-healthd" run --config "$WORK/config.yaml" >"$WORK/daemon.out" 2>"$WORK/daemon.err" &
DAEMON=$!
PIDS+=("$DAEMON")
for _ in $(seq 1 1800); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$METRICS/-/ready" || true)" = 200 ] && break
    kill -0 "$DAEMON" 2>/dev/null || die "leen-healthd exited: $(tail -n 5 "$WORK/daemon.err")"
    sleep 0.5
done

wrk -t 2 -c "$SCRAPERS" -d "$((MINUTES * 60))s" -H 'Accept-Encoding: gzip' "$METRICS/metrics" >"$WORK/wrk.txt" 2>&1 &
PIDS+=($!)
echo "| minute | RSS MiB | open fds | worst poll lag s | events written | events pending |"
echo "|---:|---:|---:|---:|---:|---:|"
: >"$WORK/samples"
end=$(( $(date +%s) + MINUTES * 60 ))
start=$(date +%s)
while [ "$(date +%s)" -lt "$end" ]; do
    sleep "$SAMPLE"
    kill -0 "$DAEMON" 2>/dev/null || die "leen-healthd exited during the soak: $(tail -n 5 "$WORK/daemon.err")"
    rss=$(awk '/^VmRSS/ { printf "%d", $2 / 1024 }' "/proc/$DAEMON/status")
    fds=$(ls "/proc/$DAEMON/fd" | wc -l)
    curl -sf --max-time 60 "$METRICS/metrics" -o "$WORK/last.prom" || die "a sample scrape failed"
    line=$(awk -v now="$(date +%s.%N)" -v rss="$rss" -v fds="$fds" -v minute="$(( ($(date +%s) - start) / 60 ))" '
        /^leen_poll_last_success_timestamp_seconds\{/ { n++; if (n == 1 || $NF + 0 < oldest) oldest = $NF + 0 }
        /^leen_events_total\{/ { events += $NF }
        /^leen_events_pending / { pending = $NF }
        END { printf "%s %s %s %.1f %d %d\n", minute, rss, fds, now - oldest, events, pending }' "$WORK/last.prom")
    echo "$line" >>"$WORK/samples"
    echo "| ${line// / | } |"
done
wait "${PIDS[-1]}" || true

# Every event counted must be on stderr. Events keep coming (polls go on), so the stderr count is taken
# between two scrapes and must lie between their counts: an event counted but not written, or written twice,
# breaks the bracket.
events_total() {
    curl -sf --max-time 60 "$METRICS/metrics" | awk '/^leen_events_total\{/ { s += $NF } /^leen_journal_send_errors_total / { e = $NF } END { printf "%d %d", s, e }'
}
read -r before _ <<<"$(events_total)"
written=$(grep -c '"LEEN_EVENT"' "$WORK/daemon.err" || true)
read -r after send_errors <<<"$(events_total)"
counted="$before..$after"
scrapes=$(awk '/requests in/ { print $1 }' "$WORK/wrk.txt")
verdict=$(awk -v limit="$LAG_LIMIT" -v interval="$INTERVAL_S" '
    { rss[NR] = $2; fds[NR] = $3; if ($4 > lag) lag = $4 }
    END {
        third = int(NR / 3); if (third < 1) third = 1
        for (i = 1; i <= third; i++) { if (rss[i] > r1) r1 = rss[i]; if (fds[i] > f1) f1 = fds[i] }
        for (i = NR - third + 1; i <= NR; i++) { if (rss[i] > r3) r3 = rss[i]; if (fds[i] > f3) f3 = fds[i] }
        ok = (r3 <= r1 * 1.15) && (f3 <= f1 + 16) && (lag < limit * interval)
        printf "%s rss %d->%d MiB, fds %d->%d, worst poll lag %.1f s (limit %d s)", (ok ? "ok" : "FAIL"), r1, r3, f1, f3, lag, limit * interval
    }' "$WORK/samples")
echo
echo "soak: $MINUTES min, $CONNECTIONS connections in $ORGS organizations, poll every $INTERVAL, $SCRAPERS scrapers ($scrapes scrapes); $verdict; events: $counted counted, $written on stderr, $send_errors send errors"
[ "${verdict%% *}" = ok ] || die "resources or poll lag not flat"
[ "$written" -ge "$before" ] && [ "$written" -le "$after" ] && [ "$send_errors" = 0 ] \
    || die "events lost or repeated: $written written, $counted counted around it"

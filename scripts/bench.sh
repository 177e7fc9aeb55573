#!/usr/bin/env bash
# `make bench` (issue #12): the whole daemon at 1k, 10k and 100k connections, one Markdown table, written to
# docs/benchmarks.md as a dated section with the machine and the command.
#
#   ./scripts/bench.sh                                   # the three sizes, about 25 minutes on 2 cores
#   SIZES="1000 10000" WINDOW=20 WARMUP=5 ./scripts/bench.sh   # quicker, for development
#   WRITE_DOC=0 ./scripts/bench.sh                       # the table only
#
# For each size, one run, in this order (release build):
#   1. leen-sim with its own fleet (SIZE connections, PER_ORG per organization, one job per connection per
#      poll interval), declared in full by `leen-sim fleet config`, so the daemon adopts them all;
#   2. the daemon with a fresh state directory: start to /-/ready;
#   3. once the start's events are all written (leen_events_pending 0, polled every 5 s: the journal's pacer
#      lets the two events per adopted connection out over about a minute at 100k), then WARMUP seconds, a
#      steady window of WINDOW seconds: daemon CPU (utime + stime, /proc/PID/stat)
#      over the connection-polls in the window, counted from the daemon's own /metrics (each organization's
#      leen_polls_total delta times its connections), API requests (leen_api_requests_total) per poll cycle
#      (one poll of every organization), VmRSS at the end and every second through it;
#   4. SCRAPES scrapes of /metrics one after the other as Prometheus asks (OpenMetrics, gzip): the medians of
#      curl's time to the first byte (rendering) and time_total, and the body's bytes;
#   5. leen-sim's clock slowed so that each connection's job runs every CADENCE seconds, as Leen runs them
#      (its documented refresh_interval_secs), not at every poll: after an interval and its jitter, a window
#      like the steady one, the daemon's CPU per connection-poll in a fleet that changes at Leen's pace;
#   6. leen-sim's clock stopped (no job runs, nothing changes): after an interval and its jitter, a window
#      like the steady one, the daemon's CPU per connection-poll when its polls find nothing new; with the
#      steady window's events (the changes seen, and what the alerting rules raised), the CPU an event costs
#      beyond its poll; the clock then runs again;
#   7. the daemon stopped and started again at once on the state it left (as `systemctl restart` does):
#      restart to /-/ready; then, after two poll intervals (each organization's first write after a start
#      replaces its file, the next ones append to its log), killed (SIGKILL) and started again: the state
#      as a crash leaves it, files and logs, to /-/ready; the pair RESTARTS times, reported as the median
#      and the highest (one reading moved by a second between runs of the same code);
#   8. the daemon stopped; blackbox_exporter (Debian's prometheus-blackbox-exporter, bench/blackbox.yml)
#      probes the same connections' Get Connection URLs on the same leen-sim, driven by wrk
#      (bench/blackbox-probes.lua) for PROBE_SECONDS: its CPU over the probes answered, per check;
#   9. scripts/bench-journal.sh: the daemon's journal path next to a C program (bench/journal-ceiling.c)
#      sending the same fields, against a private journald (root; without it the rows say "skipped").
# The daemon's events go to its stderr (a file) during the fleet runs, never to the host's journal.
#
# Environment (defaults):
#   SIZES="1000 10000 100000" PER_ORG=100       connections, and connections per organization
#   INTERVAL=20s JITTER=10% POLL_CONCURRENCY=4 PAGE_SIZE=100   the daemon's poll settings
#   WARMUP=20 WINDOW=60                          seconds after the start's events are written, and of the steady window
#   SCRAPES=10                                   scrapes timed per size
#   PROBE_SECONDS=15 PROBE_CONCURRENCY=4         blackbox_exporter measured for this long (after 2 s of warm-up)
#   JOURNAL_EVENTS=100000 JOURNAL_ROUNDS=2       events per journal run, rounds per side (best counts)
#   TIME_SCALE=60 FAILURE_RATE=0.02 SEED=1       leen-sim's clock, job failure rate and seed
#   CADENCE=14400                                seconds between a connection's jobs in the cadence window
#   READY_TIMEOUT=900                            seconds to wait for /-/ready
#   RESTARTS=3                                   restart and start-after-SIGKILL pairs per size
#   DOC=docs/benchmarks.md WRITE_DOC=1           where the dated section goes (0: print only)
#   BIN_DIR                                      leen-healthd, leen-sim and leen-healthd-bench; default: build release
#   KEEP_WORK=1                                  keep the temporary directory (logs, scrapes) and print its path
#   PROFILE=1                                    perf-record the daemon through each window: steady, cadence, quiet (implies KEEP_WORK;
#                                                its CPU figure then includes the sampling's own cost)
set -euo pipefail
case "${1:-}" in
    "") ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: takes no arguments (configure it with environment variables; see --help)" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
BENCH_NAME=bench
. scripts/bench-lib.sh

SIZES=${SIZES:-1000 10000 100000}
PER_ORG=${PER_ORG:-100}
INTERVAL=${INTERVAL:-20s}
JITTER=${JITTER:-10%}
POLL_CONCURRENCY=${POLL_CONCURRENCY:-4}
PAGE_SIZE=${PAGE_SIZE:-100}
WARMUP=${WARMUP:-20}
WINDOW=${WINDOW:-60}
SCRAPES=${SCRAPES:-10}
PROBE_SECONDS=${PROBE_SECONDS:-15}
PROBE_CONCURRENCY=${PROBE_CONCURRENCY:-4}
JOURNAL_EVENTS=${JOURNAL_EVENTS:-100000}
JOURNAL_ROUNDS=${JOURNAL_ROUNDS:-2}
TIME_SCALE=${TIME_SCALE:-60}
CADENCE=${CADENCE:-14400}
FAILURE_RATE=${FAILURE_RATE:-0.02}
SEED=${SEED:-1}
READY_TIMEOUT=${READY_TIMEOUT:-900}
RESTARTS=${RESTARTS:-3}
DOC=${DOC:-docs/benchmarks.md}
WRITE_DOC=${WRITE_DOC:-1}
KEEP_WORK=${KEEP_WORK:-0}
PROFILE=${PROFILE:-0}
[ "$PROFILE" = 1 ] && KEEP_WORK=1
OPENMETRICS_ACCEPT='application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5'

for tool in wrk curl awk cc pkg-config prometheus-blackbox-exporter; do
    command -v "$tool" >/dev/null || die "'$tool' is missing (make bench installs it)"
done
for size in $SIZES; do
    [ "$size" -ge "$PER_ORG" ] 2>/dev/null && [ $((size % PER_ORG)) = 0 ] \
        || die "each of SIZES must be a multiple of PER_ORG ($PER_ORG), found '$size'"
done
INTERVAL_S=$(duration_seconds "$INTERVAL") || die "INTERVAL: '$INTERVAL' is not a duration such as 20s"
[[ "$CADENCE" =~ ^[1-9][0-9]*$ ]] || die "CADENCE: '$CADENCE' is not a number of seconds"
[[ "$RESTARTS" =~ ^[1-9][0-9]*$ ]] || die "RESTARTS: '$RESTARTS' is not a positive number"

# The code the binaries are built from, taken now: the sources may change while the runs go on.
CODE="$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- Sources Package.swift 2>/dev/null || echo ', Sources modified')"
bench_binaries leen-healthd leen-sim leen-healthd-bench
BENCH_BIN=$BIN_DIR/leen-healthd-bench
# The C ceiling, next to the release binaries (rebuilt when its source is newer).
CEILING=$BIN_DIR/journal-ceiling
if [ ! -x "$CEILING" ] || [ bench/journal-ceiling.c -nt "$CEILING" ]; then
    cc -O2 -Wall -o "$CEILING" bench/journal-ceiling.c $(pkg-config --cflags --libs libsystemd) \
        || die "compiling bench/journal-ceiling.c failed"
fi

ROOT=$(mktemp -d -t bench.XXXXXX)
chmod 700 "$ROOT"
SIM_PID= DAEMON_PID= BLACKBOX_PID=
cleanup() {
    local status=$?
    stop "$BLACKBOX_PID"; stop "$DAEMON_PID"; stop "$SIM_PID"
    if [ "$KEEP_WORK" = 1 ]; then echo "bench: kept $ROOT" >&2; else rm -rf "$ROOT"; fi
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

STARTED=$(date -u '+%Y-%m-%d %H:%M')
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A VALUE   # VALUE[row,size]

# scrape NAME: the daemon's /metrics (text, as curl asks) into $WORK/NAME.prom.
scrape() {
    curl -sf --compressed --max-time 120 "$METRICS/metrics" -o "$WORK/$1.prom" \
        || { alive_or_die "scrape $1"; die "scraping $METRICS/metrics failed"; }
}

# window_figures A B: from two scrapes, the connection-polls, organization polls, API requests, organizations,
# connections and events written (the changes seen) between them, as KEY=VALUE pairs.
window_figures() {
    awk '
        function org(line) { match(line, /organization_id="[^"]*"/); return substr(line, RSTART + 17, RLENGTH - 18) }
        FNR == NR {
            if ($0 ~ /^leen_polls_total\{/) before[org($0)] = $NF
            else if ($0 ~ /^leen_api_requests_total\{/) requests0 += $NF
            else if ($0 ~ /^leen_events_total\{/) events0 += $NF
            next
        }
        /^leen_polls_total\{/ { after[org($0)] = $NF }
        /^leen_api_requests_total\{/ { requests1 += $NF }
        /^leen_events_total\{/ { events1 += $NF }
        /^leen_connection_healthy\{/ { connections[org($0)]++; total++ }
        END {
            for (o in after) { d = after[o] - before[o]; polls += d; connection_polls += d * connections[o]; orgs++ }
            printf "connection_polls=%d polls=%d requests=%d orgs=%d connections=%d events=%d\n",
                connection_polls, polls, requests1 - requests0, orgs, total, events1 - events0
        }' "$WORK/$1.prom" "$WORK/$2.prom"
}
# pick KEY LINE: KEY's value in a line of KEY=VALUE pairs.
pick() { tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k { print $2 }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
calc() { awk "BEGIN { printf $1 }"; }
# readings SECONDS...: one reading as it is; several as their median and the highest.
readings() {
    [ $# -gt 1 ] || { echo "$1 s"; return; }
    echo "$(printf '%s\n' "$@" | median) s (highest $(printf '%s\n' "$@" | sort -g | tail -n 1) s of $#)"
}

# wait_events_written START: waits until the daemon's leen_events_pending is 0; DRAINED_TIME = seconds since START.
wait_events_written() {
    local deadline pending
    deadline=$(( $(date +%s) + READY_TIMEOUT ))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        alive_or_die "waiting for the start's events to be written"
        # Compressed, as Prometheus asks: the daemon sends runs it compressed ahead, where a plain scrape
        # renders the whole text (320 MB at 100k) and leaves its buffers to the allocator.
        pending=$(curl -sf --compressed --max-time 60 "$METRICS/metrics" | awk '$1 == "leen_events_pending" { print $2 }')
        if [ "$pending" = 0 ]; then
            DRAINED_TIME=$(elapsed "$1" "$(now)")
            return 0
        fi
        sleep 5
    done
    die "events still pending after ${READY_TIMEOUT}s"
}

# --- one size ---------------------------------------------------------------------------------------------
run_size() {
    local size=$1 orgs=$(( $1 / PER_ORG )) t0 c0 c1 t1 figures
    WORK=$ROOT/$size
    mkdir -p "$WORK"
    echo "bench: $size connections in $orgs organizations ..." >&2
    write_secrets
    start_sim --organizations "$orgs" --connections "$size" --time-scale "$TIME_SCALE" \
        --refresh-interval "$(calc "\"%d\", $INTERVAL_S * $TIME_SCALE")" --failure-rate "$FAILURE_RATE" \
        --seed "$SEED" --log-level notice
    local metrics_port
    metrics_port=$(free_port)
    METRICS=http://127.0.0.1:$metrics_port
    "$SIM" fleet config --from-url "$API" --key-file "$WORK/secrets/api-key" \
        --secret-file "$WORK/secrets/vendor-secret" --state-directory "$WORK/state" --listen "127.0.0.1:$metrics_port" \
        --interval "$INTERVAL" --jitter "$JITTER" --concurrency "$POLL_CONCURRENCY" --page-size "$PAGE_SIZE" \
        --output "$WORK/config.yaml" >/dev/null || die "writing the configuration from leen-sim's fleet failed"

    # No journal for the fleet runs (events go to daemon.log): the host's journal stays untouched.
    local no_journal=LEEN_JOURNAL_SOCKET=$WORK/no-journal
    t0=$(now); start_daemon "$no_journal"; wait_ready "$METRICS" "$READY_TIMEOUT" "$t0"
    VALUE[fresh,$size]="$READY_TIME s"
    # A fresh start makes two events per connection (adopted, monitored), which the journal's pacer lets out
    # at its rate (about 180,000 a minute by default): at 100k that takes about a minute after READY. The
    # window waits for them, so that it measures polling, not the start's backlog.
    wait_events_written "$t0"
    VALUE[drained,$size]="$DRAINED_TIME s"
    sleep "$WARMUP"

    # The steady window: the CPU reading is taken after the first scrape and before the last, so the
    # scrapes' own rendering stays out of it.
    scrape w0; c0=$(cpu_seconds "$DAEMON_PID"); t0=$(now)
    # VmRSS every second through the window: one reading at its end moved by about 30 MiB between runs of
    # the same code (what the allocator had just freed and not yet returned).
    ( while kill -0 "$DAEMON_PID" 2>/dev/null; do rss_kib "$DAEMON_PID"; sleep 1; done ) >"$WORK/rss.txt" 2>/dev/null &
    local sampler=$!
    if [ "$PROFILE" = 1 ]; then
        # cpu-clock: this VM has no hardware counters. Sampling costs the daemon a little CPU of its own.
        perf record -q -e cpu-clock -F 499 -g -p "$DAEMON_PID" -o "$WORK/perf.data" -- sleep "$WINDOW" 2>/dev/null \
            || die "perf record failed (PROFILE=1 needs perf)"
        perf report -i "$WORK/perf.data" --no-children --percent-limit 0.5 --stdio -g none 2>/dev/null \
            | grep -v '^#' | grep -v '^$' | head -40 >"$WORK/profile.txt" || true
        echo "bench: profile of the $size window in $WORK/profile.txt (perf.data beside it)" >&2
    else
        sleep "$WINDOW"
    fi
    alive_or_die "steady window"
    c1=$(cpu_seconds "$DAEMON_PID"); t1=$(now); local rss
    rss=$(rss_kib "$DAEMON_PID")
    kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
    VALUE[rssmean,$size]=$(sort -n "$WORK/rss.txt" | awk '{ v[NR] = $1; s += $1 }
        END { if (NR) printf "%.0f MiB (%.0f–%.0f)", s / NR / 1024, v[1] / 1024, v[NR] / 1024 }')
    scrape w1
    figures=$(window_figures w0 w1)
    local cpolls polls requests found events
    cpolls=$(pick connection_polls "$figures"); polls=$(pick polls "$figures"); events=$(pick events "$figures")
    requests=$(pick requests "$figures"); found=$(pick connections "$figures")
    [ "$found" = "$size" ] || die "the daemon lists $found connections, expected $size"
    [ "$cpolls" -gt 0 ] || die "no poll completed in the ${WINDOW}s window (make WINDOW longer than INTERVAL)"
    DAEMON_US[$size]=$(calc "\"%.1f\", ($c1 - $c0) * 1e6 / $cpolls")
    VALUE[cpu,$size]="${DAEMON_US[$size]} µs"
    VALUE[rate,$size]=$(calc "\"%.0f/s (%.0f%% of a core)\", $cpolls / ($t1 - $t0), 100 * ($c1 - $c0) / ($t1 - $t0)")
    VALUE[changes,$size]=$(calc "\"%.2f%% (%d events)\", 100 * $events / $cpolls, $events")
    VALUE[requests,$size]=$(calc "\"%.2f (%d organizations)\", $requests * $orgs / $polls, $orgs")
    VALUE[rss,$size]=$(calc "\"%.0f MiB\", $rss / 1024")
    VALUE[perconn,$size]=$(calc "\"%.0f B\", $rss * 1024 / $size")

    # /metrics as Prometheus asks for it, one scrape at a time.
    local i timings=()
    for i in $(seq 1 "$SCRAPES"); do
        timings+=("$(curl -sf --compressed -H "Accept: $OPENMETRICS_ACCEPT" -o /dev/null --max-time 120 \
            -w '%{time_starttransfer} %{time_total} %{size_download}' "$METRICS/metrics")") || die "timed scrape failed"
    done
    local first total bytes
    first=$(printf '%s\n' "${timings[@]}" | awk '{ print $1 * 1000 }' | median)
    total=$(printf '%s\n' "${timings[@]}" | awk '{ print $2 * 1000 }' | median)
    bytes=$(printf '%s\n' "${timings[@]}" | awk '{ print $3 }' | median)
    VALUE[scrape,$size]=$(calc "\"%.1f ms (first byte %.1f ms)\", $total, $first")
    VALUE[bytes,$size]=$(calc "\"%.2f MB\", $bytes / 1e6")
    cadence_window "$size"
    quiet_window "$size" "$(calc "\"%.9f\", ($c1 - $c0) / $cpolls")" "$cpolls" "$events"
    stop "$DAEMON_PID"; DAEMON_PID=

    # At once, as a restart or an upgrade does: the state it finds is as old as the stop made it.
    # Each later pair's restart follows the stop of the pair before.
    local logs restarts=() crashes=()
    for _ in $(seq 1 "$RESTARTS"); do
        t0=$(now); start_daemon "$no_journal"; wait_ready "$METRICS" "$READY_TIMEOUT" "$t0"
        restarts+=("$READY_TIME")
        sleep "$(calc "\"%.0f\", 2 * $INTERVAL_S + 2")"
        alive_or_die "the run before the kill"
        kill -9 "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true; DAEMON_PID=
        logs=$(find "$WORK/state/organizations" -name '*.log' | wc -l)
        t0=$(now); start_daemon "$no_journal"; wait_ready "$METRICS" "$READY_TIMEOUT" "$t0"
        crashes+=("$READY_TIME")
        stop "$DAEMON_PID"; DAEMON_PID=
    done
    VALUE[restart,$size]=$(readings "${restarts[@]}")
    VALUE[crash,$size]="$(readings "${crashes[@]}") ($logs of $orgs organizations with a log at the last kill)"

    blackbox_phase "$size"
    stop "$SIM_PID"; SIM_PID=

    journal_phase "$size"
}

# paced_window SIZE NAME SCALE: leen-sim's clock set to SCALE, then, once every organization has polled
# again (an interval and its jitter: its next poll still finds the jobs run before), a window like the steady
# one, named NAME (its scrapes, and perf-NAME.data with PROFILE=1). Sets PACED_US (daemon CPU per
# connection-poll; PACED_SECONDS unrounded, in seconds), PACED_POLLS and PACED_EVENTS.
paced_window() {
    local size=$1 name=$2 scale=$3 sim=${API%/v1} c0 c1 figures
    curl -sf -X PUT -H 'Content-Type: application/json' -d "{\"time_scale\": $scale}" "$sim/_sim/clock" >/dev/null \
        || die "setting leen-sim's clock to $scale failed"
    sleep "$(calc "\"%.0f\", 1.2 * $INTERVAL_S + 5")"
    alive_or_die "the wait before the $name window"
    scrape "${name}0"; c0=$(cpu_seconds "$DAEMON_PID")
    if [ "$PROFILE" = 1 ]; then
        perf record -q -e cpu-clock -F 499 -g -p "$DAEMON_PID" -o "$WORK/perf-$name.data" -- sleep "$WINDOW" 2>/dev/null \
            || die "perf record failed (PROFILE=1 needs perf)"
        echo "bench: profile of the $size $name window in $WORK/perf-$name.data" >&2
    else
        sleep "$WINDOW"
    fi
    alive_or_die "the $name window"
    c1=$(cpu_seconds "$DAEMON_PID")
    scrape "${name}1"
    figures=$(window_figures "${name}0" "${name}1")
    PACED_POLLS=$(pick connection_polls "$figures"); PACED_EVENTS=$(pick events "$figures")
    [ "$PACED_POLLS" -gt 0 ] || die "no poll completed in the $name window"
    PACED_SECONDS=$(calc "\"%.9f\", ($c1 - $c0) / $PACED_POLLS")
    PACED_US=$(calc "\"%.1f\", $PACED_SECONDS * 1e6")
}

# cadence_window SIZE: each connection's job every CADENCE seconds (Leen's documented refresh_interval_secs,
# 14400), as a fleet that works runs them, rather than at every poll as in the steady window: the daemon's
# CPU per connection-poll there, and the events it saw.
cadence_window() {
    local size=$1
    # The fleet's jobs run every INTERVAL_S * TIME_SCALE simulated seconds; at this scale, every CADENCE real ones.
    paced_window "$size" cadence "$(calc "\"%.6f\", $INTERVAL_S * $TIME_SCALE / $CADENCE")"
    VALUE[cadence,$size]="$PACED_US µs"
    VALUE[cadencechanges,$size]=$(calc "\"%.3f%% (%d events)\", 100 * $PACED_EVENTS / $PACED_POLLS, $PACED_EVENTS")
}

# quiet_window SIZE CPU_PER_POLL POLLS EVENTS: leen-sim's clock stopped, so that no job runs and nothing
# changes: the daemon's CPU per connection-poll when polls find nothing new, and from this window and the
# steady one (CPU_PER_POLL seconds per connection-poll, POLLS connection-polls, EVENTS events) the CPU each
# event of the steady window cost beyond its poll. The clock runs again afterwards (the restart after a
# kill needs changes to have left logs).
quiet_window() {
    local size=$1 busy=$2 busy_polls=$3 busy_events=$4 sim=${API%/v1}
    paced_window "$size" quiet 0
    QUIET_US[$size]=$PACED_US
    VALUE[quiet,$size]=$(calc "\"%.1f µs (%d events)\", $PACED_US, $PACED_EVENTS")
    if [ "$busy_events" -gt 0 ]; then
        VALUE[perchange,$size]=$(calc "\"%.0f µs\", ($busy - $PACED_SECONDS) * $busy_polls * 1e6 / $busy_events")
    fi
    curl -sf -X PUT -H 'Content-Type: application/json' -d "{\"time_scale\": $TIME_SCALE}" "$sim/_sim/clock" >/dev/null \
        || die "starting leen-sim's clock again failed"
}

# blackbox_exporter probing every connection's Get Connection URL in turn; CPU per probe.
blackbox_phase() {
    local size=$1 port c0 c1 line probes succeeded
    awk -v api="$API" '/^leen_connection_healthy\{/ {
        match($0, /organization_id="[^"]*"/); o = substr($0, RSTART + 17, RLENGTH - 18)
        match($0, /connection_id="[^"]*"/); c = substr($0, RSTART + 15, RLENGTH - 16)
        print api "/provisioning/organizations/" o "/connections/" c
    }' "$WORK/w1.prom" >"$WORK/targets.txt"
    port=$(free_port)
    prometheus-blackbox-exporter --config.file=bench/blackbox.yml --web.listen-address="127.0.0.1:$port" \
        >"$WORK/blackbox.log" 2>&1 &
    BLACKBOX_PID=$!
    for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/-/healthy" && break; sleep 0.1; done
    kill -0 "$BLACKBOX_PID" 2>/dev/null || { cat "$WORK/blackbox.log" >&2; die "blackbox_exporter exited"; }
    probe_run() {
        TARGETS=$WORK/targets.txt wrk -t1 -c"$PROBE_CONCURRENCY" -d"$1s" --timeout 10s \
            -s bench/blackbox-probes.lua "http://127.0.0.1:$port" >"$WORK/wrk-probes.txt" 2>&1 \
            || { cat "$WORK/wrk-probes.txt" >&2; die "wrk against blackbox_exporter failed"; }
        grep '^probes=' "$WORK/wrk-probes.txt"
    }
    probe_run 2 >/dev/null
    c0=$(cpu_seconds "$BLACKBOX_PID")
    line=$(probe_run "$PROBE_SECONDS")
    c1=$(cpu_seconds "$BLACKBOX_PID")
    stop "$BLACKBOX_PID"; BLACKBOX_PID=
    probes=$(pick probes "$line"); succeeded=$(pick succeeded "$line")
    BLACKBOX_US[$size]=$(calc "\"%.0f\", ($c1 - $c0) * 1e6 / $probes")
    VALUE[blackbox,$size]="${BLACKBOX_US[$size]} µs"
    VALUE[probes,$size]=$(calc "\"%d (%.0f%% HEALTHY)\", $probes, 100 * $succeeded / $probes")
    VALUE[ratio,$size]=$(calc "\"**%.0f×**\", ${BLACKBOX_US[$size]} / ${DAEMON_US[$size]}")
    VALUE[quietratio,$size]=$(calc "\"%.0f×\", ${BLACKBOX_US[$size]} / ${QUIET_US[$size]}")
}

# The journal rows: the daemon's path and the C ceiling, in a private journald.
journal_phase() {
    local size=$1 line status=0
    line=$(scripts/bench-journal.sh "$BENCH_BIN" "$CEILING" "$JOURNAL_EVENTS" "$JOURNAL_ROUNDS" 2>"$WORK/journal.log") \
        || status=$?
    if [ $status = 77 ]; then
        VALUE[jdaemon,$size]="skipped"; VALUE[jceiling,$size]="skipped"; VALUE[jratio,$size]="skipped"
        JOURNAL_NOTE=$(grep -m1 SKIPPED "$WORK/journal.log" || true)
        return 0
    fi
    [ $status = 0 ] || { cat "$WORK/journal.log" >&2; die "the journal benchmark failed"; }
    VALUE[jdaemon,$size]=$(calc "\"%d/s (%s µs CPU each)\", $(pick daemon "$line"), $(pick daemon_cpu_us "$line")")
    VALUE[jceiling,$size]=$(calc "\"%d/s (%s µs CPU each)\", $(pick ceiling "$line"), $(pick ceiling_cpu_us "$line")")
    VALUE[jratio,$size]=$(calc "\"**%.2f**\", $(pick daemon "$line") / $(pick ceiling "$line")")
    JOURNAL_BYTES=$(pick bytes "$line")
}

declare -A DAEMON_US BLACKBOX_US QUIET_US
JOURNAL_NOTE= JOURNAL_BYTES=?
for size in $SIZES; do run_size "$size"; done

# --- the table ------------------------------------------------------------------------------------------------
ROWS=(
    "cpu|daemon CPU per connection-poll, each job at every poll ($(calc "\"%.0f\", $CADENCE / $INTERVAL_S")× Leen's cadence)|≤ 10 µs"
    "rate|connection-polls in the window (daemon CPU)|"
    "changes|events (changes seen) per connection-poll in the window|"
    "cadence|daemon CPU per connection-poll, each job every $CADENCE s (Leen's documented interval)|"
    "cadencechanges|events per connection-poll in that window|"
    "quiet|daemon CPU per connection-poll, leen-sim's clock stopped (nothing changes)|"
    "perchange|daemon CPU per event beyond its poll (the two windows)|"
    "requests|API requests per poll cycle|"
    "rss|daemon RSS (VmRSS)|< 250 MB"
    "rssmean|daemon RSS, mean of the window's readings (lowest–highest)|< 250 MB"
    "perconn|RSS per connection|≤ 2 KB"
    "fresh|start to READY, fresh state|"
    "drained|start to every start event written, fresh state|"
    "restart|restart with state to READY|≤ 3 s"
    "crash|start after SIGKILL to READY (files and logs)|≤ 3 s"
    "scrape|/metrics scrape, OpenMetrics + gzip, median|as today"
    "bytes|/metrics body (gzip)|"
    "jdaemon|journal: the daemon's writer|"
    "jceiling|journal: C, sd_journal_sendv, same fields|"
    "jratio|journal: daemon ÷ C|≥ 0.67"
    "blackbox|blackbox_exporter CPU per check|"
    "probes|blackbox_exporter probes measured|"
    "ratio|blackbox per check ÷ daemon per connection-poll|≥ 50×"
    "quietratio|the same, leen-sim's clock stopped|"
)
label() { awk -v n="$1" 'BEGIN { if (n % 1000 == 0) printf "%dk", n / 1000; else printf "%d", n }'; }
table() {
    local header="| |" rule="|---|" row key text target size line
    for size in $SIZES; do header+=" $(label "$size") connections |"; rule+="---:|"; done
    echo "$header target (100k) |"
    echo "$rule---:|"
    for row in "${ROWS[@]}"; do
        IFS='|' read -r key text target <<<"$row"
        line="| $text |"
        for size in $SIZES; do line+=" ${VALUE[$key,$size]:-} |"; done
        echo "$line $target |"
    done
}

MACHINE="$(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r) ($(uname -m)), $(swift --version 2>/dev/null | head -n 1 || echo 'swift: ?')"
COMMAND="SIZES=\"$SIZES\" make bench"
SETTINGS="PER_ORG=$PER_ORG INTERVAL=$INTERVAL JITTER=$JITTER POLL_CONCURRENCY=$POLL_CONCURRENCY PAGE_SIZE=$PAGE_SIZE WARMUP=$WARMUP WINDOW=$WINDOW SCRAPES=$SCRAPES PROBE_SECONDS=$PROBE_SECONDS PROBE_CONCURRENCY=$PROBE_CONCURRENCY JOURNAL_EVENTS=$JOURNAL_EVENTS JOURNAL_ROUNDS=$JOURNAL_ROUNDS TIME_SCALE=$TIME_SCALE CADENCE=$CADENCE RESTARTS=$RESTARTS FAILURE_RATE=$FAILURE_RATE SEED=$SEED"
section() {
    echo "### $STARTED UTC"
    echo
    echo "**Command:** \`$COMMAND\` ($SETTINGS), code at $CODE."
    echo
    echo "**Machine:** $MACHINE; load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    table
    echo
    echo "Journal: $JOURNAL_EVENTS events of $JOURNAL_BYTES bytes of fields per side and round, best of $JOURNAL_ROUNDS rounds, private journald.${JOURNAL_NOTE:+ $JOURNAL_NOTE}"
}
section >"$ROOT/section.md"
echo
cat "$ROOT/section.md"
if [ "$WRITE_DOC" = 1 ]; then
    day=${STARTED%% *}
    # The day's section replaces the one written earlier that day, else goes at the end.
    awk -v begin="<!-- make-bench $day -->" -v end="<!-- /make-bench $day -->" -v file="$ROOT/section.md" '
        function insert() { print begin; while ((getline line < file) > 0) print line; print end; done = 1 }
        $0 == begin { insert(); skipping = 1; next }
        skipping { if ($0 == end) skipping = 0; next }
        { print }
        END { if (!done) { print ""; insert() } }' "$DOC" >"$ROOT/doc.md"
    cp "$ROOT/doc.md" "$DOC"
    echo >&2
    echo "bench: wrote the section of $day to $DOC" >&2
fi

#!/usr/bin/env bash
# Benchmark: do the daemon's polls keep their schedule while SCRAPERS concurrent scrapers hammer /metrics?
# A real leen-healthd polls a leen-sim fleet of CONNECTIONS monitored connections in ORGS organizations
# (100,000 in 1,000 by default); after a baseline phase without scrapers, wrk scrapes /metrics with
# SCRAPERS connections (gzip, as Prometheus does; then Prometheus's OpenMetrics Accept header). The poll
# evidence comes from the daemon's own /metrics at the start and end of each phase. Prints Markdown tables.
#
#   ./scripts/bench-daemon-scrape.sh                                       # defaults below, ~9 min on 2 cores
#   ORGS=20 CONNECTIONS=2000 DURATION=10 INTERVAL=10s ./scripts/bench-daemon-scrape.sh   # quick check
#   BIN_DIR=/path/to/.build/release ./scripts/bench-daemon-scrape.sh      # binaries built elsewhere
#
# Debian packages used: wrk curl jq procps coreutils. leen-sim writes the scenario and the daemon's
# configuration (`leen-sim fleet scenario`, `leen-sim fleet config`; docs/simulator.md).
#
# How the fleet is set up (option a: leen-sim holds the connections, the configuration declares them
# all, and the daemon ADOPTS them at startup). Adoption costs one list per organization and no write:
# Provisioner.apply's `.adopt` records the declared credentials' hash and sends nothing (a PATCH happens
# only when a hash recorded by an earlier run changes, never with a fresh state directory). Option b
# (the daemon creates 100k connections) would cost 100k POSTs at startup, and new connections stay
# PENDING until their first job.
#
#   FLEET=populated (default): leen-sim's own fleet (`--organizations --connections`: 34 vendors
#     round-robin, realistic identifiers such as crowdstrike-spotlight-8001, some OAuth ones pending, ~2%
#     PAUSED), listed through the provisioning API (limit=1000 pages) and declared with credentials: every
#     secret field references ONE shared file (chmod 600, a random value never printed), one YAML anchor
#     per vendor (about 7 MB for 100k connections).
#   FLEET=scenario: `leen-sim fleet scenario` writes a scenario with ORGS organizations and CONNECTIONS
#     connections (round-robin), identifiers c1..cN, all SNYK without credentials (SNYK is OAuth unless
#     given an API key), ACTIVE and HEALTHY at start, random health evolution on (about 4 MB for 100k).
# Either way leen-sim runs one job per connection per poll interval (--refresh-interval = INTERVAL x
# TIME_SCALE simulated seconds) with --failure-rate FAILURE_RATE, so polls see health changes; leen-sim
# keeps its strict credential checks (nothing is sent to it).
#
# Environment (defaults):
#   ORGS=1000 CONNECTIONS=100000       the fleet
#   INTERVAL=60s JITTER=10%            poll.interval and poll.jitter
#   POLL_CONCURRENCY=4 PAGE_SIZE=1000  poll.concurrency and poll.page_size
#   SCRAPERS=8 WRK_THREADS=2           wrk -c and -t
#   DURATION=60                        seconds per phase (baseline, each load phase)
#   WARMUP=15                          seconds between ready and the baseline phase
#   OPENMETRICS=1                      0 skips the last load phase (OpenMetrics Accept header)
#   SINGLE=1                           0 skips the first load phase (one scraper, as Prometheus asks)
#   FLEET=populated                    or scenario (see above)
#   TIME_SCALE=60 SEED=1               leen-sim clock (simulated s per real s) and seed
#   FAILURE_RATE=0.02                  leen-sim --failure-rate (share of jobs of a healthy connection that fail)
#   READY_TIMEOUT=900                  seconds to wait for /-/ready
#   BIN_DIR                            where leen-healthd and leen-sim are; default: build release here
#   KEEP_WORK=1                        keep the temp dir (config, logs) and print its path
set -euo pipefail
case "${1:-}" in
    "") ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-daemon-scrape: takes no arguments (configure it with environment variables; see --help)" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
BENCH_NAME=bench-daemon-scrape
. scripts/bench-lib.sh

ORGS=${ORGS:-1000}
CONNECTIONS=${CONNECTIONS:-100000}
INTERVAL=${INTERVAL:-60s}
JITTER=${JITTER:-10%}
POLL_CONCURRENCY=${POLL_CONCURRENCY:-4}
PAGE_SIZE=${PAGE_SIZE:-1000}
SCRAPERS=${SCRAPERS:-8}
WRK_THREADS=${WRK_THREADS:-2}
DURATION=${DURATION:-60}
WARMUP=${WARMUP:-15}
OPENMETRICS=${OPENMETRICS:-1}
SINGLE=${SINGLE:-1}
TIME_SCALE=${TIME_SCALE:-60}
SEED=${SEED:-1}
READY_TIMEOUT=${READY_TIMEOUT:-900}
FLEET=${FLEET:-populated}
FAILURE_RATE=${FAILURE_RATE:-0.02}
KEEP_WORK=${KEEP_WORK:-0}
OPENMETRICS_ACCEPT='application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5'

for tool in wrk curl jq awk; do
    command -v "$tool" >/dev/null || die "'$tool' is missing (apt-get install $tool)"
done
[ "$SCRAPERS" -ge "$WRK_THREADS" ] 2>/dev/null || die "SCRAPERS ($SCRAPERS) must be a number >= WRK_THREADS ($WRK_THREADS)"
[ "$ORGS" -ge 1 ] 2>/dev/null || die "ORGS must be a number >= 1, found '$ORGS'"
[ "$CONNECTIONS" -ge 0 ] 2>/dev/null || die "CONNECTIONS must be a number >= 0, found '$CONNECTIONS'"
case "$FLEET" in scenario|populated) ;; *) die "FLEET must be scenario or populated, found '$FLEET'" ;; esac

# INTERVAL and JITTER as numbers (the daemon's own syntax: 60s, 1m, 1m30s, 500ms; 10% or 0.1).
INTERVAL_S=$(duration_seconds "$INTERVAL") || die "INTERVAL: '$INTERVAL' is not a duration such as 60s or 1m"
JITTER_F=$(fraction "$JITTER") || die "JITTER: '$JITTER' is not a fraction or a percentage"

bench_binaries leen-healthd leen-sim

WORK=$(mktemp -d -t bench-daemon-scrape.XXXXXX)
chmod 700 "$WORK"
SIM_PID=
DAEMON_PID=
WRK_PID=
cleanup() {
    local status=$?
    stop "$WRK_PID"; stop "$DAEMON_PID"; stop "$SIM_PID"
    if [ "$KEEP_WORK" = 1 ]; then echo "bench-daemon-scrape: kept $WORK" >&2; else rm -rf "$WORK"; fi
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# field NAME KEY: the value of KEY in $WORK/NAME.snap (one line of KEY=VALUE pairs).
field() { tr ' ' '\n' <"$WORK/$1.snap" | awk -F= -v k="$2" '$1 == k { print $2 }'; }
BENCH_START=$(now)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# --- secrets: the API key and one shared vendor secret, mode 600, never printed -----------------------
write_secrets
(umask 077; mkdir -p "$WORK/state")

# --- leen-sim with the fleet ------------------------------------------------------------------------
# One job per connection per poll interval (simulated refresh interval = INTERVAL x TIME_SCALE), so every
# poll sees about one job's worth of changes.
REFRESH=$(awk -v i="$INTERVAL_S" -v s="$TIME_SCALE" 'BEGIN { r = int(i * s + 0.5); print (r < 1 ? 1 : r) }')
SIM_ARGS=(--time-scale "$TIME_SCALE" --refresh-interval "$REFRESH" --failure-rate "$FAILURE_RATE"
    --seed "$SEED" --log-level notice)
t0=$(now)
case "$FLEET" in
    scenario)
        "$SIM" fleet scenario --organizations "$ORGS" --connections "$CONNECTIONS" --seed "$SEED" \
            --output "$WORK/scenario.json" >/dev/null || die "writing the leen-sim scenario failed"
        SIM_ARGS+=(--scenario "$WORK/scenario.json") ;;
    populated) SIM_ARGS+=(--organizations "$ORGS" --connections "$CONNECTIONS") ;;
esac
start_sim "${SIM_ARGS[@]}"
SIM_STATE=$(curl -sf --max-time 30 "${API%/v1}/_sim/state") || die "leen-sim at $API does not answer /_sim/state"
[ "$(jq -r .organizations <<<"$SIM_STATE")" = "$ORGS" ] && [ "$(jq -r .connections <<<"$SIM_STATE")" = "$CONNECTIONS" ] \
    || die "leen-sim has $(jq -r .organizations <<<"$SIM_STATE") organizations and $(jq -r .connections <<<"$SIM_STATE") connections, expected $ORGS and $CONNECTIONS"
SIM_SETUP=$(elapsed "$t0" "$(now)")

# --- the configuration: every connection of the fleet, declared ------------------------------------
METRICS_PORT=$(free_port)
t0=$(now)
fleet_source=(--from-url "$API")
[ "$FLEET" = scenario ] && fleet_source=(--from-scenario "$WORK/scenario.json" --base-url "$API")
# Prints organizations=N connections=M vendors=V skipped=S, read back with `field fleet KEY`.
"$SIM" fleet config "${fleet_source[@]}" --key-file "$WORK/secrets/api-key" \
    --secret-file "$WORK/secrets/vendor-secret" --state-directory "$WORK/state" --listen "127.0.0.1:$METRICS_PORT" \
    --interval "$INTERVAL" --jitter "$JITTER" --concurrency "$POLL_CONCURRENCY" --page-size "$PAGE_SIZE" \
    --output "$WORK/config.yaml" >"$WORK/fleet.snap" || die "writing the configuration from leen-sim's fleet failed"
FLEET_ORGS=$(field fleet organizations)
FLEET_CONNECTIONS=$(field fleet connections)
FLEET_VENDORS=$(field fleet vendors)
CONFIG_SETUP=$(elapsed "$t0" "$(now)")
CONFIG_BYTES=$(wc -c <"$WORK/config.yaml")
[ "$FLEET_ORGS" = "$ORGS" ] || die "the fleet has $FLEET_ORGS organizations, expected $ORGS"
[ "$FLEET_CONNECTIONS" = "$CONNECTIONS" ] || die "the fleet has $FLEET_CONNECTIONS connections, expected $CONNECTIONS"
# leen-healthd refuses a configuration file over 64 MiB (ConfigChecker.maximumBytes).
if [ "$CONFIG_BYTES" -gt $((64 << 20)) ]; then
    die "the generated configuration is $CONFIG_BYTES bytes, over leen-healthd's 64 MiB limit for a configuration file; use FLEET=scenario (short identifiers, no credentials) or fewer connections"
fi

t0=$(now)
"$HEALTHD" check-config --config "$WORK/config.yaml" >"$WORK/check.log" 2>&1 || {
    head -n 20 "$WORK/check.log" >&2
    die "check-config refused the generated configuration ($WORK/config.yaml)"
}
CHECK_TIME=$(elapsed "$t0" "$(now)")

# --- the daemon -------------------------------------------------------------------------------------------
METRICS=http://127.0.0.1:$METRICS_PORT
t0=$(now)
start_daemon
wait_ready "$METRICS" "$READY_TIMEOUT" "$t0"
adopted=$(grep -c 'connection_adopted' "$WORK/daemon.log" || true)
created=$(grep -c 'connection_created' "$WORK/daemon.log" || true)
updated=$(grep -c 'credentials_updated' "$WORK/daemon.log" || true)
prov_failed=$(grep -c 'provisioning_failed' "$WORK/daemon.log" || true)
[ "$prov_failed" = 0 ] || {
    grep -m 5 'provisioning_failed' "$WORK/daemon.log" >&2
    die "provisioning failed for $prov_failed connections or organizations (see above)"
}
sleep "$WARMUP"
alive_or_die "warm-up"

# --- measurements -----------------------------------------------------------------------------------------
# All CPUs, busy seconds (user + nice + system + irq + softirq + steal), for the machine's whole load.
machine_cpu_seconds() { awk -v tck="$CLK_TCK" '$1 == "cpu" { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / tck }' /proc/stat; }
rss_mib() { awk '/^VmRSS/ { printf "%d", $2 / 1024 }' "/proc/$1/status"; }

# snapshot NAME: the time, the CPU counters and the RSS, then one gzip scrape of the daemon's /metrics
# (the phase's end is when the scrape is asked for; under load the answer can come seconds later).
snapshot() {
    local name=$1 t daemon sim machine rss t_end
    t=$(now)
    daemon=$(cpu_seconds "$DAEMON_PID"); sim=$(cpu_seconds "$SIM_PID"); machine=$(machine_cpu_seconds)
    rss=$(rss_mib "$DAEMON_PID")
    curl -sf --compressed --max-time 120 "$METRICS/metrics" -o "$WORK/$name.prom" \
        || { alive_or_die "scrape for $name"; die "scraping $METRICS/metrics for $name failed"; }
    t_end=$(now)
    awk -v t="$t" -v t_end="$t_end" -v daemon="$daemon" -v sim="$sim" -v machine="$machine" -v rss="$rss" '
        /^leen_polls_total\{/ { polls += $NF; orgs++ }
        /^leen_poll_failures_total\{/ { failures += $NF }
        /^leen_poll_last_success_timestamp_seconds\{/ { n++; if (n == 1 || $NF + 0 < min) min = $NF + 0 }
        /^leen_poll_duration_seconds_sum\{/ { dsum += $NF }
        /^leen_poll_duration_seconds_count\{/ { dcount += $NF }
        /^leen_events_total\{/ { events += $NF }
        END {
            printf "t=%s t_end=%s polls=%d orgs=%d failures=%d succeeded_orgs=%d oldest=%s dsum=%.6f dcount=%d events=%d cpu=%s simcpu=%s machinecpu=%s rss=%s\n",
                t, t_end, polls, orgs, failures, n, (n ? sprintf("%.3f", min) : ""), dsum, dcount, events, daemon, sim, machine, rss
        }' "$WORK/$name.prom" >"$WORK/$name.snap"
}
ROWS_A=()
ROWS_B=()
# phase_row LABEL START END: a row of table (b) from two snapshots.
phase_row() {
    local label=$1 a=$2 b=$3
    ROWS_B+=("$(awk -v label="$label" -v orgs="$ORGS" -v interval="$INTERVAL_S" -v jitter="$JITTER_F" \
        -v ncpu="$(nproc)" \
        -v t0="$(field "$a" t)" -v t1="$(field "$b" t)" \
        -v p0="$(field "$a" polls)" -v p1="$(field "$b" polls)" \
        -v f0="$(field "$a" failures)" -v f1="$(field "$b" failures)" \
        -v s0="$(field "$a" dsum)" -v s1="$(field "$b" dsum)" \
        -v c0="$(field "$a" dcount)" -v c1="$(field "$b" dcount)" \
        -v e0="$(field "$a" events)" -v e1="$(field "$b" events)" \
        -v u0="$(field "$a" cpu)" -v u1="$(field "$b" cpu)" \
        -v v0="$(field "$a" simcpu)" -v v1="$(field "$b" simcpu)" \
        -v m0="$(field "$a" machinecpu)" -v m1="$(field "$b" machinecpu)" \
        -v te="$(field "$b" t_end)" -v oldest="$(field "$b" oldest)" -v okorgs="$(field "$b" succeeded_orgs)" -v rss="$(field "$b" rss)" '
        BEGIN {
            wall = t1 - t0
            mean = (c1 > c0) ? (s1 - s0) / (c1 - c0) : 0
            age = (oldest == "") ? -1 : t1 - oldest
            limit = interval * (1 + jitter) + mean
            verdict = (age >= 0 && age <= limit && okorgs == orgs) ? "yes" : "**no**"
            printf "| %-17s | %5.0f | %9.2f | %9.2f | %8d | %8d | %10.1f s | %8.1f s | %-9s | %9.3f s | %7.0f %% | %7.0f %% | %7.0f %% | %6d MiB | %7.1f s |",
                label, wall, orgs / interval, (p1 - p0) / wall, f1 - f0, e1 - e0, age, limit, verdict, mean,
                100 * (u1 - u0) / wall, 100 * (v1 - v0) / wall, 100 * (m1 - m0) / wall, rss, te - t1
        }')")
}

# load_phase LABEL ENCODING_LABEL PHASE_LABEL [wrk -H args...]: the size of one scrape with these headers,
# then the phase: a snapshot, wrk for DURATION seconds, a snapshot; a row of each table.
load_phase() {
    local label=$1 encoding=$2 phase=$3; shift 3
    local bytes scrapers=${LOAD_SCRAPERS:-$SCRAPERS} threads=$WRK_THREADS
    [ "$threads" -le "$scrapers" ] || threads=$scrapers
    bytes=$(curl -sf --max-time 120 "$@" "$METRICS/metrics" | wc -c)
    snapshot "${label}0"
    wrk -t"$threads" -c"$scrapers" -d"${DURATION}s" --latency --timeout 30s "$@" "$METRICS/metrics" \
        >"$WORK/wrk-$label.txt" 2>&1 &
    WRK_PID=$!
    wait "$WRK_PID" || { cat "$WORK/wrk-$label.txt" >&2; WRK_PID=; die "wrk failed"; }
    WRK_PID=
    local rps p50 p99 max requests errors non2xx
    rps=$(awk '/^Requests\/sec/ { print $2 }' "$WORK/wrk-$label.txt")
    requests=$(awk '/requests in/ { print $1 }' "$WORK/wrk-$label.txt")
    p50=$(awk '$1 == "50%" { print $2 }' "$WORK/wrk-$label.txt")
    p99=$(awk '$1 == "99%" { print $2 }' "$WORK/wrk-$label.txt")
    max=$(awk '$1 == "Latency" { print $4; exit }' "$WORK/wrk-$label.txt")
    errors=$(awk '/Socket errors/ { gsub(",", ""); print "connect " $4 ", read " $6 ", write " $8 ", timeout " $10 }' \
        "$WORK/wrk-$label.txt")
    non2xx=$(awk '/Non-2xx/ { print $NF }' "$WORK/wrk-$label.txt")
    alive_or_die "load phase $phase"
    snapshot "${label}1"
    phase_row "$phase" "${label}0" "${label}1"
    ROWS_A+=("$(printf '| %-24s | %8s | %9s | %8s | %9s | %8s | %8s | %8s | %10s | %s |' \
        "$encoding" "$scrapers" "${requests:-0}" "${rps:-?}" "${p50:-?}" "${p99:-?}" "${max:-?}" "${non2xx:-0}" "$bytes" \
        "${errors:-none}")")
}

snapshot base0
sleep "$DURATION"
alive_or_die "baseline phase"
snapshot base1
phase_row "baseline" base0 base1

# One scraper first (what one scrape costs while the daemon polls), then SCRAPERS of them.
if [ "$SINGLE" = 1 ]; then
    LOAD_SCRAPERS=1 load_phase one "gzip, OpenMetrics (Prom.)" "load: 1 scraper" \
        -H 'Accept-Encoding: gzip' -H "Accept: $OPENMETRICS_ACCEPT"
fi

load_phase gzip "gzip, text 0.0.4" "load: gzip" -H 'Accept-Encoding: gzip'

if [ "$OPENMETRICS" = 1 ]; then
    load_phase om "gzip, OpenMetrics (Prom.)" "load: OpenMetrics" \
        -H 'Accept-Encoding: gzip' -H "Accept: $OPENMETRICS_ACCEPT"
fi

# Anything the daemon logged as a warning or error that is not a connection event (diagnostics).
diag=$(grep -v 'LEEN_EVENT=\|event=' "$WORK/daemon.log" | grep -ci 'warning\|error\|critical' || true)

# --- report ---------------------------------------------------------------------------------------------------
echo
echo "leen-healthd: poll schedule under /metrics scrape load; machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, $(uname -sr); $(swift --version 2>/dev/null | head -1 || echo 'swift: not found'); load average before: $LOAD_BEFORE, at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "leen-healthd $("$HEALTHD" --version 2>/dev/null || echo '?') from $BIN_DIR; this tree at $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- Sources Package.swift 2>/dev/null || echo ' (Sources modified)')."
other=$(awk -v t0="$(field base0 t)" -v t1="$(field base1 t)" -v m0="$(field base0 machinecpu)" -v m1="$(field base1 machinecpu)" \
    -v d0="$(field base0 cpu)" -v d1="$(field base1 cpu)" -v s0="$(field base0 simcpu)" -v s1="$(field base1 simcpu)" \
    'BEGIN { printf "%.0f", 100 * ((m1 - m0) - (d1 - d0) - (s1 - s0)) / (t1 - t0) }')
echo
echo "wrk, leen-sim and the daemon share these $(nproc) cores: the scrapers' and the simulator's CPU is taken from the daemon's. CPU % is of one core (max $(( $(nproc) * 100 )) %). Other processes used $other % during the baseline (machine CPU minus the daemon and leen-sim)$( [ "$other" -gt 20 ] && echo ': the machine was not idle, figures are pessimistic')."
echo
fleet_shape="identifiers c1..c$CONNECTIONS, vendor SNYK, no credentials"
[ "$FLEET" = populated ] && fleet_shape="leen-sim's pre-populated fleet"
echo "Fleet ($FLEET: $fleet_shape): $FLEET_CONNECTIONS connections declared in $FLEET_ORGS organizations ($FLEET_VENDORS vendors), config $CONFIG_BYTES bytes; leen-sim --time-scale $TIME_SCALE --refresh-interval $REFRESH --failure-rate $FAILURE_RATE --seed $SEED (one job per connection per poll interval). Provisioning: adopted $adopted, created $created, credentials sent $updated."
echo "Daemon config: poll interval $INTERVAL, jitter $JITTER, concurrency $POLL_CONCURRENCY, page_size $PAGE_SIZE; phases of ${DURATION}s after ${WARMUP}s of warm-up."
echo "Setup: leen-sim up with its fleet ${SIM_SETUP}s; config written ${CONFIG_SETUP}s; check-config ${CHECK_TIME}s; daemon start to /-/ready ${READY_TIME}s (each organization provisioned, then polled once)."
echo
echo "## /metrics under load (wrk -c SCRAPERS -d${DURATION}s --timeout 30s, at most $WRK_THREADS threads)"
echo
echo "| encoding                 | scrapers | scrapes   | scrapes/s |      p50 |      p99 |      max | non-2xx | body bytes | socket errors |"
echo "|--------------------------|---------:|----------:|----------:|---------:|---------:|---------:|--------:|-----------:|---------------|"
for row in "${ROWS_A[@]}"; do echo "$row"; done
echo
echo "## Polls per phase (interval $INTERVAL, jitter $JITTER, concurrency $POLL_CONCURRENCY, page_size $PAGE_SIZE; from the daemon's /metrics at the start and end of each phase)"
echo
echo "| phase             |   s   | polls/s expected | polls/s observed | poll failures | events | oldest last success | limit | on schedule | mean poll | daemon CPU | leen-sim CPU | machine CPU | daemon RSS | end scrape |"
echo "|-------------------|------:|-----------:|-----------:|---------:|---------:|-------------:|-----------:|-----------|------------:|----------:|----------:|----------:|-----------:|-----------:|"
for row in "${ROWS_B[@]}"; do echo "$row"; done
echo
echo "polls/s expected = organizations / interval. Oldest last success = the phase's end (when the end-of-phase scrape was asked for) minus the smallest leen_poll_last_success_timestamp_seconds (every organization must have one); limit = interval x (1 + jitter) + the phase's mean poll duration. Mean poll = delta of leen_poll_duration_seconds_sum / _count. Events = delta of leen_events_total (connection changes seen). Machine CPU = every process on the machine (the daemon, leen-sim, wrk and anything else running), from /proc/stat. End scrape = how long the end-of-phase scrape took to answer (after a load phase the daemon is still rendering the scrapes wrk left in flight). Daemon diagnostics at warning or above: $diag."
echo "Total time: $(elapsed "$BENCH_START" "$(now)")s."

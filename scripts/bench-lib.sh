# Shell functions the daemon benchmarks share (sourced by bench.sh and bench-daemon-scrape.sh; not run).
#
# The caller sets BENCH_NAME (for messages) and WORK (a private temporary directory), and after
# bench_binaries: HEALTHD and SIM. start_sim sets SIM_PID and API; start_daemon sets DAEMON_PID;
# wait_ready sets READY_TIME. The caller's EXIT trap stops what is running (bench_stop_all).

die() { echo "${BENCH_NAME:-bench}: $*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# A port nothing listens on now (as racy as binding port 0 and closing it: the listener binds it later).
free_port() {
    local port
    for _ in $(seq 1 100); do
        port=$(( 20000 + (RANDOM << 15 | RANDOM) % 40000 ))
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return 0; }
    done
    die "no free port found"
}

# stop PID: SIGTERM, up to 10 s for it to end, then SIGKILL.
stop() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# duration_seconds TEXT: the daemon's duration syntax (60s, 1m, 1m30s, 500ms, or a bare number) in seconds.
duration_seconds() {
    awk -v t="$1" 'BEGIN {
        if (t == "") exit 1
        if (t ~ /^[0-9]+(\.[0-9]+)?$/) { printf "%g\n", t; exit }
        split("ms s m h d", names, " "); split("0.001 1 60 3600 86400", scales, " ")
        for (i in names) unit[names[i]] = scales[i]
        rest = t; total = 0
        while (rest != "") {
            if (!match(rest, /^[0-9]+(\.[0-9]+)?(ms|s|m|h|d)/)) exit 1
            part = substr(rest, 1, RLENGTH); rest = substr(rest, RLENGTH + 1)
            number = part; sub(/[a-z]+$/, "", number); name = substr(part, length(number) + 1)
            total += number * unit[name]
        }
        printf "%g\n", total
    }'
}

# fraction TEXT: 10% or 0.1 as a number.
fraction() {
    awk -v t="$1" 'BEGIN {
        if (t ~ /^[0-9]+(\.[0-9]+)?%$/) { printf "%g\n", substr(t, 1, length(t) - 1) / 100; exit }
        if (t ~ /^[0-9]+(\.[0-9]+)?$/) { printf "%g\n", t; exit }
        exit 1
    }'
}

CLK_TCK=$(getconf CLK_TCK)
# cpu_seconds PID: the process's user + system CPU (/proc/PID/stat utime + stime).
cpu_seconds() { awk -v tck="$CLK_TCK" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / tck }' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

# bench_binaries PRODUCT...: HEALTHD and SIM from BIN_DIR, or a release build of the products here first.
bench_binaries() {
    if [ -z "${BIN_DIR:-}" ]; then
        echo "$BENCH_NAME: building release $* in $PWD ..." >&2
        local build_log product
        build_log=$(mktemp -t "$BENCH_NAME-build.XXXXXX")
        for product in "$@"; do
            swift build -c release --product "$product" >"$build_log" 2>&1 || {
                tail -n 30 "$build_log" >&2; rm -f "$build_log"; die "swift build -c release --product $product failed"
            }
        done
        rm -f "$build_log"
        BIN_DIR=$(swift build -c release --show-bin-path)
    fi
    HEALTHD=$BIN_DIR/leen-healthd
    SIM=$BIN_DIR/leen-sim
    for product in "$@"; do
        [ -x "$BIN_DIR/$product" ] || die "$BIN_DIR/$product is missing or not executable (set BIN_DIR or build release)"
    done
}

# write_secrets: the API key (leen-sim's default) and one shared vendor secret, mode 600, never printed.
write_secrets() {
    (umask 077
     mkdir -p "$WORK/secrets"
     printf '%s\n' leen-sim-key >"$WORK/secrets/api-key"
     head -c 24 /dev/urandom | base64 | tr -d '\n=+/' >"$WORK/secrets/vendor-secret")
}

# start_sim ARG...: leen-sim on a free port with these arguments, logging to $WORK/sim.log; waits until it
# announces its address (API, the /v1 URL). A fleet of 100k takes a few seconds to create.
start_sim() {
    "$SIM" --listen 127.0.0.1:0 "$@" >"$WORK/sim.log" 2>&1 &
    SIM_PID=$!
    API=
    for _ in $(seq 1 3000); do
        API=$(grep -o 'http://127\.0\.0\.1:[0-9]*/v1' "$WORK/sim.log" | head -n 1 || true)
        [ -n "$API" ] && return 0
        kill -0 "$SIM_PID" 2>/dev/null || { tail -n 20 "$WORK/sim.log" >&2; SIM_PID=; die "leen-sim exited at start"; }
        sleep 0.1
    done
    tail -n 20 "$WORK/sim.log" >&2
    die "leen-sim did not announce its address within 300 s"
}

daemon_log_tail() {
    echo "--- last lines of the daemon's stderr ($WORK/daemon.log) ---" >&2
    tail -n 20 "$WORK/daemon.log" >&2 || true
}

alive_or_die() {
    kill -0 "$SIM_PID" 2>/dev/null || { tail -n 20 "$WORK/sim.log" >&2; die "leen-sim exited ($1)"; }
    if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
        local status=0
        wait "$DAEMON_PID" || status=$?
        DAEMON_PID=
        daemon_log_tail
        die "leen-healthd exited with status $status ($1)"
    fi
}

# start_daemon [ENV=VALUE...]: `leen-healthd run` on $WORK/config.yaml (stdout to daemon.out, stderr appended
# to daemon.log), with these extra environment variables.
start_daemon() {
    env "$@" "$HEALTHD" run --config "$WORK/config.yaml" >>"$WORK/daemon.out" 2>>"$WORK/daemon.log" &
    DAEMON_PID=$!
}

# wait_ready URL TIMEOUT START: waits for URL/-/ready to answer 200; READY_TIME = seconds since START.
wait_ready() {
    local url=$1 timeout=$2 start=$3 deadline code
    deadline=$(( $(date +%s) + timeout ))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        alive_or_die "waiting for /-/ready"
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url/-/ready" || true)
        if [ "$code" = 200 ]; then
            READY_TIME=$(elapsed "$start" "$(now)")
            return 0
        fi
        sleep 0.1
    done
    daemon_log_tail
    die "/-/ready did not answer 200 within ${timeout}s"
}

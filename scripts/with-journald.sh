#!/usr/bin/env bash
# Runs a command next to a private, real systemd-journald, isolated from the host:
#   unshare --mount --pid --fork --mount-proc: own mount table and PID 1;
#   tmpfs on /run/systemd and /run/log: journald's sockets and volatile journal exist only in here;
#   a private journald.conf (Storage=volatile, no rate limit, no forwarding) bind-mounted over the host's.
# The command sees $LEEN_E2E_JOURNAL=1 and finds the journal at the usual socket; `journalctl` reads it.
#
#   scripts/with-journald.sh swift test --skip-build --filter JournalEndToEnd
#
# Needs root (CI is root). Without it, or without systemd-journald: exit 77 (skipped) with a message, or
# exit 1 when LEEN_REQUIRE_REAL_PARTS=1, so CI can never pass without the real part.
set -euo pipefail

fail_or_skip() {
    if [ "${LEEN_REQUIRE_REAL_PARTS:-0}" = 1 ]; then
        echo "with-journald: FAILED: $1 (LEEN_REQUIRE_REAL_PARTS=1 requires a real journald)" >&2
        exit 1
    fi
    echo "with-journald: SKIPPED: $1" >&2
    exit 77
}

JOURNALD=""
for candidate in /lib/systemd/systemd-journald /usr/lib/systemd/systemd-journald; do
    [ -x "$candidate" ] && JOURNALD=$candidate && break
done
[ -n "$JOURNALD" ] || fail_or_skip "systemd-journald is not installed (apt-get install systemd)"
command -v journalctl >/dev/null || fail_or_skip "journalctl is not installed"
command -v unshare >/dev/null || fail_or_skip "unshare is not installed (util-linux)"
[ "$(id -u)" -eq 0 ] || fail_or_skip "needs root to create mount and PID namespaces"

if [ "${1:-}" != "--inside" ]; then
    exec unshare --mount --pid --fork --mount-proc --propagation private "$0" --inside "$@"
fi
shift

mkdir -p /run/systemd /run/log
mount -t tmpfs -o mode=0755 tmpfs /run/systemd
mount -t tmpfs -o mode=0755 tmpfs /run/log
CONF=$(mktemp -d)
printf '[Journal]\nStorage=volatile\nRateLimitIntervalSec=0\nRateLimitBurst=0\nForwardToSyslog=no\nForwardToKMsg=no\nForwardToConsole=no\nForwardToWall=no\nReadKMsg=no\n' \
    >"$CONF/journald.conf"
mkdir -p /etc/systemd
[ -e /etc/systemd/journald.conf ] || touch /etc/systemd/journald.conf
mount --bind "$CONF/journald.conf" /etc/systemd/journald.conf

"$JOURNALD" &
JPID=$!
trap 'kill $JPID 2>/dev/null; wait $JPID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    [ -S /run/systemd/journal/socket ] && break
    sleep 0.05
done
[ -S /run/systemd/journal/socket ] || fail_or_skip "systemd-journald did not create its socket"
echo "with-journald: private systemd-journald (pid $JPID) ready" >&2

export LEEN_E2E_JOURNAL=1
"$@"

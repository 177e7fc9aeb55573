#!/usr/bin/env bash
# Runs a command next to a private, real systemd-journald, isolated from the host:
#   unshare --mount --pid --fork --mount-proc: own mount table and PID 1;
#   tmpfs on /run: journald's sockets, its configuration and the volatile journal exist only in here; a tmpfs
#   over /var/log/journal (when the host has one), so neither journald nor `journalctl` in here touches the
#   host's persistent journal;
#   journald's configuration comes from /run/systemd/journald.conf.d (Storage=volatile, no rate limit, no
#   forwarding, no kernel log, the kernel's audit setting left alone); the host's drop-ins are hidden by
#   empty tmpfs mounts, and its journald.conf is overridden by the drop-in;
#   a machine id of its own bind-mounted over /etc/machine-id, so the journal here never mixes with the host's.
# Nothing is created on the host's file system: all of the above are mounts in the private mount namespace
# (mount -n: without it, libmount would create /run/mount for its utab on the host's /run).
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
# A file to mount over must exist already: creating it would change the host.
[ -e /etc/machine-id ] || fail_or_skip "/etc/machine-id does not exist"

if [ "${1:-}" != "--inside" ]; then
    exec unshare --mount --pid --fork --mount-proc --propagation private "$0" --inside "$@"
fi
shift

mount -n -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/systemd/journald.conf.d /run/log
for path in /var/log/journal /etc/systemd/journald.conf.d /usr/local/lib/systemd/journald.conf.d \
    /usr/lib/systemd/journald.conf.d /lib/systemd/journald.conf.d; do
    if [ -d "$path" ]; then mount -n -t tmpfs -o mode=0755 tmpfs "$path"; fi
done
# Audit= (empty): journald neither turns kernel auditing on nor (Debian's default, Audit=no) off for the host.
printf '[Journal]\nStorage=volatile\nRateLimitIntervalSec=0\nRateLimitBurst=0\nAudit=\nForwardToSyslog=no\nForwardToKMsg=no\nForwardToConsole=no\nForwardToWall=no\nReadKMsg=no\n' \
    >/run/systemd/journald.conf.d/leen-test.conf
tr -d '-' </proc/sys/kernel/random/uuid >/run/systemd/machine-id
mount -n --bind /run/systemd/machine-id /etc/machine-id

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

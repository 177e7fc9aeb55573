#!/usr/bin/env bash
# A real systemd as PID 1 in private namespaces, for integration tests. Nothing touches the host:
#   unshare --mount --pid --fork --uts --cgroup --mount-proc, mounts made private;
#   tmpfs on /run (units go in /run/systemd/system), a fresh cgroup2 on /sys/fs/cgroup,
#   a private copy of /etc bind-mounted over /etc, and tmpfs on /var/lib (StateDirectory=, catalog
#   database), /usr/local/bin and /usr/lib/systemd/catalog, so installing files there stays inside;
#   systemd boots into leen-test.target (DefaultDependencies=no): nothing but journald's socket starts.
#
#   scripts/systemd-namespace.sh start DIR      boot; DIR/pid holds PID 1's host PID; waits until running
#   scripts/systemd-namespace.sh exec DIR CMD…  run CMD inside (nsenter -t PID -m -p -u)
#   scripts/systemd-namespace.sh stop DIR       kill PID 1 (and with it the whole namespace)
#
# Needs root and systemd 252 or later. Exit 77 when it cannot run here (not root, no systemd).
set -euo pipefail
verb=${1:?start|exec|stop}
dir=${2:?state directory}
shift 2

SYSTEMD=""
for candidate in /lib/systemd/systemd /usr/lib/systemd/systemd; do
    [ -x "$candidate" ] && SYSTEMD=$candidate && break
done

case "$verb" in
start)
    [ "$(id -u)" -eq 0 ] || { echo "systemd-namespace: needs root" >&2; exit 77; }
    [ -n "$SYSTEMD" ] || { echo "systemd-namespace: systemd is not installed" >&2; exit 77; }
    command -v unshare nsenter >/dev/null || { echo "systemd-namespace: util-linux missing" >&2; exit 77; }
    mkdir -p "$dir"
    setsid unshare --mount --pid --fork --uts --cgroup --mount-proc --propagation private \
        "$0" boot "$dir" >"$dir/console.log" 2>&1 < /dev/null &
    unshare_pid=$!
    for _ in $(seq 1 100); do
        child=$(cat "/proc/$unshare_pid/task/$unshare_pid/children" 2>/dev/null | awk '{print $1}')
        [ -n "$child" ] && break
        sleep 0.05
    done
    [ -n "${child:-}" ] || { echo "systemd-namespace: namespace did not start" >&2; cat "$dir/console.log" >&2; exit 1; }
    echo "$child" >"$dir/pid"
    for _ in $(seq 1 200); do
        state=$(nsenter -t "$child" -m -p -u systemctl is-system-running 2>/dev/null || true)
        case "$state" in running|degraded) echo "systemd-namespace: PID 1 is host PID $child ($state)" >&2; exit 0 ;; esac
        sleep 0.05
    done
    echo "systemd-namespace: systemd did not reach running (state: ${state:-none})" >&2
    cat "$dir/console.log" >&2
    kill -9 "$child" 2>/dev/null || true
    exit 1
    ;;
boot)
    # Runs inside the new namespaces as PID 1's parent shell, then becomes systemd.
    mount --make-rprivate /
    mount -t tmpfs -o mode=0755 tmpfs /run
    mkdir -p /run/systemd/system /run/lock
    mount -t cgroup2 none /sys/fs/cgroup
    # A private copy of /etc, so files installed under /etc (and systemd's own writes) stay in here.
    mkdir -p /run/leen-etc
    cp -a /etc/. /run/leen-etc/
    mount --bind /run/leen-etc /etc
    mkdir -p /etc/leen-healthd
    for path in /var/lib /usr/local/bin /usr/lib/systemd/catalog; do
        mount -t tmpfs -o mode=0755 tmpfs "$path"
    done
    cat >/run/systemd/system/leen-test.target <<UNIT
[Unit]
Description=leen-healthd integration test target
DefaultDependencies=no
Requires=systemd-journald.socket
After=systemd-journald.socket
AllowIsolate=yes
UNIT
    hostname leen-test
    # systemd (PID 1) expects shared propagation: it sets up credentials, PrivateTmp= and the like in a
    # child mount namespace and relies on propagation to make them visible. Our mounts stopped being
    # peers of the host's at unshare time, so sharing here creates peer groups inside this namespace only.
    mount --make-rshared /
    exec "$SYSTEMD" --system --unit=leen-test.target --log-target=journal --log-level=notice
    ;;
exec)
    pid=$(cat "$dir/pid")
    exec nsenter -t "$pid" -m -p -u "$@"
    ;;
stop)
    pid=$(cat "$dir/pid" 2>/dev/null || true)
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
    ;;
*)
    echo "usage: $0 start|exec|stop DIR [CMD…]" >&2
    exit 2
    ;;
esac

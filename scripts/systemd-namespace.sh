#!/usr/bin/env bash
# A real systemd as PID 1 in private namespaces, for integration tests. The tests start units with their
# default dependencies (the shipped leen-healthd.service pulls in sysinit.target and network-online.target),
# so the namespace is built so that nothing started in it changes the host.
#
# Private to the namespace (unshare --mount --pid --fork --uts --ipc --net --cgroup --mount-proc):
#   - mounts: every mount below is made in a private mount namespace and never propagates to the host;
#   - /run (tmpfs; units go in /run/systemd/system), /tmp and /var/tmp (tmpfs: tmpfiles cleaning, PrivateTmp=),
#     /var/lib (StateDirectory=), /var/cache, /var/log (the journal is volatile anyway), /usr/local/bin and
#     /usr/lib/systemd/catalog (tmpfs), and /etc (a private copy bind-mounted over the host's) with its own
#     /etc/machine-id, so journal entries, credentials and sysusers never mix with the host's;
#   - /dev: a tmpfs with null, zero, full, random, urandom, tty, a new devpts instance and its own /dev/shm;
#     no block devices, no /dev/kmsg, no /dev/console (PID 1's status output goes nowhere);
#   - PIDs, hostname (leen-test), System V IPC and POSIX message queues, network (only a loopback, brought
#     up by PID 1: ports cannot collide with the host's and nothing reaches the host's network);
#   - cgroups: a cgroup of its own (leen-namespace-PID below the caller's in the cgroup2 hierarchy), which
#     `stop` removes; PID 1 sees it as its root.
# Still the host's, and why that is safe:
#   - the kernel: /proc/sys, /proc/sysrq-trigger and /sys are mounted read-only in here, so neither sysinit
#     units nor PID 1 itself (which raises fs.file-max and net.unix.max_dgram_qlen at boot) can change kernel
#     settings; the capability bounding set lacks CAP_SYS_MODULE, CAP_SYS_TIME, CAP_SYS_RAWIO, CAP_SYSLOG,
#     CAP_AUDIT_CONTROL and the like, so no module loads, clock changes or audit changes either; binfmt_misc
#     handlers could only be registered by systemd-binfmt and its automount, which are masked;
#   - the rest of the file system (/usr, /home, /srv, /var outside the tmpfs above …): PID 1 and the units
#     allowed to run write only the private paths above; the test's own units must do the same;
#   - DIR: bind-mounted at the same path inside, so tests can stage files there.
# systemd runs as in a container (container=leen-test), with all generators and every unit it ships masked
# (/dev/null symlinks in the private /etc/systemd/system) except targets, slices and journald's service and
# sockets: starting a unit with DefaultDependencies=yes reaches sysinit.target, but none of sysinit's services
# (tmpfiles, sysctl, binfmt, modules-load, journal-flush, update-utmp, udev, random-seed, timesyncd …) runs.
# journald keeps the journal in /run (Storage=volatile) and leaves the kernel's audit setting alone (Audit=).
# systemd boots into leen-test.target (DefaultDependencies=no): nothing but journald and its sockets start.
#
#   scripts/systemd-namespace.sh start DIR      boot; DIR/pid holds PID 1's host PID; waits until running
#   scripts/systemd-namespace.sh exec DIR CMD…  run CMD inside (nsenter -t PID -m -p -u -i -n)
#   scripts/systemd-namespace.sh stop DIR       kill PID 1 (and with it the whole namespace), remove its cgroup
#
# Needs root and systemd 252 or later. Exit 77 when it cannot run here (not root, no systemd).
# Every mount(8) call has -n: without it, libmount creates /run/mount for its utab on the host's /run.
set -euo pipefail
verb=${1:?start|exec|stop}
dir=${2:?state directory}
shift 2

SYSTEMD=""
for candidate in /lib/systemd/systemd /usr/lib/systemd/systemd; do
    [ -x "$candidate" ] && SYSTEMD=$candidate && break
done

# Not even root in the namespace may load kernel modules, set the clock, do raw device I/O, read or clear the
# kernel log, change the audit settings or load security policies.
dropped_caps=-sys_module,-sys_time,-sys_rawio,-sys_pacct,-syslog,-audit_control,-audit_read,-mac_admin,-mac_override,-wake_alarm,-block_suspend

# Units that may run in the namespace besides the ones the tests install (leen-*). Everything else shipped
# under the unit directories is masked.
keep_unit() {
    case "$1" in
    *.target | *.slice | leen-*) return 0 ;;
    systemd-journald.service | systemd-journald.socket | systemd-journald-dev-log.socket) return 0 ;;
    *) return 1 ;;
    esac
}

case "$verb" in
start)
    [ "$(id -u)" -eq 0 ] || { echo "systemd-namespace: needs root" >&2; exit 77; }
    [ -n "$SYSTEMD" ] || { echo "systemd-namespace: systemd is not installed" >&2; exit 77; }
    command -v unshare nsenter setpriv >/dev/null || { echo "systemd-namespace: util-linux missing" >&2; exit 77; }
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    rm -f "$dir/pid" "$dir/cgroup"
    # `enter` makes the cgroup, then execs unshare for the namespaces: $! ends up as PID 1's parent.
    setsid unshare --mount --propagation private "$0" enter "$dir" >"$dir/console.log" 2>&1 </dev/null &
    unshare_pid=$!
    # DIR/cgroup is written just before the exec: from then on, the only child is PID 1.
    for _ in $(seq 1 200); do
        [ -s "$dir/cgroup" ] && child=$(cat "/proc/$unshare_pid/task/$unshare_pid/children" 2>/dev/null | awk '{print $1}')
        [ -n "${child:-}" ] && break
        sleep 0.05
    done
    [ -n "${child:-}" ] || { echo "systemd-namespace: namespace did not start" >&2; cat "$dir/console.log" >&2; exit 1; }
    echo "$child" >"$dir/pid"
    for _ in $(seq 1 300); do
        state=$(nsenter -t "$child" -m -p -u systemctl is-system-running 2>/dev/null || true)
        case "$state" in running|degraded) echo "systemd-namespace: PID 1 is host PID $child ($state)" >&2; exit 0 ;; esac
        sleep 0.05
    done
    echo "systemd-namespace: systemd did not reach running (state: ${state:-none})" >&2
    cat "$dir/console.log" >&2
    "$0" stop "$dir"
    exit 1
    ;;
enter)
    # In a private mount namespace of its own: a cgroup for the namespace below ours, so that what PID 1
    # creates there can be found and removed by `stop` (and never lands next to the caller's processes).
    mount -n -t cgroup2 none /sys/fs/cgroup
    cgroup="$(sed -n 's/^0:://p' /proc/self/cgroup)"
    cgroup="${cgroup%/}/leen-namespace-$$"
    mkdir "/sys/fs/cgroup$cgroup"
    echo $$ >"/sys/fs/cgroup$cgroup/cgroup.procs"
    umount -n /sys/fs/cgroup
    echo "$cgroup" >"$dir/cgroup"
    exec unshare --mount --pid --fork --uts --ipc --net --cgroup --mount-proc --propagation private \
        "$0" boot "$dir"
    ;;
boot)
    # Runs inside the new namespaces as PID 1's parent shell, then becomes systemd.
    mount -n --make-rprivate /
    # DIR may be under a path hidden below (/tmp): keep a handle to bind it back afterwards.
    exec {dirfd}<"$dir"
    mount -n -t tmpfs -o mode=0755 tmpfs /run
    mkdir -p /run/systemd/system /run/lock
    mount -n -t cgroup2 none /sys/fs/cgroup
    # A private copy of /etc, so files installed under /etc (and systemd's own writes) stay in here.
    mkdir -p /run/leen-etc
    cp -a /etc/. /run/leen-etc/
    mount -n --bind /run/leen-etc /etc
    mkdir -p /etc/leen-healthd
    # A machine id of its own: the journal and anything keyed on it never mix with the host's.
    tr -d '-' </proc/sys/kernel/random/uuid >/etc/machine-id
    for path in /tmp /var/tmp; do
        mount -n -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$path"
    done
    for path in /var/lib /var/cache /var/log /usr/local/bin /usr/lib/systemd/catalog; do
        mount -n -t tmpfs -o mode=0755 tmpfs "$path"
    done
    # /dev: only the basic character devices, a pty instance and shared memory of its own.
    mount -n -t tmpfs -o mode=0755,nosuid tmpfs /dev
    mknod -m 666 /dev/null c 1 3
    mknod -m 666 /dev/zero c 1 5
    mknod -m 666 /dev/full c 1 7
    mknod -m 666 /dev/random c 1 8
    mknod -m 666 /dev/urandom c 1 9
    mknod -m 666 /dev/tty c 5 0
    mkdir /dev/pts /dev/shm
    mount -n -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts
    ln -s pts/ptmx /dev/ptmx
    mount -n -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
    ln -s /proc/self/fd /dev/fd
    ln -s /proc/self/fd/0 /dev/stdin
    ln -s /proc/self/fd/1 /dev/stdout
    ln -s /proc/self/fd/2 /dev/stderr
    # Kernel settings are read-only in here. "remount,bind" changes this mount only: a plain remount would
    # change the file system's flags for the host too.
    for path in /proc/sys /proc/sysrq-trigger; do
        [ -e "$path" ] || continue
        mount -n --bind "$path" "$path"
        mount -n -o remount,bind,ro "$path"
    done
    mount -n -o remount,bind,ro /sys
    mkdir -p "$dir"
    mount -n --bind --no-canonicalize "/proc/self/fd/$dirfd" "$dir"
    exec {dirfd}<&-

    # journald: a volatile journal, no kernel log, and the kernel's audit setting left as it is (Debian's
    # default, Audit=no, would turn auditing off for the whole host).
    rm -rf /etc/systemd/journald.conf.d
    mkdir -p /etc/systemd/journald.conf.d
    printf '[Journal]\nStorage=volatile\nAudit=\nReadKMsg=no\nForwardToSyslog=no\nForwardToKMsg=no\nForwardToConsole=no\nForwardToWall=no\n' \
        >/etc/systemd/journald.conf.d/zz-leen-test.conf
    # No generators (fstab, gpt-auto, sysv, getty …): their units would mount, fsck or swap host devices.
    rm -rf /etc/systemd/system-generators
    mkdir -p /etc/systemd/system-generators
    for generator in /lib/systemd/system-generators/* /usr/lib/systemd/system-generators/* \
        /usr/local/lib/systemd/system-generators/*; do
        [ -e "$generator" ] && ln -sfn /dev/null "/etc/systemd/system-generators/${generator##*/}"
    done
    # Mask every unit systemd would otherwise find, except keep_unit's: /etc beats /run and /usr/lib, so
    # the masks win over the host's own units and drop-ins; the tests' units in /run/systemd/system stay.
    declare -A masked=()
    for unit in /etc/systemd/system/* /lib/systemd/system/* /usr/lib/systemd/system/* \
        /usr/local/lib/systemd/system/*; do
        name=${unit##*/}
        case "$name" in
        *.service | *.socket | *.mount | *.automount | *.swap | *.path | *.timer) ;;
        *) continue ;;
        esac
        keep_unit "$name" && continue
        [ -n "${masked[$name]:-}" ] && continue
        masked[$name]=1
        ln -sfn /dev/null "/etc/systemd/system/$name"
    done

    cat >/run/systemd/system/leen-test.target <<UNIT
[Unit]
Description=leen-healthd integration test target
DefaultDependencies=no
Requires=systemd-journald.socket
After=systemd-journald.socket
AllowIsolate=yes
UNIT
    # PID 1 sets the hostname from /etc/hostname: the host's name would label the namespace's journal.
    echo leen-test >/etc/hostname
    hostname leen-test
    # systemd (PID 1) expects shared propagation: it sets up credentials, PrivateTmp= and the like in a
    # child mount namespace and relies on propagation to make them visible. Our mounts stopped being
    # peers of the host's at unshare time, so sharing here creates peer groups inside this namespace only.
    mount -n --make-rshared /
    # Capabilities that act on the host's kernel or hardware leave the bounding set, for PID 1 and all it starts.
    exec setpriv --bounding-set "$dropped_caps" env -i container=leen-test "$SYSTEMD" --system \
        --unit=leen-test.target --log-target=journal --log-level=notice --show-status=no
    ;;
exec)
    pid=$(cat "$dir/pid")
    exec nsenter -t "$pid" -m -p -u -i -n "$@"
    ;;
stop)
    pid=$(cat "$dir/pid" 2>/dev/null || true)
    cgroup=$(cat "$dir/cgroup" 2>/dev/null || true)
    # Only a PID that is still in the namespace's cgroup: a stale DIR/pid may name another process by now.
    if [ -n "$pid" ] && [ -n "$cgroup" ]; then
        case "$(grep '^0::' "/proc/$pid/cgroup" 2>/dev/null)" in
        "0::$cgroup" | "0::$cgroup"/*) kill -9 "$pid" 2>/dev/null || true ;;
        esac
    fi
    case "$cgroup" in
    */leen-namespace-*) unshare --mount --propagation private "$0" remove-cgroup "$dir" "$cgroup" ;;
    esac
    rm -f "$dir/pid" "$dir/cgroup"
    ;;
remove-cgroup)
    # In a private mount namespace: wait until the namespace's processes are gone, then remove its cgroups.
    cgroup=${1:?cgroup}
    mount -n -t cgroup2 none /sys/fs/cgroup
    path="/sys/fs/cgroup$cgroup"
    [ -d "$path" ] || exit 0
    for _ in $(seq 1 200); do
        grep -qx 'populated 0' "$path/cgroup.events" && break
        sleep 0.05
    done
    find "$path" -depth -type d -exec rmdir {} + 2>/dev/null || true
    [ ! -d "$path" ] || { echo "systemd-namespace: could not remove cgroup $cgroup" >&2; exit 1; }
    ;;
*)
    echo "usage: $0 start|exec|stop DIR [CMD…]" >&2
    exit 2
    ;;
esac

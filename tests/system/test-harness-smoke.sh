#!/bin/bash
#
# test-harness-smoke.sh — proves the container harness (container.sh) that the
# system tests use: boot, a Type=notify user service on an escaped path
# instance that serves a real FUSE mount as the test user, its log line in
# `journalctl --user`, the user bus, then a teardown that leaves nothing behind.
#
# The service stands in for pyfsd: a staged install (bin/smoke-fuse and
# lib/systemd/user/smoke@.service) bound at /opt/pyfs, exactly as the real
# system test binds `meson install --destdir` output.
#
# Exit: 0 pass, 1 fail, 77 skip (no systemd-nspawn or no /dev/fuse only).

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=container.sh
. "$here/container.sh"

container_require || exit $?


# Whether the journal of the user unit $1 has the line $2 (grep without -q:
# with pipefail, an early exit of grep would fail journalctl with SIGPIPE).
logged() {
  container_user journalctl --user -u "$1" -o cat --no-pager | grep -xF "$2" >/dev/null
}

# Processes in a child PID namespace (container leaders and their children).
namespaced_pids() {
  { grep -lE '^NSpid:[[:space:]]+[0-9]+[[:space:]]+[0-9]' /proc/[0-9]*/status 2>/dev/null || true; } |
    cut -d/ -f3 | sort -n | xargs
}

stage=$(mktemp -d "${TMPDIR:-/tmp}/pyfs-smoke-stage.XXXXXX")
record=$(mktemp "${TMPDIR:-/tmp}/pyfs-smoke-record.XXXXXX")
passes=$(mktemp "${TMPDIR:-/tmp}/pyfs-smoke-passes.XXXXXX")
finish() {
  local status=$?
  echo "$(wc -l <"$passes") passed, $((status != 0)) failed"
  rm -rf -- "$stage" "$record" "$passes"
  exit "$status"
}
trap finish EXIT

# --- the staged install -----------------------------------------------------

chmod 0755 "$stage"
mkdir -p "$stage/bin" "$stage/lib/systemd/user"
cat >"$stage/lib/systemd/user/smoke@.service" <<'EOF'
[Unit]
Description=pyfs harness smoke test on ~/%I

[Service]
Type=notify
ExecStart=/opt/pyfs/bin/smoke-fuse %h/%I
# SIGTERM to the main process only: with the default control-group mode, the
# fusermount3 -u it forks to unmount can be SIGTERMed too (seen under load).
KillMode=mixed
EOF

# A minimal FUSE server speaking the kernel protocol itself, mounted through
# fusermount3 as an unprivileged libfuse program is: INIT, GETATTR of the
# root (a 0555 directory, inode 1), ENOSYS for the rest. READY=1 comes from
# the main process once mounted (no systemd-notify race); SIGTERM unmounts.
cat >"$stage/bin/smoke-fuse" <<'EOF'
#!/usr/bin/python3
import errno, os, signal, socket, stat, struct, subprocess, sys, time

IN_HDR = struct.Struct("=IIQQIIIHH")           # struct fuse_in_header
OUT_HDR = struct.Struct("=IiQ")                # struct fuse_out_header
FUSE_FORGET, FUSE_GETATTR, FUSE_INIT, FUSE_BATCH_FORGET = 2, 3, 26, 42


def notify(state):
    addr = os.environ.get("NOTIFY_SOCKET", "")
    if addr:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.connect("\0" + addr[1:] if addr[0] == "@" else addr)
            s.send(state.encode())


def mount(mnt):
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    subprocess.run(["fusermount3", "-o", "fsname=smoke,subtype=smoke", "--", mnt],
                   env=dict(os.environ, _FUSE_COMMFD=str(theirs.fileno())),
                   pass_fds=[theirs.fileno()], check=True)
    _, fds, _, _ = socket.recv_fds(ours, 1, 1)
    if not fds:
        sys.exit("smoke-fuse: fusermount3 passed no descriptor")
    return fds[0]


def reply(fd, unique, error=0, payload=b""):
    os.write(fd, OUT_HDR.pack(OUT_HDR.size + len(payload), -error, unique) + payload)


def serve(fd):
    now = int(time.time())
    while True:
        try:
            req = os.read(fd, 1 << 20)
        except OSError as e:
            if e.errno == errno.ENODEV:            # unmounted
                return
            if e.errno == errno.ENOENT:            # request interrupted
                continue
            raise
        _, opcode, unique, nodeid, *_ = IN_HDR.unpack_from(req)
        if opcode == FUSE_INIT:
            _, minor, readahead, _ = struct.unpack_from("=IIII", req, IN_HDR.size)
            reply(fd, unique, payload=struct.pack("=IIIIHHIIHH8I", 7, min(minor, 31),
                                                  readahead, 0, 0, 0, 4096, 1, 0, 0,
                                                  *[0] * 8))
        elif opcode == FUSE_GETATTR and nodeid == 1:
            attr = struct.pack("=6Q9I4x", 1, 0, 0, now, now, now, 0, 0, 0,
                               stat.S_IFDIR | 0o555, 2, os.getuid(), os.getgid(), 0, 4096)
            reply(fd, unique, payload=struct.pack("=QII", 1, 0, 0) + attr)
        elif opcode not in (FUSE_FORGET, FUSE_BATCH_FORGET):
            reply(fd, unique, errno.ENOSYS)


def main():
    mnt = sys.argv[1]
    os.makedirs(mnt, exist_ok=True)
    fd = mount(mnt)

    def stop(signum, frame):
        notify("STOPPING=1")
        subprocess.run(["fusermount3", "-u", "-z", mnt], check=True)

    signal.signal(signal.SIGTERM, stop)
    print(f"smoke-fuse: serving {mnt}", flush=True)
    notify(f"READY=1\nSTATUS=serving {mnt}")
    serve(fd)
    print(f"smoke-fuse: unmounted {mnt}", flush=True)


main()
EOF
chmod 0755 "$stage/bin/smoke-fuse"

mkdir -p "$stage/share/dbus-1/services"
cat >"$stage/share/dbus-1/services/org.pyfs.HarnessSmoke.service" <<'EOF'
[D-BUS Service]
Name=org.pyfs.HarnessSmoke
Exec=/bin/false
EOF

# --- before -----------------------------------------------------------------

mounts_before=$(sort /proc/mounts)
nspawn_before=$(pgrep -x systemd-nspawn | xargs || true)
namespaced_before=$(namespaced_pids)
fuse_mode_before=$(stat -c %a /dev/fuse)

# --- in the container (a subshell: its EXIT trap is the teardown) ------------
# Not `( ... ) || ...`: that would turn set -e off inside. A failing subshell
# fails this script through set -e.

(
  start=$(_container_now)
  container_boot "$stage"
  echo "$CONTAINER_NAME $CONTAINER_WORKDIR" >"$record"
  ok "booted $CONTAINER_NAME and the user manager of $CONTAINER_USER in ${CONTAINER_BOOT_SECONDS}s"

  instance=$(container_user systemd-escape --path /fuse-test/mountpoint)
  [[ $instance == 'fuse\x2dtest-mountpoint' ]] || fail "systemd-escape gave '$instance'"
  unit="smoke@$instance.service"
  mnt=$CONTAINER_HOME/fuse-test/mountpoint

  # Debian's /etc/xdg/systemd/user is a symlink to /etc/systemd/user, and
  # comes first in the user manager's search path.
  fragment=$(container_user systemctl --user show -P FragmentPath "$unit")
  [[ $(container_run realpath "$fragment") == /etc/systemd/user/smoke@.service ]] ||
    fail "the staged unit is not the one loaded ($fragment)"
  ok "the staged unit is found by systemctl --user"

  container_user systemctl --user start "$unit" || fail "systemctl --user start $unit"
  [[ $(container_user systemctl --user is-active "$unit") == active ]] ||
    fail "$unit is not active"
  status=$(container_user systemctl --user show -P StatusText "$unit")
  [[ $status == "serving $mnt" ]] || fail "STATUS= is '$status'"
  ok "Type=notify $unit is active: $status"

  fstype=$(container_run findmnt -n -o FSTYPE --mountpoint "$mnt") ||
    fail "nothing mounted on $mnt"
  [[ $fstype == fuse.smoke ]] || fail "$mnt is $fstype, not fuse.smoke"
  attrs=$(container_user stat -c '%a %U %i' "$mnt")
  [[ $attrs == "555 $CONTAINER_USER 1" ]] || fail "stat of the mount gave '$attrs'"
  container_user sh -c 'exec 3<>/dev/fuse' || fail "$CONTAINER_USER cannot open /dev/fuse"
  ok "FUSE mount served as $CONTAINER_USER at ~/fuse-test/mountpoint ($attrs)"

  eventually 30 logged "$unit" "smoke-fuse: serving $mnt" ||
    fail "journalctl --user -u $unit lacks the service's log line"
  user_journal=$(find "$CONTAINER_JOURNAL_DIR" -name "user-$CONTAINER_UID.journal")
  [[ -n $user_journal ]] || fail "no user-$CONTAINER_UID.journal in the journal directory"
  ok "journalctl --user -u $unit shows its log line"

  names=$(container_user busctl --user list --no-legend --acquired)
  grep -q '^org\.freedesktop\.DBus ' <<<"$names" || fail "busctl --user list: $names"
  activatable=$(container_user busctl --user list --no-legend --activatable)
  grep -q '^org\.pyfs\.HarnessSmoke ' <<<"$activatable" ||
    fail "the staged D-Bus service is not activatable: $activatable"
  ok "busctl --user list works and lists the staged D-Bus service"

  container_user systemctl --user stop "$unit" || fail "systemctl --user stop $unit"
  ! container_run findmnt --mountpoint "$mnt" >/dev/null || fail "$mnt still mounted after stop"
  eventually 30 logged "$unit" "smoke-fuse: unmounted $mnt" || fail "no unmount log line"
  [[ $(container_user systemctl --user show -P Result "$unit") == success ]] ||
    fail "$unit did not stop cleanly"
  ok "stop unmounts and the service exits cleanly"

  start_teardown=$(_container_now)
  container_teardown
  echo "boot+teardown: $(_container_since "$start")s" \
    "(teardown $(_container_since "$start_teardown")s)"
)

read -r name workdir <"$record"

# --- after: nothing left behind ---------------------------------------------

[[ $(pgrep -x systemd-nspawn | xargs || true) == "$nspawn_before" ]] ||
  fail "a systemd-nspawn process is left: $(pgrep -ax systemd-nspawn)"
[[ $(namespaced_pids) == "$namespaced_before" ]] ||
  fail "processes left in a container PID namespace: $(namespaced_pids)"
[[ $(sort /proc/mounts) == "$mounts_before" ]] ||
  fail "mounts changed: $(diff <(echo "$mounts_before") <(sort /proc/mounts))"
[[ ! -e $workdir ]] || fail "$workdir left behind"
[[ ! -e /run/systemd/nspawn/propagate/$name ]] || fail "nspawn propagate dir left behind"
[[ $(stat -c %a /dev/fuse) == "$fuse_mode_before" ]] || fail "the host's /dev/fuse mode changed"
! getent passwd "$CONTAINER_USER" >/dev/null || fail "$CONTAINER_USER leaked into the host's /etc"
ok "teardown left no process, mount, machine or file behind"

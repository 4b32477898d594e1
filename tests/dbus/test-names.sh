#!/bin/bash
#
# test-names.sh — several instances on one bus: each owns org.pyfs.<label>
# (inside HOME: the relative path, escaped; outside: the absolute path,
# escaped), they act on their own lists only, and org.pyfs belongs to the
# oldest and passes down the queue when it exits, cleanly or not.
#
# Exit: 0 pass, 1 fail, 77 skip (no /dev/fuse or a missing tool only).

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

require sha256sum
start_bus

a_mnt=$HOME/a
b_mnt=$HOME/fuse-test/1mnt
c_mnt=$TMP/outside/mnt
a_dest=org.pyfs.a
b_dest=org.pyfs.fuse_2dtest_2f1mnt
c_dest=org.pyfs.$(abs_label "$c_mnt")

start_pyfsd A "$a_mnt"
start_pyfsd B "$b_mnt" -m json
start_pyfsd C "$c_mnt" -m sys

owned_by "$a_dest" "${pid[A]}" || fail "$a_dest is not A's"
owned_by "$b_dest" "${pid[B]}" || fail "$b_dest is not B's"
owned_by "$c_dest" "${pid[C]}" || fail "$c_dest is not C's"
ok "labels: a, fuse_2dtest_2f1mnt (HOME-relative), $(abs_label "$c_mnt") (absolute)"

owned_by org.pyfs "${pid[A]}" || fail "org.pyfs is not the oldest instance's"
busctl --user call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
  ListQueuedOwners s org.pyfs >"$TMP/queue"
read -r _ count _ <"$TMP/queue"
[[ $count == 3 ]] || fail "org.pyfs queue: $(cat "$TMP/queue")"
grep -q "org.pyfs belongs to an older instance; queued" "${log[B]}" || fail "B did not say it queued"
ok "org.pyfs is the oldest instance's, the others queue for it"

busctl --user call "$b_dest" "$OBJ" "$IFACE" AddModule s re
[[ $(lib_entries "$b_mnt") == "json re" ]] || fail "B after AddModule re"
[[ $(lib_entries "$a_mnt") == "json os sys" ]] || fail "AddModule on B changed A"
[[ $(lib_entries "$c_mnt") == "sys" ]] || fail "AddModule on B changed C"
[[ $(list_modules org.pyfs) == "json os sys" ]] || fail "org.pyfs does not reach A"
ok "each instance acts on its own list"

# Clean exit: ReleaseName hands org.pyfs to the next in the queue.
stop_pyfsd "${pid[A]}" "$a_mnt"
eventually 10 owned_by org.pyfs "${pid[B]}" || fail "org.pyfs did not pass to B"
[[ $(busctl --user get-property org.pyfs "$OBJ" "$IFACE" Mountpoint) == "s \"$b_mnt\"" ]] ||
  fail "org.pyfs does not answer as B"
[[ $(list_modules org.pyfs) == "json re" ]] || fail "org.pyfs does not list B's modules"
eventually 10 grep -q "Now owning org.pyfs" "${log[B]}" || fail "B did not log the take-over"
ok "A stops: org.pyfs passes to B, which answers on it"

# A crash: the bus notices the closed connection.
kill -KILL "${pid[B]}"
eventually 10 owned_by org.pyfs "${pid[C]}" || fail "org.pyfs did not pass to C"
[[ $(list_modules org.pyfs) == "sys" ]] || fail "org.pyfs does not list C's modules"
[[ -z $(name_pid "$b_dest") ]] || fail "$b_dest outlived B"
ok "B is killed: org.pyfs passes to C"

# Readiness: without -f, pyfsd returns once it is ready, and it is ready
# only once its names are owned: no polling here.
e_mnt=$HOME/detached
mkdir -p "$e_mnt"
mounts+=("$e_mnt")
"$PYFSD" "$e_mnt" >"$TMP/detached.out" 2>&1 || fail "pyfsd $e_mnt failed: $(cat "$TMP/detached.out")"
e_pid=$(name_pid org.pyfs.detached)
[[ -n $e_pid ]] || fail "org.pyfs.detached is not owned when pyfsd returns"
pids+=("$e_pid")
[[ $(list_modules org.pyfs.detached) == "json os sys" ]] || fail "the detached instance does not answer"
in_queue org.pyfs "$(unique_name org.pyfs.detached)" ||
  fail "the detached instance is not queued for org.pyfs"
kill -TERM "$e_pid"
eventually 30 gone "$e_pid" || fail "the detached pyfsd did not exit on SIGTERM"
eventually 10 unmounted "$e_mnt" || fail "$e_mnt is still mounted"
ok "without -f, pyfsd returns only once its names are owned and queued for"

# A label too long for a bus name: cut, then "_x" and 16 hex digits of the path's SHA-256.
long=$(printf 'a%.0s' {1..250})
hash=$(printf '%s' "$long" | sha256sum)
d_dest=org.pyfs.${long:0:228}_x${hash:0:16}
start_pyfsd D "$HOME/$long"
owned_by "$d_dest" "${pid[D]}" || fail "$d_dest is not D's"
stop_pyfsd "${pid[D]}" "$HOME/$long"
ok "a label too long for a bus name is cut and hashed"

stop_pyfsd "${pid[C]}" "$c_mnt"
[[ -z $(name_pid org.pyfs) ]] || fail "org.pyfs is still owned"
check_log "${log[A]}"
check_log "${log[B]}"
check_log "${log[C]}"
check_log "${log[D]}"
ok "the last one stops: org.pyfs is gone; no unexpected warning"

echo "$passed passed"

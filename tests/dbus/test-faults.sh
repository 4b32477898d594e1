#!/bin/bash
#
# test-faults.sh — SIGKILL in the middle of a D-Bus change: SetModules and
# AddModule killed while they import. The caller gets an error, and pyfsd
# restarted on the same mountpoint (it clears the stale mount itself) and
# the same state directory serves the list committed before, over D-Bus and
# in run/modules: nothing of the killed call, not even the names that had
# imported.
#
# pyfs_slowimport (tests/fs/pymodules) says when its import has begun, then
# blocks: that is how the kill lands inside the call.
#
# Exit: 0 pass, 1 fail, 77 skip (no /dev/fuse or a missing tool only).

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

require pgrep

fixtures=$(cd "$here/../fs/pymodules" && pwd) || fail "no fixture directory beside $here"
[[ -f $fixtures/pyfs_slowimport.py ]] || fail "pyfs_slowimport.py is not in $fixtures"
export PYTHONPATH=$fixtures PYTHONDONTWRITEBYTECODE=1
# The fixture touches this file when its import begins.
export PYFS_TEST_IMPORT_STARTED=$TMP/import-started
unset PYFS_TEST_IMPORT_GATE

start_bus

mnt=$HOME/mnt
dest=org.pyfs.mnt
state=$XDG_STATE_HOME/pyfs/mnt.modules

saved() {
  grep -v '^#' "$state" | paste -sd ' '
}
mounts_on() {
  grep -cF " $1 " /proc/self/mountinfo || true
}
stale() {
  [[ $(stat -f "$1" 2>&1) == *"Transport endpoint is not connected"* ]]
}
all_gone() {
  local p
  for p; do
    gone "$p" || return 1
  done
}
descendants() {
  local p
  for p in $(pgrep -P "$1" || true); do
    echo "$p"
    descendants "$p"
  done
}
# Takes $1 out of the cleanup's list once it is reaped: its number may be
# reused by then.
forget_pid() {
  local i keep=()
  for i in "${pids[@]}"; do
    [[ $i == "$1" ]] || keep+=("$i")
  done
  pids=("${keep[@]}")
}
# Takes one $1 out of the mounts to release: start_pyfsd adds it again.
forget_mount() {
  local i
  for i in "${!mounts[@]}"; do
    if [[ ${mounts[i]} == "$1" ]]; then
      unset 'mounts[i]'
      break
    fi
  done
  mounts=("${mounts[@]}")
}

start_pyfsd A "$mnt"
# The default list is saved once it changes: a change, then json os sys.
busctl --user call "$dest" "$OBJ" "$IFACE" ClearModules
busctl --user call "$dest" "$OBJ" "$IFACE" SetModules as 3 json os sys
[[ $(saved) == "json os sys" ]] || fail "json os sys was not saved: $(cat "$state")"
ok "committed json os sys, saved in $state"

# kill_during ID NEXT STALE METHOD ARGS: calls METHOD (gdbus-style ARGS)
# on instance ID, SIGKILLs it while the call imports pyfs_slowimport, and
# starts instance NEXT on the same mountpoint once the processes of ID are
# gone. STALE=stale: fusermount3's auto_unmount helper is stopped and
# killed too, as a crash of both would, so that a stale mount awaits NEXT;
# otherwise the helper has released the mount, or left it stale (it does
# when its check of the mount fails with ECONNABORTED rather than
# ENOTCONN): NEXT copes either way.
kill_during() {
  local id=$1 next=$2 how=$3 method=$4 args=$5 daemon call status out where
  local -a helpers=() others=()
  daemon=${pid[$id]}
  rm -f "$PYFS_TEST_IMPORT_STARTED"
  gdbus call --session -d "$dest" -o "$OBJ" -m "$IFACE.$method" "$args" >"$TMP/call.out" 2>&1 &
  call=$!
  pids+=("$call")
  eventually 30 test -e "$PYFS_TEST_IMPORT_STARTED" ||
    fail "$method: the import of pyfs_slowimport did not begin: $(cat "$TMP/call.out")"
  [[ $(saved) == "json os sys" ]] || fail "$method: saved before its imports ended: $(saved)"
  ok "$method $args: importing pyfs_slowimport, nothing saved yet"

  if [[ $how == stale ]]; then
    mapfile -t helpers < <(pgrep -P "$daemon" -x fusermount3 || true)
    ((${#helpers[@]} > 0)) || fail "no fusermount3 (auto_unmount) under pyfsd $daemon"
    pids+=("${helpers[@]}")
    kill -STOP "${helpers[@]}"
  fi
  mapfile -t others < <(descendants "$daemon" | grep -vxF -f <(printf '%s\n' "${helpers[@]}" 0))
  kill -KILL "$daemon"
  eventually 10 gone "$daemon" || fail "pyfsd $daemon outlived SIGKILL"
  status=0
  wait "$daemon" || status=$?
  [[ $status == 137 ]] || fail "pyfsd $daemon: exit status $status after SIGKILL"
  forget_pid "$daemon"

  eventually 30 gone "$call" || fail "$method: the caller still waits after pyfsd was killed"
  status=0
  wait "$call" || status=$?
  forget_pid "$call"
  out=$(cat "$TMP/call.out")
  ((status != 0)) || fail "$method succeeded although pyfsd was killed in it: $out"
  [[ $out =~ org\.freedesktop\.DBus\.Error\.(NoReply|Disconnected) ]] ||
    fail "$method: expected NoReply or Disconnected, got: $out"
  ok "$method: the caller gets ${BASH_REMATCH[0]}"

  if [[ $how == stale ]]; then
    eventually 10 stale "$mnt" || fail "no stale mount on $mnt: $(stat -f "$mnt" 2>&1)"
    kill -KILL "${helpers[@]}"
  fi
  eventually 30 all_gone "${others[@]}" "${helpers[@]}" ||
    fail "pyfsd's processes outlived it: $(ps -o pid=,args= -p "${others[*]} ${helpers[*]}" || true)"
  for out in "${helpers[@]}"; do
    forget_pid "$out"
  done
  [[ $(saved) == "json os sys" ]] || fail "$method: the saved list changed: $(saved)"
  ok "$method: pyfsd killed${helpers[*]:+ with its auto_unmount helper (a stale mount)}, its processes gone, the saved list intact"

  forget_mount "$mnt"
  start_pyfsd "$next" "$mnt"
  grep -qF "Restoring the module list saved in $state" "${log[$next]}" ||
    fail "$next did not restore $state"
  if [[ $how == stale ]]; then
    grep -qF "Unmounting a stale mount on $mnt left by an earlier instance" "${log[$next]}" ||
      fail "$next did not say it released the stale mount"
  fi
  [[ $(mounts_on "$mnt") == 1 ]] || fail "$(mounts_on "$mnt") mounts on $mnt"
  [[ $(list_modules "$dest") == "json os sys" ]] || fail "$method: ListModules is $(list_modules "$dest")"
  [[ $(modules_file "$mnt") == "json os sys" ]] || fail "$method: run/modules is $(modules_file "$mnt")"
  [[ $(lib_entries "$mnt") == "json os sys" ]] || fail "$method: ls lib is $(lib_entries "$mnt")"
  [[ $(saved) == "json os sys" ]] || fail "$method: the saved list is $(saved)"
  if [[ $how == stale ]]; then where="the stale mount it released"; else where="the same mountpoint"; fi
  ok "$method: restarted on $where: ListModules, run/modules and lib/ are json os sys"
}

# csv imports first: all-or-nothing means it is not kept either.
kill_during A B stale SetModules "['csv', 'pyfs_slowimport']"
kill_during B C fresh AddModule "'pyfs_slowimport'"

# The instance serves on, and changes stick again.
busctl --user call "$dest" "$OBJ" "$IFACE" AddModule s csv
[[ $(list_modules "$dest") == "json os sys csv" && $(saved) == "json os sys csv" ]] ||
  fail "AddModule csv after the restarts: $(list_modules "$dest"), saved $(saved)"
ok "after the restarts AddModule csv is served and saved"

# A list that cannot be saved: refused with org.pyfs.Error.StateFailed, the
# reason in the message, nothing changed; a writer of run/modules gets the
# errno. Root writes through any mode: a read-only bind mount then.
state_dir=$XDG_STATE_HOME/pyfs
if [[ $(id -u) == 0 ]]; then
  mount --bind "$state_dir" "$state_dir" && binds+=("$state_dir")
  mount -o remount,bind,ro "$state_dir"
  refusal="Read-only file system"
else
  chmod 0555 "$state_dir"
  refusal="Permission denied"
fi
expect_error org.pyfs.Error.StateFailed "$dest" AddModule "'textwrap'"
[[ $error_text == *"Cannot save the module list, so it stays as it was"*"$refusal"* ]] ||
  fail "StateFailed does not say why: $error_text"
expect_error org.pyfs.Error.StateFailed "$dest" SetModules "['json']"
expect_error org.pyfs.Error.StateFailed "$dest" ClearModules
[[ $(list_modules "$dest") == "json os sys csv" && $(saved) == "json os sys csv" ]] ||
  fail "a refused change changed the list: $(list_modules "$dest"), saved $(saved)"
if out=$(bash -c "echo textwrap >> '$mnt/run/modules'" 2>&1); then
  fail "the append succeeded with an unsaveable list"
fi
[[ $out == *"$refusal"* ]] || fail "the append: '$out'"
if [[ $(id -u) == 0 ]]; then
  umount "$state_dir" && binds=()
else
  chmod 0700 "$state_dir"
fi
busctl --user call "$dest" "$OBJ" "$IFACE" AddModule s textwrap
[[ $(saved) == "json os sys csv textwrap" ]] || fail "saved again: $(saved)"
ok "an unsaveable list: org.pyfs.Error.StateFailed ($refusal), nothing changed; saved again once writable"

# An import that does not end: the call fails after --timeout, the rest serves.
start_pyfsd D "$HOME/mnt2" -t 1 -m json
expect_error org.pyfs.Error.TimedOut org.pyfs.mnt2 AddModule "'pyfs_spinimport'"
[[ $error_text == *"The import of pyfs_spinimport did not finish within 1 s"* ]] ||
  fail "TimedOut does not say what timed out: $error_text"
[[ $(list_modules org.pyfs.mnt2) == json ]] || fail "the list changed: $(list_modules org.pyfs.mnt2)"
busctl --user call org.pyfs.mnt2 "$OBJ" "$IFACE" AddModule s csv
[[ $(list_modules org.pyfs.mnt2) == "json csv" ]] || fail "AddModule after a timeout: $(list_modules org.pyfs.mnt2)"
ok "an import that spins: org.pyfs.Error.TimedOut after 1 s, list unchanged, the next call served"
stop_pyfsd "${pid[D]}" "$HOME/mnt2"
check_log "${log[D]}" 'did not finish within 1 s|Cannot import pyfs_spinimport: TimeoutError'

stop_pyfsd "${pid[C]}" "$mnt"
check_log "${log[A]}"
check_log "${log[B]}"
check_log "${log[C]}" 'Refused (D-Bus (AddModule|SetModules|ClearModules)\(\)|a write to run/modules): Cannot save the module list'
ok "no unexpected warning in any log"

echo "$passed passed"

#!/bin/bash
#
# test-restart.sh — the session bus restarts under a running pyfsd: its
# dbus-daemon is stopped (SIGTERM, then in a second round SIGKILL) and a new
# one started at the same address. pyfsd serves the mount meanwhile, keeps a
# change made through run/modules, finishes a call that was under way, and
# once the bus is back it is on it again: both names, the object, a Modules
# property that shows what changed, calls and PropertiesChanged. It says so
# in one line each way, the attempts in between only at debug. Stopped while
# the bus is away, or while an attempt hangs on a bus that never answers, it
# exits 0 at once.
#
# Exit: 0 pass, 1 fail, 77 skip (no /dev/fuse or a missing tool only).

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

require python3

# A fixed address, so that the bus can come back where pyfsd looks for it.
# Without a guid, as systemd's user bus gives it: the new bus has another.
bus_socket=$TMP/bus.sock
bus_address=unix:path=$bus_socket

start_fixed_bus() {
  start_bus --address="$bus_address"
  export DBUS_SESSION_BUS_ADDRESS=$bus_address
}

# stop_bus SIGNAL: ends the bus and waits until it is gone.
stop_bus() {
  kill "-$1" "$bus_pid"
  eventually 10 gone "$bus_pid" || fail "dbus-daemon did not exit on SIG$1"
}

# LOG PATTERN: how many info lines (g_message) of LOG match PATTERN.
messages() {
  grep -c -- "-Message: .*$2" "$1" || true
}

# DEST LIST: whether ListModules on DEST answers LIST.
lists() {
  [[ $(list_modules "$1" 2>/dev/null) == "$2" ]]
}

# DEST LIST: whether the Modules property on DEST is LIST.
prop_is() {
  [[ $(modules_prop "$1" 2>/dev/null) == "$2" ]]
}

# Modules whose import waits for a gate, to have calls under way when the
# bus leaves: the first import of NAME creates $TMP/NAME.started, then
# blocks, without the GIL, until the FIFO $TMP/NAME.gate is opened for
# writing. Later imports (the call server's, once the name is listed) pass
# straight through.
mkdir -p "$TMP/py"
for gated in pyfs_gate_a pyfs_gate_b; do
  cat >"$TMP/py/$gated.py" <<'EOF'
import os

_base = os.path.join(os.environ["PYFS_TEST_GATES"], __name__)
try:
    os.close(os.open(_base + ".started", os.O_WRONLY | os.O_CREAT | os.O_EXCL))
except FileExistsError:
    pass
else:
    with open(_base + ".gate"):
        pass
EOF
  mkfifo "$TMP/$gated.gate"
done
export PYTHONPATH=$TMP/py PYTHONDONTWRITEBYTECODE=1 PYFS_TEST_GATES=$TMP

# start_gated NAME: AddModule NAME in the background; returns once its import began.
start_gated() {
  busctl --user call "$dest" "$OBJ" "$IFACE" AddModule s "$1" >"$TMP/$1.out" 2>&1 &
  pids+=("$!")
  eventually 10 test -e "$TMP/$1.started" || fail "AddModule $1 did not start"
}

# open_gate NAME: lets the import of NAME finish.
open_gate() {
  : >"$TMP/$1.gate"
}

mnt=$HOME/mnt
dest=org.pyfs.mnt
start_fixed_bus
start_pyfsd A "$mnt"
owned_by "$dest" "${pid[A]}" || fail "$dest is not owned by pyfsd"
owned_by org.pyfs "${pid[A]}" || fail "org.pyfs is not owned by the only instance"
ok "pyfsd serves on a bus at $bus_address"

# --- A call under way when the bus leaves ----------------------------------

start_gated pyfs_gate_a
stop_bus TERM
eventually 10 grep -q "The session bus went away" "${log[A]}" ||
  fail "pyfsd did not notice the bus leave with a call under way"
# Its answer goes to the closed connection.
open_gate pyfs_gate_a
eventually 10 grep -qx pyfs_gate_a "$mnt/run/modules" ||
  fail "the call under way did not make its change"
kill -0 "${pid[A]}" || fail "pyfsd exited"
ok "a call under way when the bus leaves makes its change while the bus is away"

# --- Rounds: the bus leaves (SIGNAL), comes back at the same address --------

expected="json os sys pyfs_gate_a"
round=0

# restart_round SIGNAL FILE-MODULE BUS-MODULE [GATED]: the bus is already
# gone when SIGNAL is "", else it is ended with SIGNAL first. GATED names a
# call under way on the old bus, let finish once on the new one.
restart_round() {
  local signal=$1 by_file=$2 by_bus=$3 gated=${4:-} lines
  round=$((round + 1))
  if [[ -n $signal ]]; then
    stop_bus "$signal"
    eventually 10 test "$(messages "${log[A]}" "The session bus went away")" == "$round" ||
      fail "round $round: pyfsd did not say the bus went away (SIG$signal)"
  fi
  [[ $(messages "${log[A]}" "The session bus went away") == "$round" ]] ||
    fail "round $round: \"went away\" is not said once per loss"
  grep -q -- "-Message: .*The session bus went away.*reconnecting" "${log[A]}" ||
    fail "round $round: pyfsd does not say it reconnects"

  # The mount answers without the bus, both ways.
  [[ $(modules_file "$mnt") == "$expected" ]] || fail "round $round: run/modules without the bus"
  [[ $(lib_entries "$mnt") == "$(sorted "$expected")" ]] || fail "round $round: ls lib without the bus"
  echo "$by_file" >>"$mnt/run/modules"
  expected+=" $by_file"
  [[ $(modules_file "$mnt") == "$expected" ]] ||
    fail "round $round: echo $by_file >> run/modules without the bus: $(modules_file "$mnt")"
  [[ -d $mnt/lib/$by_file ]] || fail "round $round: lib/$by_file is missing"
  kill -0 "${pid[A]}" || fail "round $round: pyfsd exited without the bus"
  ok "round $round: without the bus (SIG${signal:-TERM}) the mount serves; echo $by_file >> run/modules works"

  # A new bus at the same address: pyfsd finds it by itself.
  start_fixed_bus
  eventually 60 lists "$dest" "$expected" ||
    fail "round $round: ListModules on $dest after the restart: $(list_modules "$dest" 2>&1)"
  eventually 10 lists org.pyfs "$expected" ||
    fail "round $round: ListModules on org.pyfs after the restart: $(list_modules org.pyfs 2>&1)"
  owned_by "$dest" "${pid[A]}" || fail "round $round: $dest is not pyfsd's"
  owned_by org.pyfs "${pid[A]}" || fail "round $round: org.pyfs is not pyfsd's"
  [[ $(list_modules "$dest") == "$(modules_file "$mnt")" ]] ||
    fail "round $round: ListModules and run/modules differ"
  prop_is "$dest" "$expected" || fail "round $round: Modules on $dest: $(modules_prop "$dest")"
  prop_is org.pyfs "$expected" || fail "round $round: Modules on org.pyfs"
  ok "round $round: on the new bus: both names, ListModules and Modules with $by_file"

  if [[ -n $gated ]]; then
    # Answered on the old, closed connection while the new one serves.
    open_gate "$gated"
    expected+=" $gated"
    eventually 10 prop_is "$dest" "$expected" ||
      fail "round $round: Modules after $gated finished: $(modules_prop "$dest")"
    [[ $(modules_file "$mnt") == "$expected" ]] || fail "round $round: run/modules after $gated"
    ok "round $round: a call from the old bus finishing on the new one makes its change"
  fi

  busctl --user call "$dest" "$OBJ" "$IFACE" AddModule s "$by_bus"
  expected+=" $by_bus"
  [[ $(modules_file "$mnt") == "$expected" ]] ||
    fail "round $round: run/modules after AddModule $by_bus: $(modules_file "$mnt")"
  [[ -d $mnt/lib/$by_bus ]] || fail "round $round: lib/$by_bus is missing"
  prop_is "$dest" "$expected" || fail "round $round: Modules after AddModule $by_bus"
  ok "round $round: AddModule $by_bus on the new bus shows in run/modules"

  start_monitor "$TMP/monitor.$round"
  echo "$by_file" >"$mnt/run/modules"
  expected=$by_file
  # shellcheck disable=SC2086 # one word per module
  eventually 10 saw_modules "$TMP/monitor.$round" $expected ||
    fail "round $round: no PropertiesChanged on the new bus"
  prop_is "$dest" "$expected" || fail "round $round: Modules after a write to run/modules"
  ok "round $round: a write to run/modules emits PropertiesChanged on the new bus"

  [[ $(messages "${log[A]}" "Reconnected to the session bus") == "$round" ]] ||
    fail "round $round: \"Reconnected to the session bus\" is not said once"
  lines=$(grep -- "Cannot reconnect to the session bus" "${log[A]}" | grep -v -- "-DEBUG: " || true)
  [[ -z $lines ]] || fail "round $round: failed attempts logged above debug: $lines"
  ok "round $round: the log says it reconnected, once; the attempts only at debug"
}

restart_round "" csv difflib
start_gated pyfs_gate_b
restart_round KILL colorsys shlex pyfs_gate_b

stop_pyfsd "${pid[A]}" "$mnt"
check_log "${log[A]}"
ok "SIGTERM after two restarts: exit 0, no mount left, no unexpected warning"

# --- Stopped while the bus is away ------------------------------------------

# stop_promptly ID MOUNT: SIGTERM; pyfsd must exit 0 within 5 s (it needs
# about one when the bus is there).
stop_promptly() {
  local t0 elapsed
  t0=$(now_ms)
  stop_pyfsd "${pid[$1]}" "$2"
  elapsed=$(($(now_ms) - t0))
  ((elapsed < 5000)) || fail "pyfsd $1 took $elapsed ms to stop"
  check_log "${log[$1]}"
}

start_pyfsd B "$HOME/b"
owned_by org.pyfs.b "${pid[B]}" || fail "B is not on the bus"
stop_bus KILL
eventually 10 grep -q "The session bus went away" "${log[B]}" || fail "B did not notice the bus leave"
# Past the first attempts: B waits for its next one.
eventually 10 grep -q "Cannot reconnect to the session bus" "${log[B]}" || fail "B does not try to reconnect"
stop_promptly B "$HOME/b"
ok "SIGTERM while reconnection waits: exit 0 at once, no mount left"

# A "bus" that takes connections and never answers: an attempt hangs in
# the authentication until SIGTERM cancels it.
start_fixed_bus
start_pyfsd C "$HOME/c"
owned_by org.pyfs.c "${pid[C]}" || fail "C is not on the bus"
stop_bus TERM
eventually 10 grep -q "The session bus went away" "${log[C]}" || fail "C did not notice the bus leave"
rm -f "$bus_socket"
python3 - "$bus_socket" "$TMP/mute.accepted" <<'EOF' &
import socket
import sys

server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(sys.argv[1])
server.listen(8)
held = []
while True:
    client, _ = server.accept()
    held.append(client)
    open(sys.argv[2], "w").close()
EOF
pids+=("$!")
eventually 30 test -e "$TMP/mute.accepted" || fail "C did not try the mute bus"
kill -0 "${pid[C]}" || fail "C exited"
stop_promptly C "$HOME/c"
ok "SIGTERM while an attempt hangs on a mute bus: exit 0 at once, no mount left"

echo "$passed passed"

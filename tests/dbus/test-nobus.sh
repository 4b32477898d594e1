#!/bin/bash
#
# test-nobus.sh — the session bus is optional: without one (no address, an
# address nobody listens on), or when it goes away, pyfsd serves the mount
# all the same and says once that D-Bus control is off. And with no
# DBUS_SESSION_BUS_ADDRESS but a bus at $XDG_RUNTIME_DIR/bus, it uses that.
#
# Exit: 0 pass, 1 fail, 77 skip (no /dev/fuse or a missing tool only).

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

require

# MOUNT: the mount serves both ways without D-Bus.
serves() {
  local mnt=$1
  [[ $(modules_file "$mnt") == "json os sys" ]] || fail "run/modules on $mnt"
  echo re >>"$mnt/run/modules"
  [[ $(lib_entries "$mnt") == "json os re sys" ]] || fail "ls lib on $mnt after an append"
}

# LOG: the one line that says D-Bus control is off.
said_off_once() {
  local n
  n=$(grep -c "D-Bus control is off" "$1" || true)
  [[ $n == 1 ]] || fail "$1 says \"D-Bus control is off\" $n times"
}

# No address, and nothing at $XDG_RUNTIME_DIR/bus (lib.sh's sandbox).
start_pyfsd A "$HOME/a"
serves "$HOME/a"
said_off_once "${log[A]}"
grep -q "No session bus" "${log[A]}" || fail "A does not say why"
stop_pyfsd "${pid[A]}" "$HOME/a"
check_log "${log[A]}"
ok "no session bus: the mount serves, one line says D-Bus control is off"

# An address nobody listens on.
DBUS_SESSION_BUS_ADDRESS=unix:path=$TMP/nobody-listens start_pyfsd B "$HOME/b"
serves "$HOME/b"
said_off_once "${log[B]}"
grep -q "Cannot connect to the session bus" "${log[B]}" || fail "B does not say why"
stop_pyfsd "${pid[B]}" "$HOME/b"
check_log "${log[B]}"
ok "an unreachable bus: the mount serves, one line says D-Bus control is off"

# The bus goes away under a running instance.
start_bus
start_pyfsd C "$HOME/c"
owned_by org.pyfs.c "${pid[C]}" || fail "C is not on the bus"
kill -TERM "$bus_pid"
eventually 10 grep -q "The session bus went away" "${log[C]}" || fail "C did not notice the bus leave"
kill -0 "${pid[C]}" || fail "C exited with the bus"
serves "$HOME/c"
said_off_once "${log[C]}"
stop_pyfsd "${pid[C]}" "$HOME/c"
check_log "${log[C]}"
ok "the bus goes away: pyfsd lives on, serves, and says so once"

# No address, but a bus at $XDG_RUNTIME_DIR/bus, as systemd's user manager provides.
start_bus --address="unix:path=$XDG_RUNTIME_DIR/bus"
xdg_address=$DBUS_SESSION_BUS_ADDRESS
unset DBUS_SESSION_BUS_ADDRESS
start_pyfsd D "$HOME/d"
DBUS_SESSION_BUS_ADDRESS=$xdg_address owned_by org.pyfs.d "${pid[D]}" ||
  fail "D is not on the bus at \$XDG_RUNTIME_DIR/bus"
! grep -q "D-Bus control is off" "${log[D]}" || fail "D says D-Bus control is off"
stop_pyfsd "${pid[D]}" "$HOME/d"
check_log "${log[D]}"
ok "no address but \$XDG_RUNTIME_DIR/bus: pyfsd uses it"

echo "$passed passed"

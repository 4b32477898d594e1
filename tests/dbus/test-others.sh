#!/bin/bash
#
# test-others.sh — org.pyfs.Manager is pyfsd's user's alone: on a bus that
# lets other users in, their calls are refused (AccessDenied, checked by
# the uid the bus daemon vouches for), logged once per user, and change
# nothing; the owner's calls go on.
#
# Exit: 0 pass, 1 fail, 77 skip (no /dev/fuse, a missing tool, not root).

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

require setpriv
((EUID == 0)) || skip "another user's calls need root to make (setpriv)"

# A bus that admits every user, on a socket they can reach.
shared=$(mktemp -d /tmp/pyfs-dbus-others.XXXXXX)
chmod 0755 "$shared"
cat >"$TMP/bus.conf" <<CONF
<busconfig>
  <type>session</type>
  <listen>unix:path=$shared/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
dbus-daemon --config-file="$TMP/bus.conf" --nofork --nopidfile --print-address=3 \
  3>"$TMP/bus.addr" 2>>"$TMP/bus.err" &
pids+=($!)
eventually 10 test -s "$TMP/bus.addr" || fail "dbus-daemon did not start"
DBUS_SESSION_BUS_ADDRESS=$(head -n 1 "$TMP/bus.addr")
export DBUS_SESSION_BUS_ADDRESS

mnt=$HOME/mnt
dest=org.pyfs.mnt
start_pyfsd A "$mnt" -m json

# gdbus METHOD ARGS... as uid 65534, on that bus.
as_nobody() {
  local method=$1
  shift
  setpriv --reuid=65534 --regid=65534 --clear-groups \
    gdbus call --address "$DBUS_SESSION_BUS_ADDRESS" -d "$dest" -o "$OBJ" \
    -m "$IFACE.$method" "$@"
}
setpriv --reuid=65534 --regid=65534 --clear-groups gdbus call --address \
  "$DBUS_SESSION_BUS_ADDRESS" -d org.freedesktop.DBus -o /org/freedesktop/DBus \
  -m org.freedesktop.DBus.GetId >/dev/null ||
  fail "the bus does not let uid 65534 in: the test cannot test"
ok "the bus lets uid 65534 in"

for call in "AddModule re" "SetModules ['os']" "ClearModules" "RemoveModule json" \
  "Reload" "ListModules"; do
  # shellcheck disable=SC2086 # the words of the call
  if out=$(as_nobody $call 2>&1); then
    fail "uid 65534 called $call: $out"
  fi
  [[ $out == *"org.freedesktop.DBus.Error.AccessDenied: org.pyfs.Manager is pyfsd's user's alone"* ]] ||
    fail "$call by uid 65534: not pyfsd's AccessDenied: $out"
done
ok "another user's calls are refused, every method"
[[ $(list_modules "$dest") == json ]] || fail "a refused call changed the list"
[[ $(modules_file "$mnt") == json ]] || fail "a refused call changed run/modules"
ok "and change nothing"
[[ $(grep -c "Refused D-Bus .* uid 65534 is not pyfsd's user" "${log[A]}") == 1 ]] ||
  fail "not logged once: $(grep -c "uid 65534" "${log[A]}")"
ok "logged once"
busctl --user call "$dest" "$OBJ" "$IFACE" AddModule s re
[[ $(list_modules "$dest") == "json re" ]] || fail "the owner's call after the refusals"
ok "the owner's calls go on"

stop_pyfsd "${pid[A]}" "$mnt"
rm -rf "$shared"
check_log "${log[A]}" "Refused D-Bus .* uid 65534 is not pyfsd's user"
ok "SIGTERM: exit 0, no unexpected warning"
echo "$passed passed"

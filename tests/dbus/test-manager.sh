#!/bin/bash
#
# test-manager.sh — org.pyfs.Manager on one instance: every method, every
# property and PropertiesChanged, every error, the mirror between D-Bus and
# run/modules in both directions, and bad input answered with errors while
# the daemon lives on.
#
# Exit: 0 pass, 1 fail, 77 skip (no /dev/fuse or a missing tool only).

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

require
start_bus

mnt=$HOME/mnt
dest=org.pyfs.mnt
start_pyfsd A "$mnt"

# --- Names and properties --------------------------------------------------

owned_by "$dest" "${pid[A]}" || fail "$dest is not owned by pyfsd"
owned_by org.pyfs "${pid[A]}" || fail "org.pyfs is not owned by the only instance"
ok "owns $dest (its mountpoint relative to HOME) and org.pyfs"

version=$("$PYFSD" --version)
[[ $(busctl --user get-property "$dest" "$OBJ" "$IFACE" Version) == "s \"${version#pyfsd }\"" ]] ||
  fail "Version is not ${version#pyfsd }"
[[ $(busctl --user get-property "$dest" "$OBJ" "$IFACE" Mountpoint) == "s \"$mnt\"" ]] ||
  fail "Mountpoint is not $mnt"
[[ $(modules_prop "$dest") == "json os sys" ]] || fail "Modules is not the default list"
[[ $(list_modules "$dest") == "json os sys" ]] || fail "ListModules is not the default list"
ok "Version, Mountpoint, Modules and ListModules"

busctl --user introspect "$dest" "$OBJ" "$IFACE" >"$TMP/introspect"
for member in .AddModule .SetModules .ClearModules .ListModules .RemoveModule \
  .Modules .Mountpoint .Version; do
  grep -q "^$member " "$TMP/introspect" || fail "introspection lacks $member"
done
grep -E '^\.Modules +property +as .*emits-change' "$TMP/introspect" >/dev/null ||
  fail "Modules does not say it emits PropertiesChanged"
ok "introspection matches the interface"

start_monitor "$TMP/monitor"

# --- D-Bus -> file ---------------------------------------------------------

busctl --user call "$dest" "$OBJ" "$IFACE" AddModule s re
# No polling: the change is visible as soon as the call returned.
[[ $(lib_entries "$mnt") == "json os re sys" ]] || fail "ls lib after AddModule re: $(lib_entries "$mnt")"
[[ $(modules_file "$mnt") == "json os sys re" ]] || fail "run/modules after AddModule re"
[[ $(modules_prop "$dest") == "json os sys re" ]] || fail "Modules after AddModule re"
[[ $(list_modules "$dest") == "json os sys re" ]] || fail "ListModules after AddModule re"
[[ -e $mnt/lib/re/match ]] || fail "lib/re/match is missing"
ok "AddModule re shows in lib/, run/modules, Modules and ListModules at once"

eventually 10 saw_modules "$TMP/monitor" json os sys re || fail "no PropertiesChanged for AddModule"
ok "PropertiesChanged after AddModule"

busctl --user call "$dest" "$OBJ" "$IFACE" AddModule s re
[[ $(list_modules "$dest") == "json os sys re" ]] || fail "AddModule of a listed name changed the list"
ok "AddModule of a listed name adds nothing"

grep -q "D-Bus AddModule(re) from :" "${log[A]}" || fail "the change request is not logged"
ok "change requests are logged at debug"

# --- file -> D-Bus ---------------------------------------------------------

echo json >"$mnt/run/modules"
[[ $(modules_prop "$dest") == "json" ]] || fail "Modules after echo json > run/modules: $(modules_prop "$dest")"
[[ $(list_modules "$dest") == "json" ]] || fail "ListModules after echo json > run/modules"
eventually 10 saw_modules "$TMP/monitor" json || fail "no PropertiesChanged for a write to run/modules"
ok "echo json > run/modules: Modules reads [json] at once, PropertiesChanged follows"

echo xml.etree.ElementTree >>"$mnt/run/modules"
[[ $(modules_prop "$dest") == "json xml.etree.ElementTree" ]] || fail "Modules after an append"
eventually 10 saw_modules "$TMP/monitor" json xml.etree.ElementTree ||
  fail "no PropertiesChanged for an append to run/modules"
ok "echo NAME >> run/modules: Modules and PropertiesChanged follow, dotted names too"

: >"$mnt/run/modules"
[[ $(modules_prop "$dest") == "" ]] || fail "Modules after : > run/modules"
eventually 10 saw_modules "$TMP/monitor" || fail "no PropertiesChanged for an empty list"
ok ": > run/modules: Modules is empty"

# --- SetModules, RemoveModule, ClearModules --------------------------------

busctl --user call "$dest" "$OBJ" "$IFACE" SetModules as 4 os re os string
[[ $(list_modules "$dest") == "os re string" ]] || fail "SetModules: $(list_modules "$dest")"
[[ $(modules_file "$mnt") == "os re string" ]] || fail "run/modules after SetModules"
[[ $(lib_entries "$mnt") == "os re string" ]] || fail "ls lib after SetModules"
eventually 10 saw_modules "$TMP/monitor" os re string || fail "no PropertiesChanged for SetModules"
ok "SetModules replaces the list, once per name, in order"

busctl --user call "$dest" "$OBJ" "$IFACE" RemoveModule s re
[[ $(list_modules "$dest") == "os string" ]] || fail "RemoveModule re: $(list_modules "$dest")"
[[ $(lib_entries "$mnt") == "os string" ]] || fail "ls lib after RemoveModule"
ok "RemoveModule removes one name"

busctl --user call "$dest" "$OBJ" "$IFACE" ClearModules
[[ $(list_modules "$dest") == "" ]] || fail "ClearModules left $(list_modules "$dest")"
[[ $(modules_file "$mnt") == "" && $(lib_entries "$mnt") == "" ]] || fail "ClearModules: the file disagrees"
ok "ClearModules empties the list"

busctl --user call "$dest" "$OBJ" "$IFACE" SetModules as 2 json sys
busctl --user call "$dest" "$OBJ" "$IFACE" SetModules as 0
[[ $(list_modules "$dest") == "" ]] || fail "SetModules of no names did not clear"
busctl --user call "$dest" "$OBJ" "$IFACE" SetModules as 2 json sys
ok "SetModules of no names clears"

# --- Errors ----------------------------------------------------------------

expect_error org.pyfs.Error.ImportFailed "$dest" AddModule nosuchmodule
[[ $error_text == *"ModuleNotFoundError: No module named 'nosuchmodule'"* ]] ||
  fail "ImportFailed does not carry the exception line: $error_text"
ok "AddModule nosuchmodule: ImportFailed with the exception line"

expect_error org.pyfs.Error.ImportFailed "$dest" SetModules "['re', 'nosuchmodule']"
[[ $(list_modules "$dest") == "json sys" ]] || fail "a failed SetModules changed the list"
ok "SetModules with one failing import changes nothing"

for name in a-b "''" 1abc a..b .a a. "a b" "$(printf 'x%.0s' {1..256})"; do
  expect_error org.pyfs.Error.InvalidName "$dest" AddModule "$name"
done
expect_error org.pyfs.Error.InvalidName "$dest" SetModules "['json', 'a-b']"
expect_error org.pyfs.Error.InvalidName "$dest" RemoveModule "a-b"
[[ $(list_modules "$dest") == "json sys" ]] || fail "an invalid name changed the list"
ok "InvalidName for a-b, empty, 1abc, a..b, .a, a., 'a b', 256 bytes; nothing changes"

expect_error org.pyfs.Error.NotFound "$dest" RemoveModule re
ok "RemoveModule of an unlisted name: NotFound"

# --- Bad input -------------------------------------------------------------

# 4096 names is the limit; the same name 4096 times is one module.
mapfile -t many < <(for ((i = 0; i < 4096; i++)); do echo json; done)
busctl --user call "$dest" "$OBJ" "$IFACE" SetModules as 4096 "${many[@]}"
[[ $(list_modules "$dest") == "json" ]] || fail "SetModules of 4096 names"
many+=(json)
if out=$(busctl --user call "$dest" "$OBJ" "$IFACE" SetModules as 4097 "${many[@]}" 2>&1); then
  fail "SetModules of 4097 names succeeded"
fi
expect_error org.pyfs.Error.TooLarge "$dest" SetModules "$(gvariant_strv json 4097)"
# Under the count limit, over 64 KiB of names.
expect_error org.pyfs.Error.TooLarge "$dest" SetModules "$(gvariant_strv "$(printf 'm%.0s' {1..200})" 400)"
expect_error org.pyfs.Error.TooLarge "$dest" AddModule "'$(head -c 100000 /dev/zero | tr '\0' x)'"
[[ $(list_modules "$dest") == "json" ]] || fail "a refused call changed the list"
ok "TooLarge for 4097 names, 80 KB of names, a 100 KB name"

# Wrong signatures never reach pyfsd's handlers: GDBus refuses them.
for call in "AddModule i 3" "AddModule as 1 json" "SetModules s json" "RemoveModule u 1" \
  "ClearModules s x" "ListModules s x" "NoSuchMethod"; do
  # shellcheck disable=SC2086
  if out=$(busctl --user call "$dest" "$OBJ" "$IFACE" $call 2>&1); then
    fail "$call succeeded"
  fi
done
if busctl --user set-property "$dest" "$OBJ" "$IFACE" Modules as 1 re 2>/dev/null; then
  fail "Modules is writable"
fi
[[ $(list_modules "$dest") == "json" ]] || fail "a refused call changed the list"
ok "wrong signatures, unknown methods and setting Modules are refused"

kill -0 "${pid[A]}" || fail "pyfsd died"
[[ $(modules_file "$mnt") == "json" ]] || fail "the mount does not answer"
busctl --user call "$dest" "$OBJ" "$IFACE" AddModule s re
[[ $(lib_entries "$mnt") == "json re" ]] || fail "AddModule after bad input"
ok "after bad input the daemon lives on and answers both ways"

# --- Shutdown --------------------------------------------------------------

stop_pyfsd "${pid[A]}" "$mnt"
! owned_by org.pyfs "${pid[A]}" || fail "org.pyfs outlived pyfsd"
[[ -z $(name_pid "$dest") ]] || fail "$dest outlived pyfsd"
check_log "${log[A]}" "Refused D-Bus (AddModule|SetModules)\\(\\): ModuleNotFoundError: No module named 'nosuchmodule'"
ok "SIGTERM: exit 0, names released, mount released, no unexpected warning"

echo "$passed passed"

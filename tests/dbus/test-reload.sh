#!/bin/bash
#
# test-reload.sh — Reload() and `echo > run/reload`: a fresh import of every
# listed module, for the tree and for the calls, with the list unchanged;
# for what pyfsd cannot see change by itself (here: data a module reads
# when it is imported). A module whose new code does not import:
# ImportFailed (ENOENT for the file), and the tree keeps the module as it
# was.
#
# Exit: 0 pass, 1 fail, 77 skip (no /dev/fuse or a missing tool only).

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

require
start_bus

py=$TMP/py
mkdir -p "$py" "$XDG_CONFIG_HOME/pyfs"
printf '[pyfsd]\npath=%s\n' "$py" >"$XDG_CONFIG_HOME/pyfs/pyfsd.conf"
echo one >"$TMP/data.txt"
cat >"$py/datamod.py" <<EOF
with open("$TMP/data.txt") as _f:
    DATA = _f.read().strip()

def data():
    return DATA
EOF

mnt=$HOME/mnt
dest=org.pyfs.mnt
start_pyfsd A "$mnt" -m datamod -m json

eventually 30 grep -q "Call server (pid [0-9]*) serving" "${log[A]}" ||
  fail "no call server serves"
[[ $(cat "$mnt/lib/datamod/DATA") == one ]] || fail "the tree does not show the data"
[[ $("$mnt/lib/datamod/data") == one ]] || fail "a call does not give the data"
ok "a module reads its data when it is imported"

# Data is no code: pyfsd does not take its change for one.
echo two >"$TMP/data.txt"
[[ $(cat "$mnt/lib/datamod/DATA") == one ]] || fail "a change of data was taken for code"
[[ $("$mnt/lib/datamod/data") == one ]] || fail "a call imported the module afresh by itself"
ok "a change of data alone changes nothing"

before=$(grep -c "serving the calls" "${log[A]}")
busctl --user call "$dest" "$OBJ" "$IFACE" Reload
[[ $(cat "$mnt/lib/datamod/DATA") == two ]] || fail "after Reload(), the tree shows the old data"
[[ $("$mnt/lib/datamod/data") == two ]] || fail "after Reload(), a call gives the old data"
ok "Reload(): the next read and the next call give the new data"
[[ $(busctl --user call "$dest" "$OBJ" "$IFACE" ListModules) == 'as 2 "datamod" "json"' ]] ||
  fail "Reload() changed the list"
ok "Reload() leaves the list as it was"
served_again() {
  (($(grep -c "serving the calls" "${log[A]}") > before))
}
eventually 30 served_again || fail "no new call server after Reload()"
[[ $("$mnt/lib/datamod/data") == two ]] || fail "the new call server gives the old data"
ok "a new call server serves the new code"

# New code that does not import: ImportFailed; the tree keeps the old module.
echo three >"$TMP/data.txt"
mv "$TMP/data.txt" "$TMP/data.gone"
expect_error org.pyfs.Error.ImportFailed "$dest" Reload
[[ $error_text == *FileNotFoundError* ]] || fail "ImportFailed does not say why: $error_text"
[[ $(cat "$mnt/lib/datamod/DATA") == two ]] || fail "a failed Reload() lost the module"
ok "new code that does not import: ImportFailed, the tree keeps the module as it was"
mv "$TMP/data.gone" "$TMP/data.txt"
busctl --user call "$dest" "$OBJ" "$IFACE" Reload
[[ $(cat "$mnt/lib/datamod/DATA") == three ]] || fail "Reload() after a fix"
ok "and once it imports again, Reload() takes it"

# The same from the file side.
[[ $(stat -c '%a %s' "$mnt/run/reload") == "200 0" ]] || fail "run/reload is not write-only and empty"
[[ $(ls "$mnt/run") == *reload* ]] || fail "run/ does not list reload"
echo four >"$TMP/data.txt"
before=$(grep -c "serving the calls" "${log[A]}")
echo >"$mnt/run/reload" || fail "echo > run/reload failed"
[[ $(cat "$mnt/lib/datamod/DATA") == four ]] || fail "after run/reload, the tree shows the old data"
[[ $("$mnt/lib/datamod/data") == four ]] || fail "after run/reload, a call gives the old data"
[[ $(cat "$mnt/run/modules" | paste -sd ' ') == "datamod json" ]] || fail "run/reload changed the list"
eventually 30 served_again || fail "no new call server after run/reload"
ok "echo > run/reload: the next read and the next call give the new data, the list unchanged"
mv "$TMP/data.txt" "$TMP/data.gone"
if out=$( (echo >"$mnt/run/reload") 2>&1); then
  fail "run/reload with code that does not import succeeded"
fi
[[ $out == *"No such file or directory"* ]] || fail "run/reload's error: $out"
[[ $(cat "$mnt/lib/datamod/DATA") == four ]] || fail "a failed run/reload lost the module"
ok "run/reload with code that does not import: ENOENT, the tree keeps the module"
mv "$TMP/data.gone" "$TMP/data.txt"
if out=$(cat "$mnt/run/reload" 2>&1); then fail "run/reload was read"; fi
[[ $out == *"Permission denied"* ]] || fail "reading run/reload: $out"
ok "run/reload cannot be read"

stop_pyfsd "${pid[A]}" "$mnt"
check_log "${log[A]}" "Refused D-Bus Reload\\(\\): The new code does not import|Refused a write to run/reload"
ok "SIGTERM: exit 0, no unexpected warning"

echo "$passed passed"

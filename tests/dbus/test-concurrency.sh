#!/bin/bash
#
# test-concurrency.sh — for a bounded time (PYFS_STRESS_SECONDS, 10 by
# default), appends and truncations of run/modules, D-Bus calls of every
# method, property reads and `find` over the mount run in parallel. Then
# the list is the same through ListModules, Modules, run/modules and
# `ls lib`, the last PropertiesChanged carries it, and the daemon answers.
#
# Exit: 0 pass, 1 fail, 77 skip (no /dev/fuse or a missing tool only).

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

require find
start_bus

mnt=$HOME/mnt
dest=org.pyfs.mnt
start_pyfsd A "$mnt"
start_monitor "$TMP/monitor"

seconds=${PYFS_STRESS_SECONDS:-10}
end=$(($(now_ms) + seconds * 1000))
pool=(json os sys re string textwrap)
problems=$TMP/problems
: >"$problems"

pick() {
  echo "${pool[RANDOM % ${#pool[@]}]}"
}

# Every failure here is a bug: the names are valid and importable.
file_writer() {
  local m
  while (($(now_ms) < end)); do
    m=$(pick)
    if ((RANDOM % 4 == 0)); then
      echo "$m" >"$mnt/run/modules" || echo "echo $m > run/modules failed" >>"$problems"
    else
      echo "$m" >>"$mnt/run/modules" || echo "echo $m >> run/modules failed" >>"$problems"
    fi
    echo write >>"$TMP/count"
  done
}

# RemoveModule of a name another writer removed first is NotFound; nothing else may fail.
bus_caller() {
  local out
  while (($(now_ms) < end)); do
    # Mostly growing the list, so that it is rarely empty when the load stops.
    case $((RANDOM % 12)) in
      [0-4]) out=$(busctl --user call "$dest" "$OBJ" "$IFACE" AddModule s "$(pick)" 2>&1) ;;
      [56]) out=$(busctl --user call "$dest" "$OBJ" "$IFACE" RemoveModule s "$(pick)" 2>&1) ||
        [[ $out == *"is not in the module list"* ]] ;;
      [78]) out=$(busctl --user call "$dest" "$OBJ" "$IFACE" SetModules as 2 "$(pick)" "$(pick)" 2>&1) ;;
      9) out=$(busctl --user call "$dest" "$OBJ" "$IFACE" ClearModules 2>&1) ;;
      *) out=$(busctl --user call "$dest" "$OBJ" "$IFACE" ListModules 2>&1) ;;
    esac || echo "D-Bus call failed: $out" >>"$problems"
    echo call >>"$TMP/count"
  done
}

# Entries vanish under find when a module is removed: its errors are fine,
# it must only terminate. run/modules and the property must always read.
reader() {
  while (($(now_ms) < end)); do
    find "$mnt/lib" -maxdepth 2 >/dev/null 2>&1 || true
    cat "$mnt/run/modules" >/dev/null || echo "cat run/modules failed" >>"$problems"
    busctl --user get-property "$dest" "$OBJ" "$IFACE" Modules >/dev/null ||
      echo "get-property Modules failed" >>"$problems"
    echo read >>"$TMP/count"
  done
}

workers=()
file_writer & workers+=($!)
file_writer & workers+=($!)
bus_caller & workers+=($!)
bus_caller & workers+=($!)
reader & workers+=($!)
reader & workers+=($!)
for pid in "${workers[@]}"; do
  wait "$pid"
done
[[ ! -s $problems ]] || fail "failures under load: $(sort "$problems" | uniq -c | head -n 20)"
kill -0 "${pid[A]}" || fail "pyfsd died under load"
counts=$(sort "$TMP/count" | uniq -c | xargs)
ok "$seconds s of parallel writes, D-Bus calls, property reads and find ($counts): nothing failed"

list=$(list_modules "$dest")
[[ $(modules_file "$mnt") == "$list" ]] || fail "run/modules \"$(modules_file "$mnt")\" != ListModules \"$list\""
[[ $(modules_prop "$dest") == "$list" ]] || fail "Modules \"$(modules_prop "$dest")\" != ListModules \"$list\""
[[ $(lib_entries "$mnt") == "$(sorted "$list")" ]] || fail "ls lib \"$(lib_entries "$mnt")\" != ListModules \"$list\""
ok "ListModules, Modules, run/modules and ls lib agree: \"$list\""
grep -q "D-Bus AddModule(" "${log[A]}" || fail "the D-Bus calls are not logged"

last_signal_is() {
  local json=''
  (($# == 0)) || json=$(printf '"%s",' "$@")
  tail -n 1 "$TMP/monitor" | grep -qF "\"Modules\":{\"type\":\"as\",\"data\":[${json%,}]}"
}
# shellcheck disable=SC2086
eventually 10 last_signal_is $list || fail "the last PropertiesChanged is not \"$list\": $(tail -n 1 "$TMP/monitor")"
ok "the last PropertiesChanged carries the final list"

busctl --user call "$dest" "$OBJ" "$IFACE" SetModules as 1 json
[[ $(lib_entries "$mnt") == "json" && $(modules_file "$mnt") == "json" ]] ||
  fail "the daemon does not answer after the load"
stop_pyfsd "${pid[A]}" "$mnt"
check_log "${log[A]}"
ok "the daemon answers, stops cleanly, logged no unexpected warning"

echo "$passed passed"

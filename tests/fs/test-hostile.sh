#!/usr/bin/env bash
# Python objects that misbehave give bounded, clear results and a log line.
EXPECTED_WARNINGS='Cannot render|Cannot get|dir\(pyfs_badir\) failed|Refused a write to run/modules: pyfs_replaced is not a module: sys.modules holds a NotAModule'
. "$(dirname "$0")/lib.sh"

pyfs_start -m pyfs_hostile -m pyfs_badir
cd "$MNT/lib" || exit 1
h=pyfs_hostile

expect_eq "__str__ raising: a marker" \
	"[pyfs: cannot render pyfs_hostile.RAISING_STR: ValueError: no str for you]" \
	"$(cat $h/RAISING_STR)"
check "and a log line" grep -q "Cannot render pyfs_hostile.RAISING_STR" "$PYFS_LOG"
expect_eq "__str__ returning a non-str: a marker" \
	"[pyfs: cannot render pyfs_hostile.NON_STR_STR: TypeError: __str__ returned non-string (type int)]" \
	"$(cat $h/NON_STR_STR)"
expect_eq "iteration raising: a marker" \
	"[pyfs: cannot render pyfs_hostile.RAISING_LIST: RuntimeError: no iteration]" \
	"$(cat $h/RAISING_LIST)"
expect_eq "a property raising: a marker" \
	"[pyfs: cannot get pyfs_hostile.BROKEN_PROPERTY: RuntimeError: property exploded]" \
	"$(cat $h/BROKEN_PROPERTY)"
expect_eq "a huge str: cut at 1 MiB with a marker" "[pyfs: truncated at 1048576 bytes]" \
	"$(tail -n 1 $h/HUGE_TEXT)"
check "its size is bounded and exact" \
	bash -c "test \$(stat -c %s $h/HUGE_TEXT) -eq \$(wc -c < $h/HUGE_TEXT) -a \$(stat -c %s $h/HUGE_TEXT) -lt 1050000"
expect_eq "a huge list: cut with a marker" "[pyfs: truncated at 1048576 bytes]" \
	"$(tail -n 1 $h/HUGE_LIST)"
expect_eq "a recursive list renders as str() does" "[[...]]" "$(cat $h/RECURSIVE)"
expect_eq "a recursive dict" "self={'self': {...}}" "$(cat $h/RECURSIVE_DICT)"
expect_eq "dir() raising: an empty directory" "" "$(ls pyfs_badir)"
check "and a log line" grep -q "dir(pyfs_badir) failed" "$PYFS_LOG"
# Modules that replace themselves in sys.modules.
expect_errno "a module replaced by a non-module is refused" "No such file or directory" \
	bash -c "echo pyfs_replaced >> '$MNT/run/modules'"
check "and a log line says why" \
	grep -q "Refused a write to run/modules: pyfs_replaced is not a module: sys.modules holds a NotAModule" "$PYFS_LOG"
expect_eq "the list is unchanged" "pyfs_hostile pyfs_badir" "$(paste -sd ' ' "$MNT/run/modules")"
check "a module replaced by a module subclass is added" \
	bash -c "echo pyfs_selfmodule >> '$MNT/run/modules'"
expect_eq "its class attributes read" "42" "$(cat pyfs_selfmodule/VALUE)"
expect_eq "a property raising: a marker" \
	"[pyfs: cannot get pyfs_selfmodule.BROKEN: RuntimeError: property exploded]" \
	"$(cat pyfs_selfmodule/BROKEN)"
# Read again and again, and through run/sys.modules/ (another node, so
# rendered again): one warning per value is enough.
for _ in 1 2 3; do
	cat $h/RAISING_STR $h/BROKEN_PROPERTY >/dev/null
	stat $h/RAISING_STR $h/BROKEN_PROPERTY >/dev/null
done
cat "$MNT/run/sys.modules/$h/RAISING_STR" "$MNT/run/sys.modules/$h/BROKEN_PROPERTY" >/dev/null
expect_eq "a value that cannot be rendered is warned about once" 1 \
	"$(grep -c 'Cannot render pyfs_hostile.RAISING_STR' "$PYFS_LOG")"
expect_eq "one whose access raises too" 1 \
	"$(grep -c 'Cannot get pyfs_hostile.BROKEN_PROPERTY' "$PYFS_LOG")"
check "find over hostile modules terminates" bash -c "timeout 60 find . -type f -exec cat {} + >/dev/null"
check "the daemon still answers" daemon_alive

pyfs_finish

#!/usr/bin/env bash
# Python objects that misbehave give bounded, clear results and a log line.
EXPECTED_WARNINGS='Cannot render|Cannot get|dir\(pyfs_badir\) failed'
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
check "find over hostile modules terminates" bash -c "timeout 60 find . -type f -exec cat {} + >/dev/null"
check "the daemon still answers" daemon_alive

pyfs_finish

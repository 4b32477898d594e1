#!/usr/bin/env bash
# The command line (pyfsd(1)) and the lifecycle: detaching, refusals, signals.
EXPECTED_WARNINGS='Cannot import'
. "$(dirname "$0")/lib.sh"

expect_eq "--version" "pyfsd" "$("$PYFSD" --version | cut -d' ' -f1)"
check "--help names the options" bash -c '"$PYFSD" --help | grep -q -- "--module"'
expect_errno "no mountpoint: usage, exit 2" "Missing MOUNTPOINT" "$PYFSD"
"$PYFSD" 2>/dev/null; expect_eq "usage errors exit 2" 2 $?
expect_errno "an unknown option" "Unknown option" "$PYFSD" --frobnicate "$MNT"
expect_errno "a missing mountpoint" "No such file or directory" "$PYFSD" "$WORK/nowhere"
touch "$WORK/file"
expect_errno "a mountpoint that is a file" "is not a directory" "$PYFSD" "$WORK/file"
expect_errno "a module that cannot be imported" "No module named 'no_such_module'" \
	"$PYFSD" -m no_such_module "$MNT"
check "nothing is left mounted after a failed start" bash -c "! grep -qs ' $MNT ' /proc/mounts"

# Detaching: the command returns once the mount answers.
check "pyfsd MOUNTPOINT returns 0" "$PYFSD" -m json "$MNT"
expect_eq "the mount answers as soon as it returns" "json" "$(cat "$MNT/run/modules")"
daemon=$(pgrep -f "^$PYFSD -m json $MNT\$")
check "the detached daemon runs" test -n "$daemon"
expect_errno "already mounted" "already a mountpoint" "$PYFSD" -f "$MNT"
check "fusermount3 -u unmounts it" fusermount3 -u "$MNT"
check "and the daemon exits by itself" wait_for 20 bash -c "! kill -0 $daemon 2>/dev/null"

# In the foreground: SIGINT (Ctrl-C) and SIGTERM release the mount.
pyfs_start -m os
kill -INT "$PYFS_PID"
wait "$PYFS_PID"
expect_eq "SIGINT: exit 0" 0 $?
PYFS_PID=
check "SIGINT: the mount is released" bash -c "! grep -qs ' $MNT ' /proc/mounts"

pyfs_start -m os
# A slow daemon (under valgrind) may still hold the mount busy for a moment.
check "fusermount3 -u from outside" wait_for "${PYFS_START_TIMEOUT:-30}" fusermount3 -u "$MNT"
if wait_for "${PYFS_START_TIMEOUT:-30}" bash -c "! kill -0 $PYFS_PID 2>/dev/null"; then
	wait "$PYFS_PID"
	expect_eq "unmounted from outside: exit 0" 0 $?
else
	not_ok "unmounted from outside: the daemon did not exit"
	kill -KILL "$PYFS_PID"
	wait "$PYFS_PID"
fi
PYFS_PID=
check "unmounted from outside: a log line says so" grep -q "unmounted from outside" "$PYFS_LOG"

pyfs_start -m os -o ro
check "-o passes mount options" grep -q " $MNT fuse.pyfs ro," /proc/mounts
pyfs_stop

# The mount is made while the modules import: what comes to it meanwhile
# waits in the kernel until pyfsd serves, then sees every module.
gate=$WORK/gate
mkfifo "$gate"
export PYFS_TEST_IMPORT_STARTED=$WORK/import-started PYFS_TEST_IMPORT_GATE=$gate
"$PYFSD" -f -m os -m pyfs_slowimport "$MNT" >>"$PYFS_LOG" 2>&1 &
PYFS_PID=$!
check "a start-up import under way" wait_for 30 test -e "$PYFS_TEST_IMPORT_STARTED"
check "the mount is there already" wait_for 30 grep -qs " $MNT fuse.pyfs " /proc/mounts
cat "$MNT/run/modules" >"$WORK/early" 2>&1 &
early=$!
# Blocked in the kernel, waiting for the session's first answer.
check "a read meanwhile waits" wait_for 30 \
	bash -c "grep -q fuse /proc/$early/stack 2>/dev/null || grep -q fuse /proc/$early/wchan 2>/dev/null"
: >"$gate"
wait "$early"
expect_eq "then reads the whole list" "0 $(printf 'os\npyfs_slowimport')" "$? $(cat "$WORK/early")"
unset PYFS_TEST_IMPORT_STARTED PYFS_TEST_IMPORT_GATE
pyfs_stop

pyfs_finish

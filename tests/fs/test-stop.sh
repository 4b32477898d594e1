#!/usr/bin/env bash
# SIGTERM while Python code holds the GIL in C (a str() stuck in a C call):
# pyfsd still exits within a bound, with status 0 and the mount released,
# although the watchdog's health check (run as under WatchdogSec=) and a
# FUSE request wait for the GIL for good, and the interpreter cannot be
# finalised. pyfs_gilhold (tests/fs/pymodules) holds the GIL.
# shellcheck disable=SC2034 # read by lib.sh
EXPECTED_WARNINGS='The health check has not returned within|did not finish within|not waiting for it'
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

export PYFS_TEST_GIL_HELD=$WORK/gil-held
logged() { grep -q -- "$1" "$PYFS_LOG"; }
# Whether process $1 has exited (a zombie has: it is reaped below).
gone() {
	local state
	read -r _ _ state _ 2>/dev/null <"/proc/$1/stat" || return 0
	[ "$state" = Z ]
}

# The watchdog as systemd asks for it: WATCHDOG_USEC, and WATCHDOG_PID
# naming pyfsd itself (the wrapper execs it, keeping its pid). A check
# every second, late after half a second.
cat >"$WORK/watched" <<'WRAPPER'
#!/bin/sh
WATCHDOG_PID=$$ exec "$@"
WRAPPER
chmod +x "$WORK/watched"
PYFSD_WRAPPER="$WORK/watched ${PYFSD_WRAPPER:-}" WATCHDOG_USEC=2000000 \
	pyfs_start -t 1 -m json -m pyfs_gilhold
check "the watchdog checks" wait_for 10 logged "Watchdog: a health check every 1.0 s"

cat "$MNT/lib/pyfs_gilhold/HOLDING" >/dev/null 2>&1 &
reader=$!
check "a str() holds the GIL in C" wait_for 30 test -e "$PYFS_TEST_GIL_HELD"
check "the health check waits for it" wait_for 30 logged "The health check has not returned within"
# Looking into a plain module's dict runs no code of the objects: the FUSE
# thread takes the GIL itself, outside the deadline, and waits for good.
stat "$MNT/lib/json/dumps" >/dev/null 2>&1 &
looker=$!

kill -TERM "$PYFS_PID"
# Generous: the bound is the deadline and a second or two, but valgrind is slow.
bound=${PYFS_START_TIMEOUT:-30}
if wait_for "$bound" gone "$PYFS_PID"; then
	wait "$PYFS_PID"
	expect_eq "SIGTERM with the GIL held in C: pyfsd exits 0" 0 $?
else
	not_ok "SIGTERM with the GIL held in C: pyfsd still runs after $bound s"
	kill -KILL "$PYFS_PID"
	wait "$PYFS_PID"
fi
PYFS_PID=
check "the mount is released" bash -c "! grep -qs ' $MNT ' /proc/mounts"
check "it leaves the stuck health check" \
	logged "The health check under way is stuck (the mount or the interpreter); not waiting for it"
check "and the stuck request" logged "A FUSE request is stuck"
check "and does not finalize the interpreter" logged "The interpreter is stuck; not finalizing it"
# The mount is gone: both requests end (with an error).
wait "$reader" "$looker"

pyfs_finish

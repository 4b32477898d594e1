#!/usr/bin/env bash
# Isolation: whatever a call does to its process (chdir, putenv, module
# state, a crash, a loop, unbounded allocation, os._exit) stays in it: pyfsd,
# the call server and the other calls are unaffected.
. "$(dirname "$0")/lib.sh"

pyfs_start -m os -m json -m time -m ctypes -m pyfs_calls_fixture
cd "$WORK" || exit 1
lib=$MNT/lib
fixture=$lib/pyfs_calls_fixture
server=$(server_pid)

through_server() {
	[ "$(field ppid "$($fixture/process)")" = "$server" ]
}

# State changed by one call is not seen by the next, nor by pyfsd.
$lib/os/chdir /
expect_eq "a call's chdir does not leak into the next call" "$WORK" "$($lib/os/getcwd)"
$lib/os/putenv PYFS_LEAK yes
expect_eq "nor does its putenv" "" "$($lib/os/getenv PYFS_LEAK)"
expect_eq "a call changes module state" "changed" "$($fixture/set_value '"changed"')"
expect_eq "which the next call does not see" "original" "$($fixture/get_value)"
expect_eq "nor pyfsd" "original" "$(cat "$lib/pyfs_calls_fixture/value")"

# Crashes.
$lib/os/._exit 3; expect_eq "os._exit(3) exits 3" 3 $?
$lib/ctypes/string_at 0 2>/dev/null; status=$?
expect_eq "a segfault kills the call" "$(signal_status SEGV)" $status
check "pyfsd lives on" daemon_alive
check "the call server lives on" alive "$server"
check "and the next call runs in it" through_server

# Unbounded allocation, within the caller's limit (ulimit -v), as it would
# be with python3: MemoryError. (A sanitizer build of pyfs-call cannot even
# start under such a limit: its shadow memory does not fit.)
if (ulimit -v 1000000 && "$PYFS_CALL" >/dev/null 2>&1; [ $? -eq 2 ]); then
	(ulimit -v 1000000 && $fixture/hog) 2>"$WORK/hog.err"; status=$?
	expect_eq "a call that allocates without bound fails" 1 $status
	check "with MemoryError" grep -q "^MemoryError" "$WORK/hog.err"
	check "pyfsd lives on" daemon_alive
	check "the call server lives on" alive "$server"
	check "and the next call runs in it" through_server
else
	ok "unbounded allocation # SKIP pyfs-call cannot start under ulimit -v"
fi

# A loop: other calls run meanwhile; killed, it takes nothing with it.
$lib/time/sleep 1000 &
looping=$!
BACKGROUND+=("$looping")
expect_eq "a call runs while another loops" "a/b" "$($lib/os/path/join a b)"
check "in the server too" through_server
timeout -s INT 1 "$lib/time/sleep" 1000; status=$?
expect_eq "a looping call ended by timeout -s INT" 124 $status
kill -TERM "$looping"
wait "$looping"; status=$?
expect_eq "another killed by SIGTERM" "$(signal_status TERM)" $status
check "pyfsd lives on" daemon_alive
check "the call server lives on" alive "$server"
check "and the next call runs in it" through_server

pyfs_finish

#!/usr/bin/env bash
# The call server is supervised by pyfsd: a server killed is started again
# and calls run with python3 meanwhile; an import that hangs in a server
# is bounded by --timeout and left out; a server that stops answering
# never makes a caller wait for ever; a call holds the caller's
# descriptors 0, 1 and 2 and nothing else.
. "$(dirname "$0")/lib.sh"

EXPECTED_WARNINGS="import of pyfs_hangs_in_server did not end within 2 s|The call server \(pid [0-9]+\) was killed by signal 9"
pyfs_start -t 2 -m os -m pyfs_calls_fixture -m pyfs_hangs_in_server
cd "$WORK" || exit 1
lib=$MNT/lib
fixture=$lib/pyfs_calls_fixture

# Where a call ran: in a server's child, or (python3, the fallback) in the
# very process this shell started, whose parent is this shell.
ran_in() {
	local out ppid
	out=$($fixture/process)
	ppid=$(field ppid "$out")
	if [ "$ppid" = "$BASHPID" ]; then
		echo fallback
	elif [ "$(cat "/proc/$ppid/comm" 2>/dev/null)" = pyfs-callserver ]; then
		echo "server $ppid"
	else
		echo "unknown $ppid"
	fi
}
warm_in() {
	[ "$(ran_in)" = "server $1" ]
}
serving_other_than() {
	local now
	now=$(server_pid) && [ "$now" != "$1" ] && warm_in "$now"
}

# The first server hangs importing pyfs_hangs_in_server (it does so only in
# a call server): callers do not wait for it.
expect_eq "while no server serves, a call runs with python3 at once" fallback "$(ran_in)"
expect_eq "and finds the modules pyfsd serves" "hello" "$($lib/pyfs_hangs_in_server/hello)"
check "the mount answers meanwhile" test -s "$MNT/run/modules"
grep_log() {
	grep -q -- "$1" "$PYFS_LOG"
}
check "the hung import is bounded by --timeout, and logged" \
	wait_for 20 grep_log "import of pyfs_hangs_in_server did not end within 2 s"
server=$(server_pid)
check "the next server leaves it out, and serves" wait_for 20 warm_in "$server"
expect_eq "its calls import it themselves" "hello" "$($lib/pyfs_hangs_in_server/hello)"
check "pyfsd says once that calls ran with python3" \
	test "$(grep -c 'start python3 until the call server serves' "$PYFS_LOG")" -ge 1

# Only the caller's descriptors reach a call, warm or not.
expect_eq "a call holds descriptors 0, 1 and 2 only" "[0, 1, 2]" "$($fixture/fds)"
expect_eq "and so does the same call run with python3" "[0, 1, 2]" \
	"$("$(fallback_copy lib/pyfs_calls_fixture/fds)")"
expect_eq "a caller's closed stdin stays closed" "[1, 2]" "$($fixture/fds <&-)"

# A server killed: calls go on at once with python3, then warm again.
kill -KILL "$server"
check "a server killed: calls run with python3 at once" wait_for 5 test "$(ran_in)" = fallback
check "then in a new server within seconds" wait_for 20 serving_other_than "$server"
server=$(server_pid)

# A server stopped: the caller gives up after the documented bound
# (2 s for STARTED, 1 s for the cancel) and runs the call itself, once.
kill -STOP "$server"
start=$SECONDS
$fixture/append_line "$WORK/once" stopped
status=$?
kill -CONT "$server"
expect_eq "a call to a stopped server runs with python3" 0 $status
check "after the bound, not for ever" test $((SECONDS - start)) -le 10
check "the server, going on, does not start it again" \
	wait_for 20 grep_log "a call not started: .*the dispatcher gave up"
expect_eq "so the call ran once" "stopped" "$(cat "$WORK/once")"
check "and the server serves again" wait_for 20 warm_in "$server"

check "pyfsd lives on" daemon_alive
pyfs_stop

# SIGTERM while a server hangs in an import: pyfsd still stops at once.
EXPECTED_WARNINGS="$EXPECTED_WARNINGS|import of pyfs_hangs_in_server did not end within 30 s"
pyfs_start -t 30 -m os -m pyfs_hangs_in_server
server_running() {
	pgrep -f "pyfs-callserver --instance=$MNT" >/dev/null
}
check "a server hangs in its import" wait_for 10 server_running
start=$SECONDS
pyfs_stop
check "stopping does not wait for it" test $((SECONDS - start)) -le 5
no_server_running() {
	! server_running
}
check "nor leaves it behind" no_server_running

pyfs_finish

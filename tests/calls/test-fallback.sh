#!/usr/bin/env bash
# The fallback: a script whose call server cannot be reached (the file
# copied elsewhere, the socket gone or dead, the server killed, pyfsd
# stopped) runs its call with python3, silently, with the same result.
EXPECTED_WARNINGS='The call server \(pid [0-9]+\) was killed by signal 9'
. "$(dirname "$0")/lib.sh"

pyfs_start -m os -m pyfs_calls_fixture
cd "$WORK" || exit 1
lib=$MNT/lib
server=$(server_pid)
socket=$(socket_path)

# run SCRIPT ARGS...: $out, $err, $status.
run() {
	out=$("$@" 2>"$WORK/err"); status=$?
	err=$(cat "$WORK/err")
}

# via_server/via_python3 SCRIPT: where the fixture's process() ran.
via_server() {
	run "$1"
	[ $status -eq 0 ] && [ -z "$err" ] && [ "$(field ppid "$out")" = "$server" ]
}
via_python3() {
	run "$1"
	# exec: the call is the dispatcher's process, a child of this shell's
	# command substitution, never of the server.
	[ $status -eq 0 ] && [ -z "$err" ] && [ -n "$(field ppid "$out")" ] &&
		[ "$(field ppid "$out")" != "$server" ]
}

process=$lib/pyfs_calls_fixture/process
copy=$WORK/copy/process
mkdir -p "$WORK/copy"
cp "$process" "$copy"
no_socket=$(fallback_copy lib/pyfs_calls_fixture/process)

check "through the mount: the server" via_server "$process"
check "a copy elsewhere still finds the server" via_server "$copy"
check "a script without a socket line: python3" via_python3 "$no_socket"
run "$lib/os/path/join" a b
expect_eq "with the same result" "a/b 0" "$out $status"

mv "$socket" "$socket.moved"
check "socket gone: python3, silently" via_python3 "$process"
# The runner file: python3 loads the runner compiled already.
runner=$socket.runner
expect_eq "the runner file beside the socket is ours alone" "600" "$(stat -c %a "$runner")"
run "$lib/pyfs_calls_fixture/runner_given"
expect_eq "python3 loads the runner from its file" "file 0" "$out $status"
expect_eq "the runner file is closed before the call" "[0, 1, 2]" "$("$lib/pyfs_calls_fixture/fds")"
expect_eq "even with the caller's stdin closed" "[1, 2]" "$("$lib/pyfs_calls_fixture/fds" <&-)"
cp "$runner" "$WORK/runner.saved"
# Another Python's bytecode: the loader compiles the source the file holds.
python3 - "$runner" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(4)
    f.write(b"\xff\xff")
PY
run "$lib/pyfs_calls_fixture/runner_given"
expect_eq "bytecode of another Python: the file's source instead" "file 0" "$out $status"
run "$lib/os/path/join" a b
expect_eq "with the same result" "a/b 0" "$out $status"
# Put back in place, so that pyfsd knows the file as its own at stop.
cat "$WORK/runner.saved" >"$runner"
mv "$runner" "$runner.moved"
run "$lib/pyfs_calls_fixture/runner_given"
expect_eq "no runner file: the source on python3's command line" "source 0" "$out $status"
run "$lib/os/path/join" a b
expect_eq "with the same result" "a/b 0" "$out $status"
mv "$runner.moved" "$runner"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$socket"
check "a dead socket (ECONNREFUSED): python3, silently" via_python3 "$process"
rm -f "$socket"
mv "$socket.moved" "$socket"
check "socket back: the server again" via_server "$process"

children=$(cat "/proc/$server/task/"*/children 2>/dev/null)
kill -KILL "$server"
check "the call server killed: pyfsd logs it" \
	wait_for 10 grep -q "The call server (pid $server) was killed by signal 9" "$PYFS_LOG"
for child in $children; do
	check "its spare $child goes with it" wait_for 10 gone "$child"
done
check "calls run with python3, silently" via_python3 "$process"
run "$lib/os/path/join" a b
expect_eq "with the same result" "a/b 0" "$out $status"
check "the copy elsewhere too" via_python3 "$copy"
check "pyfsd lives on" daemon_alive
expect_eq "and serves the mount" "os pyfs_calls_fixture" "$(ls "$MNT/lib" | xargs)"

pyfs_stop
check "pyfsd stopped: the copy runs with python3" via_python3 "$copy"
check "pyfsd stopped: its runner file is gone" test ! -e "$runner"

pyfs_finish

#!/usr/bin/env bash
# Signals: the terminal's Ctrl-C, timeout(1)'s SIGTERM, a kill -9 and
# Ctrl-Z reach the dispatcher (the terminal's foreground process group),
# which relays them to the call in the server; the dispatcher then ends as
# the call ended.
. "$(dirname "$0")/lib.sh"

pyfs_start -m os -m time -m pyfs_calls_fixture
cd "$WORK" || exit 1
lib=$MNT/lib
fixture=$lib/pyfs_calls_fixture
marker=$WORK/marker

# Starts wait_for_interrupt in the background with SIGINT not ignored (a
# non-interactive shell's background jobs ignore it) and waits until it
# sleeps; sets $dispatcher and $call.
start_waiting() {
	rm -f "$marker"
	env --default-signal=INT "$fixture/wait_for_interrupt" "$marker" &
	dispatcher=$!
	BACKGROUND+=("$dispatcher")
	wait_for 10 grep -qs '^waiting' "$marker"
	call=$(sed -n 's/^waiting //p' "$marker")
}

start_waiting
check "the call runs" test -n "$call"
kill -INT "$dispatcher"
wait "$dispatcher"; status=$?
expect_eq "Ctrl-C (SIGINT to the dispatcher): it dies of SIGINT" "$(signal_status INT)" $status
expect_eq "after the call got KeyboardInterrupt" "KeyboardInterrupt" "$(cat "$marker")"
check "and ended" wait_for 10 gone "$call"

start_waiting
kill -TERM "$dispatcher"
wait "$dispatcher"; status=$?
expect_eq "SIGTERM: the dispatcher dies of SIGTERM" "$(signal_status TERM)" $status
check "and so does the call" wait_for 10 gone "$call"

start_waiting
kill -KILL "$dispatcher"
wait "$dispatcher"
check "a dispatcher killed by SIGKILL takes its call with it" wait_for 10 gone "$call"

start_waiting
kill -TSTP "$dispatcher"
stopped() {
	[ "$(proc_state "$dispatcher")" = T ] && [ "$(proc_state "$call")" = T ]
}
check "Ctrl-Z (SIGTSTP) stops the dispatcher and the call" wait_for 10 stopped
kill -CONT "$dispatcher"
running() {
	[ "$(proc_state "$dispatcher")" != T ] && [ "$(proc_state "$call")" != T ]
}
check "SIGCONT resumes both" wait_for 10 running
kill -INT "$dispatcher"
wait "$dispatcher"; status=$?
expect_eq "and Ctrl-C still ends it" "$(signal_status INT)" $status

timeout -s INT 1 "$lib/time/sleep" 1000; status=$?
expect_eq "timeout -s INT 1 lib/time/sleep 1000: timed out" 124 $status
timeout --preserve-status -s INT 1 "$lib/time/sleep" 1000; status=$?
expect_eq "killed by SIGINT" "$(signal_status INT)" $status

# What the caller ignores, the call ignores, as across exec.
(trap '' INT && "$fixture/ignored" SIGINT); status=$?
expect_eq "an ignored SIGINT stays ignored in the call" 0 $status
"$fixture/ignored" SIGINT; status=$?
expect_eq "otherwise it is not" 1 $status
(trap '' HUP && "$fixture/ignored" SIGHUP); status=$?
expect_eq "nohup's SIGHUP too" 0 $status

check "pyfsd lives on" daemon_alive
pyfs_finish

#!/usr/bin/env bash
# Calls run in pyfsd's call server (src/callserver/): each in a child of
# the server's warm interpreter, in the caller's world, with the caller's
# exit status; the server lives and dies with pyfsd.
. "$(dirname "$0")/lib.sh"

pyfs_start -m os -m json -m sys -m ctypes -m _json -m pyfs_calls_fixture
cd "$WORK" || exit 1
lib=$MNT/lib
fixture=$lib/pyfs_calls_fixture
server=$(server_pid)
socket=$(socket_path)

check "the call server runs" alive "$server"
# Its spares copy ahead the pages a warm-up writes, which its first spare
# reports from /proc/self/pagemap once warm.
check "the server learned which pages a spare's warm-up writes" \
	wait_for 10 grep -Eq "spares copy ahead the [1-9][0-9]* pages a warm-up writes" "$PYFS_LOG"
expect_eq "the scripts name the call socket, in \$XDG_RUNTIME_DIR/pyfs" "$SOCKET_DIR" \
	"$(dirname "$socket")"
expect_eq "ps tells the call server from pyfsd" "pyfs-callserver" "$(cat "/proc/$server/comm")"
expect_eq "a program pyfsd spawned, not a fork of pyfsd" "$(readlink -f "$PYFS_CALLSERVER")" \
	"$(readlink "/proc/$server/exe")"

# Proof that a call runs in the server, not in a python3 the dispatcher
# started: its parent is the server, and it has a session of its own.
out=$($fixture/process)
expect_eq "a call is a child of the call server" "$server" "$(field ppid "$out")"
expect_eq "in a session of its own" "$(field pid "$out")" "$(field sid "$out")"
expect_eq "the call's result" "a/b" "$($lib/os/path/join a b)"
# Extension modules, shared objects of the interpreter's lib-dynload, find
# the C API in pyfsd and in the server, however libpython is linked.
check "pyfsd imported an extension module's shared object" \
	bash -c "[[ \$(cat '$lib/_json/__file__') == */lib-dynload/*.so ]]"
expect_eq "and the call server runs it" '"x"' "$($lib/_json/encode_basestring_ascii x)"

# The caller's world.
mkdir -p "$WORK/sub"
expect_eq "the caller's working directory" "$WORK/sub" "$(cd "$WORK/sub" && $lib/os/getcwd)"
expect_eq "the caller's environment" "yes" "$(PYFS_CALLS_VAR=yes $lib/os/getenv PYFS_CALLS_VAR)"
expect_eq "an unset variable is unset" "" "$(env -u HOME $lib/os/getenv HOME)"
expect_eq "the caller's umask" "0o77" "$(umask 077 && $fixture/umask)"
if [ -n "${PYFSD_WRAPPER:-}" ]; then
	# valgrind reserves file descriptors of its own and fakes RLIMIT_NOFILE.
	ok "the caller's limits # SKIP under $PYFSD_WRAPPER"
else
	expect_eq "the caller's limits" "[100, 100]" "$(ulimit -n 100 && $fixture/limit RLIMIT_NOFILE)"
fi
expect_eq "the caller's stdin, once per line" "$(printf '/x/a\n/x/b')" \
	"$(printf 'a\nb\n' | $lib/os/path/join /x -)"
expect_eq "an empty stdin" "" "$($lib/os/path/join /x - </dev/null)"
expect_eq "the call's threads are waited for, as python3 does" "thread" \
	"$($fixture/thread_then_return "$WORK/thread" && cat "$WORK/thread")"
$fixture/background "$WORK/background"
if [ -n "${PYFSD_WRAPPER:-}" ]; then
	ok "what a call leaves running outlives it # SKIP under $PYFSD_WRAPPER"
else
	check "what a call leaves running outlives it" wait_for 10 test -s "$WORK/background"
fi

# Exit statuses.
$lib/os/._exit 3; expect_eq "os._exit(3) exits 3" 3 $?
$lib/sys/exit 7; expect_eq "SystemExit(7) exits 7" 7 $?
$lib/os/path/isabs relative; expect_eq "False exits 1" 1 $?
$lib/ctypes/string_at 0 2>/dev/null; status=$?
expect_eq "a segfault: the dispatcher dies of SIGSEGV too" "$(signal_status SEGV)" $status
$lib/os/abort 2>/dev/null; status=$?
expect_eq "an abort: SIGABRT" "$(signal_status ABRT)" $status
check "and pyfsd lives on" daemon_alive
check "and so does the call server" alive "$server"
expect_eq "which still runs calls" "$server" "$(field ppid "$($fixture/process)")"

# Eight calls at once (four of each kind), each with its own arguments.
pids=()
for i in 1 2 3 4; do
	$lib/os/path/join "a$i" b >"$WORK/parallel.$i" 2>&1 &
	pids+=($!)
	$fixture/process >"$WORK/process.$i" 2>&1 &
	pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do
	wait "$pid" || failed=$((failed + 1))
done
expect_eq "8 parallel calls all succeed" 0 "$failed"
all=ok
for i in 1 2 3 4; do
	[ "$(cat "$WORK/parallel.$i")" = "a$i/b" ] || all="call $i: $(cat "$WORK/parallel.$i")"
	[ "$(field ppid "$(cat "$WORK/process.$i")")" = "$server" ] || all="call $i not in the server"
done
expect_eq "each with its own result, in the server" ok "$all"
expect_eq "in 4 processes of their own" 4 "$(for i in 1 2 3 4; do field pid "$(cat "$WORK/process.$i")"; done | sort -u | wc -l)"

# Four loops of calls that end as soon as they start: a spare that takes a
# job, runs it and exits between two reads of the server's signals is
# still a call, never "a spare that died idle" whose caller is left to the
# sweep (exit 137 after seconds). Without that care, a few in a thousand.
rounds=100
[ -z "${PYFSD_WRAPPER:-}" ] || rounds=10
pids=()
for i in 1 2 3 4; do
	(
		for _ in $(seq $rounds); do
			$lib/os/._exit 0 || echo "exit $?"
		done
	) >"$WORK/loop.$i" 2>&1 &
	pids+=($!)
done
wait "${pids[@]}"
expect_eq "$((4 * rounds)) short calls from 4 loops all exit 0" "" "$(cat "$WORK"/loop.*)"
expect_eq "and no call was taken for a spare that died idle" 0 \
	"$(grep -c 'died idle' "$PYFS_LOG")"

# A module added later is callable at once, and soon imported ahead of
# the calls by a new call server, which takes over from the old one.
check "a module added later" bash -c "echo pyfs_calls_later >> '$MNT/run/modules'"
expect_eq "is callable" "hello you" "$($lib/pyfs_calls_later/greet you)"
preimported() {
	local now
	now=$(server_pid) && [ "$now" != "$server" ] &&
		[ "$($lib/pyfs_calls_later/import_pid)" = "$now" ]
}
check "and imported by the next call server" wait_for 10 preimported
check "the one before drains and exits" wait_for 10 gone "$server"
server=$(server_pid)

# The server and its children end with pyfsd.
children=$(cat "/proc/$server/task/"*/children 2>/dev/null)
pyfs_stop
check "the call server ends with pyfsd" wait_for 10 gone "$server"
for child in $children; do
	check "and so does its child $child" wait_for 10 gone "$child"
done
check "the socket is removed" test ! -e "$socket"

pyfs_finish

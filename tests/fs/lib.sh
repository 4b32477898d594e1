# shellcheck shell=bash
# Helpers for the fs suite: a real pyfsd on a temporary mountpoint.
#
# Environment (set by meson): PYFSD, the built daemon.
# A test sources this file, calls pyfs_start, runs real tools against
# "$MNT", and ends with pyfs_finish, which stops the daemon, checks that it
# released its mount and logged no unexpected warning, and prints the tally.

set -u
set -o pipefail

: "${PYFSD:?PYFSD must point at the built pyfsd}"

TESTS_RUN=0
TESTS_FAILED=0
PYFS_PID=
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pyfs-test.XXXXXX")
MNT=$WORK/mnt
PYFS_LOG=$WORK/pyfsd.log
# Warnings a test provokes on purpose (an extended regex); others fail it.
EXPECTED_WARNINGS=${EXPECTED_WARNINGS:-}
mkdir -p "$MNT"
# pyfsd saves its module list under XDG_STATE_HOME and reads XDG_CONFIG_HOME:
# keep both in the test's own directory.
export XDG_STATE_HOME=$WORK/state XDG_CONFIG_HOME=$WORK/config

skip_all() {
	echo "1..0 # SKIP $*"
	# TAP: a plan of no tests is a skip; an exit status other than 0 an error.
	exit 0
}

[ -c /dev/fuse ] || skip_all "no /dev/fuse on this machine"
command -v fusermount3 >/dev/null || skip_all "fusermount3 is not installed"

cleanup() {
	if [ -n "$PYFS_PID" ] && kill -0 "$PYFS_PID" 2>/dev/null; then
		kill -TERM "$PYFS_PID" 2>/dev/null
		wait "$PYFS_PID" 2>/dev/null
	fi
	if grep -qs " $MNT " /proc/mounts; then
		fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
	fi
	# A failed test leaves what pyfsd said where meson prints it (stderr).
	if [ "$TESTS_FAILED" -gt 0 ] && [ -s "$PYFS_LOG" ]; then
		echo "--- the last 100 lines of pyfsd's log ---" >&2
		tail -n 100 "$PYFS_LOG" >&2
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

ok() {
	TESTS_RUN=$((TESTS_RUN + 1))
	echo "ok $TESTS_RUN - $*"
}

not_ok() {
	TESTS_RUN=$((TESTS_RUN + 1))
	TESTS_FAILED=$((TESTS_FAILED + 1))
	echo "not ok $TESTS_RUN - $*"
}

# check DESCRIPTION COMMAND...: the command must succeed. Its own output
# goes to stderr: stdout is the TAP stream.
check() {
	local what=$1
	shift
	if "$@" >&2; then ok "$what"; else not_ok "$what"; fi
}

# expect_eq DESCRIPTION EXPECTED ACTUAL
expect_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1"
		diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | sed 's/^/#   /'
	fi
}

# expect_errno DESCRIPTION STRERROR COMMAND...: the command fails, saying STRERROR.
expect_errno() {
	local what=$1 text=$2 out status
	shift 2
	out=$("$@" 2>&1)
	status=$?
	if [ $status -ne 0 ] && [[ $out == *"$text"* ]]; then
		ok "$what"
	else
		not_ok "$what (status $status, wanted “$text”, got: $out)"
	fi
}

# Polls CONDITION (a command) until it holds or SECONDS pass.
wait_for() {
	local seconds=$1 deadline
	shift
	deadline=$((SECONDS + seconds))
	until "$@"; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.05
	done
}

# The state file's name: the mountpoint relative to $HOME, or absolute,
# with every byte but ASCII letters and digits (not leading) as _xx.
label() {
	local path=$1 out='' c i
	[[ $path == "$HOME"/?* ]] && path=${path#"$HOME"/}
	for ((i = 0; i < ${#path}; i++)); do
		c=${path:i:1}
		if [[ $c == [A-Za-z] || ($c == [0-9] && $i -gt 0) ]]; then
			out+=$c
		else
			out+=$(printf '_%02x' "'$c")
		fi
	done
	echo "$out"
}

mounted() {
	grep -qs " $MNT fuse.pyfs " /proc/mounts && [ -f "$MNT/run/modules" ]
}

# Waiting for a mount ends early when the daemon exited instead.
mounted_or_exited() {
	mounted || ! kill -0 "$PYFS_PID" 2>/dev/null
}

# pyfs_start [PYFSD OPTION...]: runs pyfsd -f on $MNT and waits until the mount answers.
# PYFSD_WRAPPER (words, e.g. "valgrind --error-exitcode=1") runs pyfsd under a
# tool that keeps its pid and exit status; PYFS_START_TIMEOUT, in seconds,
# gives a slow one more time to mount.
pyfs_start() {
	local -a wrapper
	read -r -a wrapper <<<"${PYFSD_WRAPPER:-}"
	# Where this pyfsd's lines begin in the log, which the runs of a test share.
	PYFS_LOG_MARK=$(stat -c %s "$PYFS_LOG" 2>/dev/null || echo 0)
	"${wrapper[@]}" "$PYFSD" -f "$@" "$MNT" >>"$PYFS_LOG" 2>&1 &
	PYFS_PID=$!
	wait_for "${PYFS_START_TIMEOUT:-30}" mounted_or_exited
	if ! mounted; then
		echo "Bail out! pyfsd did not mount $MNT"
		sed 's/^/# /' "$PYFS_LOG"
		exit 1
	fi
}

# pyfs_stop: SIGTERM, which must release the mount and exit 0.
pyfs_stop() {
	local status
	kill -TERM "$PYFS_PID"
	wait "$PYFS_PID"
	status=$?
	PYFS_PID=
	expect_eq "pyfsd exits 0 on SIGTERM" 0 "$status"
	if grep -qs " $MNT " /proc/mounts; then
		not_ok "the mount is released on SIGTERM"
	else
		ok "the mount is released on SIGTERM"
	fi
}

daemon_alive() {
	[ -n "$PYFS_PID" ] && kill -0 "$PYFS_PID" 2>/dev/null && mounted
}

# A sanitizer's or valgrind's report on the daemon's stderr: never expected.
SANITIZER_REPORT='(ERROR|WARNING): [A-Za-z]+Sanitizer|Sanitizer:DEADLYSIGNAL|: runtime error: |^==[0-9]+== (ERROR SUMMARY: [1-9]|Invalid |Conditional jump|Syscall param|Mismatched free|Source and destination overlap)'

# Fails on any warning or critical in the daemon's log that the test did
# not expect, and on any sanitizer or valgrind report.
check_log() {
	local unexpected
	unexpected=$({
		grep -E -- '-(WARNING|CRITICAL|ERROR)\b' "$PYFS_LOG" |
			{ if [ -n "$EXPECTED_WARNINGS" ]; then grep -Ev -- "$EXPECTED_WARNINGS"; else cat; fi }
		grep -E -A 20 -- "$SANITIZER_REPORT" "$PYFS_LOG"
	})
	if [ -z "$unexpected" ]; then
		ok "pyfsd logged no unexpected warning"
	else
		not_ok "pyfsd logged unexpected warnings"
		printf '%s\n' "$unexpected" | sed 's/^/#   /'
	fi
}

pyfs_finish() {
	[ -z "$PYFS_PID" ] || pyfs_stop
	check_log
	echo "1..$TESTS_RUN"
	echo "# $((TESTS_RUN - TESTS_FAILED)) passed, $TESTS_FAILED failed"
	[ "$TESTS_FAILED" -eq 0 ]
}

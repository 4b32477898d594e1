# shellcheck shell=bash
# Helpers for the calls suite: tests/fs/lib.sh (a real pyfsd on a temporary
# mountpoint, TAP output, the log check) plus what the call server needs.
#
# Every test gets its own XDG_RUNTIME_DIR (so the socket is where a login
# session puts it), state and configuration directories.

. "$(dirname "${BASH_SOURCE[0]}")/../fs/lib.sh"

export XDG_RUNTIME_DIR=$WORK/runtime
export XDG_STATE_HOME=$WORK/state
export XDG_CONFIG_HOME=$WORK/config
mkdir -p -m 0700 "$XDG_RUNTIME_DIR"
SOCKET_DIR=$XDG_RUNTIME_DIR/pyfs

# Processes a test starts in the background, killed on the way out.
BACKGROUND=()

calls_cleanup() {
	local pid
	for pid in "${BACKGROUND[@]}"; do
		kill -KILL "$pid" 2>/dev/null
	done
	cleanup
}
trap calls_cleanup EXIT

# The pid of the call server serving now, from the daemon's log; waits
# (bounded) for one to serve, since pyfsd starts it in the background.
server_pid() {
	local i pid
	for i in $(seq 200); do
		pid=$(tail -c +$((${PYFS_LOG_MARK:-0} + 1)) "$PYFS_LOG" |
			grep -o 'Call server (pid [0-9]*) serving' | tail -1 | grep -o '[0-9]*')
		if [ -n "$pid" ]; then
			echo "$pid"
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# The socket the scripts name.
socket_path() {
	sed -n 's/^# pyfs-socket: //p' "$MNT/bin/pow"
}

alive() {
	kill -0 "$1" 2>/dev/null
}

gone() {
	! kill -0 "$1" 2>/dev/null
}

# The state letter of process $1 (R, S, T, Z...).
proc_state() {
	sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null
}

# field FIELD JSON: a number from the fixture's process() output.
field() {
	sed -n "s/.*\"$1\": \\([0-9]*\\).*/\\1/p" <<<"$2"
}

# fallback_copy PATH: a copy of the script at $MNT/PATH without its
# "# pyfs-socket:" line, under $WORK/fallback/PATH: the python3 path.
fallback_copy() {
	local copy=$WORK/fallback/$1
	mkdir -p "$(dirname "$copy")"
	sed '/^# pyfs-socket:/d' "$MNT/$1" >"$copy"
	chmod 0755 "$copy"
	printf '%s\n' "$copy"
}

# A call's exit status as a shell reports it: 128 + n for a death by signal n.
signal_status() {
	echo $((128 + $(kill -l "$1")))
}

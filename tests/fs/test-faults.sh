#!/usr/bin/env bash
# shellcheck disable=SC2119 # pyfs_start takes options; none here
# SIGKILL in the middle of a change (each write to run/modules is one
# transaction; the list is saved atomically after each change and restored
# on start): after a restart the list is the last committed one, nothing
# lost and nothing half-applied.
#   a. killed while an append imports: the append is not there, not even
#      the part of it that had imported (and the stale mount of a kill
#      that takes fusermount3's auto_unmount helper with it is released);
#   b. killed while a truncating write imports: the list from before the
#      truncation, not an empty one;
#   c. a clear that completed is kept, as an empty list, not the defaults;
#   d. kills at random moments under a writer that records, before each
#      change, what a kill may leave: the list before it or after it (a
#      clear, saved when the file is closed, after close(2) has returned,
#      stays in flight until the state file shows it); and a reader that
#      never sees the state file missing, empty or cut short.
# pyfs_slowimport (tests/fs/pymodules, on PYTHONPATH) says when its import
# has begun and then blocks: that is how a kill lands inside a write.
# shellcheck disable=SC2034 # read by lib.sh
EXPECTED_WARNINGS=''
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

command -v pgrep >/dev/null || skip_all "pgrep is not installed"

# pyfsd's private directory (the call server's socket) goes under TMPDIR:
# a killed pyfsd cannot remove it, so keep it in $WORK, which goes.
export TMPDIR=$WORK/tmp
mkdir -p "$TMPDIR"
# The fixture touches this file when its import begins.
export PYFS_TEST_IMPORT_STARTED=$WORK/import-started
unset PYFS_TEST_IMPORT_GATE
STARTED=$PYFS_TEST_IMPORT_STARTED
# Generous under valgrind, where everything takes seconds.
TIMEOUT=${PYFS_START_TIMEOUT:-30}

STATE_DIR=$XDG_STATE_HOME/pyfs
STATE=$STATE_DIR/$(LC_ALL=C label "$MNT").modules

# Processes this test may leave behind on a failure: writers, and the
# auto_unmount helpers it stops.
LEFTOVERS=()
cleanup_faults() {
	local p
	for p in "${LEFTOVERS[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	cleanup
}
trap cleanup_faults EXIT
# forget PID...: reaped or gone, so no longer ours to kill (the number may
# be reused).
forget() {
	local p q keep=()
	for p in "${LEFTOVERS[@]}"; do
		for q; do
			[ "$p" = "$q" ] && continue 2
		done
		keep+=("$p")
	done
	LEFTOVERS=("${keep[@]}")
}

list() { xargs <"$MNT/run/modules"; }
saved() { grep -v '^#' "$STATE" 2>/dev/null | xargs; }
saved_is() { [ "$(saved)" = "$1" ]; }
# shellcheck disable=SC2011 # ls is what is under test
lib_entries() { ls "$MNT/lib" | xargs; }
mounts_on_mnt() { grep -c " $MNT " /proc/mounts; }
stale() { [[ $(stat -f "$MNT" 2>&1) == *"Transport endpoint is not connected"* ]]; }

# Whether process $1 has exited (a zombie has: nobody may reap it here).
gone() {
	local state
	read -r _ _ state _ 2>/dev/null <"/proc/$1/stat" || return 0
	[ "$state" = Z ]
}
all_gone() {
	local p
	for p; do
		gone "$p" || return 1
	done
}
descendants() {
	local p
	for p in $(pgrep -P "$1"); do
		echo "$p"
		descendants "$p"
	done
}

# The daemon's log since byte $LOG_MARK: what the last start said.
LOG_MARK=0
since_start() { tail -c +$((LOG_MARK + 1)) "$PYFS_LOG"; }
logged_since_start() { since_start | grep -qF -- "$1"; }

# restart: pyfsd again on the same mountpoint and state directory, no -m.
# pyfs_start bails out unless it mounts within PYFS_START_TIMEOUT.
restart() {
	LOG_MARK=$(stat -c %s "$PYFS_LOG")
	pyfs_start
}

# kill_daemon: SIGKILL, reaped.
kill_daemon() {
	kill -KILL "$PYFS_PID"
	wait "$PYFS_PID" 2>/dev/null
	PYFS_PID=
}

# start_writer TEXT REDIRECTION: `echo TEXT >> run/modules` or `> run/modules`
# in the background, its pid in $WRITER.
start_writer() {
	rm -f "$STARTED"
	if [ "$2" = '>>' ]; then
		(echo "$1" >>"$MNT/run/modules") 2>"$WORK/writer.err" &
	else
		(echo "$1" >"$MNT/run/modules") 2>"$WORK/writer.err" &
	fi
	WRITER=$!
	LEFTOVERS+=("$WRITER")
}

# writer_failed WHAT: the writer killed in the middle must see an error.
writer_failed() {
	local status
	wait "$WRITER"
	status=$?
	forget "$WRITER"
	if [ $status -ne 0 ] && grep -Eq 'Transport endpoint is not connected|Software caused connection abort' \
		"$WORK/writer.err"; then
		ok "$1: the writer fails ($(sed 's/.*: //' "$WORK/writer.err" | head -n 1))"
	else
		not_ok "$1: the writer fails (status $status: $(cat "$WORK/writer.err"))"
	fi
}

# after_restart WHAT LIST: the restored list is LIST, in run/modules, lib/
# and the state file, which it was restored from.
after_restart() {
	local what=$1 want=$2
	expect_eq "$what: run/modules after the restart" "$want" "$(list)"
	expect_eq "$what: ls lib" "$(tr ' ' '\n' <<<"$want" | LC_ALL=C sort | xargs)" \
		"$(LC_ALL=C lib_entries)"
	expect_eq "$what: the state file" "$want" "$(saved)"
	check "$what: restored from $(basename "$STATE")" \
		logged_since_start "Restoring the module list saved in $STATE"
	expect_eq "$what: one mount on the mountpoint" 1 "$(mounts_on_mnt)"
}

# --- a. SIGKILL while an append imports --------------------------------------

pyfs_start
check "commit json os sys" bash -c "printf '%s\n' json os sys > '$MNT/run/modules'"
expect_eq "it is saved" "json os sys" "$(saved)"

start_writer "csv pyfs_slowimport" '>>'
check "append: the import of pyfs_slowimport has begun (csv before it)" \
	wait_for "$TIMEOUT" test -e "$STARTED"
expect_eq "append: while it imports, the saved list is the committed one" "json os sys" "$(saved)"

# fusermount3 (auto_unmount) would unmount the dead mount: stopped first and
# killed with pyfsd, it leaves the stale mount a crash of both leaves.
mapfile -t helpers < <(pgrep -P "$PYFS_PID" -x fusermount3)
check "append: pyfsd has its auto_unmount helper" test "${#helpers[@]}" -gt 0
LEFTOVERS+=("${helpers[@]}")
kill -STOP "${helpers[@]}"
mapfile -t others < <(descendants "$PYFS_PID" | grep -vxF -f <(printf '%s\n' "${helpers[@]}"))
kill_daemon
writer_failed "append"
kill -KILL "${helpers[@]}"
check "append: the kill left a stale mount (ENOTCONN)" wait_for 10 stale
check "append: pyfsd's other processes (${others[*]}) end with it" \
	wait_for "$TIMEOUT" all_gone "${others[@]}" "${helpers[@]}"
all_gone "${helpers[@]}" && forget "${helpers[@]}"
expect_eq "append: the saved list is the committed one" "json os sys" "$(saved)"

restart
check "append: the new pyfsd released the stale mount" \
	logged_since_start "Unmounting a stale mount on $MNT left by an earlier instance"
after_restart "append" "json os sys"
check "append: not half-applied: csv, imported first, is not listed either" \
	bash -c "! grep -qx csv '$MNT/run/modules'"
expect_eq "append: no temporary file is left beside the state file" "$(basename "$STATE")" \
	"$(ls -A "$STATE_DIR")"

# --- b. SIGKILL while a truncating write imports -----------------------------

start_writer "csv pyfs_slowimport" '>'
check "truncate: the import of pyfs_slowimport has begun" wait_for "$TIMEOUT" test -e "$STARTED"
# A daemon that saved the truncation at open would hold an empty list here.
expect_eq "truncate: while it imports, the saved list is the one before" "json os sys" "$(saved)"
kill_daemon
writer_failed "truncate"
# Restarted at once: the kill's mount may still be there (stale) or be
# gone already (auto_unmount); either way pyfsd must mount.
restart
after_restart "truncate" "json os sys"

# --- c. a clear that completed is kept ---------------------------------------

check "clear: : > run/modules" bash -c ": > '$MNT/run/modules'"
pyfs_stop
restart
expect_eq "clear, then SIGTERM: restored empty, not the defaults" "" "$(list)"
check "clear: the state file holds the empty list" test -f "$STATE"
expect_eq "clear: no name in it" "" "$(saved)"
check "clear: restored from it" logged_since_start "Restoring the module list saved in $STATE"

# Without a stop: `: >` writes nothing; the clear is saved when the file is
# closed (its RELEASE reaches pyfsd just after close(2) has returned).
check "clear: a list again" bash -c "echo 'csv re' > '$MNT/run/modules'"
expect_eq "clear: saved" "csv re" "$(saved)"
check "clear: : > run/modules again" bash -c ": > '$MNT/run/modules'"
check "clear: saved once the file is closed" wait_for "$TIMEOUT" saved_is ""
kill_daemon
restart
expect_eq "clear, saved, then SIGKILL: restored empty" "" "$(list)"
expect_eq "clear: one mount on the mountpoint" 1 "$(mounts_on_mnt)"

# --- d. kills at random moments ----------------------------------------------

POOL=(csv re json textwrap string glob shlex)
CAND=$WORK/candidates

# model_add LIST NAME...: $model = LIST with each NAME not yet in it appended.
model_add() {
	local name
	model=$1
	shift
	for name; do
		[[ " $model " == *" $name "* ]] || model=${model:+$model }$name
	done
}

# $picked: 1 to 3 names of the pool, perhaps repeated.
pick() {
	local i n=$((RANDOM % 3 + 1))
	picked=()
	for ((i = 0; i < n; i++)); do
		picked+=("${POOL[RANDOM % ${#POOL[@]}]}")
	done
}

# expect N WHAT LIST...: before change N, the lists a kill from now on may
# leave: "# N WHAT", then one list a line. Written only by the writer, read
# once it has exited: no need for an atomic replace.
expect() {
	local n=$1 what=$2
	shift 2
	{
		printf '# %s %s\n' "$n" "$what"
		printf '%s\n' "$@"
	} >"$CAND"
}

# Whether the state file lists no name (no fork: polled in a loop).
saved_empty() {
	local line
	[ -f "$STATE" ] || return 1
	while IFS= read -r line; do
		[[ $line == '#'* || -z ${line//[[:space:]]/} ]] || return 1
	done <"$STATE"
}

# nap SECONDS: a pause without a fork (sleep(1) takes a millisecond or two
# just to start): a read that times out on a FIFO nobody writes to.
mkfifo "$WORK/nap"
exec {NAP}<>"$WORK/nap"
nap() { read -r -t "$1" -u "$NAP" _; }

# writer LIST: changes the list (now LIST) until a change fails, which the
# kill makes happen; exit 1 then, 2 if a clear is not saved in time.
writer() {
	local cur=$1 n=0 model deadline
	while :; do
		n=$((n + 1))
		pick
		# Appends half the time, truncating writes 3 in 10, clears 2 in 10.
		case $((RANDOM % 10)) in
		[0-4])
			model_add "$cur" "${picked[@]}"
			expect "$n" "echo '${picked[*]}' >> run/modules" "$cur" "$model"
			echo "${picked[*]}" >>"$MNT/run/modules" || exit 1
			;;
		[5-7])
			model_add "" "${picked[@]}"
			expect "$n" "echo '${picked[*]}' > run/modules" "$cur" "$model"
			echo "${picked[*]}" >"$MNT/run/modules" || exit 1
			;;
		*)
			model=
			expect "$n" ": > run/modules" "$cur" ""
			: >"$MNT/run/modules" || exit 1
			# Saved at RELEASE, after close(2) has returned: until the
			# state file shows it, a kill may still leave $cur.
			deadline=$((SECONDS + TIMEOUT))
			until saved_empty; do
				{ : <"$MNT/run/modules"; } 2>/dev/null || exit 1
				if [ $SECONDS -ge $deadline ]; then
					echo "the clear of change $n was not saved in ${TIMEOUT}s" >&2
					exit 2
				fi
				nap 0.001
			done
			;;
		esac
		cur=$model
	done
}

# Meanwhile a reader of the state file: replaced whole (written aside and
# renamed over it), it is never seen missing, empty or cut short. A daemon
# that rewrote it in place would show it so, sooner or later.
reader() {
	local content n=0 bad=0
	while [ ! -e "$WORK/reader.stop" ]; do
		n=$((n + 1))
		content=$'\x01' # stays if the file cannot be opened
		{ IFS= read -r -d '' content; } 2>/dev/null <"$STATE"
		if [[ $content != "# "*$'\n' ]]; then
			bad=$((bad + 1))
			[ $bad -gt 5 ] || printf 'read %d: %q\n' "$n" "$content" >>"$WORK/reader.bad"
		fi
		nap 0.0002 # not quite a busy loop: other tests run beside this one
	done
	echo "$n reads, $bad torn" >"$WORK/reader.count"
}
reader &
READER=$!
LEFTOVERS+=("$READER")

# Under valgrind pyfsd starts in seconds and a change takes a good part of
# one: fewer rounds, and longer before the kill so that it is not always
# the first change that it interrupts.
if [ -n "${PYFSD_WRAPPER:-}" ]; then
	ROUNDS=3 MAX_DELAY_MS=3000
else
	ROUNDS=12 MAX_DELAY_MS=400
fi
for ((round = 1; round <= ROUNDS; round++)); do
	cur=$(list)
	printf '# 0 no change yet\n%s\n' "$cur" >"$CAND"
	writer "$cur" >/dev/null 2>"$WORK/writer.err" &
	WRITER=$!
	LEFTOVERS+=("$WRITER")
	delay=$(((RANDOM * 32768 + RANDOM) % (MAX_DELAY_MS + 1)))
	sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
	if ! kill -0 "$WRITER" 2>/dev/null; then
		not_ok "round $round: the writer failed while pyfsd lived: $(cat "$WORK/writer.err")"
	fi
	kill_daemon
	if wait_for "$TIMEOUT" gone "$WRITER"; then
		wait "$WRITER"
		status=$?
	else
		kill -KILL "$WRITER"
		wait "$WRITER"
		status="none: it hung"
	fi
	forget "$WRITER"
	if [ "$status" != 1 ]; then
		not_ok "round $round: the writer's change fails once pyfsd is killed (exit $status: $(cat "$WORK/writer.err"))"
	fi
	# "# N CHANGE", the list before it and, once it began, the list after it.
	mapfile -t cand <"$CAND"
	restart
	restored=$(list)
	what="round $round, SIGKILL after ${delay} ms during change ${cand[0]#\# }"
	if [ "${#cand[@]}" -eq 3 ] && [ "$restored" = "${cand[2]}" ]; then
		if [ "${cand[1]}" = "${cand[2]}" ]; then
			ok "$what: restored '$restored' (it changed nothing)"
		else
			ok "$what: restored '$restored', the list it makes"
		fi
	elif [ "$restored" = "${cand[1]}" ]; then
		ok "$what: restored '$restored', the list before it"
	else
		not_ok "$what: restored '$restored', neither the list before it, '${cand[1]}', nor the one it makes, '${cand[2]:-}'"
	fi
	expect_eq "round $round: the state file holds it" "$restored" "$(saved)"
	expect_eq "round $round: one mount on the mountpoint" 1 "$(mounts_on_mnt)"
done

touch "$WORK/reader.stop"
wait "$READER"
forget "$READER"
if [ -e "$WORK/reader.bad" ]; then
	not_ok "the state file was seen missing, empty or cut short ($(cat "$WORK/reader.count")):"
	sed 's/^/#   /' "$WORK/reader.bad"
else
	ok "the state file was never seen missing, empty or cut short ($(cat "$WORK/reader.count"))"
fi
# Not a failure: a kill during a save leaves its temporary file behind.
leftover=$(find "$STATE_DIR" -mindepth 1 ! -path "$STATE" | wc -l)
echo "# $leftover temporary files left in $STATE_DIR by kills during a save"

pyfs_finish

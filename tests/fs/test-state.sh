#!/usr/bin/env bash
# The saved module list and pyfsd.conf (README, "Install, service and logs"), without systemd: saved
# on every change, restored on start, -m, corrupt files, a state directory
# that cannot be written (the change is refused), the configuration file.
# shellcheck disable=SC2034 # read by lib.sh
EXPECTED_WARNINGS='Cannot restore the saved module list|Skipping|Cannot import|Refused a write|Cannot clear the module list|Cannot save the cleared module list|Ignoring the configuration file'
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# The test's own XDG directories: nothing of the user's is read or written.
export XDG_STATE_HOME=$WORK/state XDG_CONFIG_HOME=$WORK/config
STATE_DIR=$XDG_STATE_HOME/pyfs
TEST_MOUNTS=()

# Mounts made here (read-only, full) go before lib.sh's cleanup removes $WORK.
cleanup_mounts() {
	local m
	for m in "${TEST_MOUNTS[@]}"; do
		umount -l "$m"
	done
	cleanup
}
trap cleanup_mounts EXIT

STATE=$STATE_DIR/$(LC_ALL=C label "$MNT").modules

list() { xargs <"$MNT/run/modules"; }
saved() { grep -v '^#' "$STATE" | xargs; }
restart() {
	pyfs_stop
	pyfs_start "$@"
}

# --- nothing saved: the default list, and no file until a change ---

pyfs_start
expect_eq "nothing saved: the default list" "json os sys" "$(list)"
check "nothing is written before the list changes" test ! -e "$STATE"
check "append" bash -c "echo re >> '$MNT/run/modules'"
expect_eq "the change is saved, in $(basename "$STATE")" "json os sys re" "$(saved)"
expect_eq "the file is private" "600" "$(stat -c %a "$STATE")"
expect_eq "its directory too" "700" "$(stat -c %a "$STATE_DIR")"
expect_eq "no temporary file is left beside it" "$(basename "$STATE")" "$(ls -A "$STATE_DIR")"
check "a comment line says what the file is" grep -q '^# ' "$STATE"

restart
expect_eq "restored on start" "json os sys re" "$(list)"
check "the restore is logged" grep -q "Restoring the module list saved in $STATE" "$PYFS_LOG"
check "truncate and write" bash -c "echo 'csv string' > '$MNT/run/modules'"
expect_eq "saved" "csv string" "$(saved)"
restart
expect_eq "restored again" "csv string" "$(list)"
check "clear" bash -c ": > '$MNT/run/modules'"
restart
expect_eq "an empty list is a list: restored empty, not the default" "" "$(list)"

# --- -m replaces the saved list for that run, and is saved ---

restart -m json -m re
expect_eq "-m gives the list" "json re" "$(list)"
expect_eq "-m is saved" "json re" "$(saved)"
restart
expect_eq "and restored without -m" "json re" "$(list)"

# --- saved modules that no longer import, corrupt and unreadable files ---

pyfs_stop
printf 'json\nno_such_module\nos\n' >"$STATE"
pyfs_start
expect_eq "a saved module that no longer imports is skipped" "json os" "$(list)"
check "with a warning" grep -q "Skipping no_such_module from $STATE" "$PYFS_LOG"

corrupt() {
	local what=$1 reason=$2 content=$3
	pyfs_stop
	printf '%b' "$content" >"$STATE"
	pyfs_start
	expect_eq "$what: the default list" "json os sys" "$(list)"
	check "$what: a warning says why" \
		grep -q "Cannot restore the saved module list: $STATE: $reason" "$PYFS_LOG"
	check "$what: the daemon serves" daemon_alive
}
corrupt "non-UTF-8" "Not valid UTF-8" 'json\n\0377\0376\n'
corrupt "an invalid name" "Line 2: " 'json\nnot-a-module\n'
corrupt "a NUL byte" "Contains a NUL byte" 'json\0os\n'
check "the next change replaces the corrupt file" bash -c "echo re >> '$MNT/run/modules'"
expect_eq "with the list" "json os sys re" "$(saved)"

pyfs_stop
rm "$STATE" && mkdir "$STATE"
pyfs_start
expect_eq "an unreadable state file (a directory): the default list" "json os sys" "$(list)"
check "with a warning" grep -q "Cannot restore the saved module list: .*$(basename "$STATE")" \
	"$PYFS_LOG"
pyfs_stop
rmdir "$STATE"

# --- a state directory that cannot be written: the change is refused ---

pyfs_start
check "a first change creates the file" bash -c "echo re >> '$MNT/run/modules'"
before=$(cat "$STATE")
if [ "$(id -u)" -eq 0 ]; then
	# Root writes through any mode: make it really read-only.
	mount --bind "$STATE_DIR" "$STATE_DIR" && TEST_MOUNTS+=("$STATE_DIR")
	mount -o remount,bind,ro "$STATE_DIR"
	refusal="Read-only file system"
else
	chmod 0555 "$STATE_DIR"
	refusal="Permission denied"
fi
expect_errno "append with a read-only state directory: $refusal" "$refusal" \
	bash -c "echo csv >> '$MNT/run/modules'"
expect_errno "truncate with a read-only state directory: $refusal" "$refusal" \
	bash -c "echo csv > '$MNT/run/modules'"
expect_eq "the list is unchanged" "json os sys re" "$(list)"
expect_eq "the file is unchanged" "$before" "$(cat "$STATE")"
# `: >` writes nothing: the clear is saved when the file is closed, and put
# back when that fails (the close's RELEASE reaches pyfsd after close(2)).
list_is() { [ "$(list)" = "$1" ]; }
logged() { grep -q "$1" "$PYFS_LOG"; }
check ": > with a read-only state directory" bash -c ": > '$MNT/run/modules'"
check "the clear cannot be saved, and says so" \
	wait_for 10 logged "Cannot save the cleared module list, so it is put back"
check "so the list is put back" wait_for 10 list_is "json os sys re"
expect_eq "the file is unchanged" "$before" "$(cat "$STATE")"
check "the refusal says why" grep -q "Cannot save the module list, so it stays as it was" "$PYFS_LOG"
if [ "$(id -u)" -eq 0 ]; then
	umount "$STATE_DIR" && TEST_MOUNTS=()
else
	chmod 0700 "$STATE_DIR"
fi
check "writable again: the change goes through" bash -c "echo csv >> '$MNT/run/modules'"
expect_eq "and is saved" "json os sys re csv" "$(saved)"

if [ "$(id -u)" -eq 0 ]; then
	# A full disk: a tiny tmpfs over the state directory, filled up.
	cp "$STATE" "$WORK/saved"
	mount -t tmpfs -o size=16k,mode=0700 pyfs-test-full "$STATE_DIR" && TEST_MOUNTS+=("$STATE_DIR")
	cp "$WORK/saved" "$STATE"
	dd if=/dev/zero of="$STATE_DIR/filler" bs=4k status=none 2>/dev/null
	expect_errno "append with a full disk: ENOSPC" "No space left on device" \
		bash -c "echo textwrap >> '$MNT/run/modules'"
	expect_eq "the list is unchanged" "json os sys re csv" "$(list)"
	expect_eq "the saved list too" "json os sys re csv" "$(saved)"
	pyfs_stop
	umount "$STATE_DIR" && TEST_MOUNTS=()
else
	ok "a full disk # SKIP needs root (a tmpfs)"
	pyfs_stop
fi

# --- pyfsd.conf: the default list and sys.path ---

rm -f "$STATE"
mkdir -p "$XDG_CONFIG_HOME/pyfs" "$WORK/pylib"
echo 'ANSWER = 42' >"$WORK/pylib/pyfs_conf_module.py"
printf '[pyfsd]\nmodules=csv;string\npath=%s\n' "$WORK/pylib" >"$XDG_CONFIG_HOME/pyfs/pyfsd.conf"
pyfs_start
expect_eq "pyfsd.conf modules= is the default list" "csv string" "$(list)"
check "path= is on sys.path" bash -c "echo pyfs_conf_module >> '$MNT/run/modules'"
expect_eq "a module found there" "42" "$(cat "$MNT/lib/pyfs_conf_module/ANSWER")"
restart
expect_eq "once saved, the saved list wins over modules=" "csv string pyfs_conf_module" "$(list)"
pyfs_stop

rm -f "$STATE"
printf '[pyfsd]\nmodules=json;not-a-name\n' >"$XDG_CONFIG_HOME/pyfs/pyfsd.conf"
pyfs_start
expect_eq "an invalid pyfsd.conf is ignored: the built-in default" "json os sys" "$(list)"
check "with a warning" grep -q "Ignoring the configuration file: .*pyfsd.conf: modules: " \
	"$PYFS_LOG"

pyfs_finish

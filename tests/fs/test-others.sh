#!/usr/bin/env bash
# Other users (README "Other users"): with -o allow_other the kernel lets
# their requests through, and pyfsd refuses each (EACCES) before any of
# the modules' code runs and before any inode is made, logging it once per
# uid; its modes say the mount is its user's alone. With --allow-others,
# other users may read, list and run (the modes say so), not change the
# list. "nobody" (uid 65534) plays the other user, once as it is (the
# kernel's mode checks stop it) and once with CAP_DAC_OVERRIDE, as root
# would be, whom modes do not stop: then pyfsd's own check is all there
# is. pyfs_spy (tests/fs/pymodules) records the code of its that runs.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "acting as another user needs root"
command -v setpriv >/dev/null || skip_all "setpriv is not installed"
getent passwd 65534 >/dev/null || skip_all "no user 65534 (nobody)"

# nobody must reach the mountpoint for the kernel to pass anything on.
chmod 0711 "$WORK"
export PYFS_TEST_SPY_LOG=$WORK/spy.log
SPY=$PYFS_TEST_SPY_LOG

as_nobody() {
	(cd / && setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@")
}
# nobody, whom file modes do not stop (as they do not stop root).
as_nobody_overriding() {
	(cd / && setpriv --reuid=65534 --regid=65534 --clear-groups \
		--inh-caps=+dac_override,+dac_read_search \
		--ambient-caps=+dac_override,+dac_read_search -- "$@")
}
list() { paste -sd ' ' "$MNT/run/modules"; }
spied() { cat "$SPY" 2>/dev/null | paste -sd ' '; }
ran() { grep -qx -- "$1" "$SPY" 2>/dev/null; }
logged_times() { grep -c -- "$1" "$PYFS_LOG"; }
mode() { stat -c '%a %F' "$MNT/$1"; }

# refused WHO: every kind of request of WHO (a function above) gets EACCES.
refused() {
	local who=$1
	expect_errno "$who: cat a value" "Permission denied" "$who" cat "$MNT/lib/pyfs_spy/VALUE"
	expect_errno "$who: ls a module" "Permission denied" "$who" ls "$MNT/lib/pyfs_spy"
	expect_errno "$who: stat an attribute (the module's __getattr__)" "Permission denied" \
		"$who" stat "$MNT/lib/pyfs_spy/LAZY"
	expect_errno "$who: run a callable" "Permission denied" "$who" "$MNT/lib/pyfs_spy/run"
	expect_errno "$who: ls lib" "Permission denied" "$who" ls "$MNT/lib"
	expect_errno "$who: cat run/modules" "Permission denied" "$who" cat "$MNT/run/modules"
	expect_errno "$who: append to run/modules" "Permission denied" \
		"$who" sh -c "echo csv >> '$MNT/run/modules'"
	expect_errno "$who: truncate run/modules" "Permission denied" \
		"$who" sh -c ": > '$MNT/run/modules'"
	expect_errno "$who: truncate(1) run/modules" "Permission denied" \
		"$who" truncate -s 0 "$MNT/run/modules"
	expect_errno "$who: a fresh import (run/reload)" "Permission denied" \
		"$who" sh -c "echo > '$MNT/run/reload'"
}

# --- -o allow_other alone: the mount is its user's --------------------------

pyfs_start -o allow_other -m json -m pyfs_spy
check "the kernel lets other users through (allow_other)" \
	grep -q " $MNT fuse.pyfs .*allow_other" /proc/mounts
expect_eq "the mount's root is its user's alone" "500 directory" "$(mode .)"
expect_eq "so is a directory" "500 directory" "$(mode lib/json)"
expect_eq "a value" "400 regular file" "$(mode lib/json/__name__)"
expect_eq "an executable" "500 regular file" "$(mode lib/json/dumps)"
expect_eq "run/modules" "600 regular file" "$(mode run/modules)"
expect_eq "run/reload, write-only" "200 regular empty file" "$(mode run/reload)"
# Inode numbers are handed out in order: the next one tells whether any was made.
before=$(stat -c %i "$MNT/lib/json/dumps")

refused as_nobody
refused as_nobody_overriding

expect_eq "none of the module's code ran for them" "" "$(spied)"
expect_eq "the list is unchanged" "json pyfs_spy" "$(list)"
expect_eq "no inode was made for them" $((before + 1)) "$(stat -c %i "$MNT/lib/json/loads")"
expect_eq "pyfsd's refusal of uid 65534 is logged once" 1 \
	"$(logged_times "Refused a request of uid 65534")"
expect_eq "its user still reads" "spied" "$(cat "$MNT/lib/pyfs_spy/VALUE")"
check "and that ran the module's code" ran str
pyfs_stop
rm -f "$SPY"

# --- --allow-others: shared to read, list and run -----------------------------

pyfs_start --allow-others -m json -m pyfs_spy
check "--allow-others mounts with allow_other" grep -q " $MNT fuse.pyfs .*allow_other" /proc/mounts
expect_eq "the root is everyone's to read" "555 directory" "$(mode .)"
expect_eq "so is a directory" "555 directory" "$(mode lib/json)"
expect_eq "a value" "444 regular file" "$(mode lib/json/__name__)"
expect_eq "an executable" "555 regular file" "$(mode lib/json/dumps)"
expect_eq "run/modules, writable by its user only" "644 regular file" "$(mode run/modules)"
expect_eq "run/reload, writable by its user only" "200 regular empty file" "$(mode run/reload)"

expect_eq "nobody: cat a value" "spied" "$(as_nobody cat "$MNT/lib/pyfs_spy/VALUE")"
check "which ran the module's code, as pyfsd's user" ran str
expect_eq "nobody: ls lib" "json pyfs_spy" "$(as_nobody ls "$MNT/lib" | paste -sd ' ')"
expect_eq "nobody: cat run/modules" "json pyfs_spy" "$(as_nobody cat "$MNT/run/modules" | paste -sd ' ')"
expect_eq "nobody: run a callable" "[1, 2]" "$(as_nobody "$MNT/lib/json/dumps" '[1,2]' 2>/dev/null)"
for who in as_nobody as_nobody_overriding; do
	expect_errno "$who: append to run/modules" "Permission denied" \
		"$who" sh -c "echo csv >> '$MNT/run/modules'"
	expect_errno "$who: truncate run/modules" "Permission denied" \
		"$who" sh -c ": > '$MNT/run/modules'"
	expect_errno "$who: a fresh import (run/reload)" "Permission denied" \
		"$who" sh -c "echo > '$MNT/run/reload'"
done
expect_eq "the list is unchanged" "json pyfs_spy" "$(list)"
expect_eq "pyfsd's refusal of a change by uid 65534 is logged once" 1 \
	"$(logged_times "Refused uid 65534 a change of the module list")"
check "its user still changes the list" bash -c "echo csv >> '$MNT/run/modules'"
expect_eq "and the change is made" "json pyfs_spy csv" "$(list)"
pyfs_stop

pyfs_finish

#!/usr/bin/env bash
# Python code that blocks or spins, run for a request: an import, a str(),
# a dir(), a module's __getattr__, a property. The request fails with
# ETIMEDOUT after pyfsd --timeout (or, while that code still runs, reads as
# a marker), and pyfsd goes on serving everything else.
# shellcheck disable=SC2034 # read by lib.sh
EXPECTED_WARNINGS='did not finish within|is still running from an earlier request|Cannot import pyfs_(slow|spin)import: TimeoutError|Cannot render pyfs_blocking.SPINNING: TimeoutError'
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# Under valgrind everything is slower: a limit that ordinary work still meets.
LIMIT=1
[ -z "${PYFSD_WRAPPER:-}" ] || LIMIT=5

export PYFS_TEST_IMPORT_STARTED=$WORK/import-started
export PYFS_TEST_IMPORT_GATE=$WORK/import-gate
mkfifo "$PYFS_TEST_IMPORT_GATE"

list() { paste -sd ' ' "$MNT/run/modules"; }
logged() { grep -q -- "$1" "$PYFS_LOG"; }
# Milliseconds since the epoch.
now() { echo $((${EPOCHREALTIME/./} / 1000)); }
# elapsed START: whole seconds since START.
elapsed() { echo $((($(now) - $1) / 1000)); }

pyfs_start -t "$LIMIT" -m json -m pyfs_blocking -m pyfs_blockdir

# --- an import that hangs ---

start=$(now)
expect_errno "a hung import fails the write: ETIMEDOUT" "Connection timed out" \
	bash -c "echo 'csv pyfs_slowimport' >> '$MNT/run/modules'"
took=$(elapsed "$start")
check "after the limit, not before ($took s for $LIMIT s)" \
	test "$took" -ge "$LIMIT" -a "$took" -le $((LIMIT + 5))
expect_eq "nothing was added" "json pyfs_blocking pyfs_blockdir" "$(list)"
check "a log line names the import" \
	logged "Refused a write to run/modules: The import of pyfs_slowimport did not finish within $LIMIT s"
check "its import still hangs" test -e "$PYFS_TEST_IMPORT_STARTED"

# The import is still blocked in its worker: everything else is served.
check "run/modules reads" test "$(list)" = "json pyfs_blocking pyfs_blockdir"
check "lib lists" bash -c "ls '$MNT/lib' | grep -qx json"
check "a value reads" test "$(cat "$MNT/lib/json/__name__")" = json
check "another import goes through" bash -c "echo csv >> '$MNT/run/modules'"
expect_eq "and is listed" "json pyfs_blocking pyfs_blockdir csv" "$(list)"
check "a call runs" test "$("$MNT/lib/json/dumps" '[1,2]')" = "[1, 2]"

start=$(now)
expect_errno "the same import again fails at once" "Connection timed out" \
	bash -c "echo pyfs_slowimport >> '$MNT/run/modules'"
check "without waiting for the limit again" test "$(elapsed "$start")" -lt "$LIMIT"
check "saying why" logged "The import of pyfs_slowimport is still running from an earlier request that timed out"

# Let the import finish: its late result is dropped, not added. Opening
# the gate is enough; writing to it could meet a reader already gone.
: >"$PYFS_TEST_IMPORT_GATE"
check "the import ends, and its result is dropped" \
	wait_for 30 logged "The import of pyfs_slowimport ended after it had timed out; its result was dropped"
expect_eq "so the list is unchanged" "json pyfs_blocking pyfs_blockdir csv" "$(list)"
check "the import was ended by a TimeoutError once it returned to Python" \
	logged "Cannot import pyfs_slowimport: TimeoutError"
# Not still running: a new attempt imports afresh, and with the gate open
# (a writer waiting on the FIFO) it completes.
{ : >"$PYFS_TEST_IMPORT_GATE"; } &
opener=$!
check "a new attempt imports it afresh" bash -c "echo pyfs_slowimport >> '$MNT/run/modules'"
wait "$opener"
expect_eq "and lists it" "json pyfs_blocking pyfs_blockdir csv pyfs_slowimport" "$(list)"

expect_errno "an import spinning in Python fails the write: ETIMEDOUT" "Connection timed out" \
	bash -c "echo pyfs_spinimport >> '$MNT/run/modules'"
check "and is ended by a TimeoutError raised in it" \
	wait_for 30 logged "The import of pyfs_spinimport ended after it had timed out"
check "with its traceback" logged "Cannot import pyfs_spinimport: TimeoutError"

# --- values, listings and attributes whose code hangs ---

cd "$MNT/lib" || exit 1
expect_errno "a str() that blocks: ETIMEDOUT" "Connection timed out" cat pyfs_blocking/BLOCKING
check "a log line names the value" logged "pyfs_blocking/BLOCKING did not finish within $LIMIT s"
expect_eq "while it still runs, the file reads as a marker" \
	"[pyfs: pyfs_blocking.BLOCKING timed out, and is still running]" "$(cat pyfs_blocking/BLOCKING)"
expect_eq "and its size is that of the marker" \
	"$(cat pyfs_blocking/BLOCKING | wc -c)" "$(stat -c %s pyfs_blocking/BLOCKING)"
expect_eq "the other values of the module read" "fine" "$(cat pyfs_blocking/FINE)"

expect_errno "a listing stuck on a str() that spins: ETIMEDOUT" "Connection timed out" \
	ls pyfs_blocking
check "the log names the value it was stuck in" \
	logged "Listing pyfs_blocking did not finish within $LIMIT s (stuck in pyfs_blocking.SPINNING)"
check "the spinning str() is ended by a TimeoutError" \
	wait_for 30 logged "Listing pyfs_blocking ended after it had timed out"
# A value that timed out once is not run again by a listing.
check "the module then lists, with every name" \
	bash -c "ls pyfs_blocking | grep -qx SPINNING && ls pyfs_blocking | grep -qx FINE"
expect_errno "reading it runs it again: ETIMEDOUT" "Connection timed out" cat pyfs_blocking/SPINNING

expect_errno "a module __getattr__ that blocks: ETIMEDOUT" "Connection timed out" \
	cat pyfs_blocking/LAZY
expect_errno "a dir() that blocks: ETIMEDOUT" "Connection timed out" ls pyfs_blockdir
check "the log says so" logged "Listing pyfs_blockdir did not finish within $LIMIT s"
start=$(now)
expect_errno "listing it again fails at once" "Connection timed out" ls pyfs_blockdir
check "without waiting for the limit again" test "$(elapsed "$start")" -lt "$LIMIT"
cd / || exit 1

check "a module replacing itself with a module subclass is added" \
	bash -c "echo pyfs_selfmodule >> '$MNT/run/modules'"
expect_errno "a property that blocks: ETIMEDOUT" "Connection timed out" \
	cat "$MNT/lib/pyfs_selfmodule/HANGING"
expect_eq "its other attributes read" "42" "$(cat "$MNT/lib/pyfs_selfmodule/VALUE")"

# --- with all that still hanging, pyfsd serves, and stops cleanly ---

check "find over the mount terminates" bash -c "timeout 120 find '$MNT' >/dev/null 2>&1; test \$? -ne 124"
check "a change still goes through" bash -c "echo textwrap >> '$MNT/run/modules'"
check "the daemon still answers" daemon_alive
pyfs_stop
check "it leaves the hung code to the exit" \
	logged "Timed-out Python code is still running; not finalizing the interpreter"

pyfs_finish

#!/usr/bin/env bash
# Python code that hangs never holds the FUSE threads: with every deadline
# worker stuck in a str() and more requests for such values waiting, what
# needs no Python code of the objects still answers at once: run/modules,
# an append of a module already imported, ls lib, a plain value.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

export PYFS_TEST_HUNG_STARTED=$WORK/started PYFS_TEST_HUNG_GATE=$WORK/gate
mkdir -p "$PYFS_TEST_HUNG_STARTED"
READERS=32
# Long enough that nothing here times out: the hung code is released by the test.
pyfs_start -t 60 -m json -m pyfs_hung

readers=()
for i in $(seq 0 $((READERS - 1))); do
	cat "$MNT/lib/pyfs_hung/h$i/HUNG" >"$WORK/out$i" 2>&1 &
	readers+=($!)
done
started() { [ "$(ls "$PYFS_TEST_HUNG_STARTED" | wc -l)" -ge 8 ]; }
check "every deadline worker is stuck in a str()" wait_for 60 started
# A bound that only a starved daemon reaches: the hung code is held for a minute.
expect_eq "cat run/modules answers" "json pyfs_hung" "$(timeout 20 cat "$MNT/run/modules" | xargs)"
check "an append of a module already imported answers" \
	timeout 20 bash -c "echo re >> '$MNT/run/modules'"
expect_eq "and is listed" "json pyfs_hung re" "$(xargs <"$MNT/run/modules")"
expect_eq "ls lib answers" "json pyfs_hung re" "$(timeout 20 ls "$MNT/lib" | xargs)"
expect_eq "a plain value reads" "json" "$(timeout 20 cat "$MNT/lib/json/__name__")"
still=0
for pid in "${readers[@]}"; do
	kill -0 "$pid" 2>/dev/null && still=$((still + 1))
done
expect_eq "all the while, every reader of a hung value still waits" "$READERS" "$still"

: >"$PYFS_TEST_HUNG_GATE"
failed=0
for pid in "${readers[@]}"; do
	wait "$pid" || failed=$((failed + 1))
done
expect_eq "released, every reader gets its value" 0 "$failed"
expect_eq "the value" "released" "$(cat "$WORK/out0")"

pyfs_finish

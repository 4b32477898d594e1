#!/usr/bin/env bash
# The inode table follows the kernel: a node the kernel forgot (FORGET,
# once its dentry and inode caches are dropped) is freed, so names looked
# up once (any identifier under dot/) cost nothing for good; a node the
# kernel still holds (an open file) keeps its number. pyfsd -d logs the
# table's size whenever FORGET frees nodes.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

[ -w /proc/sys/vm/drop_caches ] || skip_all "cannot drop the kernel's caches (not root)"

ROUND=20000
pyfs_start -d -m json
cd "$MNT" || exit 1

drop_caches() { sync && echo 2 >/proc/sys/vm/drop_caches; }
# The inode table's size as last logged.
table_size() {
	grep -a -o '[0-9]* in the inode table' "$PYFS_LOG" | tail -n 1 | grep -o '^[0-9]*'
}
table_at_least() { local n; n=$(table_size) && [ "$n" -ge "$1" ]; }
table_below() { local n; n=$(table_size) && [ "$n" -lt "$1" ]; }
# stat_names PREFIX: stats dot/PREFIX0 ... in one process (each a new node).
stat_names() {
	/usr/bin/python3 - "$1" "$ROUND" <<'PY'
import os, sys
prefix, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    os.stat(f"dot/{prefix}{i}")
PY
}

exec 3<lib/json/__name__
held=$(stat -c %i lib/json/__name__)
for prefix in zz yy; do
	check "$ROUND new names looked up under dot/ ($prefix)" stat_names $prefix
	# Their renderings expire within a second; the kernel still holds the nodes.
	check "the table holds them" wait_for 30 table_at_least "$ROUND"
	drop_caches
	check "once the kernel forgot them, the table is small again" wait_for 60 table_below 1000
done
expect_eq "a file held open keeps its inode number" "$held" "$(stat -c %i lib/json/__name__)"
expect_eq "and reads the same" "json" "$(cat /dev/fd/3)"
exec 3<&-
check "the daemon still answers" daemon_alive

pyfs_finish

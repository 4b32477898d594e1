#!/usr/bin/env bash
# The transcript of README's Quick start and Usage, line by line, on a real mount.
. "$(dirname "$0")/lib.sh"

pyfs_start
cd "$WORK" || exit 1
mountpoint=mnt

expect_eq "ls mountpoint/lib" "json
os
sys" "$(ls $mountpoint/lib)"
expect_eq "cat mountpoint/lib/os/pathsep" ":" "$(cat $mountpoint/lib/os/pathsep)"
expect_eq "mountpoint/lib/os/path/join" "/this/is/a/path/to/be/joined" \
	"$($mountpoint/lib/os/path/join /this/is/a "path/to" be/joined)"
check "echo re >> mountpoint/run/modules" bash -c "echo re >> $mountpoint/run/modules"
expect_eq "ls mountpoint/lib shows re" "json
os
re
sys" "$(ls $mountpoint/lib)"
expect_eq "mountpoint/lib/re/match" "<re.Match object; span=(0, 5), match='hello'>" \
	"$($mountpoint/lib/re/match ".*(l+).*" hello)"
check "echo re > mountpoint/run/modules" bash -c "echo re > $mountpoint/run/modules"
expect_eq "ls mountpoint/lib shows only re" "re" "$(ls $mountpoint/lib)"

pyfs_finish

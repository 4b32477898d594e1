#!/usr/bin/env bash
# Everything but run/modules is read-only, with a clear errno, never EIO.
EXPECTED_WARNINGS='Refused'
. "$(dirname "$0")/lib.sh"

pyfs_start
cd "$MNT" || exit 1
before=$(cat run/modules)

expect_errno "write to a value file" "Permission denied" bash -c 'echo x > lib/os/sep'
expect_errno "append to a value file" "Permission denied" bash -c 'echo x >> lib/os/sep'
expect_errno "write to an executable" "Permission denied" bash -c 'echo x > lib/os/getcwd'
expect_errno "touch a new file" "Permission denied" touch lib/os/new
expect_errno "touch an existing file" "Permission denied" touch lib/os/sep
expect_errno "mkdir" "Permission denied" mkdir lib/newdir
expect_errno "mkdir at the top" "Permission denied" mkdir newdir
expect_errno "rm a file" "Permission denied" rm -f lib/os/sep
expect_errno "rm a module directory" "Permission denied" rmdir lib/os
expect_errno "rm run/modules" "Permission denied" rm -f run/modules
expect_errno "mv" "Permission denied" mv lib/os/sep lib/os/sep2
expect_errno "ln -s" "Permission denied" ln -s x lib/os/newlink
expect_errno "ln" "Permission denied" ln lib/os/sep lib/os/newhard
expect_errno "chmod" "Operation not permitted" chmod 0777 lib/os/sep
expect_errno "chmod run/modules" "Operation not permitted" chmod 0600 run/modules
expect_errno "chown" "Operation not permitted" chown 1:1 lib/os/sep
expect_errno "truncate a value file" "Permission denied" truncate -s 0 lib/os/sep
expect_errno "utimes on a value file" "Operation not permitted" touch -c -h -d @0 lib/os/path
expect_errno "mknod" "Permission denied" mkfifo lib/fifo
expect_errno "setfattr" "Operation not permitted" \
	/usr/bin/python3 -c 'import os,sys; os.setxattr(sys.argv[1], "user.x", b"1")' lib/os/sep
expect_errno "cp into the mount" "Permission denied" cp /etc/hostname lib/os/
expect_eq "the module list is unchanged" "$before" "$(cat run/modules)"
check "no EIO anywhere in the log" bash -c "! grep -q 'Input/output' '$PYFS_LOG'"
check "the daemon still answers" daemon_alive

pyfs_finish

#!/usr/bin/env bash
# Calls always run the current code: after a source file of a listed
# module (or of one it imported) changes on disk, the very next call runs
# the new code, with no command to type, and soon in the warm server
# again. The modules live in a directory on pyfsd's path only (path= in
# pyfsd.conf), not in the caller's environment: the calls that run with
# python3 meanwhile find them too.
. "$(dirname "$0")/lib.sh"

PY=$WORK/py
mkdir -p "$PY/pkg" "$XDG_CONFIG_HOME/pyfs"
printf '[pyfsd]\npath=%s\n' "$PY" >"$XDG_CONFIG_HOME/pyfs/pyfsd.conf"

# write FILE TEXT: FILE's new content, written in place (no rename).
write() {
	printf '%s\n' "$2" >"$PY/$1"
}

write mymod.py 'import os
counter = 1
def greet(name):
    return "hello " + name
def old():
    return "old"
def where():
    return os.getppid()'
write pkg/__init__.py 'import os, pkgutil
MODULES = sorted(m.name for m in pkgutil.iter_modules(__path__))
def modules():
    return " ".join(MODULES)'
write pkg/sub.py 'def f():
    return "sub 1"'
write helper.py 'def text():
    return "helper 1"'
write usehelper.py 'from helper import text
def show():
    return text()'

pyfs_start -m mymod -m pkg -m pkg.sub -m usehelper
unset PYTHONPATH
cd "$WORK" || exit 1
lib=$MNT/lib
server=$(server_pid)

warm() {
	local now
	now=$(server_pid) && [ "$($lib/mymod/where)" = "$now" ]
}
check "calls run in the warm server" warm
expect_eq "the module as it was" "hello you" "$($lib/mymod/greet you)"

write mymod.py 'import os
counter = 2
def greet(name):
    return "howdy " + name
def old():
    return "old"
def where():
    return os.getppid()'
expect_eq "an edit in place: the very next call runs the new code" "howdy you" \
	"$($lib/mymod/greet you)"
expect_eq "and the tree shows the new value" "2" "$(cat "$lib/mymod/counter")"
check "and calls are warm again soon, in a new server" wait_for 20 warm
check "which is not the old one" test "$(server_pid)" != "$server"
expect_eq "the new server runs the new code" "howdy you" "$($lib/mymod/greet you)"

# A change and a call that reach the server at the same moment: the server
# was stopped meanwhile, and finds both waiting; the call runs the new code.
server=$(server_pid)
backlog() {
	local queued
	queued=$(ss -xlH src "$(socket_path)" | awk '{ print $3 }')
	[ "${queued:-0}" -ge 1 ]
}
kill -STOP "$server"
write helper.py 'def text():
    return "helper 1b"'
$lib/usehelper/show >"$WORK/together" 2>&1 &
BACKGROUND+=($!)
check "(the call waits in the socket's backlog)" wait_for 10 backlog
kill -CONT "$server"
wait "${BACKGROUND[-1]}"
expect_eq "a change and a call at the same moment: the new code" "helper 1b" \
	"$(cat "$WORK/together")"
check "warm again" wait_for 20 warm

# The bytecode trap: a .pyc written for the source as it is, then an edit
# that keeps the size within the same second. CPython takes such a .pyc
# for current (it checks the source's time in whole seconds, and its
# size); only the .pyc's own time can tell it is stale. python3 writes it
# here (the suite runs pyfsd without bytecode writing).
armed=no
for _ in 1 2 3 4 5; do
	sed -i 's/HOWDY/howdy/' "$PY/mymod.py"
	PYTHONDONTWRITEBYTECODE= PYTHONPATH=$PY "${PYFS_PYTHON:-python3}" -c 'import mymod' &&
		before=$(stat -c '%Y %s' "$PY/mymod.py") &&
		sed -i 's/howdy/HOWDY/' "$PY/mymod.py" &&
		[ "$(stat -c '%Y %s' "$PY/mymod.py")" = "$before" ] && armed=yes && break
done
expect_eq "(a .pyc of the same second and size as the new source)" yes "$armed"
expect_eq "an edit that keeps the size (the .pyc is older than the source)" "HOWDY you" \
	"$($lib/mymod/greet you)"
check "warm again" wait_for 20 warm
expect_eq "and the warm server agrees" "HOWDY you" "$($lib/mymod/greet you)"

printf 'def greet(name):\n    return "renamed " + name\n' >"$PY/mymod.py.new"
printf 'import os\ndef where():\n    return os.getppid()\n' >>"$PY/mymod.py.new"
mv "$PY/mymod.py.new" "$PY/mymod.py"
expect_eq "a new file renamed over the old one" "renamed you" "$($lib/mymod/greet you)"
listing() {
	ls "$lib/mymod" | tr '\n' ' '
}
check "the tree lists what the new file has, and not what it lost ($(listing))" \
	bash -c "[[ '$(listing)' == *where* && '$(listing)' != *old* && '$(listing)' != *counter* ]]"
gone_from_tree() {
	! test -e "$lib/mymod/old"
}
check "a function removed is gone from the tree (within the cache's second)" \
	wait_for 5 gone_from_tree
check "warm again" wait_for 20 warm
out=$($lib/mymod/old 2>&1)
check "a function removed no longer runs ($out)" test "$out" != old

write pkg/sub.py 'def f():
    return "sub 2"'
expect_eq "an edit of a submodule in a package" "sub 2" "$($lib/pkg.sub/f)"
check "warm again" wait_for 20 warm
write pkg/extra.py 'X = 1'
expect_eq "a module added to a package" "extra sub" "$($lib/pkg/modules)"
check "warm again" wait_for 20 warm
rm "$PY/pkg/extra.py"
expect_eq "a module removed from a package" "sub" "$($lib/pkg/modules)"

write helper.py 'def text():
    return "helper 2"'
expect_eq "a module a listed one imported, edited" "helper 2" "$($lib/usehelper/show)"

# Files that are no code change nothing (an editor's swap file, data):
# the next call still runs in the same server, which would have refused
# it had it taken them for a change.
check "warm again" wait_for 20 warm
server=$(server_pid)
touch "$PY/.mymod.py.swp" "$PY/notes.txt" "$PY/mymod.py~"
expect_eq "an editor's files and data are no change" "$server" "$($lib/mymod/where)"
# The server killed: the next call runs with python3, which finds the
# modules on pyfsd's path (the caller's environment has none of them).
EXPECTED_WARNINGS="The call server \(pid $server\) was killed by signal 9"
kill -KILL "$server"
expect_eq "a server killed: the next call still finds the module" "renamed you" \
	"$($lib/mymod/greet you)"
check "and a new server serves soon" wait_for 20 warm

pyfs_finish

#!/usr/bin/env bash
# Who may call: the socket is 0600 in a 0700 directory, and the server
# refuses (and logs) any peer whose SO_PEERCRED uid is not its own, even
# when the file modes would let it in. Refused callers still get their
# call, from python3 (as anyone may copy a script and run it).
EXPECTED_WARNINGS='refused a call from uid 65534'
. "$(dirname "$0")/lib.sh"

pyfs_start -m os -m pyfs_calls_fixture
lib=$MNT/lib
server=$(server_pid)
socket=$(socket_path)

expect_eq "the socket directory is \$XDG_RUNTIME_DIR/pyfs" "$SOCKET_DIR" "$(dirname "$socket")"
expect_eq "the directory is 0700" "700" "$(stat -c %a "$SOCKET_DIR")"
expect_eq "the socket is 0600" "600" "$(stat -c %a "$socket")"
expect_eq "both are pyfsd's user's" "$(id -u) $(id -u)" \
	"$(stat -c %u "$SOCKET_DIR") $(stat -c %u "$socket")"

# Another user: root can become one, and then needs a copy of the script it
# may read (FUSE lets no other user into the mount) in a directory it may
# enter, and a working directory it may enter.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	public=$WORK/public
	mkdir -m 0755 "$public"
	chmod 0711 "$WORK"
	cp "$MNT/lib/pyfs_calls_fixture/process" "$public/process"
	chmod 0755 "$public/process"
	as_nobody() {
		(cd / && setpriv --reuid=65534 --regid=65534 --clear-groups "$@")
	}
	refused() {
		grep -c "refused a call from uid 65534" "$PYFS_LOG"
	}

	out=$(as_nobody "$public/process"); status=$?
	expect_eq "another user's call runs" 0 $status
	check "from python3: the socket directory keeps it out" \
		test "$(field ppid "$out")" != "$server" -a -n "$(field ppid "$out")"
	expect_eq "nothing reached the server" 0 "$(refused)"

	# Make the socket reachable, as a careless chmod would: the server
	# itself must still refuse.
	chmod 0711 "$XDG_RUNTIME_DIR" "$SOCKET_DIR"
	chmod 0666 "$socket"
	out=$(as_nobody "$public/process"); status=$?
	expect_eq "with the socket reachable, another user's call still runs" 0 $status
	check "from python3: the server refused it" \
		test "$(field ppid "$out")" != "$server" -a -n "$(field ppid "$out")"
	expect_eq "and logged the refusal" 1 "$(refused)"
	expect_eq "our own calls still run in the server" "$server" \
		"$(field ppid "$("$lib/pyfs_calls_fixture/process")")"
	chmod 0700 "$WORK" "$XDG_RUNTIME_DIR" "$SOCKET_DIR"
else
	ok "another user # SKIP needs root and setpriv"
fi
pyfs_stop

# Without XDG_RUNTIME_DIR (pyfsd run outside a login session): a private
# directory from mkdtemp, removed when pyfsd stops.
export TMPDIR=$WORK/tmp
mkdir -p "$TMPDIR"
unset XDG_RUNTIME_DIR
pyfs_start -m os -m pyfs_calls_fixture
socket=$(socket_path)
dir=$(dirname "$socket")
check "without XDG_RUNTIME_DIR: a mkdtemp directory" \
	bash -c "[[ '$dir' == '$TMPDIR'/pyfs-?????? ]]"
expect_eq "which is 0700" "700" "$(stat -c %a "$dir")"
expect_eq "the socket 0600" "600" "$(stat -c %a "$socket")"
expect_eq "calls run in the server" "$(server_pid)" \
	"$(field ppid "$("$MNT/lib/pyfs_calls_fixture/process")")"
pyfs_stop
check "the directory is removed when pyfsd stops" test ! -e "$dir"
export XDG_RUNTIME_DIR=$WORK/runtime

# An XDG_RUNTIME_DIR that others may write to is not used.
chmod 0777 "$XDG_RUNTIME_DIR"
pyfs_start -m os
check "an XDG_RUNTIME_DIR others may write to is not used" \
	bash -c "[[ '$(socket_path)' == '$TMPDIR'/pyfs-??????/* ]]"
pyfs_stop
chmod 0700 "$XDG_RUNTIME_DIR"

pyfs_finish

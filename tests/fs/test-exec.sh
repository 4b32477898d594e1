#!/usr/bin/env bash
# Executable files through the mount (README, "Executables"): the caller's world, exit
# statuses, and a call that crashes never takes the daemon down.
. "$(dirname "$0")/lib.sh"

pyfs_start -m os -m json -m string -m sys -m pyfs_fixture
cd "$WORK" || exit 1
lib=$MNT/lib

check "the #! line names an interpreter that exists" \
	bash -c "test -x \"\$(sed -n '1s/^#!//p' $lib/os/getcwd)\""
check "cat shows a readable script" grep -q "^# pyfs-module: os$" "$lib/os/getcwd"
expect_eq "JSON-literal arguments" "5" "$($lib/pyfs_fixture/add 2 3)"
expect_eq "a string argument stays a string" "ab" "$($lib/pyfs_fixture/add a b)"
expect_eq "keyword arguments" "12" "$($lib/pyfs_fixture/add --b=10 2)"
expect_eq "stdin, once per line" "$(printf 'Hello World\nFoo Bar')" \
	"$(printf 'hello world\nfoo bar\n' | $lib/string/capwords -)"
check "--help shows the signature" bash -c "$lib/os/path/join --help | grep -q 'join(a, \\*p)'"
expect_eq "JSON output" '{"a": [1, 2]}' "$($lib/json/loads '"{\"a\": [1, 2]}"')"
expect_eq "the caller's working directory" "$WORK" "$($lib/os/getcwd)"
expect_eq "the caller's environment" "yes" "$(PYFS_TEST_VAR=yes $lib/os/getenv PYFS_TEST_VAR)"
$lib/sys/exit 7; expect_eq "SystemExit(n) exits n" 7 $?
$lib/os/path/isabs relative; expect_eq "False exits 1" 1 $?
$lib/os/path/isabs /; expect_eq "True exits 0" 0 $?
expect_errno "an exception: Type: message, exit 1" "TypeError: unsupported operand" \
	$lib/pyfs_fixture/add 1 '"x"'
$lib/os/._exit 3; expect_eq "os._exit(3) exits 3" 3 $?
check "and the daemon lives on" daemon_alive
$lib/os/abort 2>/dev/null; status=$?
check "a call that aborts dies alone (status $status)" test $status -ne 0
check "and the daemon lives on" daemon_alive
$lib/os/chdir / && expect_eq "a call's chdir does not leak into the daemon" "$WORK" "$($lib/os/getcwd)"

pyfs_finish

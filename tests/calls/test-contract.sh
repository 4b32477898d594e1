#!/usr/bin/env bash
# The call contract (DESIGN 4) is the same whichever way a call runs: each
# case runs through the call server (the script in the mount) and through
# python3 (a copy of the script without its socket line), and both must
# give the same output, errors and exit status.
. "$(dirname "$0")/lib.sh"

unset PYFS_TRACEBACK PYTHONIOENCODING PYTHONUNBUFFERED
pyfs_start -m os -m json -m sys -m string -m locale -m pyfs_fixture -m pyfs_calls_fixture
cd "$WORK" || exit 1
server=$(server_pid)

# same DESCRIPTION STDIN PATH ARG...: runs $MNT/PATH and its fallback copy
# with STDIN (bytes, "" for none) and compares what they print and return.
same() {
	local what=$1 input=$2 path=$3 copy server_out fallback_out
	shift 3
	copy=$(fallback_copy "$path")
	printf '%s' "$input" | "$MNT/$path" "$@" >"$WORK/s.out" 2>"$WORK/s.err"
	echo "status $?" >>"$WORK/s.out"
	printf '%s' "$input" | "$copy" "$@" >"$WORK/f.out" 2>"$WORK/f.err"
	echo "status $?" >>"$WORK/f.out"
	# The script's own path appears in usage messages.
	sed -i "s|$WORK/fallback/|$MNT/|g" "$WORK/f.err"
	server_out=$(cat "$WORK/s.out" "$WORK/s.err" | od -c)
	fallback_out=$(cat "$WORK/f.out" "$WORK/f.err" | od -c)
	if [ "$server_out" = "$fallback_out" ]; then
		ok "$what"
	else
		not_ok "$what"
		diff <(cat "$WORK/s.out" "$WORK/s.err") <(cat "$WORK/f.out" "$WORK/f.err") |
			sed 's/^/#   /'
	fi
}

check "the cases below run in the server" \
	test "$(field ppid "$("$MNT/lib/pyfs_calls_fixture/process")")" = "$server"

same "JSON-literal arguments" "" lib/pyfs_fixture/add 2 3
same "strings stay strings" "" lib/pyfs_fixture/add a b
same "lists" "" lib/pyfs_fixture/add '[1]' '[2, 3]'
same "--name=value keywords" "" lib/pyfs_fixture/add --b=10 2
same "-- ends the options" "" lib/os/path/join -- --x y
same "- takes stdin, once per line" $'hello world\nfoo bar\n' lib/string/capwords -
same "- with a last line without newline" $'a\nb' lib/os/path/join /x -
same "--help: the signature and the docstring" "" lib/os/path/join --help
same "-h" "" lib/pyfs_fixture/add -h
same "None prints nothing" "" lib/os/chdir .
same "str as is" "" lib/os/path/basename /a/b
same "bytes raw" "" lib/os/fsencode abc
same "True exits 0" "" lib/os/path/isabs /
same "False exits 1" "" lib/os/path/isabs x
same "JSON output" "" lib/json/loads '"{\"a\": [1, 2]}"'
same "str() when not JSON" "" run/sys.modules/builtins/set '[1]'
same "SystemExit(n) exits n" "" lib/sys/exit 7
same "SystemExit(str)" "" lib/sys/exit '"bye"'
same "an exception: its line, exit 1" "" lib/pyfs_fixture/add 1 '"x"'
same "bad usage: exit 2" "" lib/pyfs_fixture/add 1 2 3
same "an unknown keyword" "" lib/pyfs_fixture/add --c=1 2
same "a bad option" "" lib/pyfs_fixture/add --not-an-identifier=1 2
PYFS_TRACEBACK=1 same "PYFS_TRACEBACK=1: the traceback" "" lib/pyfs_fixture/add 1 '"x"'
same "non-UTF-8 arguments come back as bytes" "" lib/os/path/join $'\xff' $'b\xfe'
same "non-UTF-8 stdin lines" $'\xff\n' lib/os/path/join /x -
same "dot/: attribute of each line" $'Hello world\nfoo bar\n' dot/split
same "dot/ with arguments" $'Hello=world\n' dot/split =
same "dot/ on a non-callable attribute" $'3\n' dot/real
same "the environment" "" lib/os/getenv HOME
LC_ALL=C same "LC_ALL=C: stdio" "" lib/pyfs_calls_fixture/stdio
PYTHONIOENCODING=latin-1 same "PYTHONIOENCODING" "" lib/pyfs_calls_fixture/stdio
PYTHONUNBUFFERED=1 same "PYTHONUNBUFFERED" "" lib/pyfs_calls_fixture/stdio
# The categories but LC_CTYPE are "C" in python3, whatever pyfsd's are.
same "the locale python3 starts with: LC_NUMERIC" "" lib/locale/setlocale "$(python3 -c 'import locale; print(locale.LC_NUMERIC)')"
same "and LC_CTYPE" "" lib/locale/setlocale "$(python3 -c 'import locale; print(locale.LC_CTYPE)')"

pyfs_finish

#!/usr/bin/env bash
# The call contract (README, "Executables") is the same whichever way a call runs: each
# case runs through the call server (the script in the mount) and through
# python3 (a copy of the script without its socket line), and both must
# give the same output, errors and exit status.
. "$(dirname "$0")/lib.sh"

unset PYFS_TRACEBACK PYTHONIOENCODING PYTHONUNBUFFERED
pyfs_start -m os -m json -m sys -m string -m locale -m re -m itertools -m builtins -m pyfs_fixture \
	-m pyfs_calls_fixture -m pyfs_calls_typed -m pyfs_calls_future
cd "$WORK" || exit 1
server=$(server_pid)

# run_both STDIN PATH ARG...: runs $MNT/PATH and its fallback copy with
# STDIN (bytes, "" for none): their stdout then "status N" in s.out and
# f.out, their stderr in s.err and f.err.
run_both() {
	local input=$1 path=$2 copy
	shift 2
	copy=$(fallback_copy "$path")
	printf '%s' "$input" | "$MNT/$path" "$@" >"$WORK/s.out" 2>"$WORK/s.err"
	echo "status $?" >>"$WORK/s.out"
	printf '%s' "$input" | "$copy" "$@" >"$WORK/f.out" 2>"$WORK/f.err"
	echo "status $?" >>"$WORK/f.out"
	# The script's own path appears in usage messages.
	sed -i "s|$WORK/fallback/|$MNT/|g" "$WORK/f.err"
}

# Why the last two runs differ, if they do.
differences() {
	cmp -s <(cat "$WORK/s.out" "$WORK/s.err") <(cat "$WORK/f.out" "$WORK/f.err") ||
		diff <(cat "$WORK/s.out" "$WORK/s.err") <(cat "$WORK/f.out" "$WORK/f.err")
}

# same DESCRIPTION STDIN PATH ARG...: both ways print and return the same.
same() {
	local what=$1 why
	shift
	run_both "$@"
	why=$(differences)
	if [ -z "$why" ]; then
		ok "$what"
	else
		not_ok "$what"
		printf '%s\n' "$why" | sed 's/^/#   /'
	fi
}

# same_as DESCRIPTION STATUS STDOUT STDERR STDIN PATH ARG...: both ways the
# same, and that is exit status STATUS, STDOUT exactly, and a stderr that
# is empty for STDERR "", else matches the extended regular expression.
same_as() {
	local what=$1 status=$2 out=$3 err=$4 why
	shift 4
	run_both "$@"
	why=$(differences)
	cmp -s "$WORK/s.out" <(printf '%sstatus %s\n' "$out" "$status") ||
		why+=$'\n'"expected status $status and stdout $(printf %q "$out"), got $(cat -v "$WORK/s.out")"
	if [ -z "$err" ]; then
		[ ! -s "$WORK/s.err" ] || why+=$'\n'"stderr: $(cat -v "$WORK/s.err")"
	else
		grep -Eq -- "$err" "$WORK/s.err" ||
			why+=$'\n'"stderr does not match $err: $(cat -v "$WORK/s.err")"
	fi
	if [ -z "$why" ]; then
		ok "$what"
	else
		not_ok "$what"
		printf '%s\n' "$why" | sed 's/^/#   /'
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

# --- Arguments decoded by the signature -------------------------------------

T=lib/pyfs_calls_typed
usage="^pyfs-call: $MNT/$T/[a-z]+: "
same_as "str: a commit id stays a string" 0 $'hello 297e7814231!\n' "" "" $T/greet 297e7814231
same_as "str: true, null, a JSON string, as typed" 0 $'hello true"x"\n' "" "" \
	$T/greet true '"x"'
same_as "str by keyword" 0 $'hello 12null\n' "" "" $T/greet --punct=null 12
same_as "int" 0 $'ababab\n' "" "" $T/repeat ab 3
same_as "int by keyword" 0 $'abab\n' "" "" $T/repeat --times=2 ab
same_as "a bad int: bad usage, naming the parameter" 2 "" \
	"${usage}parameter 'times': invalid int value: 'x'$" "" $T/repeat ab x
same_as "... and a pointer to --help" 2 "" "^Try '$MNT/$T/repeat --help'\.$" "" $T/repeat ab 1.5
same_as "float" 0 $'7.5\n' "" "" $T/scale 2.5 3
same_as "a bad float" 2 "" "parameter 'by': invalid float value: 'double'" "" \
	$T/scale 1 double
same_as "bool: yes" 0 $'HELLO X!\n' "" "" $T/greet --loud=yes x
same_as "bool: Off" 0 $'hello x!\n' "" "" $T/greet --loud=Off x
same_as "a bad bool names the words" 2 "" \
	"parameter 'loud': invalid bool value: 'maybe' \(true/false, yes/no, 1/0 or on/off, in any case\)$" "" \
	$T/greet --loud=maybe x
same_as "bool: --loud" 0 $'HELLO X!\n' "" "" $T/greet --loud x
same_as "bool: --no-loud" 0 $'hello x!\n' "" "" $T/greet --no-loud x
same_as "**kwargs: bool flags" 0 $'{"a": true, "b": false}\n' "" "" $T/options --a --no-b
same_as "a bool default: --verbose" 0 $'[1, ",", true]\n' "" "" $T/untyped --verbose 1
same_as "a flag for a parameter that is no bool" 2 "" \
	"${usage}option '--punct' needs a value: --punct=VALUE" "" $T/greet --punct x
same_as "a flag that names no parameter" 2 "" "${usage}unknown option '--colour'" "" \
	$T/greet --colour x
same_as "Optional[str] and str | None" 0 $'["1", "null"]\n' "" "" $T/maybe 1 null
same_as "no annotation: JSON literals; a str default: a str" 0 $'[[1], "2", true]\n' "" "" \
	$T/untyped --sep=2 --verbose=on '[1]'
same_as "*args: int, keyword-only int" 0 $'16\n' "" "" $T/total --start=10 1 2 3
same_as "a bad *args item" 2 "" "parameter 'numbers': invalid int value: 'three'" "" \
	$T/total 1 three
same_as "**kwargs: bool" 0 $'{"a": true, "b": false}\n' "" "" $T/options --a=1 --b=no
same_as "*args and **kwargs without annotation" 0 $'[[1, "x"], {"k": [2]}]\n' "" "" \
	$T/anything --k='[2]' 1 x
same_as "the stdin slot follows its parameter: str" 0 $'hello 0123!\nhello 1e5!\n' "" \
	$'0123\n1e5\n' $T/greet -
same_as "... and int, a bad line is bad usage" 2 $'aa\n' "parameter 'times': invalid int value: 'two'" \
	$'2\ntwo\n3\n' $T/repeat a -
same_as "string annotations are resolved" 0 $'00?\n' "" "" \
	lib/pyfs_calls_future/label --suffix=? 0 2
same_as "string annotations: bool" 0 $'AB\n' "" "" lib/pyfs_calls_future/label --upper ab
same_as "a builtin without a signature keeps the JSON rules" 0 $'{"a": [1]}\n' "" "" \
	lib/builtins/dict --a='[1]'
same_as "a builtin's str default takes a str" 0 $'    7\n' "" "" lib/builtins/format 7 5
typed_py=$(python3 -c 'import pyfs_calls_typed; print(pyfs_calls_typed.__file__)')
line_of() { grep -n "^def $1(" "$typed_py" | cut -d: -f1; }
same_as "--help: the parameters, how they are given and decoded, where it is defined" 0 \
"pyfs_calls_typed.greet(name: str, punct: str = '!', *, loud: bool = False)
    Greets name.

Parameters:
  name   positional or --name=VALUE; a string, as typed
  punct  positional or --punct=VALUE; a string, as typed; default '!'
  loud   --loud, --no-loud or --loud=VALUE; a bool; default False
A bool is true/false, yes/no, 1/0 or on/off, in any case.

Defined in $typed_py:$(line_of greet)
" "" "" $T/greet --help
same_as "--help: *args and **kwargs" 0 \
"pyfs_calls_typed.anything(*args, **kwargs)

Parameters:
  *args     the remaining positional arguments; a JSON literal, else a string
  **kwargs  --NAME=VALUE for any other NAME; a JSON literal, else a string

Defined in $typed_py:$(line_of anything)
" "" "" $T/anything -h
same "--help: string annotations" "" lib/pyfs_calls_future/label --help
same "--help of a builtin without a signature" "" lib/builtins/dict --help
same_as "too many arguments: bad usage as before" 2 "" "^TypeError: .*greet\(\)" "" \
	$T/greet a b c

# --- Iterators stream --------------------------------------------------------

F=lib/pyfs_calls_fixture
mkdir -p "$WORK/tree/sub"
: >"$WORK/tree/file"
same_as "a generator: one item per line, each by the output rules" 0 \
	$'text\nline\nraw\n[1, "x"]\n{"k": null}\nrange(0, 2)\nnested\n' "" "" $F/items
same_as "a False item fails the stream" 1 "" "" "" $F/falsy_items
same_as "a generator raising half-way: the items, then the error" 1 $'0\n1\n' \
	'^ValueError: half-way$' "" $F/half_way 2
same_as "an iterable that is not an iterator keeps its str()" 0 $'3 2 1 go\n' "" "" \
	$F/countdown
same_as "range() is no iterator either" 0 $'range(0, 3)\n' "" "" lib/builtins/range 3
same_as "os.walk" 0 $'["tree", ["sub"], ["file"]]\n["tree/sub", [], []]\n' "" "" \
	lib/os/walk tree
same_as "re.finditer" 0 \
	$'<re.Match object; span=(0, 2), match=\'ab\'>\n<re.Match object; span=(4, 6), match=\'ad\'>\n' \
	"" "" lib/re/finditer 'a[bd]' abacad
same_as "a stream per stdin line" 0 $'x\nx\nx\n' "" $'1\n2\n' lib/itertools/repeat x -

# endless_head SCRIPT: SCRIPT's endless stream through head -3, which must
# end the pipeline (within a bound, so that a call that does not stream
# fails instead of hanging), the call quietly gone with SIGPIPE's status.
endless_head() {
	local script=$1 marker=$WORK/endless.pid pid statuses
	rm -f "$marker"
	timeout 60 "$script" "$marker" 2>"$WORK/endless.err" | head -3 >"$WORK/endless.out"
	statuses="${PIPESTATUS[*]}"
	pid=$(cat "$marker" 2>/dev/null)
	expect_eq "$script | head -3: 0 1 2" $'0\n1\n2' "$(cat "$WORK/endless.out")"
	expect_eq "... ends with SIGPIPE's status, quietly" "141 0 " "$statuses $(cat "$WORK/endless.err")"
	check "... and the call is gone" wait_for 10 gone_or_zombie "${pid:-0}"
}

gone_or_zombie() {
	gone "$1" || [ "$(proc_state "$1")" = Z ]
}

endless_head "$MNT/$F/endless"
endless_head "$(fallback_copy $F/endless)"

for count in "$MNT/lib/itertools/count" "$(fallback_copy lib/itertools/count)"; do
	timeout 60 "$count" 2>"$WORK/count.err" | head -3 >"$WORK/count.out"
	status=${PIPESTATUS[0]}
	expect_eq "$count | head -3: 0 1 2, SIGPIPE's status" $'0\n1\n2\nstatus 141' \
		"$(cat "$WORK/count.out" "$WORK/count.err"; echo "status $status")"
done

pyfs_finish

#!/bin/bash
# test-dispatcher.sh PYFS_CALL: the executable-file contract (README, "Executables"),
# without a mount. Script files are written by hand in the format pyfsd
# serves, with PYFS_CALL on their #! line, and run the way a user runs them.
# Output is TAP.

set -u

pyfs_call=${1:?usage: test-dispatcher.sh PATH/TO/pyfs-call}
[[ $pyfs_call == /* ]] || pyfs_call=$PWD/$pyfs_call
[[ -x $pyfs_call ]] || { echo "Bail out! $pyfs_call is not executable"; exit 1; }

# What these variables change is tested explicitly, not inherited.
unset PYFS_TRACEBACK PYTHONSAFEPATH PYTHONUNBUFFERED PYTHONIOENCODING PYTHONINSPECT
export LC_ALL=C.UTF-8

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin=$tmp/bin
mkdir -p "$bin" "$tmp/work/sub"
cd "$tmp/work" || exit 1

n=0
failed=0

# lib NAME MODULE ATTRIBUTE...: a lib/ file, as pyfsd writes it.
lib() {
  local name=$1 module=$2 attr
  shift 2
  {
    printf '#!%s\n' "$pyfs_call"
    printf '# %s: a Python callable served by pyfs.\n' "$module.${*// /.}"
    printf '# Running this file calls it with the arguments and prints the result;\n'
    printf '# run it with --help for its signature and documentation (see pyfsd(1)).\n'
    printf '# pyfs-module: %s\n' "$module"
    for attr; do
      printf '# pyfs-attribute: %s\n' "$attr"
    done
  } >"$bin/$name"
  chmod 0555 "$bin/$name"
}

# dot NAME: a dot/ file.
dot() {
  {
    printf '#!%s\n' "$pyfs_call"
    printf '# dot/%s: calls %s on each object read from standard input.\n' "$1" "$1"
    printf '# pyfs-dot: %s\n' "$1"
  } >"$bin/dot.$1"
  chmod 0555 "$bin/dot.$1"
}

# run CMD...: runs CMD, keeping its stdout, stderr and status.
run() {
  "$@" >"$tmp/out" 2>"$tmp/err"
  status=$?
}

# feed INPUT CMD...: run with INPUT (exact bytes) on stdin.
feed() {
  local input=$1
  shift
  run "$@" < <(printf '%s' "$input")
}

report() {
  n=$((n + 1))
  if [[ $1 == ok ]]; then
    echo "ok $n - $2"
  else
    failed=$((failed + 1))
    echo "not ok $n - $2"
    shift 2
    printf '#   %s\n' "$@"
    printf '#   stdout: %q\n' "$(cat -v "$tmp/out")"
    printf '#   stderr: %q\n' "$(cat -v "$tmp/err")"
  fi
}

# expect DESCRIPTION STATUS STDOUT [STDERR]: the last run's status and its
# stdout and stderr, byte for byte (stderr empty when not given).
expect() {
  local why=()
  [[ $status == "$2" ]] || why+=("status $status, expected $2")
  cmp -s "$tmp/out" <(printf '%s' "$3") || why+=("stdout differs, expected $(printf %q "$3")")
  cmp -s "$tmp/err" <(printf '%s' "${4-}") ||
    why+=("stderr differs, expected $(printf %q "${4-}")")
  if ((${#why[@]})); then report fail "$1" "${why[@]}"; else report ok "$1"; fi
}

# expect_help DESCRIPTION STRING...: the last run exited 0, wrote nothing on
# stderr, and each fixed STRING is in its stdout.
expect_help() {
  local what=$1 why=() string
  [[ $status == 0 ]] || why+=("status $status, expected 0")
  [[ -s $tmp/err ]] && why+=("stderr is not empty")
  shift
  for string; do
    grep -qF -- "$string" "$tmp/out" || why+=("stdout lacks $string")
  done
  if ((${#why[@]})); then report fail "$what" "${why[@]}"; else report ok "$what"; fi
}

# expect_lacks DESCRIPTION STRING...: no fixed STRING is in the last run's stdout.
expect_lacks() {
  local what=$1 why=() string
  shift
  for string; do
    grep -qF -- "$string" "$tmp/out" && why+=("stdout has $string")
  done
  if ((${#why[@]})); then report fail "$what" "${why[@]}"; else report ok "$what"; fi
}

# expect_err DESCRIPTION STATUS STDOUT PATTERN...: stderr matches each
# extended regular expression (a leading ! negates).
expect_err() {
  local what=$1 why=() pattern
  [[ $status == "$2" ]] || why+=("status $status, expected $2")
  cmp -s "$tmp/out" <(printf '%s' "$3") || why+=("stdout differs, expected $(printf %q "$3")")
  shift 3
  for pattern; do
    if [[ $pattern == !* ]]; then
      ! grep -Eq -- "${pattern#!}" "$tmp/err" || why+=("stderr matches $pattern")
    else
      grep -Eq -- "$pattern" "$tmp/err" || why+=("stderr does not match $pattern")
    fi
  done
  if ((${#why[@]})); then report fail "$what" "${why[@]}"; else report ok "$what"; fi
}

lib join posixpath join
lib ospathjoin os path join
lib dumps json dumps
lib loads json loads
lib capwords string capwords
lib add operator add
lib iadd operator iadd
lib mul operator mul
lib fsencode os fsencode
lib isdir os path isdir
lib compile re compile
lib shlexsplit shlex split
lib int builtins int
lib exit sys exit
lib getcwd os getcwd
lib getenv os getenv
lib stdinread sys stdin read
lib stdoutwrite sys stdout write
lib raise_signal signal raise_signal
lib nomodule pyfs_no_such_module attr
lib noattr os pyfs_no_such_attribute
dot split
dot bit_length
dot real
dot upper

# --- Calling and arguments --------------------------------------------------

run "$bin/join" /this/is/a "path/to" be/joined
expect "os.path.join joins" 0 $'/this/is/a/path/to/be/joined\n'

run "$bin/ospathjoin" a b
expect "an attribute chain is walked (os -> path -> join)" 0 $'a/b\n'

run "$bin/dumps" --indent=2 '{"a":[1,2]}'
expect "json.dumps --indent=2: keyword and JSON literal" 0 $'{\n  "a": [\n    1,\n    2\n  ]\n}\n'

run "$bin/dumps" --sort_keys=true '{"b":1,"a":2}'
expect "keyword values are decoded (true)" 0 $'{"a": 2, "b": 1}\n'

run "$bin/dumps" --sort_keys '{"b":1,"a":2}'
expect "--NAME for a parameter with a bool default is True" 0 $'{"a": 2, "b": 1}\n'

run "$bin/dumps" --no-ensure_ascii '"Ã©"'
expect "--no-NAME is False" 0 $'"Ã©"\n'

run "$bin/dumps" --sort_keys=Yes --ensure_ascii=off '{"b":"Ã©","a":2}'
expect "a bool default takes yes and off" 0 $'{"a": 2, "b": "Ã©"}\n'

run "$bin/add" 2.5 true
expect "a builtin without str or bool defaults: JSON literals" 0 $'3.5\n'

run "$bin/add" 2 3
expect "numbers are decoded as numbers" 0 $'5\n'

run "$bin/add" '"2"' '"3"'
expect "JSON strings are strings" 0 $'23\n'

run "$bin/add" '[1]' '[2, "x"]'
expect "JSON arrays are lists" 0 $'[1, 2, "x"]\n'

run "$bin/add" 2.5 true
expect "floats and booleans" 0 $'3.5\n'

run "$bin/add" hello '" world"'
expect "what is not JSON is passed as the string it is" 0 $'hello world\n'

run "$bin/add" -5 -1
expect "negative numbers are arguments, not options" 0 $'-6\n'

run "$bin/join" -- --x=1 -h
expect "-- ends options" 0 $'--x=1/-h\n'

run "$bin/join" x -h --y=2
expect "options after the first positional are arguments" 0 $'x/-h/--y=2\n'

run "$bin/join" $'\xff' b
expect "non-UTF-8 arguments come back as the same bytes" 0 $'\xff/b\n'

# --- Standard input -----------------------------------------------------------

feed $'hello world\nfoo bar\n' "$bin/capwords" -
expect "string.capwords - : once per stdin line" 0 $'Hello World\nFoo Bar\n'

feed $'a b\nc d' "$bin/capwords" -
expect "a last line without newline is a line" 0 $'A B\nC D\n'

feed $'a,b\n' "$bin/capwords" - ,
expect "- takes its place among the arguments" 0 $'A,B\n'

feed $'a,b\n' "$bin/capwords" --sep=, -
expect "keywords and -" 0 $'A,B\n'

feed $'x\n' "$bin/join" - -
expect "only the first - reads stdin" 0 $'x/-\n'

feed $'2\n[3]\n' "$bin/mul" - 2
expect "stdin lines are decoded like arguments" 0 $'4\n[3, 3]\n'

feed $'[1]\n[2]\n' "$bin/iadd" '[0]' -
expect "each stdin line gets freshly decoded arguments" 0 $'[0, 1]\n[0, 2]\n'

feed $'x\xfe\n' "$bin/join" - y
expect "non-UTF-8 stdin lines come back as the same bytes" 0 $'x\xfe/y\n'

feed '' "$bin/capwords" -
expect "empty stdin: no call" 0 ''

feed $'hi\n' "$bin/stdinread"
expect "without -, stdin is left to the function" 0 $'hi\n\n'

# --- Help ---------------------------------------------------------------------

run "$bin/join" --help
expect_help "--help of os.path.join: the signature and the docstring" \
  'join(a, *p)' 'Join two or more pathname components'
expect_help "... how the parameters are given and decoded" \
  'Parameters:' '  a   positional or --a=VALUE; a JSON literal, else a string' \
  '  *p  the remaining positional arguments; a JSON literal, else a string'
expect_help "... and where it is defined" "Defined in /" "/posixpath.py:"

run "$bin/dumps" --help
expect_help "--help of json.dumps: a bool default is a flag" \
  '  sort_keys       --sort_keys, --no-sort_keys or --sort_keys=VALUE; a bool; default False' \
  'A bool is true/false, yes/no, 1/0 or on/off, in any case.'

run "$bin/join" --sep=x -h x
expect_help "-h before the first positional is help" 'join(a, *p)'

run "$bin/int" --help
expect_help "--help without a signature: the docstring" 'int([x]) -> integer'
expect_lacks "... and no parameters, nor a place for a builtin" 'Parameters:' 'Defined in'

# --- Output -------------------------------------------------------------------

run "$bin/fsencode" abc
expect "bytes are written raw, nothing added" 0 'abc'

run "$bin/isdir" /
expect "True: no output, exit 0" 0 ''

run "$bin/isdir" "$tmp/nonexistent"
expect "False: no output, exit 1" 1 ''

feed $'/\n/nonexistent\n/\n' "$bin/isdir" -
expect "any False among stdin lines: exit 1" 1 ''

run "$bin/getenv" PYFS_TEST_UNSET_VARIABLE
expect "None prints nothing" 0 ''

run "$bin/shlexsplit" 'é "x y"'
expect "JSON output keeps non-ASCII characters" 0 $'["é", "x y"]\n'

run "$bin/compile" 'a+'
expect "not JSON-serialisable: str()" 0 $'re.compile(\'a+\')\n'

run "$bin/join" ''
expect "an empty string result prints a newline" 0 $'\n'

# --- Errors -------------------------------------------------------------------

run "$bin/int" abc
expect "an exception: its line on stderr, exit 1" 1 '' \
  $'ValueError: invalid literal for int() with base 10: \'abc\'\n'

json_error='json.decoder.JSONDecodeError: Expecting property name enclosed in double quotes'
run "$bin/loads" '{'
expect "exception types are named as in a traceback" 1 '' \
  "$json_error: line 1 column 2 (char 1)"$'\n'

PYFS_TRACEBACK=1 run "$bin/loads" '{'
expect_err "PYFS_TRACEBACK=1: the full traceback, without the runner's frames" 1 '' \
  '^Traceback \(most recent call last\):$' 'json/decoder\.py' \
  '^json\.decoder\.JSONDecodeError: Expecting property name' '!File "<string>"'

feed $'1\nx\n2\n' "$bin/int" -
expect "an exception stops a stdin run" 1 $'1\n' \
  $'ValueError: invalid literal for int() with base 10: \'x\'\n'

run "$bin/nomodule"
expect "a module that does not import: exit 1" 1 '' \
  $'ModuleNotFoundError: No module named \'pyfs_no_such_module\'\n'

run "$bin/noattr"
expect_err "a missing attribute: exit 1" 1 '' "^AttributeError: .*pyfs_no_such_attribute"

run "$bin/exit" 3
expect "SystemExit(3) exits 3" 3 ''

run "$bin/exit" '"bye"'
expect "SystemExit with a message: stderr, exit 1" 1 '' $'bye\n'

run "$bin/exit"
expect "SystemExit(None) exits 0" 0 ''

run "$bin/raise_signal" 2
expect "KeyboardInterrupt: exit 130, quietly" 130 ''

set -o pipefail
"$bin/mul" '"x"' 4000000 2>"$tmp/err" | head -c 3 >"$tmp/out"
status=$?
set +o pipefail
expect "a closed stdout: quiet, SIGPIPE status" 141 'xxx'

set -o pipefail
"$bin/stdoutwrite" "$(head -c 120000 /dev/zero | tr '\0' x)" 2>"$tmp/err" | head -c 3 >"$tmp/out"
status=$?
set +o pipefail
expect "a closed stdout while the callee writes: quiet too" 141 'xxx'

"$bin/join" a b >/dev/full 2>"$tmp/err"
status=$?
: >"$tmp/out"
expect "a stdout that fails: the error, exit 1" 1 '' \
  $'OSError: [Errno 28] No space left on device\n'

# --- Usage (exit 2) -----------------------------------------------------------

run "$bin/join" --1a=b x
expect_err "--1a=b: usage error" 2 '' '^pyfs-call: .*join: .*--1a=b' "Try '.*join --help'"

run "$bin/join" --=x
expect_err "--=x: usage error" 2 '' '^pyfs-call: '

run "$bin/join" --flag x
expect_err "--flag that names no parameter: usage error" 2 '' \
  "^pyfs-call: .*/join: unknown option '--flag'" "^Try '.*join --help'\\.$"

run "$bin/join" --no-such x
expect_err "--no-NAME that names no parameter: usage error" 2 '' \
  "^pyfs-call: .*/join: unknown option '--no-such'"

run "$bin/dumps" --pretty '[1]'
expect_err "--NAME that falls into **kwargs: a value is needed" 2 '' \
  "^pyfs-call: .*/dumps: option '--pretty' needs a value: --pretty=VALUE"

run "$bin/dumps" --indent '[1]'
expect_err "--NAME for a parameter that is no bool: usage error" 2 '' \
  "^pyfs-call: .*/dumps: option '--indent' needs a value: --indent=VALUE"

run "$bin/dumps" --no-indent '[1]'
expect_err "--no-NAME for a parameter that is no bool: usage error" 2 '' \
  "^pyfs-call: .*/dumps: option '--no-indent': --no-NAME is for bool parameters only"

run "$bin/dumps" --sort_keys=maybe '[1]'
expect_err "a bad bool value: usage error naming the parameter" 2 '' \
  "^pyfs-call: .*/dumps: parameter 'sort_keys': invalid bool value: 'maybe'"

run "$bin/int" --base '7'
expect_err "--NAME for a callable without a signature: usage error" 2 '' \
  "^pyfs-call: .*/int: unknown option '--base'"

run "$bin/dumps" --no-sort_keys=1 '[1]'
expect_err "--no-NAME=VALUE: usage error before python3 starts" 2 '' \
  "^pyfs-call: .*/dumps: option '--no-sort_keys=1': --no-NAME takes no value"

run "$bin/dumps" --sort_keys --no-sort_keys '[1]'
expect_err "a flag given twice: usage error" 2 '' '^pyfs-call: .*twice'

run "$bin/dumps" --indent=1 --indent=2 1
expect_err "a keyword given twice: usage error" 2 '' '^pyfs-call: .*twice'

run "$bin/join"
expect_err "arguments that do not fit the signature: usage error" 2 '' \
  "^TypeError: join\(\) missing 1 required positional argument: 'a'$" "^Try '.*join --help'\.$"

run "$bin/mul" 1
expect_err "... for a builtin too" 2 '' '^TypeError: ' "^Try '"

run "$bin/join" 1 2
expect_err "a TypeError from inside the function is an exception, exit 1" 1 '' \
  '^TypeError: ' "!Try '"

# --- The dispatcher itself ----------------------------------------------------

run "$pyfs_call"
expect_err "pyfs-call without a script: exit 2" 2 '' '^pyfs-call: usage: '

run "$pyfs_call" "$tmp/nonexistent"
expect_err "an unreadable script: exit 2" 2 '' '^pyfs-call: .*nonexistent: No such file'

run "$pyfs_call" "$tmp"
expect_err "a directory: exit 2" 2 '' '^pyfs-call: '

printf '#!/bin/sh\necho hello\n' >"$tmp/notpyfs"
run "$pyfs_call" "$tmp/notpyfs"
expect_err "a script without a pyfs header: exit 2" 2 '' '^pyfs-call: .*not a pyfs script'

: >"$tmp/empty"
run "$pyfs_call" "$tmp/empty"
expect_err "an empty script: exit 2" 2 '' '^pyfs-call: '

printf '# pyfs-module: posixpath\n# pyfs-module: os\n# pyfs-attribute: join\n' >"$tmp/twice"
run "$pyfs_call" "$tmp/twice"
expect_err "a malformed header: exit 2" 2 '' '^pyfs-call: .*twice'

{
  printf '# pyfs-module: os\n# pyfs-attribute: getcwd\n'
  head -c 70000 /dev/zero | tr '\0' '#'
} >"$tmp/big"
run "$pyfs_call" "$tmp/big"
expect_err "a script over 64 KiB: exit 2" 2 '' '^pyfs-call: .*larger'

{
  cat "$bin/join"
  printf '# pyfs-socket: %s\n# pyfs-future: x\n' "$tmp/no.sock"
} >"$bin/joinsock"
chmod 0555 "$bin/joinsock"
run "$bin/joinsock" a b
expect "unknown # pyfs- keys are ignored" 0 $'a/b\n'

# --- The caller's process -----------------------------------------------------

cd "$tmp/work/sub" || exit 1
run ../../bin/getcwd
cd "$tmp/work" || exit 1
expect "runs in the caller's cwd (and a relative script path works)" 0 "$tmp/work/sub"$'\n'

PYFS_TEST_VARIABLE='hello there' run "$bin/getenv" PYFS_TEST_VARIABLE
expect "runs with the caller's environment" 0 $'hello there\n'

printf 'raise SystemExit("shadowed")\n' >json.py
cp json.py posixpath.py
run "$bin/dumps" '[1]'
expect "a json.py in the caller's cwd does not shadow json" 0 $'[1]\n'
run "$bin/join" a b
expect "... nor a posixpath.py posixpath" 0 $'a/b\n'
rm json.py posixpath.py

# --- dot/ ---------------------------------------------------------------------

feed $'Hello world\n' "$bin/dot.split"
expect "echo Hello world | dot/split" 0 $'["Hello", "world"]\n'

feed $'Hello=world\n' "$bin/dot.split" =
expect "echo Hello=world | dot/split =" 0 $'["Hello", "world"]\n'

feed $'a-b\n' "$bin/dot.split" -
expect "dot/split -: - is a plain argument" 0 $'["a", "b"]\n'

feed $'a b\nc\n' "$bin/dot.split"
expect "dot: once per stdin line" 0 $'["a", "b"]\n["c"]\n'

feed $'3\n255\n' "$bin/dot.bit_length"
expect "dot: stdin lines are decoded (ints)" 0 $'2\n8\n'

feed $'"abc"\n' "$bin/dot.upper"
expect "dot: a JSON string is a string" 0 $'ABC\n'

feed $'3\n' "$bin/dot.real"
expect "dot: a non-callable attribute is printed" 0 $'3\n'

feed $'3\n' "$bin/dot.real" 4
expect_err "dot: arguments to a non-callable attribute: usage error" 2 '' '^TypeError: ' "^Try '"

feed $'3\n' "$bin/dot.split"
expect "dot: a missing attribute is an exception" 1 '' \
  $'AttributeError: \'int\' object has no attribute \'split\'\n'

run "$bin/dot.split" --help
expect_help "dot --help describes dot/split" 'dot/split' 'standard input'

# --complete: only a call server answers; these scripts name none, so
# nothing is offered, nothing else is printed, and no python3 starts (a
# python3 would print --help at least).
run "$pyfs_call" --complete "$bin/join" --
expect "--complete without a call server: nothing, status 0" 0 ''
run "$pyfs_call" --complete "$tmp/no-such-script" --x
expect "--complete of a missing script: nothing, status 0" 0 ''
run "$pyfs_call" --complete "$bin/join" --x --not-an-option=1 --
expect "--complete after words that do not parse: nothing, status 0" 0 ''
run "$pyfs_call" --complete
expect "--complete without a script: nothing, status 0" 0 ''

echo "1..$n"
((failed == 0))

#!/usr/bin/env bash
# --venv DIR and venv= serve a virtual environment as its own python would:
# its sys.prefix, its site-packages and their .pth files, in pyfsd, in the
# call server and in the calls that run with python3; a directory that is
# no virtual environment, or one of another Python, is refused at start.
. "$(dirname "$0")/lib.sh"

# Python resolves a virtual environment's bin/python symlink with
# readlink(2) as it starts, which stops valgrind 3.19 in the
# fuse-compatible mode the valgrind setup needs; the normal and the ASan
# runs test it.
[ -z "${PYFSD_WRAPPER:-}" ] || skip_all "pyfsd in a virtual environment under ${PYFSD_WRAPPER%% *}"

VENV=$WORK/venv
"${PYFS_PYTHON:-python3}" -m venv --without-pip "$VENV" ||
	skip_all "python3 -m venv does not work here (python3-venv is missing)"
site=$(echo "$VENV"/lib/python3.*/site-packages)
printf 'def hello(name):\n    return "venv hello " + name\nanswer = 42\n' >"$site/venvmod.py"
# A package put in by a .pth file, as an editable install does.
mkdir -p "$WORK/elsewhere"
printf 'def where():\n    return __file__\n' >"$WORK/elsewhere/pthmod.py"
echo "$WORK/elsewhere" >"$site/pyfs-test.pth"

pyfs_start --venv "$VENV" -m venvmod -m pthmod -m sys -m pyfs_calls_fixture
cd "$WORK" || exit 1
lib=$MNT/lib
server=$(server_pid)

expect_eq "pyfsd's sys.prefix is the environment" "$VENV" "$(cat "$lib/sys/prefix")"
expect_eq "a module only the environment has is listed" "42" "$(cat "$lib/venvmod/answer")"
expect_eq "and called" "venv hello you" "$($lib/venvmod/hello you)"
expect_eq "in the call server" "$server" "$(field ppid "$($lib/pyfs_calls_fixture/process)")"
expect_eq "whose sys.prefix is the environment too" "$VENV" "$($lib/pyfs_calls_fixture/prefix)"
expect_eq "a .pth file of its site-packages is read" "$WORK/elsewhere/pthmod.py" \
	"$($lib/pthmod/where)"
check "the log says what it serves" grep -q "Serving 4 modules from $VENV on $MNT" "$PYFS_LOG"
# The environment's packages live under its lib/pythonX.Y, as the standard
# library does under the base installation's: they are not the standard
# library, and an edit shows at once (a value read before it, once the
# kernel's second is over).
printf 'def hello(name):\n    return "edited hello " + name\nanswer = 43\nedited = True\n' \
	>"$site/venvmod.py"
expect_eq "an edit of the environment's module shows in the tree" "True" \
	"$(cat "$lib/venvmod/edited" 2>&1)"
expect_eq "and runs in the next call" "edited hello you" "$($lib/venvmod/hello you)"
check "a value read before the edit is new too" wait_for 5 \
	bash -c "[ \"\$(cat '$lib/venvmod/answer')\" = 43 ]"
pyfs_stop

printf 'def hello(name):\n    return "venv hello " + name\nanswer = 42\n' >"$site/venvmod.py"

# While no call server serves (one hangs in an import, for 30 s), the calls
# run with python3: the environment's.
EXPECTED_WARNINGS="import of pyfs_hangs_in_server did not end"
pyfs_start --venv "$VENV" -t 30 -m venvmod -m pyfs_calls_fixture -m pyfs_hangs_in_server
out=$($lib/pyfs_calls_fixture/process)
expect_eq "(the call ran with python3)" "$BASHPID" "$(field ppid "$out")"
expect_eq "a call run with python3 runs the environment's python" "$VENV" \
	"$($lib/pyfs_calls_fixture/prefix)"
expect_eq "and finds its modules" "venv hello me" "$($lib/venvmod/hello me)"
pyfs_stop

# venv= in pyfsd.conf, and --venv over it.
mkdir -p "$XDG_CONFIG_HOME/pyfs"
printf '[pyfsd]\nvenv=%s\n' "$VENV" >"$XDG_CONFIG_HOME/pyfs/pyfsd.conf"
pyfs_start -m venvmod
expect_eq "venv= in pyfsd.conf" "42" "$(cat "$lib/venvmod/answer")"
pyfs_stop

# Refused at start: one line, exit 1, nothing mounted.
refused() {
	local what=$1 want=$2 out status
	shift 2
	out=$("$PYFSD" "$@" "$MNT" 2>&1)
	status=$?
	expect_eq "$what: exit 1" 1 "$status"
	expect_eq "$what: one line" 1 "$(printf '%s\n' "$out" | wc -l)"
	check "$what: it says why ($out)" grep -q -- "$want" <<<"$out"
	check "$what: nothing mounted" not_mounted
}
not_mounted() {
	! grep -qs " $MNT " /proc/mounts
}
refused "a directory that is no virtual environment" "not a virtual environment" \
	--venv "$WORK/elsewhere"
refused "a missing directory" "no such directory" --venv "$WORK/nowhere"
mkdir -p "$WORK/old/bin"
printf 'home = /usr/bin\nversion = 3.9.2\n' >"$WORK/old/pyvenv.cfg"
refused "a virtual environment of another Python" "of Python 3.9" --venv "$WORK/old"
printf '[pyfsd]\nvenv=%s\n' "$WORK/elsewhere" >"$XDG_CONFIG_HOME/pyfs/pyfsd.conf"
refused "venv= that is no virtual environment" "venv= in pyfsd.conf" -m os

pyfs_finish

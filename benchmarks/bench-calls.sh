#!/usr/bin/env bash
# bench-calls.sh: what a call of an executable file costs, side by side in
# one run: through the mount (pyfsd's call server), the same call as
# `python3 -c`, an exec of /bin/true (the floor of any exec here) and of a
# script whose #! line names /bin/true (the floor of any script), the
# fallback (pyfs-call execs python3: with the runner file pyfsd wrote when
# its server is down, with the runner's source for a copy of the script
# without its socket line),
# 20 calls in a row and 8 at once; then how long an edit of a module takes
# to reach the calls, and what noticing it costs each call. The commands
# are run in turns (one of each, then again), so that a change of load
# falls on all of them, and each starts once the call server is idle (no
# spare being prepared).
#
# Environment: PYFSD, PYFS_CALL (the built binaries), PYFS_PYTHON (the
# python3 pyfs-call falls back to), PYFS_BENCH_CODEWATCH (bench-codewatch),
# PYFS_BENCH_RUNS (default 50).

set -u
: "${PYFSD:?PYFSD must point at the built pyfsd}"
PYTHON=${PYFS_PYTHON:-python3}
RUNS=${PYFS_BENCH_RUNS:-50}

[ -c /dev/fuse ] && command -v fusermount3 >/dev/null || {
	echo "bench-calls: no FUSE on this machine, skipped"
	exit 77
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pyfs-bench.XXXXXX")
MNT=$WORK/mnt
PID=
cleanup() {
	if [ -n "$PID" ]; then
		kill -TERM "$PID" 2>/dev/null
		wait "$PID" 2>/dev/null
	fi
	if grep -qs " $MNT " /proc/mounts; then
		fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$MNT" "$WORK/runtime" "$WORK/py" "$WORK/config/pyfs"
chmod 0700 "$WORK/runtime"
export XDG_RUNTIME_DIR=$WORK/runtime XDG_STATE_HOME=$WORK/state XDG_CONFIG_HOME=$WORK/config
# A module of the user's, on pyfsd's path only, for the edits.
printf '[pyfsd]\npath=%s\n' "$WORK/py" >"$WORK/config/pyfs/pyfsd.conf"
printf 'def value():\n    return 0\n' >"$WORK/py/benchmod.py"
printf 'def greet(name: str, punct: str = "!", loud: bool = False):\n    return name\n' \
	>"$WORK/py/benchgreet.py"

"$PYFSD" -f -m os -m benchmod -m benchgreet "$MNT" >"$WORK/pyfsd.log" 2>&1 &
PID=$!
for _ in $(seq 300); do
	[ -f "$MNT/run/modules" ] && break
	sleep 0.1
done
[ -f "$MNT/run/modules" ] || { echo "bench-calls: pyfsd did not mount"; cat "$WORK/pyfsd.log"; exit 1; }

join=$MNT/lib/os/path/join
fallback=$WORK/join
outside=$WORK/join-outside
sed '/^# pyfs-socket:/d' "$join" >"$fallback"
# A server that is down: a socket nobody listens on, with the files pyfsd
# writes beside its own.
socket=$(sed -n 's/^# pyfs-socket: //p' "$join")
down=$WORK/join-down
mkdir -p "$WORK/down"
sed "s|^# pyfs-socket: .*|# pyfs-socket: $WORK/down/pyfs.sock|" "$join" >"$down"
cp "$socket.fallback" "$WORK/down/pyfs.sock.fallback"
cp "$socket.runner" "$WORK/down/pyfs.sock.runner"
cp "$join" "$outside"
# The floor of any executable that is a script, as every executable of the
# mount is: the kernel reads the #! line, then execs the interpreter.
script_floor=$WORK/true-script
printf '#!/bin/true\n' >"$script_floor"
chmod 0755 "$fallback" "$outside" "$down" "$script_floor"
grep -q '^# pyfs-socket:' "$join" || echo "bench-calls: warning: the scripts name no call server"

check=$("${PYFS_BENCH_CODEWATCH:-false}" 2>/dev/null | sed -n 's/^codewatch-check-us //p')
"$PYTHON" - "$RUNS" "$join" "$fallback" "$PYTHON" "$WORK/pyfsd.log" "$outside" \
	"$WORK/py/benchmod.py" "$MNT/lib/benchmod/value" "${check:-nan}" "$PYFS_CALL" \
	"$MNT/lib/benchgreet/greet" "$down" "$script_floor" <<'PY'
import os, re, statistics, subprocess, sys, time

runs = int(sys.argv[1])
join, fallback, python = sys.argv[2:5]
log = sys.argv[5]
outside = sys.argv[6]
benchmod, value = sys.argv[7:9]
check_us = float(sys.argv[9].split()[0])
dispatcher, greet, down, script_floor = sys.argv[10:14]
null = os.open(os.devnull, os.O_RDWR)
actions = [(os.POSIX_SPAWN_DUP2, null, 1)]


def spawn(argv):
    return os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)


def reap(pid, argv):
    _, status = os.waitpid(pid, 0)
    if status != 0:
        # The log goes with the run's directory: what pyfsd said, now.
        with open(log) as f:
            sys.stderr.write("".join(f.readlines()[-50:]))
        sys.exit(f"bench-calls: {argv} failed with wait status {status}")


def serving():
    """The pid of the call server serving now (0: none yet), from the log."""
    with open(log) as f:
        found = re.findall(r"Call server \(pid (\d+)\) serving", f.read())
    return int(found[-1]) if found else 0


def state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "S"


def quiet():
    """The call server and its children (spares) all asleep: no spare
    being forked or warmed up, which would take CPU from what is measured."""
    server = serving()
    if not server:
        return False
    try:
        with open(f"/proc/{server}/task/{server}/children") as f:
            children = [int(pid) for pid in f.read().split()]
    except OSError:
        return True
    return bool(children) and all(state(pid) == "S" for pid in [server] + children)


def settle():
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (quiet() and quiet()):
        time.sleep(0.0005)


def once(argv):
    settle()
    start = time.perf_counter()
    reap(spawn(argv), argv)
    return time.perf_counter() - start


def in_a_row(argv, n=20):
    """Per call, n calls one after another without a pause: what a shell
    loop sees, spares being replaced meanwhile."""
    settle()
    start = time.perf_counter()
    for _ in range(n):
        reap(spawn(argv), argv)
    return (time.perf_counter() - start) / n


def at_once(argv, n=8):
    settle()
    start = time.perf_counter()
    pids = [spawn(argv) for _ in range(n)]
    for pid in pids:
        reap(pid, argv)
    return time.perf_counter() - start


def edit_to_call(k):
    """Writes version k of benchmod, then calls it at once: the time until
    the first call that gives k has ended (it must be the first), and until
    a new call server serves the new code."""
    settle()
    before = serving()
    with open(benchmod, "w") as f:
        f.write(f"def value():\n    return {k}\n")
    start = time.perf_counter()
    out = subprocess.run([value], capture_output=True, text=True).stdout.strip()
    first = time.perf_counter() - start
    if out != str(k):
        sys.exit(f"bench-calls: the first call after an edit gave {out!r}, not {k}")
    while serving() == before and time.perf_counter() - start < 30:
        time.sleep(0.001)
    return first, time.perf_counter() - start


py_c = [python, "-c", 'import os.path; print(os.path.join("a","b"))']
cases = {
    "server": lambda: once([join, "a", "b"]),
    "true": lambda: once(["/bin/true"]),
    "script": lambda: once([script_floor]),
    # What a TAB runs (data/pyfsd.bash): the options of greet, from the server.
    "complete": lambda: once([dispatcher, "--complete", greet, "--"]),
    "python": lambda: once(py_c),
    "fallback": lambda: once([fallback, "a", "b"]),
    "fallback_down": lambda: once([down, "a", "b"]),
    "outside": lambda: once([outside, "a", "b"]),
}
rounds = {
    "row": lambda: in_a_row([join, "a", "b"]),
    "row_python": lambda: in_a_row(py_c),
    "parallel": lambda: at_once([join, "a", "b"]),
    "parallel_python": lambda: at_once(py_c),
}
for run in list(cases.values()) + list(rounds.values()):   # warm the caches
    run()
times = {name: [] for name in list(cases) + list(rounds)}
for i in range(runs):
    for name, run in cases.items():
        times[name].append(run())
    if i % 5 == 0:
        for name, run in rounds.items():
            times[name].append(run())
edits = [edit_to_call(k) for k in range(1, 11)]
ms = {name: statistics.median(t) * 1000 for name, t in times.items()}
ms["edit_first"] = statistics.median(e[0] for e in edits) * 1000
ms["edit_warm"] = statistics.median(e[1] for e in edits) * 1000

print(f"Medians, {runs} runs each, in turns, on {os.cpu_count()} CPUs "
      "(each run starts with the call server idle):")
print(f"  lib/os/path/join a b, call server        {ms['server']:8.2f} ms")
print(f"  python3 -c, the same call                {ms['python']:8.2f} ms")
print(f"  /bin/true (the floor of an exec)         {ms['true']:8.2f} ms")
print(f"  a script #!/bin/true (a script's floor)  {ms['script']:8.2f} ms")
print(f"  fallback, server down (runner file)      {ms['fallback_down']:8.2f} ms")
print(f"  fallback, a copy without its socket line {ms['fallback']:8.2f} ms")
print(f"  call server, the script outside the mount{ms['outside']:8.2f} ms"
      "   (the same server; the script read from TMPDIR, not through FUSE)")
print(f"  20 calls in a row, per call: server      {ms['row']:8.2f} ms"
      f"   python3 -c {ms['row_python']:6.2f} ms")
print(f"  8 calls at once, total: server           {ms['parallel']:8.2f} ms"
      f"   python3 -c {ms['parallel_python']:6.2f} ms")
print(f"  completion (pyfs-call --complete)        {ms['complete']:8.2f} ms   (goal <= 10)")
# What a median hides: the slow calls (a wait for a CPU another process took).
p90 = {name: statistics.quantiles(times[name], n=10)[-1] * 1000
       for name in ("server", "python", "true")}
print(f"  one call, 90th percentile: server {p90['server']:.2f} ms, "
      f"python3 -c {p90['python']:.2f} ms, /bin/true {p90['true']:.2f} ms")
print(f"An edit of a module on pyfsd's path, then a call at once (10 edits):")
print(f"  until the first call, which runs the new code, has ended {ms['edit_first']:8.2f} ms")
print(f"  until a new call server serves it                       {ms['edit_warm']:8.2f} ms")
print(f"Noticing a change: {check_us:.2f} us per call (one read of the code watch), "
      f"{check_us / 10 / ms['server']:.4f}% of one call")
print("Ratios:")
print(f"  call server / python3 -c                 {ms['server'] / ms['python']:8.3f}"
      "   (goal <= 0.15, moonshot 0.1)")
print(f"  call server / /bin/true                  {ms['server'] / ms['true']:8.3f}"
      "   (goal <= 2)")
print(f"  the same, 90th percentiles               {p90['server'] / p90['true']:8.3f}")
print(f"  a script #!/bin/true / /bin/true         {ms['script'] / ms['true']:8.3f}"
      "   (what any script pays for its #! line)")
print(f"  fallback, server down / python3 -c       {ms['fallback_down'] / ms['python']:8.3f}")
print(f"  fallback, copy / python3 -c              {ms['fallback'] / ms['python']:8.3f}")
print(f"  in a row: call server / python3 -c       {ms['row'] / ms['row_python']:8.3f}"
      "   (goal <= 0.3, moonshot 0.2)")
print(f"  8 at once: call server / python3 -c      {ms['parallel'] / ms['parallel_python']:8.3f}"
      "   (goal <= 0.3, moonshot 0.2)")
print(f"  8 at once, per call / one call alone     {ms['parallel'] / 8 / ms['server']:8.3f}")
PY

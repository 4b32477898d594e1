#!/usr/bin/env python3
"""Arguments decoded by the signature against the old rules (every argument
a JSON literal), side by side in one run.

- In the runner's own process: the decoding step of one call (reading the
  signature included), with the old rules and by signature, for a plain
  function, an annotated one and builtins; in microseconds. This is the
  whole cost in pyfsd's call server, which has inspect loaded.
- One whole call run by python3, as pyfs-call runs it when the call server
  cannot: the runner as built against the same runner with the old rules.
  There, an import of inspect would cost milliseconds: plain functions and
  builtins do without, a class (fractions.Fraction) cannot;
  python3 -c 'import inspect' shows what it costs.
- One whole call through the mount (the call server): an annotated function
  against the same function without annotations.

Medians, the cases run in turns so that a change of load falls on all of
them. Figures only: nothing here passes or fails on a timing.

Environment: PYFS_RUNNER (the built, joined pyfs_runner.py), PYFS_PYTHON
(the python3 of the fallback), PYFSD, PYFS_BENCH_RUNS (default 40).
"""

import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time

RUNS = int(os.environ.get("PYFS_BENCH_RUNS", "40"))
RUNNER = os.environ["PYFS_RUNNER"]
PYTHON = os.environ.get("PYFS_PYTHON", sys.executable)
PYFSD = os.environ.get("PYFSD")

MODULE = '''
def plain(text, times, sep=""):
    return sep.join([text] * times)


def annotated(text: str, times: int, sep: str = ""):
    return sep.join([text] * times)
'''

# The old rules, for comparison: no signature is read, every argument is a
# JSON literal, as before decoding by signature.
OLD_RULES = '''
def _plan(func, args, keywords):
    return _Plan(func, None)
'''


def load_runner():
    spec = importlib.util.spec_from_file_location("pyfs_runner", RUNNER)
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    return runner


def old_arguments(runner, call):
    """The decoding step as it was: each argument as a JSON literal."""
    args = [runner._decode(a) for a in call.args]
    kwargs = {name: runner._decode(raw) for name, raw in call.kwargs.items()}
    return args, kwargs


def new_arguments(runner, call, func):
    return runner._arguments(call, None, runner._plan(func, call.args, call.kwargs))


def per_call_us(step, n=2000):
    start = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - start) / n * 1e6


def in_process(work):
    sys.path.insert(0, work)
    import fractions
    import inspect  # noqa: F401  as in the call server
    import operator
    import pyfs_bench_args
    runner = load_runner()
    items = ["script=x", "module=m", "attr=f"]
    cases = {
        "plain function": (pyfs_bench_args.plain, ["arg=ab", "arg=3", "kw=sep=-"]),
        "annotated function": (pyfs_bench_args.annotated, ["arg=ab", "arg=3", "kw=sep=-"]),
        "builtin (operator.add)": (operator.add, ["arg=1", "arg=2"]),
        "builtin with a bool default (sorted)": (sorted, ["arg=[2, 1]", "kw=reverse=true"]),
        "class, read by inspect (Fraction)": (fractions.Fraction, ["arg=1", "arg=3"]),
    }
    times = {}
    for _ in range(max(RUNS // 2, 5)):
        for name, (func, more) in cases.items():
            call = runner._Call(items + more)
            times.setdefault((name, "old"), []).append(
                per_call_us(lambda: old_arguments(runner, call)))
            times.setdefault((name, "new"), []).append(
                per_call_us(lambda: new_arguments(runner, call, func)))
    print("The decoding step of one call, in the runner's process (inspect loaded, "
          "as in the call server), microseconds:")
    print(f"  {'':48} {'old rules':>10} {'by signature':>13} {'difference':>11}")
    for name in cases:
        old = statistics.median(times[(name, "old")])
        new = statistics.median(times[(name, "new")])
        print(f"  {name:48} {old:10.1f} {new:13.1f} {new - old:+11.1f}")


def once_ms(argv, env):
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - start) * 1000


def medians(cases, env, settle=lambda: None):
    """Medians of each case's time, run in turns, every other turn in the
    reverse order so that neither always follows the other."""
    for argv in cases.values():     # warm the caches
        once_ms(argv, env)
    times = {name: [] for name in cases}
    for i in range(RUNS):
        for name in list(cases)[::1 if i % 2 else -1]:
            settle()
            times[name].append(once_ms(cases[name], env))
    return {name: statistics.median(t) for name, t in times.items()}


def state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "S"


def quiet(server):
    """The call server and its spares all asleep: none being forked or
    warmed up, which would take the CPU from the call measured."""
    try:
        with open(f"/proc/{server}/task/{server}/children") as f:
            children = [int(pid) for pid in f.read().split()]
    except OSError:
        return True
    return bool(children) and all(state(pid) == "S" for pid in [server] + children)


def settler(log):
    """Waits (2 s at most) for the call server named in pyfsd's log to be idle."""
    with open(log) as f:
        words = f.read().split("Call server (pid ", 1)
    server = int(words[1].split(")", 1)[0]) if len(words) == 2 else 0

    def settle():
        deadline = time.monotonic() + 2
        while server and time.monotonic() < deadline and not (quiet(server) and quiet(server)):
            time.sleep(0.0005)
    return settle


def fallback(work):
    with open(RUNNER) as f:
        source = f.read()
    # The old rules replace _plan() before the runner's main runs.
    main_at = source.rindex('\nif __name__ == "__main__":')
    old_source = source[:main_at] + "\n" + OLD_RULES + source[main_at:]
    env = dict(os.environ, PYTHONPATH=work)
    annotated = ["script=x", "module=pyfs_bench_args", "attr=annotated", "arg=ab", "arg=3"]
    sorted_ = ["script=x", "module=builtins", "attr=sorted", "arg=[2, 1]", "kw=reverse=1"]
    fraction = ["script=x", "module=fractions", "attr=Fraction", "arg=1", "arg=3"]
    ms = medians({
        "annotated": [PYTHON, "-c", source] + annotated,
        "annotated old": [PYTHON, "-c", old_source] + annotated,
        "sorted": [PYTHON, "-c", source] + sorted_,
        "sorted old": [PYTHON, "-c", old_source] + sorted_,
        "fraction": [PYTHON, "-c", source] + fraction,
        "fraction old": [PYTHON, "-c", old_source] + fraction,
        "json": [PYTHON, "-c", "import json"],
        "json inspect": [PYTHON, "-c", "import json, inspect"],
    }, env)
    print(f"One call run by python3 (the fallback), {RUNS} runs in turns, milliseconds:")
    print(f"  {'':48} {'old rules':>10} {'by signature':>13} {'ratio':>11}")
    for name, label in (("annotated", "annotated function: ab 3"),
                        ("sorted", "builtin: sorted --reverse=1 '[2, 1]'"),
                        ("fraction", "class, read by inspect: Fraction 1 3")):
        old, new = ms[name + " old"], ms[name]
        print(f"  {label:48} {old:10.2f} {new:13.2f} {new / old:11.3f}")
    print(f"  python3 -c 'import json' {ms['json']:.2f}, 'import json, inspect' "
          f"{ms['json inspect']:.2f}: inspect costs {ms['json inspect'] - ms['json']:.2f}")


def wait_mounted(mnt, proc, deadline):
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"bench-args: pyfsd exited with {proc.returncode}")
        if os.path.isfile(os.path.join(mnt, "run", "modules")):
            return
        time.sleep(0.01)
    sys.exit("bench-args: pyfsd did not mount in time")


def server(work):
    if not PYFSD or not os.path.exists("/dev/fuse"):
        print("Through the mount: skipped (no FUSE on this machine)")
        return
    mnt = os.path.join(work, "mnt")
    runtime = os.path.join(work, "runtime")
    os.mkdir(mnt)
    os.mkdir(runtime, 0o700)
    env = dict(os.environ, PYTHONPATH=work, XDG_RUNTIME_DIR=runtime,
               XDG_STATE_HOME=os.path.join(work, "state"),
               XDG_CONFIG_HOME=os.path.join(work, "config"))
    log = os.path.join(work, "pyfsd.log")
    with open(log, "w") as out:
        proc = subprocess.Popen([PYFSD, "-f", "-m", "pyfs_bench_args", mnt], env=env,
                                stdout=out, stderr=out)
    try:
        wait_mounted(mnt, proc, time.monotonic() + 30)
        lib = os.path.join(mnt, "lib", "pyfs_bench_args")
        ms = medians({
            "plain": [os.path.join(lib, "plain"), "ab", "3"],
            "annotated": [os.path.join(lib, "annotated"), "ab", "3"],
        }, env, settler(log))
        print(f"One call through the mount (the call server), {RUNS} runs in turns, "
              "milliseconds:")
        print(f"  plain function {ms['plain']:.2f}, annotated {ms['annotated']:.2f}: "
              f"ratio {ms['annotated'] / ms['plain']:.3f}")
    finally:
        proc.terminate()
        proc.wait()
        subprocess.run(["fusermount3", "-u", "-z", mnt], stderr=subprocess.DEVNULL)


def main():
    with tempfile.TemporaryDirectory(prefix="pyfs-bench.") as work:
        with open(os.path.join(work, "pyfs_bench_args.py"), "w") as f:
            f.write(MODULE)
        in_process(work)
        fallback(work)
        server(work)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Filesystem benchmark: pyfs against tmpfs, side by side in one run.

Prints medians of wall time for
- `ls -l lib/os` (cold and warm) against `ls -l` of a tmpfs directory
  holding as many files;
- `cat` of a value file against `cat` of a tmpfs file;
- one request to pyfsd and back (an ioctl no file answers, as Python's
  open() makes for every file), against tmpfs, which answers it itself:
  what every request costs, whatever pyfsd does;
- a walk of the whole standard library (every importable module of
  sys.stdlib_module_names in run/modules): every directory listed and every
  regular file read, as `grep -r`, `tar` and `cp -r` do (directories by
  their d_type, symlinks not followed), cold and warm, against a copy of
  the same tree on tmpfs; and the same tree read by `grep -r` itself,
  which, unlike Python's open(), asks no file whether it is a terminal
  (one request fewer per file); and both again on libfuse's own example
  filesystem passthrough_ll serving the tmpfs copy with the kernel caching
  pyfs asks for (kept pages, one-second timeouts), when the build found it
  (PYFS_BENCH_PASSTHROUGH): what the walk costs through FUSE on this
  machine with a filesystem that only passes calls through;
and pyfsd's start-to-mounted time (the median of separate starts), its
idle RSS, its RSS after the small runs and its RSS with the whole
standard library listed and walked (once the walk's renderings have
expired). With PYFS_BENCH_BASELINE set to another pyfsd (an older build,
say), that one's starts are measured too, in turns with this one's, so
that a change of start-up time is seen side by side in one run.
Figures only: nothing here passes or fails on a timing.

Cold means the kernel's dentries, inodes and page cache were dropped just
before (echo 3 > /proc/sys/vm/drop_caches, as root) and pyfsd's one-second
renderings have expired; warm means the same command again at once.
"""

import contextlib
import fcntl
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import termios
import time

RUNS = int(os.environ.get("PYFS_BENCH_RUNS", "30"))
WALK_RUNS = max(3, RUNS // 6)
START_RUNS = max(3, RUNS // 3)
PYFSD = os.environ["PYFSD"]
BASELINE = os.environ.get("PYFS_BENCH_BASELINE")
PASSTHROUGH = os.environ.get("PYFS_BENCH_PASSTHROUGH")
ATTR_TIMEOUT_S = 1.0

# Never imported into pyfsd: importing it opens a web browser.
NOT_IMPORTED = {"antigravity"}


def drop_caches():
    """Forget dentries, inodes and clean pages, so the next run is cold,
    and outwait pyfsd's renderings (valid for the attribute timeout)."""
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
    except OSError:
        pass  # not root: the attribute timeout alone makes pyfs cold
    time.sleep(ATTR_TIMEOUT_S + 0.1)


def timed_ms(func):
    start = time.perf_counter()
    func()
    return (time.perf_counter() - start) * 1000


def run_quiet(argv):
    subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)


def median_ms(argv, runs, before=None):
    times = []
    for _ in range(runs):
        if before:
            before()
        times.append(timed_ms(lambda: run_quiet(argv)))
    return statistics.median(times)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_mounted(mnt, proc, deadline):
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"pyfsd exited with {proc.returncode}")
        if os.path.isfile(os.path.join(mnt, "run", "modules")):
            return
        time.sleep(0.0005)
    sys.exit("pyfsd did not mount in time")


def start_pyfsd(mnt, env, program=PYFSD):
    """pyfsd serving json, os and sys on mnt, once the mount answers."""
    proc = subprocess.Popen([program, "-f", "-m", "json", "-m", "os", "-m", "sys", mnt],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    wait_mounted(mnt, proc, time.monotonic() + 30)
    return proc


def start_passthrough(source, mnt):
    """libfuse's passthrough_ll serving @source on @mnt, once mounted, with
    the kernel caching pyfs asks for: pages kept at open, attributes and
    entries for one second."""
    proc = subprocess.Popen([PASSTHROUGH, "-f", "-o", f"source={source},cache=always,timeout=1",
                             mnt], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not os.path.ismount(mnt):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            sys.exit(f"{PASSTHROUGH} did not mount {mnt}")
        time.sleep(0.0005)
    return proc


def stop_passthrough(proc, mnt):
    subprocess.run(["fusermount3", "-u", mnt], stderr=subprocess.DEVNULL)
    proc.terminate()
    proc.wait()


def importable_stdlib():
    """The standard library's top-level modules that import here, found
    in a throwaway interpreter (imports print and warn)."""
    code = (
        "import contextlib, importlib, io, sys, warnings\n"
        "warnings.simplefilter('ignore')\n"
        "for name in sys.argv[1:]:\n"
        "    try:\n"
        "        with contextlib.redirect_stdout(io.StringIO()):\n"
        "            importlib.import_module(name)\n"
        "    except BaseException:\n"
        "        continue\n"
        "    print(name, file=sys.stderr)\n"
    )
    names = sorted(set(sys.stdlib_module_names) - NOT_IMPORTED)
    out = subprocess.run([sys.executable, "-c", code] + names, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, check=True).stderr
    return out.split()


def add_modules(mnt, names):
    """Appends each name to run/modules; one that pyfsd refuses is left out."""
    added = []
    for name in names:
        try:
            with open(os.path.join(mnt, "run", "modules"), "a") as f:
                f.write(name + "\n")
            added.append(name)
        except OSError:
            pass
    return added


def walk(top):
    """Lists every directory and reads every regular file under @top,
    descending into directories by their d_type and following no symlink.
    Returns (files, bytes)."""
    files = 0
    total = 0
    stack = [top]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    with open(entry.path, "rb") as f:
                        total += len(f.read())
                    files += 1
    return files, total


def request_us(path, calls=2000):
    """What one request to the filesystem and back costs: an ioctl that no
    file answers (isatty(), which Python's open() asks of every file)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        start = time.perf_counter()
        for _ in range(calls):
            try:
                fcntl.ioctl(fd, termios.TCGETS, bytes(64))
            except OSError:
                pass
        return (time.perf_counter() - start) * 1e6 / calls
    finally:
        os.close(fd)


def copy_tree(src, dst):
    """A copy of @src on tmpfs, as `cp -r` makes one (symlinks as symlinks)."""
    subprocess.run(["cp", "-r", src, dst], check=True)


def main():
    work = tempfile.mkdtemp(prefix="pyfs-bench.")
    mnt = os.path.join(work, "mnt")
    os.mkdir(mnt)
    shm = tempfile.mkdtemp(prefix="pyfs-bench.", dir="/dev/shm")
    # Its own state and config directories: nothing of the user's is touched.
    env = dict(os.environ, XDG_STATE_HOME=os.path.join(work, "state"),
               XDG_CONFIG_HOME=os.path.join(work, "config"),
               XDG_RUNTIME_DIR=os.path.join(work, "runtime"), PYTHONWARNINGS="ignore")
    os.mkdir(env["XDG_RUNTIME_DIR"], 0o700)
    stdlib = importable_stdlib()
    starts = {program: [] for program in (PYFSD, BASELINE) if program}
    for _ in range(START_RUNS):
        for program, times in starts.items():
            start = time.perf_counter()
            proc = start_pyfsd(mnt, env, program)
            times.append((time.perf_counter() - start) * 1000)
            proc.terminate()
            proc.wait()
    started_ms = statistics.median(starts[PYFSD])
    proc = start_pyfsd(mnt, env)
    passthrough = None
    passthrough_mnt = os.path.join(work, "passthrough")
    try:
        time.sleep(0.5)  # whatever pyfsd does right after mounting
        idle_rss = rss_kib(proc.pid)

        small = os.path.join(shm, "small")
        os.mkdir(small)
        listing = os.path.join(mnt, "lib", "os")
        names = os.listdir(listing)
        for name in names:
            with open(os.path.join(small, name.lstrip(".") or "_"), "w") as f:
                f.write("x\n")
        value = os.path.join(mnt, "lib", "os", "sep")
        plain = os.path.join(small, "sep")

        cold_runs = max(5, RUNS // 3)
        fs_cold = median_ms(["ls", "-l", listing], cold_runs, drop_caches)
        tmp_cold = median_ms(["ls", "-l", small], cold_runs, drop_caches)
        run_quiet(["ls", "-l", listing])
        fs_warm = median_ms(["ls", "-l", listing], RUNS)
        tmp_warm = median_ms(["ls", "-l", small], RUNS)
        fs_cat = median_ms(["cat", value], RUNS)
        tmp_cat = median_ms(["cat", plain], RUNS)
        fs_request = statistics.median(request_us(value) for _ in range(5))
        tmp_request = statistics.median(request_us(plain) for _ in range(5))
        small_rss = rss_kib(proc.pid)

        # The whole standard library.
        with contextlib.redirect_stderr(io.StringIO()):
            listed = add_modules(mnt, stdlib)
        copy = os.path.join(shm, "lib")
        copy_tree(os.path.join(mnt, "lib"), copy)
        trees = {"pyfs": os.path.join(mnt, "lib"), "tmpfs": copy}
        if PASSTHROUGH:
            os.mkdir(passthrough_mnt)
            passthrough = start_passthrough(copy, passthrough_mnt)
            trees["passthrough_ll"] = passthrough_mnt
        counts = {}
        times = {(tree, way, state): [] for tree in trees for way in ("walk", "grep")
                 for state in ("cold", "warm")}
        grep = ["grep", "-r", "-c", "-e", ""]
        for _ in range(WALK_RUNS):
            # In turns, so that a change of load falls on both.
            for tree, top in trees.items():
                drop_caches()
                times[tree, "walk", "cold"].append(
                    timed_ms(lambda: counts.setdefault(tree, walk(top))))
                times[tree, "walk", "warm"].append(timed_ms(lambda: walk(top)))
                drop_caches()
                times[tree, "grep", "cold"].append(timed_ms(lambda: run_quiet(grep + [top])))
                times[tree, "grep", "warm"].append(timed_ms(lambda: run_quiet(grep + [top])))
        walk_ms = {key: statistics.median(t) for key, t in times.items()}
        # Once the walk's renderings have expired and been released.
        time.sleep(ATTR_TIMEOUT_S + 1)
        walked_rss = rss_kib(proc.pid)

        print(f"pyfs benchmark: {len(names)} entries in lib/os, medians of {RUNS} runs "
              f"({cold_runs} cold); the standard library: {len(listed)} modules, "
              f"{counts['pyfs'][0]} files, {counts['pyfs'][1] / 1048576:.1f} MiB, "
              f"medians of {WALK_RUNS} walks; start: median of {START_RUNS} starts")
        if counts["pyfs"] != counts["tmpfs"]:
            print(f"  (the tmpfs copy differs: {counts['tmpfs'][0]} files, "
                  f"{counts['tmpfs'][1]} bytes against {counts['pyfs'][1]})")
        print(f"{'':34}{'pyfs':>10}{'tmpfs':>10}{'ratio':>8}   goal")
        for label, a, b, goal in (
                ("ls -l lib/os, cold (ms)", fs_cold, tmp_cold, "<= 1.5x"),
                ("ls -l lib/os, warm (ms)", fs_warm, tmp_warm, "<= 1.2x"),
                ("cat a value file (ms)", fs_cat, tmp_cat, ""),
                ("one request and back (us)", fs_request, tmp_request, ""),
                ("standard library walk, cold (ms)", walk_ms["pyfs", "walk", "cold"],
                 walk_ms["tmpfs", "walk", "cold"], "<= 4x (moonshot 3x)"),
                ("standard library walk, warm (ms)", walk_ms["pyfs", "walk", "warm"],
                 walk_ms["tmpfs", "walk", "warm"], "<= 2x (moonshot 1.5x)"),
                ("  grep -r of it, cold (ms)", walk_ms["pyfs", "grep", "cold"],
                 walk_ms["tmpfs", "grep", "cold"], ""),
                ("  grep -r of it, warm (ms)", walk_ms["pyfs", "grep", "warm"],
                 walk_ms["tmpfs", "grep", "warm"], "")):
            print(f"{label:34}{a:10.2f}{b:10.2f}{a / b:7.2f}x   {goal}")
        if passthrough:
            print("the same trees through libfuse's passthrough_ll (the tmpfs copy, as pyfs caches):")
            print(f"{'':34}{'pass_ll':>10}{'tmpfs':>10}{'ratio':>8}   pyfs/pass_ll")
            if counts["passthrough_ll"] != counts["tmpfs"]:
                print(f"  (it read {counts['passthrough_ll'][0]} files, "
                      f"{counts['passthrough_ll'][1]} bytes)")
            for way, state, label in (("walk", "cold", "standard library walk, cold (ms)"),
                                      ("walk", "warm", "standard library walk, warm (ms)"),
                                      ("grep", "cold", "  grep -r of it, cold (ms)"),
                                      ("grep", "warm", "  grep -r of it, warm (ms)")):
                a = walk_ms["passthrough_ll", way, state]
                b = walk_ms["tmpfs", way, state]
                print(f"{label:34}{a:10.2f}{b:10.2f}{a / b:7.2f}x   "
                      f"{walk_ms['pyfs', way, state] / a:.2f}x")
        else:
            print("(libfuse's passthrough_ll not built: its example source was not found)")
        print(f"{'start to mounted (ms)':34}{started_ms:10.1f}{'':18}   <= 50")
        if BASELINE:
            print(f"{'  the same, PYFS_BENCH_BASELINE':34}"
                  f"{statistics.median(starts[BASELINE]):10.1f}   ({BASELINE})")
        print(f"{'idle RSS after start (MiB)':34}{idle_rss / 1024:10.1f}{'':18}   <= 16")
        print(f"{'RSS after the small runs (MiB)':34}{small_rss / 1024:10.1f}")
        print(f"{'RSS, standard library (MiB)':34}{walked_rss / 1024:10.1f}{'':18}   <= 64")
    finally:
        if passthrough:
            stop_passthrough(passthrough, passthrough_mnt)
        proc.terminate()
        proc.wait()
        subprocess.run(["rm", "-rf", shm])
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Filesystem benchmark: pyfs against tmpfs, side by side in one run.

Prints medians of wall time for `ls -l lib/os` (cold and warm) against
`ls -l` of a tmpfs directory holding as many files, `cat` of a value file
against `cat` of a tmpfs file, pyfsd's start-to-mounted time and its idle
RSS. Figures only: nothing here passes or fails on a timing.
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

RUNS = int(os.environ.get("PYFS_BENCH_RUNS", "30"))
PYFSD = os.environ["PYFSD"]


def drop_caches():
    """Forget dentries and inodes, so the next listing is cold."""
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("2\n")
        return True
    except OSError:
        # Not root: wait out pyfs's attribute timeout instead.
        time.sleep(1.1)
        return False


def median_ms(argv, runs, before=None):
    times = []
    for _ in range(runs):
        if before:
            before()
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - start) * 1000)
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
        time.sleep(0.001)
    sys.exit("pyfsd did not mount in time")


def main():
    work = tempfile.mkdtemp(prefix="pyfs-bench.")
    mnt = os.path.join(work, "mnt")
    os.mkdir(mnt)
    shm = tempfile.mkdtemp(prefix="pyfs-bench.", dir="/dev/shm")
    start = time.perf_counter()
    # Its own state and config directories: nothing of the user's is touched.
    env = dict(os.environ, XDG_STATE_HOME=os.path.join(work, "state"),
               XDG_CONFIG_HOME=os.path.join(work, "config"))
    proc = subprocess.Popen([PYFSD, "-f", "-m", "json", "-m", "os", "-m", "sys", mnt],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        wait_mounted(mnt, proc, time.monotonic() + 30)
        started_ms = (time.perf_counter() - start) * 1000
        idle_rss = rss_kib(proc.pid)

        listing = os.path.join(mnt, "lib", "os")
        names = os.listdir(listing)
        for name in names:
            with open(os.path.join(shm, name.lstrip(".") or "_"), "w") as f:
                f.write("x\n")
        value = os.path.join(mnt, "lib", "os", "sep")
        plain = os.path.join(shm, "sep")

        cold_runs = max(5, RUNS // 3)
        fs_cold = median_ms(["ls", "-l", listing], cold_runs, drop_caches)
        tmp_cold = median_ms(["ls", "-l", shm], cold_runs, drop_caches)
        subprocess.run(["ls", "-l", listing], stdout=subprocess.DEVNULL)
        fs_warm = median_ms(["ls", "-l", listing], RUNS)
        tmp_warm = median_ms(["ls", "-l", shm], RUNS)
        fs_cat = median_ms(["cat", value], RUNS)
        tmp_cat = median_ms(["cat", plain], RUNS)
        busy_rss = rss_kib(proc.pid)

        print(f"pyfs benchmark: {len(names)} entries in lib/os, medians of {RUNS} runs "
              f"({cold_runs} cold)")
        print(f"{'':28}{'pyfs':>10}{'tmpfs':>10}{'ratio':>8}")
        for label, a, b in (("ls -l lib/os, cold (ms)", fs_cold, tmp_cold),
                            ("ls -l lib/os, warm (ms)", fs_warm, tmp_warm),
                            ("cat a value file (ms)", fs_cat, tmp_cat)):
            print(f"{label:28}{a:10.2f}{b:10.2f}{a / b:7.2f}x")
        print(f"{'start to mounted (ms)':28}{started_ms:10.1f}")
        print(f"{'idle RSS after start (MiB)':28}{idle_rss / 1024:10.1f}")
        print(f"{'RSS after the runs (MiB)':28}{busy_rss / 1024:10.1f}")
    finally:
        proc.terminate()
        proc.wait()
        subprocess.run(["rm", "-rf", shm])
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Callables for the calls suite (tests/calls): what a call can do to the
process it runs in, and what it can tell about that process."""

import os
import sys
import threading  # imported by pyfsd, so by the call server, before any call
import time

# Where this module was imported: the call server's pid when the server
# imported it ahead of the call, the call's own pid when the call did.
IMPORT_PID = os.getpid()

value = "original"


def import_pid():
    return IMPORT_PID


def process():
    """The call's process: its pid, parent, session and process group."""
    return {"pid": os.getpid(), "ppid": os.getppid(), "sid": os.getsid(0),
            "pgid": os.getpgid(0)}


def runner_given():
    """How the runner reached the python3 the call runs in: "source" (its
    whole source on the command line), "file" (the loader of the runner
    file pyfsd writes beside its socket), or "server" (no python3 ran)."""
    argv = getattr(sys, "orig_argv", [])
    if len(argv) < 3 or argv[1] != "-c":
        return "server"
    return "source" if "def forked_main(" in argv[2] else "file"


def set_value(new):
    """Changes module state, as a call may."""
    global value
    value = new
    return value


def get_value():
    return value


def _write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


def wait_for_interrupt(marker):
    """Writes "waiting PID" to the file marker, sleeps until Ctrl-C, then
    writes "KeyboardInterrupt" there and lets the exception end the call."""
    _write(marker, f"waiting {os.getpid()}\n")
    try:
        time.sleep(1000)
    except KeyboardInterrupt:
        _write(marker, "KeyboardInterrupt\n")
        raise


def hog():
    """Allocates without bound."""
    chunks = []
    while True:
        chunks.append(bytearray(16 << 20))


def thread_then_return(path):
    """Returns at once, leaving a thread that writes path a little later:
    as with python3, the call waits for its non-daemon threads."""
    def later():
        time.sleep(0.2)
        with open(path, "w") as f:
            f.write("thread\n")
    threading.Thread(target=later).start()


def background(path):
    """Starts a process in the background that outlives the call."""
    import subprocess
    subprocess.Popen(["sh", "-c", f"sleep 0.3; echo alive > '{path}'"],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)


def stdio():
    """What the call's standard streams are like."""
    return {name: {"encoding": getattr(sys, name).encoding,
                   "errors": getattr(sys, name).errors,
                   "line_buffering": getattr(sys, name).line_buffering}
            for name in ("stdin", "stdout", "stderr")}


def umask():
    mask = os.umask(0)
    os.umask(mask)
    return oct(mask)


def limit(name):
    import resource
    return list(resource.getrlimit(getattr(resource, name)))


def ignored(signame):
    """Whether the call ignores the signal signame (SIG_IGN)."""
    import signal
    return signal.getsignal(getattr(signal, signame)) == signal.SIG_IGN


def fds():
    """The descriptors open in the call (the one listing them is closed again)."""
    open_now = []
    for name in os.listdir("/proc/self/fd"):
        try:
            os.fstat(int(name))
        except OSError:
            continue
        open_now.append(int(name))
    return sorted(open_now)


def append_line(path, text):
    """Appends text and a newline to the file path."""
    with open(path, "a") as f:
        f.write(text + "\n")


def endless(marker):
    """Writes "PID" to the file marker, then yields 0, 1, 2... for ever."""
    _write(marker, f"{os.getpid()}\n")
    n = 0
    while True:
        yield n
        n += 1


def half_way(n):
    """Yields 0 to n - 1, then fails."""
    yield from range(n)
    raise ValueError("half-way")


def items():
    """One item of each kind, in a stream."""
    return iter(["text", "line\n", b"raw\n", None, [1, "x"], {"k": None}, True,
                 range(2), iter(["nested"])])


def falsy_items():
    return iter([True, False, True])


class Countdown:
    """An iterable that is not an iterator: printed whole."""

    def __iter__(self):
        return iter([3, 2, 1])

    def __str__(self):
        return "3 2 1 go"


def countdown():
    return Countdown()


def prefix():
    """The interpreter's sys.prefix: a virtual environment's, or the system's."""
    return sys.prefix

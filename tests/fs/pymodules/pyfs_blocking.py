"""Objects whose code blocks or spins, for the timeout tests (pyfsd -t):
each request must fail with ETIMEDOUT, or read as a marker while the code
still runs, and leave the rest of the module, and pyfsd, serving."""

import threading

_NEVER = threading.Event()


class BlockingStr:
    def __str__(self):
        _NEVER.wait()
        return "unreachable"


class SpinningStr:
    def __str__(self):
        while True:
            pass


BLOCKING = BlockingStr()
SPINNING = SpinningStr()
FINE = "fine"


def __getattr__(name):
    # A lazy attribute whose loading hangs (PEP 562).
    if name == "LAZY":
        _NEVER.wait()
    raise AttributeError(name)

"""A module whose import hangs in a call server, and only there: in pyfsd,
in a call and in python3 it imports at once. The server is the process
named pyfs-callserver that is no session leader (its spares and calls
each lead a session of their own)."""

import os
import time


def _in_call_server():
    with open("/proc/self/comm") as f:
        return f.read().strip() == "pyfs-callserver" and os.getsid(0) != os.getpid()


while _in_call_server():
    time.sleep(1)


def hello():
    return "hello"

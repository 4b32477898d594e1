"""A module for the calls suite that is added to run/modules while pyfsd runs."""

import os

# The call server's pid once the server imported it ahead of the calls.
IMPORT_PID = os.getpid()


def import_pid():
    return IMPORT_PID


def greet(name):
    return f"hello {name}"

"""A module whose dir() never returns."""

import threading


def __dir__():
    threading.Event().wait()

"""A module whose dir() raises."""


def __dir__():
    raise RuntimeError("no listing")

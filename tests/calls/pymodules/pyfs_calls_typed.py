"""Annotated callables for the calls suite: arguments decoded by the
signature (README, "Executables")."""

from typing import Optional


def greet(name: str, punct: str = "!", *, loud: bool = False):
    """Greets name."""
    text = f"hello {name}{punct}"
    return text.upper() if loud else text


def repeat(text: str, times: int = 2):
    return text * times


def scale(x: float, by: float = 2.0):
    return x * by


def maybe(first: Optional[str] = None, second: "str | None" = None):
    return [first, second]


def untyped(value, sep=",", verbose=False):
    """Without annotations: JSON literals, but a str default takes a str
    and a bool default a bool."""
    return [value, sep, verbose]


def total(*numbers: int, start: int = 0):
    return sum(numbers, start)


def options(**flags: bool):
    return flags


def anything(*args, **kwargs):
    return [args, kwargs]

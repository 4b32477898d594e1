"""Values of every shape, for the fs suite."""

TUPLE = ("a", "b", 3)
LIST = [1, 2.5, "three"]
FROZEN = frozenset(["only"])
MAPPING = {"a": 1, "b": "two"}
EMPTY_LIST = []
TEXT = "hello world"
MULTILINE = "one\ntwo"
NUMBER = 42
NOTHING = None
RAW = b"\x00\x01"
SURROGATE = "bad\udcffend"
_private = "hidden"
__dunder__ = "kept"


def add(a, b=2):
    """Return a + b."""
    return a + b

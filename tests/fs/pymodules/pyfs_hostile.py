"""Objects that misbehave, for the fs suite: each must give a bounded,
clear result and a log line, never a crash or EIO."""


class RaisingStr:
    def __str__(self):
        raise ValueError("no str for you")


class NonStrStr:
    def __str__(self):
        return 42


class RaisingIter(list):
    def __iter__(self):
        raise RuntimeError("no iteration")


RAISING_STR = RaisingStr()
NON_STR_STR = NonStrStr()
RAISING_LIST = RaisingIter([1])
HUGE_TEXT = "x" * (3 * 1024 * 1024)
HUGE_LIST = list(range(1_000_000))
RECURSIVE = []
RECURSIVE.append(RECURSIVE)
RECURSIVE_DICT = {}
RECURSIVE_DICT["self"] = RECURSIVE_DICT


def __getattr__(name):
    # Listed by __dir__ below but raising on access, like a broken property.
    if name == "BROKEN_PROPERTY":
        raise RuntimeError("property exploded")
    raise AttributeError(name)


def __dir__():
    return list(globals()) + ["BROKEN_PROPERTY"]

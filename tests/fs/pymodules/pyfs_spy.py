"""A module that records each piece of its code that runs (its
__getattr__, __dir__, a value's str(), a call) as a line in the file
named by PYFS_TEST_SPY_LOG: the test of other users checks that a
refused request made none of it run. Importing it records nothing."""

import os


def _record(what):
    with open(os.environ["PYFS_TEST_SPY_LOG"], "a") as log:
        log.write(what + "\n")


class Recorded:
    def __str__(self):
        _record("str")
        return "spied"


VALUE = Recorded()


def run():
    _record("run")
    return "ran"


def __getattr__(name):
    _record("getattr " + name)
    raise AttributeError(name)


def __dir__():
    _record("dir")
    return ["VALUE", "run"]

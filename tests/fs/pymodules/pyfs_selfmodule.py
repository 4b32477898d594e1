"""A module that replaces itself in sys.modules with an instance of a
module subclass whose properties raise or block."""

import sys
import threading
import types


class _Module(types.ModuleType):
    VALUE = 42

    @property
    def BROKEN(self):
        raise RuntimeError("property exploded")

    @property
    def HANGING(self):
        threading.Event().wait()


_self = _Module(__name__, __doc__)
sys.modules[__name__] = _self

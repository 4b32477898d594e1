"""A module that replaces itself in sys.modules, as some lazy-loading
packages do, with an object that is no module at all."""

import sys


class NotAModule:
    def __getattr__(self, name):
        raise RuntimeError("no attributes here")


sys.modules[__name__] = NotAModule()

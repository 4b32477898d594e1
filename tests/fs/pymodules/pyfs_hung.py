"""Values whose str() blocks until the test opens the gate: the file
$PYFS_TEST_HUNG_GATE appears. Each says it has begun by creating
$PYFS_TEST_HUNG_STARTED/NAME. One per genuine submodule, h0 to h31: the
kernel looks up one name at a time in a directory, so that hung values in
one directory would hang one request, not many."""

import os
import sys
import time
import types


class Hung:
    def __init__(self, name):
        self.name = name

    def __str__(self):
        with open(os.path.join(os.environ["PYFS_TEST_HUNG_STARTED"], self.name), "w"):
            pass
        while not os.path.exists(os.environ["PYFS_TEST_HUNG_GATE"]):
            time.sleep(0.05)
        return "released"


for _i in range(32):
    _sub = types.ModuleType(f"{__name__}.h{_i}")
    _sub.HUNG = Hung(f"h{_i}")
    sys.modules[_sub.__name__] = _sub
    globals()[f"h{_i}"] = _sub

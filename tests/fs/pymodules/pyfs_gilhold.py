"""A value whose str() blocks in C without releasing the GIL, as a C
extension stuck in a call can: for the test of stopping pyfsd meanwhile.

ctypes.PyDLL calls keep the GIL; read(2) from a pipe that nobody writes to
blocks for good, and is restarted after a signal handler runs. The str()
first creates the file named by PYFS_TEST_GIL_HELD, so that a test polls
for it instead of guessing.
"""

import ctypes
import os


class HoldingStr:
    def __str__(self):
        with open(os.environ["PYFS_TEST_GIL_HELD"], "w"):
            pass
        read_end, _write_end = os.pipe()
        ctypes.PyDLL(None).read(read_end, ctypes.create_string_buffer(1), 1)
        return "unreachable"


HOLDING = HoldingStr()

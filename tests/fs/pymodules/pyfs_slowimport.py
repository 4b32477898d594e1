"""A module whose import does not finish, for the tests of a hung import
and of a daemon killed in the middle of a change.

PYFS_TEST_IMPORT_STARTED names a file this creates once the import has
begun: a test polls for it instead of guessing how long to wait. The
import then blocks in a C call that releases the GIL (as a real import
waiting on the network does) until PYFS_TEST_IMPORT_GATE, a FIFO, is
opened for writing, or forever when no gate is named. Once an import got
through the gate, later imports (pyfsd's call server imports the listed
modules too) pass at once.
"""

import os
import threading

_started = os.environ.get("PYFS_TEST_IMPORT_STARTED")
if _started:
    with open(_started, "w"):
        pass

_gate = os.environ.get("PYFS_TEST_IMPORT_GATE")
if _gate:
    if not os.path.exists(_gate + ".passed"):
        with open(_gate):
            pass
        with open(_gate + ".passed", "w"):
            pass
else:
    threading.Event().wait()

# pyfs_livecode.py: Python code as it is on disk now.
#
# Built in front of pyfs_runner.py (embed-python.py), so that every
# interpreter of pyfs has it: pyfsd's, its call server's, and python3
# running a call when the server cannot.
#
# - trust_no_stale_bytecode(): a module is never run from a .pyc older
#   than its source. CPython checks a .pyc against the source's mtime in
#   whole seconds and its size: an edit that keeps the size, made in the
#   same second as the .pyc was written, is otherwise never seen.
# - watch_set(): which files and directories the code loaded so far came
#   from, outside the standard library: what to watch for changes.
# - changed_since(): whether any of them changed since a moment, for the
#   changes that came before the watch was set up.
# - fresh_import(): pyfsd's own modules imported again from disk.

import os
import sys

def _stat_mtime_ns(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def trust_no_stale_bytecode():
    """Makes the source loader compile a source whose .pyc was written no
    later than the source last changed, instead of trusting that .pyc."""
    # The loaders' own module, always loaded: importlib.util would cost
    # milliseconds of imports on every python3 start.
    import _frozen_importlib_external as external
    loader = external.SourceFileLoader
    if getattr(loader.path_stats, "_pyfs", False):
        return
    original = loader.path_stats

    def path_stats(self, path):
        stats = original(self, path)
        try:
            cached = external.cache_from_source(path)
        except (NotImplementedError, ValueError):
            return stats
        written = _stat_mtime_ns(cached)
        source = _stat_mtime_ns(path)
        if written is not None and source is not None and written <= source:
            # SourceLoader.get_code() then compiles the source, and writes
            # no .pyc of its own.
            raise OSError(f"{cached} may predate {path}")
        return stats

    path_stats._pyfs = True
    loader.path_stats = path_stats


def _stdlib_dirs():
    """The standard library's directories: os.py's, and those of the base
    installation (sysconfig's stdlib and platstdlib, found without the
    milliseconds of importing it), never a virtual environment's, whose
    lib/pythonX.Y holds its site-packages."""
    version = "python%d.%d" % sys.version_info[:2]
    dirs = {os.path.dirname(os.__file__)}
    for base in (sys.base_prefix, sys.base_exec_prefix):
        dirs.add(os.path.join(base, sys.platlibdir, version))
    return tuple(os.path.join(os.path.abspath(d), "") for d in dirs)


# What is installed inside a standard library's directory is not part of it.
_SITE_DIRS = ("site-packages", "dist-packages")


def _outside(path, stdlib):
    # abspath(), not realpath(): the paths compared are those Python
    # imports from, and readlink(2) would stop pyfsd under valgrind's
    # fuse-compatible mode, which its tests use.
    path = os.path.abspath(path)
    for d in stdlib:
        if path + os.sep == d:
            return False
        if path.startswith(d):
            return any(part in _SITE_DIRS for part in path[len(d):].split(os.sep))
    return True


def _module_dict(module):
    """A module's own namespace, read without running any of its code (a
    module's __getattr__, a property of a module subclass, an object that
    put itself in sys.modules); None for anything but a module."""
    import types
    if not issubclass(type(module), types.ModuleType):
        return None
    namespace = object.__getattribute__(module, "__dict__")
    return namespace if type(namespace) is dict else None


def _module_file(module):
    namespace = _module_dict(module)
    path = namespace.get("__file__") if namespace is not None else None
    return path if type(path) is str else None


def watch_set():
    """(files, dirs): the source files of the modules loaded now that are
    not part of the standard library, and the directories to watch: theirs,
    their packages' (a module added to a package), and the entries of
    sys.path outside the standard library (a module that now shadows
    another, a .pth file)."""
    stdlib = _stdlib_dirs()
    files, dirs = set(), set()
    for module in list(sys.modules.values()):
        namespace = _module_dict(module)
        if namespace is None:
            continue
        path = _module_file(module)
        if path is not None and os.path.isabs(path) and _outside(path, stdlib):
            files.add(path)
            dirs.add(os.path.dirname(path))
        package = namespace.get("__path__")
        if type(package) is list:
            for entry in package:
                if type(entry) is str and os.path.isabs(entry) and _outside(entry, stdlib):
                    dirs.add(entry)
    for entry in list(sys.path):
        if type(entry) is str and os.path.isabs(entry) and os.path.isdir(entry) \
                and _outside(entry, stdlib):
            dirs.add(entry)
    return sorted(files), sorted(d for d in dirs if os.path.isdir(d))


def changed_since(files, dirs, ns):
    """Whether one of the files or directories (from watch_set()) changed at
    or after ns (time.time_ns()), or is gone."""
    for path in list(files) + list(dirs):
        mtime = _stat_mtime_ns(path)
        if mtime is None or mtime >= ns:
            return True
    return False


def _reloadable(module, stdlib):
    """Pure Python from outside the standard library: an extension module
    cannot be loaded twice into one process."""
    path = _module_file(module)
    return path is not None and path.endswith(".py") and _outside(path, stdlib)


def fresh_import(names):
    """Imports names again from disk, with every module they (or pyfsd)
    loaded from pure Python outside the standard library: what a new
    python3 would import. All or nothing: if one raises, the modules as
    they were are put back and the exception propagates. Returns how many
    modules were dropped."""
    import importlib
    stdlib = _stdlib_dirs()
    dropped = {name: module for name, module in list(sys.modules.items())
               if _reloadable(module, stdlib)}
    for name in dropped:
        del sys.modules[name]
    importlib.invalidate_caches()
    try:
        for name in names:
            importlib.import_module(name)
    except BaseException:
        for name, module in list(sys.modules.items()):
            if name in dropped or _reloadable(module, stdlib):
                del sys.modules[name]
        sys.modules.update(dropped)
        raise
    return len(dropped)

# pyfs_runner.py: runs one call of a pyfs executable file (DESIGN 4).
#
# pyfs-call runs it as `python -c SOURCE ITEM...` in the caller's own process
# (after exec), and pyfsd's fork server can import it and call main(items).
# The items are written by pyfs_call_runner_items() in pyfs-callargs.c:
#
#   script=PATH  module=NAME  attr=NAME...  |  dot=NAME
#   help  kw=NAME=VALUE...  arg=VALUE | stdin ...
#
# Values arrive raw; decoding them as JSON literals happens here so that
# every call path decodes them the same way. The modules that cost time to
# import (json pulls in re and enum, several milliseconds per call) are only
# imported when a call needs them.

import sys

if __name__ == "__main__" and sys.path[:1] == [""] \
        and not getattr(sys.flags, "safe_path", False):
    # `python -c` puts the caller's cwd first on sys.path: a json.py lying
    # there must not replace the module the call names.
    del sys.path[0]

import os

EXIT_USAGE = 2
_STDIN = object()

# The first character of anything json.loads accepts, NaN and Infinity
# included: other arguments are strings without importing json.
_JSON_START = frozenset('-0123456789"[{tfnNI')


class _UsageError(Exception):
    """Bad usage: reported with a pointer to --help, exit status 2."""


class _Call:
    def __init__(self, items):
        self.script = "pyfs-call"
        self.module = None
        self.attrs = []
        self.dot = None
        self.help = False
        self.kwargs = {}
        self.args = []
        self.stdin_slot = None
        for item in items:
            key, eq, value = item.partition("=")
            if key == "script" and eq:
                self.script = value
            elif key == "module" and eq:
                self.module = value
            elif key == "attr" and eq:
                self.attrs.append(value)
            elif key == "dot" and eq:
                self.dot = value
            elif item == "help":
                self.help = True
            elif key == "kw" and "=" in value:
                name, _, raw = value.partition("=")
                self.kwargs[name] = raw
            elif key == "arg" and eq:
                self.args.append(value)
            elif item == "stdin" and self.stdin_slot is None:
                self.stdin_slot = len(self.args)
                self.args.append(_STDIN)
            else:
                raise ValueError(f"unexpected runner item {item!r}")
        if (self.module is None) == (self.dot is None):
            raise ValueError("runner items name no callable")

    @property
    def name(self):
        return ".".join([self.module] + self.attrs)


def _decode(raw):
    """An argument as the JSON literal it is, else as the string itself."""
    start = raw.lstrip(" \t\r\n")[:1]
    if not start or start not in _JSON_START:
        return raw
    import json
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return raw


def _stdin_values():
    """Each line of stdin, newline stripped, decoded like an argument."""
    # Bytes, decoded as argv is, so that any line comes through.
    for line in sys.stdin.buffer:
        if line.endswith(b"\n"):
            line = line[:-1]
        yield _decode(os.fsdecode(line))


def _output(result):
    """Prints a call's result; returns the exit status it asks for."""
    if result is None:
        return 0
    if isinstance(result, bool):
        return 0 if result else 1
    if isinstance(result, (bytes, bytearray, memoryview)):
        sys.stdout.flush()
        sys.stdout.buffer.write(result)
        return 0
    if isinstance(result, str):
        text = result
    else:
        import json
        try:
            text = json.dumps(result, ensure_ascii=False)
        except (TypeError, ValueError, OverflowError, RecursionError):
            text = str(result)
    sys.stdout.write(text)
    sys.stdout.write("\n")
    return 0


def _binding_fails(func, args, kwargs):
    import inspect
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return False
    try:
        signature.bind(*args, **kwargs)
    except TypeError:
        return True
    return False


def _invoke(func, args, kwargs):
    try:
        return func(*args, **kwargs)
    except TypeError as exc:
        # Raised by the call itself, not from inside the callee's code, and
        # the signature agrees: the arguments do not fit, a usage error.
        if exc.__traceback__.tb_next is None and _binding_fails(func, args, kwargs):
            raise _UsageError(exc) from None
        raise


def _arguments(call, stdin_value):
    """The call's arguments, decoded afresh for each call: a callee that
    mutates a list it was given must not change the next line's call."""
    args = [stdin_value if a is _STDIN else _decode(a) for a in call.args]
    kwargs = {name: _decode(raw) for name, raw in call.kwargs.items()}
    return args, kwargs


def _each_call(call, func):
    """Calls func once, or once per stdin line; returns the exit status."""
    if call.stdin_slot is None:
        return _output(_invoke(func, *_arguments(call, None)))
    status = 0
    for value in _stdin_values():
        # Any False fails the whole run, as with test(1) over all lines.
        status = _output(_invoke(func, *_arguments(call, value))) or status
        # One result per line, as it comes: the input may be a live stream.
        sys.stdout.flush()
    return status


def _run_dot(call):
    if call.help:
        print(f"dot/{call.dot}: for each line of standard input, decoded like an "
              f"argument,\nprint its attribute {call.dot!r}, called with the arguments "
              f"if it is callable\n(echo Hello world | dot/split).")
        return 0
    status = 0
    for obj in _stdin_values():
        value = getattr(obj, call.dot)
        # Stdin holds the objects here, so "-" is just a string (dot/split -).
        args, kwargs = _arguments(call, "-")
        if callable(value):
            value = _invoke(value, args, kwargs)
        elif args or kwargs:
            raise _UsageError(f"TypeError: {type(obj).__name__}.{call.dot} is not "
                              f"callable and takes no arguments")
        status = _output(value) or status
        sys.stdout.flush()
    return status


def _print_help(call, target):
    import inspect
    try:
        signature = str(inspect.signature(target))
    except (TypeError, ValueError):
        signature = "(...)"
    print(f"{call.name}{signature}")
    doc = inspect.getdoc(target)
    if doc:
        print("\n".join(f"    {line}" if line else "" for line in doc.splitlines()))


def _run(call):
    if call.dot is not None:
        return _run_dot(call)
    __import__(call.module)
    target = sys.modules[call.module]
    for attr in call.attrs:
        target = getattr(target, attr)
    if call.help:
        _print_help(call, target)
        return 0
    return _each_call(call, target)


def _die_of(signame, status):
    """Ends the process by the signal, as a C tool would end: a shell loop
    stops on SIGINT, pipefail sees SIGPIPE. Exits with status if the signal
    cannot do it. Never returns."""
    import signal
    signum = getattr(signal, signame)
    try:
        # Nothing still buffered may be written on the way out.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signum])
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    except (OSError, ValueError):
        pass
    os._exit(status)


def _stdout_broken():
    """Whether stdout's reader is gone (poll reports POLLERR on a pipe
    without readers), as opposed to an EPIPE from the callee's own socket."""
    import select
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), 0)
        return any(ev & (select.POLLERR | select.POLLHUP) for _, ev in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


def _flush_stdout(quiet=False):
    """Flushes stdout. A reader that went away ends the process quietly, as
    SIGPIPE ends C tools; other errors raise, or with quiet are dropped
    along with the output, so that exiting does not fail on them again."""
    if sys.stdout is None:
        return
    try:
        sys.stdout.flush()
    except OSError:
        if _stdout_broken():
            _die_of("SIGPIPE", 141)
        if not quiet:
            raise
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _report(exc, call):
    """Writes the exception line, or the traceback with PYFS_TRACEBACK=1,
    and returns the exit status."""
    import traceback
    _flush_stdout(quiet=True)
    if isinstance(exc, _UsageError):
        cause = exc.args[0]
        if isinstance(cause, BaseException):
            sys.stderr.write("".join(traceback.format_exception_only(type(cause), cause)))
        else:
            sys.stderr.write(f"{cause}\n")
        sys.stderr.write(f"Try '{call.script} --help'.\n")
        return EXIT_USAGE
    if os.environ.get("PYFS_TRACEBACK", "") not in ("", "0"):
        # The runner's own frames tell the user nothing.
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_globals is globals():
            tb = tb.tb_next
        traceback.print_exception(type(exc), exc, tb)
    else:
        sys.stderr.write("".join(traceback.format_exception_only(type(exc), exc)))
    return 1


def _exit_status(exc):
    """SystemExit's code as Python's own exit would turn it into a status."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    _flush_stdout(quiet=True)
    print(exc.code, file=sys.stderr)
    return 1


def main(items):
    """Runs the call the items describe; returns its exit status."""
    try:
        call = _Call(items)
    except ValueError as exc:
        print(f"pyfs-call: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sys.argv = [call.script]
    if sys.stdout is not None and hasattr(sys.stdout, "reconfigure"):
        # Arguments and stdin lines that are not UTF-8 reach the call as
        # surrogate escapes (as os.fsdecode makes them): printed back, they
        # become the same bytes again instead of an error.
        sys.stdout.reconfigure(errors="surrogateescape")
    try:
        status = _run(call)
        _flush_stdout()
    except SystemExit as exc:
        status = _exit_status(exc)
    except KeyboardInterrupt:
        _die_of("SIGINT", 130)
    except BaseException as exc:
        # The callee's own writes to a stdout whose reader is gone.
        if isinstance(exc, BrokenPipeError) and _stdout_broken():
            _die_of("SIGPIPE", 141)
        status = _report(exc, call)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

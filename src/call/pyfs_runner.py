# pyfs_runner.py: runs one call of a pyfs executable file (README,
# "Executables").
#
# pyfs-call runs it as `python -c SOURCE ITEM...` in the caller's own process
# (after exec), and pyfsd's call server (src/callserver/supervisor/pyfs-callserver.c) loads it and
# runs forked_main(items, environ, ignored) in a child per call. Both have
# it built in (embed-runner.py, after pyfs_runner_args.py, which decodes
# the arguments): the very same code on both paths.
# The items are written by pyfs_call_runner_items() in pyfs-callargs.c:
#
#   script=PATH  module=NAME  attr=NAME...  |  dot=NAME
#   help  kw=NAME=VALUE | flag=NAME | noflag=NAME ...  arg=VALUE | stdin ...
#
# Values arrive raw; decoding them, by the callable's signature, happens
# here so that every call path decodes them the same way. The modules that
# cost time to import (json pulls in re and enum, inspect many more,
# several milliseconds per call) are only imported when a call needs them.

import sys

if __name__ == "__main__" and sys.path[:1] == [""] \
        and not getattr(sys.flags, "safe_path", False):
    # `python -c` puts the caller's cwd first on sys.path: a json.py lying
    # there must not replace the module the call names.
    del sys.path[0]

import os

EXIT_USAGE = 2
_STDIN = object()


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
            elif key == "flag" and eq:
                self.kwargs[value] = _FLAG_ON
            elif key == "noflag" and eq:
                self.kwargs[value] = _FLAG_OFF
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


def _stdin_lines():
    """Each line of stdin, newline stripped, raw as an argument is."""
    # Bytes, decoded as argv is, so that any line comes through.
    for line in sys.stdin.buffer:
        if line.endswith(b"\n"):
            line = line[:-1]
        yield os.fsdecode(line)


def _is_iterator(value):
    """Whether value is its own iterator (a generator, map, zip, a file's
    lines, a database cursor): what it stands for is its items. An iterable
    that is not (an email Message, an XML Element) is printed whole: its
    text is what a reader wants, not its parts."""
    try:
        return hasattr(type(value), "__next__") and iter(value) is value
    except Exception:
        return False


def _stream(iterator):
    """Prints each item as it comes, by the output rules; returns the exit
    status they ask for, 1 if any item is False. A reader that goes away
    (| head) ends the call at the next item, as SIGPIPE ends a filter."""
    status = 0
    for item in iterator:
        if isinstance(item, str) and item.endswith("\n"):
            # A line that ends itself, as a text file's lines do.
            sys.stdout.write(item)
        else:
            status = _output(item) or status
        sys.stdout.flush()
    return status


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
    elif _is_iterator(result):
        return _stream(result)
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


def _arguments(call, stdin_line, plan):
    """The call's arguments, decoded by plan (_plan()) with stdin_line in the
    stdin slot, afresh for each call: a callee that mutates a list it was
    given must not change the next line's call."""
    args = [plan.positional(i, stdin_line if raw is _STDIN else raw)
            for i, raw in enumerate(call.args)]
    kwargs = {name: plan.keyword(name, raw) for name, raw in call.kwargs.items()}
    return args, kwargs


def _each_call(call, func):
    """Calls func once, or once per stdin line; returns the exit status."""
    plan = _plan(func, call.args, call.kwargs)
    if call.stdin_slot is None:
        return _output(_invoke(func, *_arguments(call, None, plan)))
    status = 0
    for line in _stdin_lines():
        # Any False fails the whole run, as with test(1) over all lines.
        status = _output(_invoke(func, *_arguments(call, line, plan))) or status
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
    for line in _stdin_lines():
        obj = _decode(line)
        value = getattr(obj, call.dot)
        if callable(value):
            # Stdin holds the objects here, so "-" is just a string (dot/split -).
            plan = _plan(value, call.args, call.kwargs)
            value = _invoke(value, *_arguments(call, "-", plan))
        elif call.args or call.kwargs:
            raise _UsageError(f"TypeError: {type(obj).__name__}.{call.dot} is not "
                              f"callable and takes no arguments")
        status = _output(value) or status
        sys.stdout.flush()
    return status


def _definition(target):
    """Where target is defined, "FILE:LINE" (or "FILE" if the line is not
    to be found); None for a builtin, or without a source file."""
    import inspect
    try:
        # Where the code is, not the decorator's wrapper around it.
        target = inspect.unwrap(target)
        path = inspect.getsourcefile(target)
        if path is None or not os.path.isfile(path):
            # A frozen module's code (os, posixpath) names "<frozen posixpath>".
            path = getattr(inspect.getmodule(target), "__file__", None)
            if not path or not path.endswith(".py") or not os.path.isfile(path):
                return None
        try:
            line = inspect.getsourcelines(target)[1]
        except OSError:
            code = getattr(getattr(target, "__func__", target), "__code__", None)
            if code is None:
                return path
            line = code.co_firstlineno
        return f"{path}:{line}"
    except (TypeError, ValueError, OSError):
        return None


def _print_help(call, target):
    """The signature, the docstring, how each parameter is given and decoded,
    and where target is defined."""
    import inspect
    try:
        signature = inspect.signature(target)
    except Exception:
        signature = None
    print(f"{call.name}{'(...)' if signature is None else signature}")
    doc = inspect.getdoc(target)
    if doc:
        print("\n".join(f"    {line}" if line else "" for line in doc.splitlines()))
    if signature is not None and signature.parameters:
        print("\nParameters:")
        print("\n".join(_parameter_help(_parameters_of(signature), target)))
    where = _definition(target)
    if where:
        print(f"\nDefined in {where}")


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


def _imported_target(call):
    """The callable call names if its module is imported already, else
    None (and for a dot/ file, whose object comes from stdin)."""
    if call.dot is not None or call.module not in sys.modules:
        return None
    target = sys.modules[call.module]
    try:
        for attr in call.attrs:
            target = getattr(target, attr)
    except Exception:
        return None
    return target if callable(target) else None


def completions(items, word):
    """For shell completion (pyfsd's call server answers it): the options
    that may complete word, the word being typed on a command line whose
    earlier words make the runner items items (pyfs_call_runner_items()).
    Those are --NAME= for each parameter that takes a keyword (but those
    already given), --NAME and --no-NAME for a bool, and --help; none after
    a positional argument, where options end (nor after "--", which the
    items do not show: the caller knows). Imports nothing: a module not
    imported yet offers --help alone."""
    try:
        call = _Call(items)
    except ValueError:
        return []
    if call.args:
        return []
    words = ["--help"]
    target = _imported_target(call)
    params = _signature(target) if target is not None else None
    if params:
        words[:0] = _option_words(params, target, call.kwargs)
    return [w for w in words if w.startswith(word)]


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
        if isinstance(exc, _ArgumentError):
            sys.stderr.write(f"pyfs-call: {call.script}: {cause}\n")
        elif isinstance(cause, BaseException):
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
    # From pyfs-call running python3 when pyfsd's call server cannot:
    # pyfsd's sys.path, so that the call finds what pyfsd finds.
    path = [item[5:] for item in items if item.startswith("path=")]
    if path:
        sys.path[:] = path
        items = [item for item in items if not item.startswith("path=")]
    trust_no_stale_bytecode()
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


# --- In a child of pyfsd's call server -------------------------------------
#
# The child is a copy of pyfsd's interpreter that already holds the caller's
# stdio as fds 0-2, its working directory, umask, limits and C environment
# (done in C, src/callserver/server/pyfs-callserver-spare.c). What python3 would set up at start-up
# is done here: os.environ, the locale, the std streams and the signals.

# The locale last set up: (the variable it came from, the LC_CTYPE set).
_locale_state = None

# python3 takes these LC_CTYPE locales for a "C" locale made UTF-8 (PEP 538),
# and decodes stdio with surrogateescape in them, as in the C locale itself.
_C_LOCALES = ("C", "POSIX", "C.UTF-8", "C.utf8", "UTF-8")


def _adopt_environ(data):
    """os.environ becomes data, {b"NAME": b"VALUE"}, which is already the
    C environment: only os.environ's own copy of it is replaced (taken as
    it is: a copy would cost a call more pages to write)."""
    if isinstance(getattr(os.environ, "_data", None), dict):
        old_tz = os.environ._data.get(b"TZ")
        os.environ._data = data
    else:
        old_tz = os.environb.get(b"TZ")
        os.environb.clear()
        os.environb.update(data)
    time = sys.modules.get("time")
    if data.get(b"TZ") != old_tz and time is not None and hasattr(time, "tzset"):
        time.tzset()


def _adopt_locale():
    """The caller's LC_CTYPE and "C" for the other categories, as python3
    starts; a C locale is coerced to UTF-8 as python3 does (PEP 538).
    Returns the LC_CTYPE locale. Done again only when the variables that
    choose it change."""
    global _locale_state
    env = os.environ
    key = env.get("LC_ALL") or env.get("LC_CTYPE") or env.get("LANG") or ""
    if _locale_state is not None and _locale_state[0] == key:
        return _locale_state[1]
    import _locale
    _locale.setlocale(_locale.LC_ALL, "C")
    try:
        name = _locale.setlocale(_locale.LC_CTYPE, "")
    except _locale.Error:
        name = "C"
    if name in ("C", "POSIX"):
        for coerced in _C_LOCALES[2:]:
            try:
                name = _locale.setlocale(_locale.LC_CTYPE, coerced)
                break
            except _locale.Error:
                pass
    _locale_state = (key, name)
    return name


def _std_stream(fd, mode, encoding, errors, unbuffered, name):
    """A sys.std* stream over fd as python3 makes it, or None if fd is closed.
    Made anew, even where the spare has one over the same number already:
    a stream knows whether its file can seek from when it was made."""
    import io
    write = mode == "w"
    try:
        # stdin stays buffered even with -u, as in python3.
        buffer = io.open(fd, mode + "b", buffering=0 if unbuffered and write else -1,
                         closefd=False)
    except OSError:
        return None
    raw = getattr(buffer, "raw", buffer)
    raw.name = name
    line_buffering = write and not unbuffered and (fd == 2 or raw.isatty())
    return io.TextIOWrapper(buffer, encoding, errors, newline="\n",
                            line_buffering=line_buffering, write_through=unbuffered)


def _adopt_stdio(ctype):
    """New sys.stdin, stdout, stderr over fds 0-2, by python3's rules under
    the caller's LC_CTYPE locale ctype and environment (PYTHONIOENCODING,
    PYTHONUNBUFFERED)."""
    import codecs
    env = os.environ
    encoding, _, errors = env.get("PYTHONIOENCODING", "").partition(":")
    if not encoding and sys.flags.utf8_mode:
        encoding = "utf-8"
    elif not encoding:
        import _locale
        encoding = _locale.nl_langinfo(_locale.CODESET) or "utf-8"
    try:
        # As python3 names it: "utf-8" for "UTF-8".
        encoding = codecs.lookup(encoding).name
    except LookupError:
        pass
    if not errors:
        # An encoding chosen by PYTHONIOENCODING is strict, as in python3.
        errors = ("surrogateescape" if not env.get("PYTHONIOENCODING", "").partition(":")[0]
                  and (sys.flags.utf8_mode or ctype in _C_LOCALES) else "strict")
    unbuffered = bool(env.get("PYTHONUNBUFFERED"))
    sys.stdin = sys.__stdin__ = _std_stream(0, "r", encoding, errors, unbuffered,
                                            "<stdin>")
    sys.stdout = sys.__stdout__ = _std_stream(1, "w", encoding, errors, unbuffered,
                                              "<stdout>")
    sys.stderr = sys.__stderr__ = _std_stream(2, "w", encoding, "backslashreplace",
                                              unbuffered, "<stderr>")


def _flush_std():
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass


def _finish():
    """What python3 does on the way out that a call may rely on: waiting
    for its non-daemon threads (once only: threading marks the main thread
    done), flushing the std streams."""
    threading = sys.modules.get("threading")
    if threading is not None and hasattr(threading, "_shutdown"):
        threading._shutdown()
    _flush_std()


def _rehearse(signals):
    """A call's machinery, on whatever stdio is (/dev/null): a str result
    and a JSON one, arguments decoded as JSON literals or not."""
    # A copy made in C, as the call gets its environment (pyfs-callserver-spare.c).
    _adopt_environ(dict(os.environ._data) if isinstance(getattr(os.environ, "_data", None), dict)
                   else dict(os.environb))
    _adopt_stdio(_adopt_locale())
    if signals:
        _adopt_signals([])
    main(["script=pyfs-warm-up", "module=posixpath", "attr=join", "arg=a", 'arg="b"'])
    main(["script=pyfs-warm-up", "module=posixpath", "attr=split", "arg=a/b"])
    _flush_std()


def warm_up(rounds):
    """In a spare child of the call server, whose stdio is /dev/null: the
    pages a call writes are copied now, before a call comes, rather than
    while the caller waits. The signals are those of a call whose caller
    ignores none; the call sets those its caller ignores."""
    for _ in range(rounds):
        _rehearse(signals=True)


def warm_up_server(rounds):
    """In the call server itself, whose stdio is /dev/null for the while:
    the runner's code is specialised once for all spares. Then sys.std*,
    os.environ and sys.argv are the server's again, and its signals were left alone; the locale stays set
    as python3 sets it, as every call wants it."""
    saved = (sys.stdin, sys.stdout, sys.stderr,
             sys.__stdin__, sys.__stdout__, sys.__stderr__, getattr(sys, "argv", None),
             os.environ._data)
    try:
        for _ in range(rounds):
            _rehearse(signals=False)
    finally:
        (sys.stdin, sys.stdout, sys.stderr,
         sys.__stdin__, sys.__stdout__, sys.__stderr__, sys.argv,
         os.environ._data) = saved


def _adopt_signals(ignored):
    """As python3 starts under the caller: what the caller ignores stays
    ignored (nohup, a background job's SIGINT); SIGPIPE and SIGXFSZ are
    ignored (OSError instead); Ctrl-C raises KeyboardInterrupt. Through
    _signal, not signal: signal.signal() makes enums of every handler, and
    that machinery writes to hundreds of pages the child shares with the
    server, each copied at a fault."""
    import _signal
    for signum in ignored:
        try:
            _signal.signal(signum, _signal.SIG_IGN)
        except (OSError, ValueError):
            pass
    _signal.signal(_signal.SIGPIPE, _signal.SIG_IGN)
    _signal.signal(_signal.SIGXFSZ, _signal.SIG_IGN)
    if _signal.SIGINT not in ignored:
        _signal.signal(_signal.SIGINT, _signal.default_int_handler)


def _complete(items):
    """A completion request (pyfs-call --complete): the items of the words
    typed so far, and "complete=WORD", the word being typed. Prints the
    candidates, one per line; returns the exit status."""
    word = next(item[9:] for item in items if item.startswith("complete="))
    for candidate in completions([item for item in items if not item.startswith("complete=")],
                                 word):
        sys.stdout.write(candidate + "\n")
    return 0


def forked_main(items, environ, ignored):
    """Runs the call in a child of pyfsd's call server and returns its exit
    status, with which the child then _exits. environ: the caller's
    environment, {b"NAME": b"VALUE"}, already the C one; ignored: the
    signals it ignores. A completion request is answered instead (only
    a call server answers those: no python3 is started for one)."""
    if any(item.startswith("complete=") for item in items):
        _adopt_stdio(_adopt_locale())
        try:
            return _complete(items)
        finally:
            _flush_std()
    _adopt_environ(environ)
    _adopt_stdio(_adopt_locale())
    _adopt_signals(ignored)
    try:
        return main(items)
    finally:
        _finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

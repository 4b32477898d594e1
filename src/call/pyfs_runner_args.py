# pyfs_runner_args.py: how the arguments of a call are decoded, parameter
# by parameter, from the callable's signature (README, "Executables").
#
# The first part of the runner: embed-runner.py joins it with pyfs_runner.py
# into one module, so that pyfsd's call server and the python3 fallback run
# the very same rules. Each parameter gets a kind, which says how the
# argument given for it is decoded:
#
#   "str"           taken exactly as typed: annotated str, Optional[str] or
#                   str | None, or not annotated with a str default
#   "int", "float"  parsed as int() and float() parse them
#   "bool"          true/false, yes/no, 1/0, on/off, in any case; also the
#                   flags --NAME and --no-NAME: annotated bool (or Optional),
#                   or not annotated with a bool default
#   None            a JSON literal when it parses as one, else the string:
#                   any other annotation, and every parameter of a callable
#                   without a signature
#
# Reading a signature must not slow calls down. A plain Python function's is
# read from its code object, a builtin's from its text signature, for next
# to nothing. Only other callables (classes, decorated functions) need
# inspect, an import of several milliseconds that python3 pays on each call
# (pyfsd's call server has it loaded). A call without arguments reads none.

import sys

# The first character of anything json.loads accepts, NaN and Infinity
# included: other arguments are strings without importing json.
_JSON_START = frozenset('-0123456789"[{tfnNI')

# inspect.Parameter.kind, by value, and the kinds that take a keyword.
_POSITIONAL_ONLY, _POSITIONAL_OR_KEYWORD, _VAR_POSITIONAL, _KEYWORD_ONLY, _VAR_KEYWORD = range(5)
_BY_KEYWORD = (_POSITIONAL_OR_KEYWORD, _KEYWORD_ONLY)

_NOTHING = object()     # no default, no annotation
_OTHER = object()       # a builtin's default that is neither a str nor a bool
_FLAG_ON = object()     # --NAME, as a keyword's value
_FLAG_OFF = object()    # --no-NAME

_BOOL_WORDS = {"true": True, "yes": True, "1": True, "on": True,
               "false": False, "no": False, "0": False, "off": False}
_BOOL_HELP = "true/false, yes/no, 1/0 or on/off, in any case"

# Types this file tells apart without importing the modules that name them.
_FUNCTION = type(lambda: None)
_BUILTIN = type(len)
try:
    _UNION = type(int | None)
except TypeError:
    _UNION = None       # Python 3.9: no X | Y


class _Probe:
    def method(self):
        pass


_METHOD = type(_Probe().method)
del _Probe

_CO_VARARGS = 0x04
_CO_VARKEYWORDS = 0x08


class _UsageError(Exception):
    """Bad usage: reported with a pointer to --help, exit status 2. Its
    argument: the exception that tells what is wrong, or that line itself."""


class _ArgumentError(_UsageError):
    """An argument or an option the signature refuses: reported as pyfs-call
    reports a bad command line."""


class _Unreadable(Exception):
    """A text signature left to inspect."""


class _Param:
    __slots__ = ("name", "kind", "default", "annotation")

    def __init__(self, name, kind, default, annotation):
        self.name = name
        self.kind = kind
        self.default = default
        self.annotation = annotation


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


def _code_parameters(func):
    """The parameters of a plain Python function or of a method bound to one,
    as inspect.signature() gives them, read from the code object; None for
    anything else. A function with attributes of its own (__wrapped__,
    __signature__: a decorator's work) is left to inspect."""
    bound = type(func) is _METHOD
    if bound:
        func = func.__func__
    if type(func) is not _FUNCTION or func.__dict__:
        return None
    code = func.__code__
    names = code.co_varnames
    npos, nkw = code.co_argcount, code.co_kwonlyargcount
    defaults = func.__defaults__ or ()
    kwdefaults = func.__kwdefaults__ or {}
    annotations = func.__annotations__
    first_default = npos - len(defaults)
    params = []
    for i, name in enumerate(names[:npos]):
        kind = _POSITIONAL_ONLY if i < code.co_posonlyargcount else _POSITIONAL_OR_KEYWORD
        default = defaults[i - first_default] if i >= first_default else _NOTHING
        params.append(_Param(name, kind, default, annotations.get(name, _NOTHING)))
    rest = npos + nkw
    if code.co_flags & _CO_VARARGS:
        name = names[rest]
        params.append(_Param(name, _VAR_POSITIONAL, _NOTHING, annotations.get(name, _NOTHING)))
        rest += 1
    for name in names[npos:npos + nkw]:
        params.append(_Param(name, _KEYWORD_ONLY, kwdefaults.get(name, _NOTHING),
                             annotations.get(name, _NOTHING)))
    if code.co_flags & _CO_VARKEYWORDS:
        name = names[rest]
        params.append(_Param(name, _VAR_KEYWORD, _NOTHING, annotations.get(name, _NOTHING)))
    if bound:
        # The instance takes the first positional parameter, or is one of
        # *args; a method without either is left to inspect, which refuses it.
        if not params or params[0].kind > _VAR_POSITIONAL:
            return None
        if params[0].kind != _VAR_POSITIONAL:
            del params[0]
    return params


def _parameters_of(signature):
    """An inspect.Signature's parameters as _Param."""
    empty = signature.empty
    return [_Param(p.name, int(p.kind),
                   _NOTHING if p.default is empty else p.default,
                   _NOTHING if p.annotation is empty else p.annotation)
            for p in signature.parameters.values()]


def _split_text_signature(text):
    """The parameters in a text signature's parentheses, as written: split
    at the commas outside quotes and brackets."""
    parts = []
    start = depth = 0
    quote = None
    escaped = False
    for i, c in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [part for part in parts if part]


def _text_default(text):
    """A default as a text signature writes it, standing for its type only:
    "" for a str, the bool for a bool, _OTHER for another literal. An
    expression (sys.maxsize, <unrepresentable>) is inspect's to evaluate."""
    if text[:1] in ("'", '"'):
        return ""
    if text in ("True", "False"):
        return text == "True"
    if text in ("None", "()") or text[:2] in ("b'", 'b"'):
        return _OTHER
    try:
        if text[:1] in "-+.0123456789":
            float(text)
            return _OTHER
    except ValueError:
        pass
    raise _Unreadable(text)


def _text_parameters(func):
    """A builtin's parameters as inspect reads them from its text signature,
    "($module, iterable, /, *, key=None, reverse=False)", but without
    inspect; the defaults stand for their type only (_text_default()).
    None without a text signature (no signature at all); _Unreadable for
    one this leaves to inspect."""
    text = func.__text_signature__
    if text is None:
        return None
    text = text.strip()
    if text[:1] != "(" or text[-1:] != ")":
        raise _Unreadable(text)
    params = []
    kind = _POSITIONAL_OR_KEYWORD
    for i, part in enumerate(_split_text_signature(text[1:-1])):
        name, eq, default = (s.strip() for s in part.partition("="))
        if i == 0 and name[:1] == "$":
            # The object the builtin is bound to, a module or an instance.
            if getattr(func, "__self__", None) is None:
                params.append(_Param(name[1:], _POSITIONAL_ONLY, _NOTHING, _NOTHING))
            continue
        if name == "/":
            for param in params:
                param.kind = _POSITIONAL_ONLY
            continue
        if name == "*":
            kind = _KEYWORD_ONLY
            continue
        if name[:2] == "**":
            name, param_kind = name[2:], _VAR_KEYWORD
        elif name[:1] == "*":
            name, param_kind, kind = name[1:], _VAR_POSITIONAL, _KEYWORD_ONLY
        else:
            param_kind = kind
        if not name.isidentifier() or eq and param_kind in (_VAR_POSITIONAL, _VAR_KEYWORD):
            raise _Unreadable(text)
        params.append(_Param(name, param_kind, _text_default(default) if eq else _NOTHING,
                             _NOTHING))
    return params


def _signature(func):
    """func's parameters, a list of _Param, or None if it has no signature
    (many builtins): then its arguments are all JSON literals."""
    params = _code_parameters(func)
    if params is not None:
        return params
    if type(func) is _BUILTIN:
        try:
            return _text_parameters(func)
        except _Unreadable:
            pass
    import inspect
    try:
        return _parameters_of(inspect.signature(func))
    except Exception:
        # TypeError or ValueError for no signature; anything from a broken
        # __signature__ or __wrapped__: the call is still made, as before.
        return None


def _namespace(func):
    """The globals a string annotation of func is evaluated in (it was
    written in a module with `from __future__ import annotations`), as
    typing.get_type_hints() finds them."""
    for _ in range(100):
        inner = getattr(func, "__wrapped__", None) or getattr(func, "__func__", None)
        if inner is None:
            break
        func = inner
    namespace = getattr(func, "__globals__", None)
    if isinstance(namespace, dict):
        return namespace
    module = sys.modules.get(getattr(func, "__module__", None) or "")
    return getattr(module, "__dict__", None) or {}


def _kind(param, func):
    """How an argument for param of func is decoded: "str", "int", "float",
    "bool", or None for a JSON literal."""
    annotation = param.annotation
    if annotation is _NOTHING:
        if param.kind in (_VAR_POSITIONAL, _VAR_KEYWORD):
            return None
        # The type of the default only, not a subclass of str or bool.
        return {str: "str", bool: "bool"}.get(type(param.default))
    if isinstance(annotation, str):
        try:
            annotation = eval(annotation, _namespace(func), {})
        except Exception:
            return None     # a name only imported for type checkers
    members = _union_members(annotation)
    if members is not None:
        members = [m for m in members if m is not type(None)]
        if len(members) != 1:
            return None
        annotation = members[0]
    for cls in (str, int, float, bool):
        if annotation is cls:
            return cls.__name__
    return None


def _union_members(annotation):
    """The members of Optional[X], Union[X, Y] or X | Y; None for another
    annotation. typing is loaded if the annotation comes from it."""
    if _UNION is not None and type(annotation) is _UNION:
        return annotation.__args__
    typing = sys.modules.get("typing")
    if typing is not None and typing.get_origin(annotation) is typing.Union:
        return typing.get_args(annotation)
    return None


def _parse(kind, raw, param):
    """raw decoded as kind requires; a value it refuses is bad usage."""
    if kind == "str":
        return raw
    if kind is None:
        return _decode(raw)
    try:
        if kind == "bool":
            return _BOOL_WORDS[raw.lower()]
        return int(raw) if kind == "int" else float(raw)
    except (KeyError, ValueError):
        words = f" ({_BOOL_HELP})" if kind == "bool" else ""
        raise _ArgumentError(f"parameter '{param.name}': invalid {kind} value: "
                             f"{raw!r}{words}") from None


def _unknown_option(option):
    return _ArgumentError(f"unknown option '{option}' (keyword arguments are --NAME=VALUE, "
                          f"--NAME or --no-NAME for a bool; put '--' before arguments "
                          f"that start with '-')")


class _Plan:
    """How the arguments of calls of one callable are decoded: by its
    signature, or, params None, all as JSON literals."""

    def __init__(self, func, params):
        self._func = func
        self._kinds = {}
        self._positional = []
        self._var_positional = self._var_keyword = None
        self._by_keyword = {}
        for param in params or ():
            if param.kind <= _POSITIONAL_OR_KEYWORD:
                self._positional.append(param)
            if param.kind in _BY_KEYWORD:
                self._by_keyword[param.name] = param
            elif param.kind == _VAR_POSITIONAL:
                self._var_positional = param
            elif param.kind == _VAR_KEYWORD:
                self._var_keyword = param

    def _kind_of(self, param):
        if param is None:
            return None
        if param.name not in self._kinds:
            self._kinds[param.name] = _kind(param, self._func)
        return self._kinds[param.name]

    def positional(self, index, raw):
        """The argument raw, given at index among the positional ones."""
        param = (self._positional[index] if index < len(self._positional)
                 else self._var_positional)
        return _parse(self._kind_of(param), raw, param)

    def keyword(self, name, raw):
        """The value of keyword argument name: raw as given with
        --NAME=VALUE, or _FLAG_ON or _FLAG_OFF."""
        param = self._by_keyword.get(name, self._var_keyword)
        kind = self._kind_of(param)
        if raw is not _FLAG_ON and raw is not _FLAG_OFF:
            return _parse(kind, raw, param)
        option = f"--{name}" if raw is _FLAG_ON else f"--no-{name}"
        if kind == "bool":
            return raw is _FLAG_ON
        if param is None:
            raise _unknown_option(option)
        if raw is _FLAG_OFF:
            raise _ArgumentError(f"option '{option}': --no-NAME is for bool parameters only")
        raise _ArgumentError(f"option '{option}' needs a value: {option}=VALUE "
                             f"(only bool parameters are flags)")


def _plan(func, args, keywords):
    """The plan for calls of func with the positional arguments args and the
    keyword arguments keywords (name: raw value): without any, no signature
    is read."""
    if not args and not keywords:
        return _Plan(func, None)
    return _Plan(func, _signature(func))



# --- What --help and shell completion say about the parameters --------------

def _shown(param):
    """The name as a signature shows it: *args, **kwargs."""
    return {_VAR_POSITIONAL: "*", _VAR_KEYWORD: "**"}.get(param.kind, "") + param.name


def _how_given(param, kind):
    if param.kind == _POSITIONAL_ONLY:
        return "positional"
    if param.kind == _VAR_POSITIONAL:
        return "the remaining positional arguments"
    if param.kind == _VAR_KEYWORD:
        return "--NAME=VALUE for any other NAME"
    options = [f"--{param.name}=VALUE"]
    if kind == "bool":
        options[:0] = [f"--{param.name}", f"--no-{param.name}"]
    if param.kind == _POSITIONAL_OR_KEYWORD:
        options.insert(0, "positional")
    if len(options) == 1:
        return options[0]
    return ", ".join(options[:-1]) + " or " + options[-1]


_DECODED = {
    None: "a JSON literal, else a string",
    "str": "a string, as typed",
    "int": "an int",
    "float": "a float",
    "bool": "a bool",
}


def _parameter_help(params, func):
    """One line per parameter of func, for --help: how it is given, how its
    value is decoded, its default; then what a bool takes, if one does."""
    width = min(max(len(_shown(p)) for p in params), 20)
    lines = []
    bools = False
    for param in params:
        kind = _kind(param, func)
        bools = bools or kind == "bool"
        line = f"  {_shown(param):<{width}}  {_how_given(param, kind)}; {_DECODED[kind]}"
        if param.default is not _NOTHING:
            try:
                line += f"; default {param.default!r}"
            except Exception:
                pass    # a default whose repr() fails is left unsaid
        lines.append(line)
    if bools:
        lines.append(f"A bool is {_BOOL_HELP}.")
    return lines


def _option_words(params, func, given=()):
    """The options that name params of func, as shell completion offers
    them: --NAME= for each that takes a keyword, --NAME and --no-NAME too
    for a bool; none for the names in given, already on the command line."""
    words = []
    for param in params:
        if param.kind not in _BY_KEYWORD or param.name in given:
            continue
        words.append(f"--{param.name}=")
        if _kind(param, func) == "bool":
            words += [f"--{param.name}", f"--no-{param.name}"]
    return words

#!/usr/bin/env python3
"""test-runner: the runner's rules, on the module pyfsd and pyfs-call embed
(src/call/pyfs_runner_args.py + pyfs_runner.py, joined at build time):
arguments decoded by the callable's signature.

Usage: test-runner.py PATH/TO/BUILT/pyfs_runner.py
"""

import functools
import importlib.util
import inspect
import operator
import os
import subprocess
import sys
import textwrap
import unittest
from typing import Optional, Union

RUNNER_PATH = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 1 else None
if RUNNER_PATH is None:
    sys.exit("usage: test-runner.py PATH/TO/pyfs_runner.py")
spec = importlib.util.spec_from_file_location("pyfs_runner", RUNNER_PATH)
runner = importlib.util.module_from_spec(spec)
spec.loader.exec_module(runner)


def call_items(*args, **kwargs):
    """The runner items of a call of this module's attribute "target"."""
    items = ["script=/mnt/lib/test/target", "module=test", "attr=target"]
    items += [f"kw={name}={raw}" for name, raw in kwargs.items()]
    items += ["stdin" if a is STDIN else f"arg={a}" for a in args]
    return items


STDIN = object()


def decoded(func, *args, stdin=None, **kwargs):
    """What the runner passes to func for the raw arguments args and kwargs."""
    call = runner._Call(call_items(*args, **kwargs))
    plan = runner._plan(func, call.args, call.kwargs)
    return runner._arguments(call, stdin, plan)


def keyword(func, name, raw):
    return runner._plan(func, [], {name: raw}).keyword(name, raw)


def positional(func, *raw):
    return decoded(func, *raw)[0]


def greet(name: str, punct: str = "!", *, loud: bool = False):
    return f"hello {name}{punct}"


def typed(count: int, ratio: float, flag: bool, text: str, anything):
    pass


def optional(a: Optional[str], b: "str | None", c: Union[None, str], d: Optional[int],
             e: Union[int, str], f: list[int], g: "Undefined"):  # noqa: F821
    pass


def by_default(sep=",", verbose=False, count=0, nothing=None):
    pass


def variadic(first: int, *rest: int, key: str = "k", **options: float):
    pass


def untyped_variadic(*args, **kwargs):
    pass


def positional_only(a: int, /, b: str, *, c: bool):
    pass


FUTURE = {}
exec(compile(textwrap.dedent("""\
    from __future__ import annotations
    from typing import Optional

    Text = str

    def future(name: Text, count: int, maybe: Optional[str], flag: bool = False,
               other: Missing = None):
        pass
    """), "<future>", "exec", dont_inherit=True), FUTURE)


class Rows(unittest.TestCase):
    """Each row of the rules in README, "Executables"."""

    def test_str_is_taken_as_typed(self):
        for raw in ("297e7814231", "true", "null", "12", '"x"', "[1, 2]", "", " x "):
            self.assertEqual(positional(greet, raw), [raw])
        self.assertEqual(positional(greet, "1", "2"), ["1", "2"])
        self.assertEqual(keyword(greet, "punct", "?!"), "?!")

    def test_optional_str_and_str_or_none(self):
        args = decoded(optional, "1", "2", "3", "4", "5", "[6]", "7")[0]
        self.assertEqual(args[:3], ["1", "2", "3"])
        # Optional[int] is an int; other unions, list[int], an annotation
        # that does not resolve: JSON literals.
        self.assertEqual(args[3:], [4, 5, [6], 7])

    def test_str_default_without_annotation(self):
        self.assertEqual(keyword(by_default, "sep", "0"), "0")
        self.assertEqual(keyword(by_default, "count", "3"), 3)
        self.assertEqual(keyword(by_default, "nothing", "x"), "x")
        self.assertEqual(keyword(by_default, "nothing", "[1]"), [1])

    def test_int_float_bool_parse(self):
        args = decoded(typed, "42", "2.5", "yes", "007", "7")[0]
        self.assertEqual(args, [42, 2.5, True, "007", 7])
        self.assertEqual(positional(typed, "-7", "1e3")[:2], [-7, 1000.0])
        self.assertEqual(positional(typed, " 5 ", "inf")[:2], [5, float("inf")])

    def test_bool_words_in_any_case(self):
        for raw, value in (("true", True), ("YES", True), ("1", True), ("On", True),
                           ("False", False), ("no", False), ("0", False), ("OFF", False)):
            self.assertIs(keyword(greet, "loud", raw), value, raw)

    def test_bad_values_are_bad_usage_naming_the_parameter(self):
        for func, args, name, kind in ((typed, ["x"], "count", "int"),
                                       (typed, ["1.5"], "count", "int"),
                                       (typed, ["1", "one"], "ratio", "float"),
                                       (typed, ["1", "1", "maybe"], "flag", "bool"),
                                       (typed, ["1", "1", ""], "flag", "bool"),
                                       (variadic, ["1", "2", "x"], "rest", "int")):
            with self.assertRaises(runner._UsageError) as caught:
                decoded(func, *args)
            message = str(caught.exception)
            self.assertIn(f"parameter '{name}': invalid {kind} value", message)
        with self.assertRaises(runner._ArgumentError) as caught:
            keyword(greet, "loud", "maybe")
        self.assertIn("'maybe' (true/false, yes/no, 1/0 or on/off, in any case)",
                      str(caught.exception))

    def test_bad_value_with_bytes_that_are_not_utf8(self):
        with self.assertRaises(runner._ArgumentError) as caught:
            decoded(typed, os.fsdecode(b"\xff"))
        self.assertIn(r"'\udcff'", str(caught.exception))

    def test_keyword_only_var_positional_var_keyword(self):
        args, kwargs = decoded(variadic, "1", "2", "3", key="4", scale="5", other="0.5")
        self.assertEqual(args, [1, 2, 3])
        self.assertEqual(kwargs, {"key": "4", "scale": 5.0, "other": 0.5})
        args, kwargs = decoded(untyped_variadic, "1", "x", a="[2]", b="y")
        self.assertEqual((args, kwargs), ([1, "x"], {"a": [2], "b": "y"}))

    def test_positional_only_names_are_no_keywords(self):
        self.assertEqual(decoded(positional_only, "1", "2", c="on"), ([1, "2"], {"c": True}))
        # "a" is positional-only: --a=1 is a keyword the call will refuse,
        # decoded as JSON meanwhile.
        self.assertEqual(keyword(positional_only, "a", "1"), 1)

    def test_without_annotation_json_as_before(self):
        args = decoded(typed, "1", "1", "1", "1", '{"a": [1, null]}')[0]
        self.assertEqual(args[4], {"a": [1, None]})
        for raw, value in (("2", 2), ("true", True), ("[1,2]", [1, 2]), ('"x"', "x"),
                           ("hello", "hello"), ("NaN", runner._decode("NaN")), ("", "")):
            self.assertEqual(positional(untyped_variadic, raw), [value])

    def test_more_arguments_than_parameters(self):
        # Decoded as JSON literals; the call itself then fails, bad usage.
        self.assertEqual(positional(greet, "a", "b", "3"), ["a", "b", 3])
        self.assertEqual(keyword(greet, "unknown", "3"), 3)

    def test_string_annotations(self):
        future = FUTURE["future"]
        args = decoded(future, "1", "2", "3", flag="no", other="4")
        self.assertEqual(args, (["1", 2, "3"], {"flag": False, "other": 4}))

    def test_no_signature_keeps_the_json_rules(self):
        with self.assertRaises(ValueError):
            inspect.signature(dict)
        self.assertEqual(decoded(dict, "[[1, 2]]", a="1"), ([[[1, 2]]], {"a": 1}))

    def test_builtins(self):
        # A str default in a builtin's text signature, as for a function.
        self.assertEqual(keyword("x".encode, "encoding", "8859"), "8859")
        self.assertEqual(decoded(operator.add, "1", "2"), ([1, 2], {}))
        self.assertIs(keyword(sorted, "reverse", runner._FLAG_ON), True)

    def test_bound_methods_and_classes(self):
        class Greeter:
            def __init__(self, times: int):
                self.times = times

            def greet(self, name: str, times: int = 1):
                pass

            @classmethod
            def make(cls, times: int):
                pass

        self.assertEqual(decoded(Greeter(1).greet, "1", "2"), (["1", 2], {}))
        self.assertEqual(decoded(Greeter.make, "3"), ([3], {}))
        self.assertEqual(decoded(Greeter, "3"), ([3], {}))

    def test_decorated_functions_are_read_through_wraps(self):
        def decorator(func):
            @functools.wraps(func)
            def wrapper(*args, **kwargs):
                return func(*args, **kwargs)
            return wrapper

        self.assertEqual(decoded(decorator(greet), "12"), (["12"], {}))
        self.assertEqual(decoded(decorator(FUTURE["future"]), "1", "2"), (["1", 2], {}))

    def test_stdin_slot_follows_the_rules(self):
        self.assertEqual(decoded(greet, "1", STDIN, stdin="2"), (["1", "2"], {}))
        self.assertEqual(decoded(typed, STDIN, "2.5", stdin="3")[0][:2], [3, 2.5])
        self.assertEqual(decoded(untyped_variadic, STDIN, stdin="[1]"), ([[1]], {}))
        with self.assertRaises(runner._ArgumentError):
            decoded(typed, STDIN, stdin="three")

    def test_each_call_decodes_afresh(self):
        call = runner._Call(call_items("[1]"))
        plan = runner._plan(untyped_variadic, call.args, call.kwargs)
        first = runner._arguments(call, None, plan)[0][0]
        first.append(2)
        self.assertEqual(runner._arguments(call, None, plan)[0][0], [1])


class Signatures(unittest.TestCase):
    """The signature read from a code object is the one inspect gives."""

    def assertSameParameters(self, func):
        fast = runner._code_parameters(func)
        self.assertIsNotNone(fast, func)
        slow = runner._parameters_of(inspect.signature(func))
        self.assertEqual([(p.name, p.kind, p.default, p.annotation) for p in fast],
                         [(p.name, p.kind, p.default, p.annotation) for p in slow], func)

    def test_plain_functions(self):
        def empty():
            pass

        def defaults(a, b=1, *c, d, e=2, **f):
            local = 1
            return local

        for func in (greet, typed, optional, by_default, variadic, untyped_variadic,
                     positional_only, FUTURE["future"], empty, defaults, lambda x, y=2: x):
            self.assertSameParameters(func)

    def test_bound_methods(self):
        class C:
            def m(self, a: int, *rest, k=1):
                pass

            def star(*args):
                pass

        self.assertSameParameters(C().m)
        self.assertSameParameters(C().star)

    def test_left_to_inspect(self):
        # Decorated, with a __signature__ of its own, builtins, classes.
        wrapped = functools.wraps(greet)(lambda *a, **k: None)
        custom = lambda *a: None  # noqa: E731
        custom.__signature__ = inspect.signature(greet)
        for func in (wrapped, custom, len, dict, functools.partial(greet, "x")):
            self.assertIsNone(runner._code_parameters(func), func)
        self.assertEqual([p.name for p in runner._signature(custom)],
                         ["name", "punct", "loud"])

    def test_no_signature(self):
        self.assertIsNone(runner._signature(dict))
        self.assertIsNone(runner._signature(getattr))

    @staticmethod
    def builtins():
        """Builtin functions and methods, bound to modules and to objects."""
        import importlib
        found = {}
        objects = ["", b"", bytearray(), [], {}, set(), 1, 1.5, 1j, memoryview(b"")]
        for name in ("builtins", "operator", "os", "math", "itertools", "functools", "io",
                     "time", "re", "codecs", "select", "signal", "socket", "binascii",
                     "zlib", "struct", "array", "sys", "marshal", "random", "json",
                     "pickle", "datetime", "unicodedata", "csv", "heapq", "bisect", "gc"):
            try:
                module = importlib.import_module(name)
            except ImportError:
                continue
            objects.append(module)
            objects += [getattr(module, attr, None) for attr in dir(module)]
        for obj in objects:
            for attr in dir(obj):
                try:
                    value = getattr(obj, attr)
                except Exception:
                    continue
                if type(value) is runner._BUILTIN:
                    found.setdefault((id(obj), attr), value)
        return list(found.values())

    def test_builtins_read_as_inspect_reads_them(self):
        def default(value):
            return {str: "str", bool: "bool"}.get(type(value), value is runner._NOTHING)

        read = 0
        builtins = self.builtins()
        for func in builtins:
            try:
                fast = runner._text_parameters(func)
            except runner._Unreadable:
                continue
            read += 1
            try:
                slow = runner._parameters_of(inspect.signature(func))
            except ValueError:
                slow = None
            if fast is None or slow is None:
                self.assertIs(fast, slow, func)
                continue
            self.assertEqual([(p.name, p.kind, default(p.default)) for p in fast],
                             [(p.name, p.kind, default(p.default)) for p in slow], func)
        # Only a few (sys.maxsize defaults and the like) are left to inspect.
        self.assertGreater(len(builtins), 1000)
        self.assertGreater(read / len(builtins), 0.95)

    def test_text_signatures(self):
        cases = {
            "($module, iterable, /, *, key=None, reverse=False)":
                [("iterable", 0, True), ("key", 3, False), ("reverse", 3, "bool")],
            "($module, /, *args, sep=' ', end='\\n', file=None, flush=False)":
                [("args", 2, True), ("sep", 3, "str"), ("end", 3, "str"), ("file", 3, False),
                 ("flush", 3, "bool")],
            "($self, /, sep=', (', n=-1.5, **kw)":
                [("sep", 1, "str"), ("n", 1, False), ("kw", 4, True)],
        }
        for text, expected in cases.items():
            params = runner._text_parameters(TextSignature(text))
            self.assertEqual([(p.name, p.kind, {str: "str", bool: "bool"}.get(
                type(p.default), p.default is runner._NOTHING)) for p in params], expected)
        # Bound to nothing, the first parameter stays, positional-only.
        unbound = runner._text_parameters(TextSignature("($type, x)", bound_to=None))
        self.assertEqual([(p.name, p.kind) for p in unbound], [("type", 0), ("x", 1)])
        for text in ("($module, n=sys.maxsize)", "(a=<unrepresentable>)", "no parentheses",
                     "(a-b)", "(*a=1)"):
            with self.assertRaises(runner._Unreadable, msg=text):
                runner._text_parameters(TextSignature(text))


class TextSignature:
    """What _text_parameters() reads of a builtin."""

    def __init__(self, text, bound_to=sys):
        self.__text_signature__ = text
        self.__self__ = bound_to


class NoInspect(unittest.TestCase):
    """python3 pays for every import a call makes: inspect is imported only
    where a signature needs it."""

    def imported_after(self, code):
        script = textwrap.dedent(f"""\
            import importlib.util, sys
            spec = importlib.util.spec_from_file_location("pyfs_runner", {RUNNER_PATH!r})
            runner = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(runner)
            before = set(sys.modules)
            """) + textwrap.dedent(code) + textwrap.dedent("""\
            print(" ".join(sorted(set(sys.modules) - before)))
            """)
        result = subprocess.run([sys.executable, "-I", "-S", "-c", script],
                                capture_output=True, text=True, check=True)
        return result.stdout.split()

    def test_plain_function_builtin_and_no_arguments(self):
        imported = self.imported_after("""\
            import operator, posixpath
            def greet(name: str, times: int = 1, *rest: float, loud: bool = False, **kw):
                return name
            for func, args, kwargs in ((greet, ["x", "2", "3"], {"loud": "yes"}),
                                       (greet, [], {"loud": runner._FLAG_ON}),
                                       (posixpath.join, ["a", "b"], {}),
                                       (operator.add, ["1", "2"], {}),
                                       (getattr, ["1"], {"x": ","}),
                                       ("x".split, ["1"], {"maxsplit": "2"}),
                                       (sorted, ["[1]"], {"reverse": runner._FLAG_ON}),
                                       (print, ["1"], {"sep": "2"}),
                                       ("x".encode, [], {})):
                plan = runner._plan(func, args, kwargs)
                [plan.positional(i, a) for i, a in enumerate(args)]
                [plan.keyword(name, raw) for name, raw in kwargs.items()]
            """)
        self.assertNotIn("inspect", imported)

    def test_inspect_where_it_is_needed(self):
        imported = self.imported_after("""\
            class Greeter:
                def __init__(self, name: str):
                    pass
            runner._plan(Greeter, ["x"], {})
            """)
        self.assertIn("inspect", imported)


class Flags(unittest.TestCase):
    """--NAME and --no-NAME, decided by the signature."""

    def test_bool_parameters(self):
        self.assertIs(keyword(greet, "loud", runner._FLAG_ON), True)
        self.assertIs(keyword(greet, "loud", runner._FLAG_OFF), False)
        self.assertIs(keyword(by_default, "verbose", runner._FLAG_ON), True)
        self.assertIs(keyword(FUTURE["future"], "flag", runner._FLAG_OFF), False)

    def test_bool_var_keyword(self):
        def options(**opts: bool):
            pass

        self.assertIs(keyword(options, "anything", runner._FLAG_ON), True)
        self.assertIs(keyword(options, "anything", runner._FLAG_OFF), False)

    def assertRefused(self, func, name, flag, *expected):
        with self.assertRaises(runner._ArgumentError) as caught:
            keyword(func, name, flag)
        for text in expected:
            self.assertIn(text, str(caught.exception))

    def test_refused(self):
        self.assertRefused(greet, "punct", runner._FLAG_ON,
                           "option '--punct' needs a value: --punct=VALUE")
        self.assertRefused(greet, "punct", runner._FLAG_OFF,
                           "option '--no-punct': --no-NAME is for bool parameters only")
        self.assertRefused(greet, "colour", runner._FLAG_ON, "unknown option '--colour'")
        self.assertRefused(greet, "colour", runner._FLAG_OFF, "unknown option '--no-colour'")
        self.assertRefused(untyped_variadic, "x", runner._FLAG_ON, "'--x' needs a value")
        self.assertRefused(dict, "x", runner._FLAG_ON, "unknown option '--x'")
        # A positional-only parameter has no keyword.
        self.assertRefused(positional_only, "a", runner._FLAG_ON, "unknown option '--a'")


def decorate(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)
    return wrapper


@decorate
def decorated(a: int):
    pass


class Where:
    def method(self):
        pass


class Help(unittest.TestCase):
    """--help: how each parameter is given and decoded, where the code is."""

    def lines(self, func):
        return runner._parameter_help(runner._signature(func), func)

    def test_parameter_lines(self):
        self.assertEqual(self.lines(positional_only), [
            "  a  positional; an int",
            "  b  positional or --b=VALUE; a string, as typed",
            "  c  --c, --no-c or --c=VALUE; a bool",
            "A bool is true/false, yes/no, 1/0 or on/off, in any case.",
        ])
        self.assertEqual(self.lines(variadic), [
            "  first      positional or --first=VALUE; an int",
            "  *rest      the remaining positional arguments; an int",
            "  key        --key=VALUE; a string, as typed; default 'k'",
            "  **options  --NAME=VALUE for any other NAME; a float",
        ])
        self.assertEqual(self.lines(FUTURE["future"])[4],
                         "  other  positional or --other=VALUE; a JSON literal, else a string; "
                         "default None")

    def test_definition(self):
        here = __file__     # as the code objects name it
        with open(here) as f:
            source = f.read().splitlines()

        def line_of(start):
            return next(i + 1 for i, line in enumerate(source) if line.startswith(start))

        self.assertEqual(runner._definition(greet), f"{here}:{line_of('def greet(')}")
        # The decorated function's place, not its wrapper's.
        self.assertEqual(runner._definition(decorated), f"{here}:{line_of('@decorate')}")
        self.assertEqual(runner._definition(Where().method),
                         f"{here}:{line_of('    def method(self):')}")
        self.assertEqual(runner._definition(Where), f"{here}:{line_of('class Where:')}")
        for builtin in (len, dict, "x".split, functools.partial(greet, "x")):
            self.assertIsNone(runner._definition(builtin), builtin)


class Completions(unittest.TestCase):
    """completions(): the options shell completion offers."""

    MODULE = "pyfs_test_completions"

    @classmethod
    def setUpClass(cls):
        module = type(sys)(cls.MODULE)
        module.greet = greet
        module.positional_only = positional_only
        module.variadic = variadic
        module.Where = Where
        module.value = 3
        exec(compile(textwrap.dedent("""\
            from __future__ import annotations

            def future(word: str, *, upper: bool = False):
                pass
            """), "<completions>", "exec", dont_inherit=True), module.__dict__)
        sys.modules[cls.MODULE] = module

    @classmethod
    def tearDownClass(cls):
        del sys.modules[cls.MODULE]

    def complete(self, attrs, word, *more, module=None):
        items = ["script=/mnt/lib/x/y", f"module={module or self.MODULE}"]
        items += [f"attr={attr}" for attr in attrs.split(".")] + list(more)
        return runner.completions(items, word)

    def test_all_options(self):
        self.assertEqual(self.complete("greet", ""),
                         ["--name=", "--punct=", "--loud=", "--loud", "--no-loud", "--help"])

    def test_prefix(self):
        self.assertEqual(self.complete("greet", "--l"), ["--loud=", "--loud"])
        self.assertEqual(self.complete("greet", "--no"), ["--no-loud"])
        self.assertEqual(self.complete("greet", "--loud="), ["--loud="])
        self.assertEqual(self.complete("greet", "--h"), ["--help"])
        self.assertEqual(self.complete("greet", "x"), [])

    def test_keywords_given_are_not_offered_again(self):
        self.assertEqual(self.complete("greet", "--", "kw=punct=?", "flag=loud"),
                         ["--name=", "--help"])
        self.assertEqual(self.complete("greet", "--", "noflag=loud"),
                         ["--name=", "--punct=", "--help"])

    def test_no_options_after_a_positional(self):
        self.assertEqual(self.complete("greet", "--", "arg=x"), [])
        self.assertEqual(self.complete("greet", "--", "stdin"), [])

    def test_kinds(self):
        # Positional-only, *args and **kwargs take no --NAME=.
        self.assertEqual(self.complete("positional_only", ""), ["--b=", "--c=", "--c", "--no-c",
                                                                "--help"])
        self.assertEqual(self.complete("variadic", ""), ["--first=", "--key=", "--help"])
        self.assertEqual(self.complete("future", "--"),
                         ["--word=", "--upper=", "--upper", "--no-upper", "--help"])
        # Through the class, a method is a function: self is a parameter.
        self.assertEqual(self.complete("Where.method", ""), ["--self=", "--help"])
        self.assertEqual(self.complete("Where", ""), ["--help"])

    def test_builtins(self):
        self.assertEqual(self.complete("sorted", "--", module="builtins"),
                         ["--key=", "--reverse=", "--reverse", "--no-reverse", "--help"])
        self.assertEqual(self.complete("int", "--", module="builtins"), ["--help"])

    def test_nothing_is_imported(self):
        self.assertNotIn("pyfs_test_never_imported", sys.modules)
        self.assertEqual(self.complete("f", "--", module="pyfs_test_never_imported"), ["--help"])
        self.assertNotIn("pyfs_test_never_imported", sys.modules)

    def test_what_is_no_callable(self):
        self.assertEqual(self.complete("missing", "--"), ["--help"])
        self.assertEqual(self.complete("value", "--"), ["--help"])
        self.assertEqual(runner.completions(["script=/mnt/dot/split", "dot=split"], "--"),
                         ["--help"])
        self.assertEqual(runner.completions(["script=x", "nonsense"], "--"), [])


class Iterators(unittest.TestCase):
    """What streams: an object that is its own iterator."""

    def test_iterators(self):
        import io
        import itertools

        def generator():
            yield 1

        for value in (generator(), map(str, [1]), zip([1], [2]), iter([1]),
                      itertools.count(), io.StringIO("a\nb\n"), iter({"a": 1}.items())):
            self.assertTrue(runner._is_iterator(value), value)

    def test_iterables_that_are_not(self):
        import email.message
        import xml.etree.ElementTree as ElementTree

        class Hostile:
            __next__ = None

            def __iter__(self):
                raise RuntimeError("no")

        for value in ("ab", b"ab", [1], (1,), {1}, frozenset(), {"a": 1}, range(3),
                      ElementTree.fromstring("<a><b/></a>"), email.message.Message(),
                      Hostile(), 3, None):
            self.assertFalse(runner._is_iterator(value), value)


if __name__ == "__main__":
    unittest.main(verbosity=2)

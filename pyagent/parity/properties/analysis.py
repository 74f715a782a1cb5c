"""AnalysisCore parity: calculate_complexity (and its batch form) on generated Python source.

Programs are generated from a small grammar that covers every construct radon counts (``if``
/``elif``/``else``, loops with ``else``, ``try`` with handlers, ``try``/``except*``,
``match`` with irrefutable cases, ``assert``, ``with``, boolean chains, conditional
expressions, comprehensions, lambdas, f-strings, decorators) and the scopes it scores
(functions, async functions, closures, methods under ``if`` blocks, nested classes), so
each property exercises the native parser and walker against :mod:`ast` plus the Python
walker. Exact equality: complexity numbers are integers and positions are byte offsets.

Bad input rides along: programs with a character deleted or a token inserted (mostly
syntax errors, so both backends must raise the same class), non-UTF-8 bytes, NUL, and
objects that are not source at all.
"""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from pyagent import analysis_core
from pyagent.parity import hostile
from pyagent.parity.compare import call_both, same, same_outcome
from pyagent.parity.registry import parity_property

NAMES = st.sampled_from(["a", "b", "x", "y", "items", "self"])


#: Each expression form and how many subexpressions it takes.
_FORMS = [
    ("{0} and {1}", 2),
    ("{0} or {1} and {2}", 3),
    ("({0} if {1} else {2})", 3),
    ("[{0} for a in {1} if {2}]", 3),
    ("{{k: {0} for k in {1} for b in k if b if {2}}}", 3),
    ("(lambda q=({0}): {1})", 2),
    ("f'{{{0}}} and {{{1}!r:>{{{2}}}}}'", 3),
    ("not {0}", 1),
    ("(n := {0})", 1),
    ("sum(x for x in {0} if x)", 1),
    ("g({0}, *{1}, key={2})", 3),
]


@st.composite
def expressions(draw: st.DrawFn, depth: int = 0) -> str:
    """A Python expression; nested up to three levels.

    The form is drawn first and only the subexpressions it uses are drawn: generating
    programs was most of this hot path's parity time (266 s of the row under load).
    """
    leaf = draw(st.one_of(NAMES, st.sampled_from(["1", "None", "'s'", "f(a)", "a.b[0]"])))
    if depth >= 3 or draw(st.integers(0, 3)) == 0:
        return leaf
    form, arity = _FORMS[draw(st.integers(0, len(_FORMS) - 1))]
    return form.format(*(draw(expressions(depth + 1)) for _ in range(arity)))


@st.composite
def blocks(draw: st.DrawFn, indent: int, depth: int, in_class: bool = False) -> str:
    """A non-empty block of statements at ``indent`` spaces."""
    pad = " " * indent
    # Up to three statements near the top, two further in: the nesting is what scores, and
    # the breadth made programs (and their generation) grow as 12 ** depth.
    count = draw(st.integers(1, 3 if depth < 2 else 2))
    lines = [draw(statements(indent, depth, in_class)) for _ in range(count)]
    text = "".join(lines)
    return text if text.strip() else f"{pad}pass\n"


@st.composite
def statements(draw: st.DrawFn, indent: int, depth: int, in_class: bool = False) -> str:
    """One statement (simple or compound) at ``indent`` spaces."""
    pad = " " * indent
    e = draw(expressions())

    def simple(kind: int) -> str:
        if kind == 2:  # the only one that needs a second expression: drawn only then
            return f"{pad}assert {e}, {draw(expressions())}\n"
        return [f"{pad}pass\n", f"{pad}x = {e}\n", "", f"{pad}return {e}\n", f"{pad}{e}\n"][kind]

    if depth >= 3:
        return simple(draw(st.integers(0, 4)))
    inner = indent + 4
    body = blocks(inner, depth + 1)

    def block() -> str:
        return draw(body)

    kind = draw(st.integers(0, 14))
    if kind <= 3:
        return simple(kind)
    if kind == 4:
        elifs = "".join(
            f"{pad}elif {draw(expressions())}:\n{block()}" for _ in range(draw(st.integers(0, 2)))
        )
        tail = f"{pad}else:\n{block()}" if draw(st.booleans()) else ""
        return f"{pad}if {e}:\n{block()}{elifs}{tail}"
    if kind == 5:
        loop = draw(st.sampled_from(["for a in items", "while x", "async for a in items"]))
        tail = f"{pad}else:\n{block()}" if draw(st.booleans()) else ""
        return f"{pad}{loop}:\n{block()}{tail}"
    if kind == 6:
        star = draw(st.booleans())
        handlers = "".join(
            f"{pad}except{'*' if star else ''} E{i}:\n{block()}"
            for i in range(draw(st.integers(1, 3)))
        )
        tail = f"{pad}else:\n{block()}" if draw(st.booleans()) else ""
        final = f"{pad}finally:\n{block()}" if draw(st.booleans()) else ""
        return f"{pad}try:\n{block()}{handlers}{tail}{final}"
    if kind == 7:
        patterns = draw(
            st.lists(
                st.sampled_from(["1", "[a, b]", "{'k': v}", "P(x=0) | P(y=0)", "'s'"]), max_size=3
            )
        )
        cases = "".join(
            f"{pad}    case {p} if {draw(expressions())}:\n{draw(blocks(inner + 4, depth + 1))}"
            for p in patterns
        )
        last = draw(st.sampled_from(["", "_", "other"]))
        if last or not cases:
            cases += f"{pad}    case {last or '_'}:\n{draw(blocks(inner + 4, depth + 1))}"
        return f"{pad}match {e}:\n{cases}"
    if kind == 8:
        return f"{pad}with open({e}) as fh, lock:\n{block()}"
    if kind in (9, 10):
        decorator = f"{pad}@dec({draw(expressions())})\n" if draw(st.booleans()) else ""
        prefix = draw(st.sampled_from(["def", "def", "async def"]))
        params = "self, a=1 if x else 2" if in_class else "a, b=(x or y)"
        return f"{decorator}{pad}{prefix} fn{depth}_{kind}({params}):\n{block()}"
    if kind in (11, 12):
        members = draw(blocks(inner, depth + 1, in_class=True))
        return f"{pad}class C{depth}_{kind}(Base):\n{members}"
    if kind == 13 and in_class:
        return f"{pad}if flag:\n{pad}    def method(self):\n{draw(blocks(inner + 4, depth + 1))}"
    return f"{pad}{e}\n"


@st.composite
def classes(draw: st.DrawFn) -> str:
    """A top-level class with zero to three methods (and maybe a nested class).

    A class scores its methods' complexity averaged over their count, plus one when it has
    more than one: statements alone rarely put two methods in one class, so that rule went
    untested (a mutation run found ``// count`` -> ``* count`` passing parity).
    """
    members = []
    # Method bodies one level shallower than top-level code: the count of methods is what
    # this adds, and deeper bodies made generation most of the row's time.
    for i in range(draw(st.integers(0, 3))):
        prefix = draw(st.sampled_from(["def", "async def"]))
        members.append(f"    {prefix} m{i}(self):\n{draw(blocks(8, 2))}")
    if draw(st.booleans()):
        members.append(draw(statements(4, 2, in_class=True)))
    body = "".join(members) or "    pass\n"
    return f"class K{draw(st.integers(0, 9))}(Base):\n{body}"


programs = st.builds(
    "".join, st.lists(st.one_of(statements(0, 0), classes()), min_size=1, max_size=4)
)


@st.composite
def broken_programs(draw: st.DrawFn) -> str:
    """A generated program with one character deleted or one token inserted."""
    source = draw(programs)
    at = draw(st.integers(0, len(source)))
    if draw(st.booleans()) and at < len(source):
        return source[:at] + source[at + 1 :]
    token = draw(
        st.sampled_from(["(", ")", ":", "\n", " ", "    ", "if", "else", "=", ",", "'", "\\"])
    )
    return source[:at] + token + source[at:]


@parity_property("calculate_complexity_rust")
@given(source=programs, as_bytes=st.booleans())
@example(
    source="class K(Base):\n    def a(self):\n        if x:\n            pass\n"
    "    def b(self):\n        return 1\n",
    as_bytes=False,
).via("a class with two methods: averaged, plus one")
@example(
    source="class K(Base):\n    def a(self):\n        pass\n    def b(self):\n        pass\n"
    "    def c(self):\n        while x:\n            pass\n",
    as_bytes=True,
).via("a class with three methods")
def calculate_complexity_agrees(source: str, as_bytes: bool) -> None:
    """Same blocks, scores, positions and total for every generated program."""
    same(analysis_core.calculate_complexity, source.encode() if as_bytes else source)


@parity_property("calculate_complexity_rust")
@given(
    source=st.one_of(
        broken_programs(),
        programs.map(lambda s: s.encode() + b"\xff"),
        programs.map(lambda s: s + "\0"),
        programs.map(lambda s: "\ufeff" + s),
        programs.map(lambda s: b"\xef\xbb\xbf" + s.encode()),
        st.sampled_from([None, 3, 1.5, ["x = 1"], bytearray(b"x = 1")]),
        # Buffers holding valid source: ast.parse reads a memoryview as source, so only the
        # reference's own type check makes them the TypeError Rust raises.
        st.sampled_from([b"x = 1\n", b"def f(a):\n    return a\n"]).map(memoryview),
        hostile.for_kind("short_string"),
        hostile.for_kind("buffer"),
    )
)
def calculate_complexity_rejects_the_same(source: object) -> None:
    """Broken programs, bad bytes, NUL, BOMs and non-source: same outcome and class.

    A NUL in source that decodes is the contract's own SyntaxError, worded the same by both
    (CPython's parser words it otherwise, and some 3.11 releases raise ValueError for it).
    """
    rust, python = call_both(analysis_core.calculate_complexity, source)
    same_outcome(rust, python)
    # Read by the stored contents (hostile subclasses override decode, __contains__...).
    if isinstance(source, bytes):
        try:
            source = bytes.decode(source, "utf-8-sig")
        except UnicodeDecodeError:
            return
    if isinstance(source, str) and str.__contains__(source, "\0"):
        for outcome in (rust, python):
            assert outcome.error is SyntaxError, outcome.describe()
            assert outcome.message == "source code cannot contain null bytes", outcome.describe()


@parity_property("calculate_complexity_rust")
@given(
    sources=st.lists(st.one_of(programs, programs.map(str.encode), broken_programs()), max_size=5)
)
def calculate_complexity_batch_agrees(sources: list[str | bytes]) -> None:
    """Same list of reports, or the same error naming the same first bad index."""
    rust, python = call_both(analysis_core.calculate_complexity_batch, sources)
    same_outcome(rust, python)
    if rust.error is not None:
        assert rust.message.split(":")[0] == python.message.split(":")[0], (rust, python)

"""AnalysisCore.calculate_complexity on whichever backend this run selects.

radon is the oracle: the numbers must be exactly what ``radon cc`` computes, on hand-written
cases for every rule and on the standard library, file by file.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from radon.visitors import ComplexityVisitor

from pyagent import analysis_core
from pyagent.analysis_core import (
    AnalysisCore,
    Block,
    calculate_complexity,
    calculate_complexity_batch,
)

STDLIB = Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
LETTER = {"function": "F", "method": "M", "class": "C"}


def radon_view(source: str) -> tuple[list[tuple[str, str, int, int, int]], int]:
    """What ``radon cc`` computes: ``cc_visit``'s blocks and the visitor's total."""
    visitor = ComplexityVisitor.from_code(source)
    blocks = [(b.letter, b.fullname, b.lineno, b.col_offset, b.complexity) for b in visitor.blocks]
    return blocks, visitor.total_complexity


def our_view(source: str | bytes) -> tuple[list[tuple[str, str, int, int, int]], int]:
    report = calculate_complexity(source)
    blocks = [(LETTER[b.kind], b.name, b.lineno, b.col_offset, b.complexity) for b in report.blocks]
    return blocks, report.total


CASES = {
    "branches": """
        def f(a, b):
            if a and b or a:
                return 1
            elif b:
                pass
            elif a:
                pass
            else:
                pass
            return a if b else b
    """,
    "loops_with_else": """
        async def g(xs):
            for x in xs:
                pass
            else:
                pass
            while xs:
                break
            async for y in xs:
                pass
    """,
    "try_and_trystar": """
        def h():
            try:
                pass
            except A:
                pass
            except (B, C):
                pass
            else:
                pass
            finally:
                pass
            try:
                pass
            except* D:
                pass
    """,
    "comprehensions_lambdas_fstrings": """
        def k(xs):
            a = [x for x in xs if x if not x for y in x]
            b = {x: y for x, y in xs}
            c = (lambda q: q if q else -q)
            d = f"{a if b else c}"
            e = (n := 3) and sum(z for z in xs if z)
            return a, b, c, d, e
    """,
    "match": """
        def m(cmd):
            match cmd:
                case [x, y] if x and y:
                    pass
                case {"k": v}:
                    pass
                case Point(x=0) | Point(y=0):
                    pass
                case other:
                    pass
        def n(cmd):
            match cmd:
                case _:
                    pass
    """,
    "assert_and_with": """
        def a(x):
            assert x and x or x, "message" if x else "other"
            with open(x) as f, open(x) as g:
                pass
    """,
    "classes": """
        @decorator(lambda: 1 if x else 2)
        class A(Base, metaclass=M):
            attr = 1 if x else 2
            def one(self):
                def closure():
                    if x:
                        pass
                return [closure for _ in range(3)]
            if flag:
                def two(self, d=(1 if x else 2)):
                    while True:
                        pass
            class Inner:
                def deep(self):
                    if x: pass
        class Empty:
            pass
        class Single:
            def only(self):
                if x: pass
    """,
    "module_level": """
        import os
        if os.name == "nt":
            def windows():
                pass
        else:
            def posix():
                return [p for p in os.environ if p]
        try:
            class Maybe:
                pass
        except ImportError:
            Maybe = None
        x = 1 if os else 2
    """,
    "decorated_positions": """
        @a
        @b.c(1,
             2)  # comment

        def spaced():
            pass

        class C:
            @staticmethod
            async def s():
                pass
    """,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_rule_matches_radon(name: str) -> None:
    source = textwrap.dedent(CASES[name])
    assert our_view(source) == radon_view(source)


def test_scores_of_a_worked_example() -> None:
    source = textwrap.dedent(CASES["classes"])
    report = calculate_complexity(source)
    by_name = {b.name: b for b in report.blocks}
    # one: 1 (closures are not counted) + comprehension 1; two: 1 + while 1.
    assert by_name["A.one"].complexity == 2
    assert by_name["A.two"].complexity == 2
    # A: real = 1 + class-body IfExp 1 + class-body if 1 + 2 + 2 = 7; two methods: 7 // 2 + 1.
    assert by_name["A"].complexity == 4
    assert by_name["A"] == Block("class", "A", 3, 0, 4)
    assert "A.Inner" not in by_name and "Inner" not in by_name
    # Single: real 1 + 2 = 3, one method: 3 // 1.
    assert by_name["Empty"].complexity == 1 and by_name["Single"].complexity == 3
    # Module: 1 + (7 - 1) + (1 - 1) + (3 - 1); the decorator's IfExp is not looked at.
    assert report.total == 1 + 6 + 0 + 2
    assert radon_view(textwrap.dedent(CASES["classes"]))[1] == report.total


def test_bytes_and_str_agree_and_bom_is_skipped_for_bytes() -> None:
    source = "def f(x):\n    return x or 1\n"
    assert calculate_complexity(source) == calculate_complexity(source.encode())
    assert calculate_complexity(b"\xef\xbb\xbf" + source.encode()) == calculate_complexity(source)


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("def f(:\n    pass\n", SyntaxError),
        ("if x:\npass\n", IndentationError),
        ("x = (" * 201 + ")" * 201, SyntaxError),
        ("".join(" " * i + "if x:\n" for i in range(100)) + " " * 100 + "pass\n", IndentationError),
        # Too deep for CPython's recursion limit (3.11, 3.12; 3.13 parses it), and too deep
        # for its parser's stack (MemoryError in CPython, RecursionError here) everywhere.
        ("x = " + "-" * (5000 if sys.version_info < (3, 13) else 50_000) + "1\n", RecursionError),
        ("x = " + "-" * 50_000 + "1\n", RecursionError),
        (b"def f(): pass\n\xff", SyntaxError),
        ("x = 1\0", SyntaxError),
        ("\ufeffx = 1\n", SyntaxError),
        ("type X = int\n" if sys.version_info < (3, 12) else "def f(:\n", SyntaxError),
        (b"x = 1".decode() + "\udc80", UnicodeEncodeError),
        (42, TypeError),
        (None, TypeError),
    ],
)
def test_bad_input_raises_cpythons_error(source: object, error: type[BaseException]) -> None:
    with pytest.raises(error):
        calculate_complexity(source)  # type: ignore[arg-type]


def test_syntax_error_is_cpythons_own() -> None:
    with pytest.raises(SyntaxError) as caught:
        calculate_complexity("def f(:\n    pass\n")
    assert caught.value.lineno == 1


def test_batch_matches_single_calls_and_reports_the_first_bad_index() -> None:
    sources = [textwrap.dedent(CASES[name]) for name in sorted(CASES)]
    assert calculate_complexity_batch(sources) == [calculate_complexity(s) for s in sources]
    assert calculate_complexity_batch([]) == []
    with pytest.raises(SyntaxError, match=r"^source 2: "):
        calculate_complexity_batch(["x = 1\n", b"y = 2\n", "def (:\n", b"\xff"])
    with pytest.raises(SyntaxError, match=r"^source 1: "):
        calculate_complexity_batch(["x = 1\n", b"\xff", "def (:\n"])
    with pytest.raises(TypeError):
        calculate_complexity_batch("x = 1\n")
    with pytest.raises(TypeError):
        calculate_complexity_batch(["x = 1\n", 3])  # type: ignore[list-item]


def test_nul_and_non_source_are_the_contracts_own_errors_in_order() -> None:
    # Worded by the contract, not by CPython (whose parser says "source code string ..." and
    # raises ValueError on some 3.11 releases), in single calls and in the batch, where an
    # earlier source that does not parse still comes first.
    nul = "source code cannot contain null bytes"
    for source in ("x = 1\0", b"x = 1\0", b"\xef\xbb\xbfx\0"):
        with pytest.raises(SyntaxError) as caught:
            calculate_complexity(source)
        assert caught.value.msg == nul
    with pytest.raises(SyntaxError) as caught:
        calculate_complexity_batch(["x = 1\n", b"y\0", "def (:\n"])
    assert caught.value.msg == f"source 1: {nul}"
    with pytest.raises(SyntaxError, match=r"^source 1: invalid syntax"):
        calculate_complexity_batch(["x = 1\n", "def (:\n", "y\0", 3])
    with pytest.raises(TypeError, match="not memoryview"):
        calculate_complexity(memoryview(b"x = 1\n"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not int"):
        calculate_complexity_batch(["x = 1\n", 3, "y\0"])  # type: ignore[list-item]


def stdlib_files() -> list[Path]:
    """The standard library's modules (not site-packages), in a stable order."""
    return sorted(p for p in STDLIB.rglob("*.py") if "site-packages" not in p.parts)


def radon_cases(files: list[Path]) -> list[tuple[Path, bytes, object]]:
    """(path, bytes, radon's numbers) for each file radon and CPython can both process."""
    cases = []
    for path in files:
        data = path.read_bytes()
        try:
            cases.append((path, data, radon_view(data.decode("utf-8"))))
        except (UnicodeDecodeError, SyntaxError, ValueError, RecursionError):
            continue  # py2-syntax test data and non-UTF-8 files: no radon numbers to compare
    return cases


@pytest.mark.slow
def test_standard_library_matches_radon_file_by_file() -> None:
    """Every fifth stdlib module (all of them: `nox -s bench`): radon's numbers exactly."""
    files = stdlib_files()
    assert len(files) > 1500
    cases = radon_cases(files[::5])
    assert len(cases) > 300
    reports = calculate_complexity_batch([data for _, data, _ in cases])
    mismatched = [
        str(path)
        for (path, _, expected), report in zip(cases, reports, strict=True)
        if (
            [(LETTER[b.kind], b.name, b.lineno, b.col_offset, b.complexity) for b in report.blocks],
            report.total,
        )
        != expected
    ]
    assert mismatched == []


def test_analysis_core_ranks_and_thresholds() -> None:
    assert [AnalysisCore.rank(c) for c in (1, 5, 6, 10, 11, 20, 21, 30, 31, 40, 41)] == list(
        "AABBCCDDEEF"
    )
    with pytest.raises(ValueError):
        AnalysisCore.rank(-1)
    with pytest.raises(ValueError):
        AnalysisCore(threshold=0)
    source = "def simple():\n    pass\n\ndef busy(x):\n" + "".join(
        f"    if x == {i}:\n        pass\n" for i in range(12)
    )
    over = AnalysisCore(threshold=10).too_complex(source)
    assert [(b.name, b.complexity) for b in over] == [("busy", 13)]


@pytest.mark.requires_rust
def test_native_path_is_active() -> None:
    assert analysis_core.rc is not None
    assert hasattr(analysis_core.rc, "calculate_complexity_rust")

"""AnalysisCore: cyclomatic complexity of Python source, by radon's rules.

Hot path ``calculate_complexity_rust`` (seed: Common/Analysis). :func:`calculate_complexity`
gives the complexity of every function, method and class of a module, plus the module total,
with the same numbers ``radon cc`` prints (radon 6; ``radon.complexity.cc_visit`` and
``ComplexityVisitor.total_complexity``), so a team can swap radon for this without its
thresholds moving. The rules, as radon applies them:

* Each function starts at 1. Inside it, ``if``/``elif`` and ``x if c else y`` add 1; ``for``,
  ``async for`` and ``while`` add 1, plus 1 for an ``else:`` clause; ``try`` adds one per
  ``except`` handler plus 1 for ``else:`` (``try`` with ``except*`` adds nothing, as in
  radon); a boolean operator chain ``a and b and c`` adds one per extra operand; every
  comprehension ``for`` adds 1 plus one per ``if`` of it; ``assert`` adds 1 (and what is
  inside the assert is not looked at); ``match`` adds one per ``case`` except a single
  irrefutable one (``case _`` or ``case name``). ``with``, ``lambda`` and decorators add
  nothing; default argument values and decorators are not looked at.
* Nested functions (closures) and classes inside a function are not counted in it and are
  not reported.
* A method is a function defined (at any depth of ``if``/``try``...) in a class body; it is
  reported as ``Class.method``. A class's own score is radon's: the class starts at 1 plus
  its body's decision points plus the sum of its methods' complexities (``real``), and is
  reported as ``real // methods + (methods > 1)`` when it has methods, else ``real``.
  Classes nested in a class are neither counted nor reported.
* Functions and classes defined under module-level ``if``/``try``/``for`` blocks are
  reported as top-level ones. The module total is radon's ``total_complexity``: 1, plus the
  module-level decision points, plus each function's and each class's (real) complexity
  minus one.

Blocks come in radon's ``blocks`` order: module-level functions in source order, then each
class followed by its methods. Invalid source raises CPython's own :class:`SyntaxError` (or
its IndentationError subclass) from both backends; bytes are decoded as UTF-8 first, a
leading byte order mark skipped, and an undecodable byte or a NUL is a SyntaxError too.
Nesting CPython cannot parse (about 3,000 levels on 3.11 and 3.12, deeper on 3.13) is a
RecursionError.

The native path parses with Ruff's parser (``ruff_python_parser``, with the Python 3.11
grammar on 3.11) and scores the batch form in parallel. A source it refuses (a syntax error,
CPython's limits of 200 nested brackets and 99 indentation levels, or nesting past 2,980
levels) is handed to the Python path, so errors are CPython's exactly and a source only
CPython accepts is still scored.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Literal, NamedTuple

from pyagent._builtin import stored

try:
    import rust_core as rc
except ImportError:
    rc = None  # type: ignore[assignment, unused-ignore]

__all__ = [
    "AnalysisCore",
    "Block",
    "ComplexityReport",
    "calculate_complexity",
    "calculate_complexity_batch",
]

BlockKind = Literal["function", "method", "class"]


class Block(NamedTuple):
    """One function, method or class and its cyclomatic complexity.

    ``name`` is radon's full name (``Class.method`` for a method); ``lineno`` and
    ``col_offset`` are those of the ``def``/``class`` keyword line as :mod:`ast` gives them
    (1-based line, 0-based UTF-8 byte column); ``complexity`` is what ``radon cc`` prints.
    """

    kind: BlockKind
    name: str
    lineno: int
    col_offset: int
    complexity: int


class ComplexityReport(NamedTuple):
    """The blocks of one module in radon's order, and the module's total complexity."""

    blocks: tuple[Block, ...]
    total: int


class _Function(NamedTuple):
    name: str
    lineno: int
    col_offset: int
    complexity: int


class _Class(NamedTuple):
    name: str
    lineno: int
    col_offset: int
    methods: tuple[_Function, ...]
    real: int


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


class _Visitor:
    """radon's ComplexityVisitor, iterative over an explicit stack.

    ``complexity`` counts decision points reached without entering a function or class;
    those are collected instead (``functions``, ``classes``) and scored on their own.
    """

    def __init__(self, start: int) -> None:
        self.complexity = start
        self.functions: list[_Function] = []
        self.classes: list[_Class] = []

    def visit(self, root: ast.AST) -> None:
        stack: list[ast.AST] = [root]
        while stack:
            node = stack.pop()
            if isinstance(node, _FUNCTIONS):
                self.functions.append(_score_function(node))
                continue
            if isinstance(node, ast.ClassDef):
                self.classes.append(_score_class(node))
                continue
            if isinstance(node, ast.Assert):
                self.complexity += 1
                continue
            self.complexity += _decision_points(node)
            # Reversed so children are visited in source order (it matters for the order
            # of the functions and classes found).
            stack.extend(reversed(list(ast.iter_child_nodes(node))))


def _decision_points(node: ast.AST) -> int:
    if isinstance(node, ast.Try):
        return len(node.handlers) + bool(node.orelse)
    if isinstance(node, ast.BoolOp):
        return len(node.values) - 1
    if isinstance(node, ast.If | ast.IfExp):
        return 1
    if isinstance(node, ast.Match):
        irrefutable = any(
            isinstance(case.pattern, ast.MatchAs) and case.pattern.pattern is None
            for case in node.cases
        )
        return max(0, len(node.cases) - irrefutable)
    if isinstance(node, ast.For | ast.While | ast.AsyncFor):
        return 1 + bool(node.orelse)
    if isinstance(node, ast.comprehension):
        return 1 + len(node.ifs)
    return 0


def _score_function(node: ast.FunctionDef | ast.AsyncFunctionDef) -> _Function:
    visitor = _Visitor(0)
    for child in node.body:
        visitor.visit(child)
    return _Function(node.name, node.lineno, node.col_offset, 1 + visitor.complexity)


def _score_class(node: ast.ClassDef) -> _Class:
    visitor = _Visitor(0)
    for child in node.body:
        visitor.visit(child)
    methods = tuple(visitor.functions)
    real = 1 + visitor.complexity + sum(m.complexity for m in methods)
    return _Class(node.name, node.lineno, node.col_offset, methods, real)


def _report(tree: ast.Module) -> ComplexityReport:
    visitor = _Visitor(1)
    visitor.visit(tree)
    blocks = [
        Block("function", f.name, f.lineno, f.col_offset, f.complexity) for f in visitor.functions
    ]
    for cls in visitor.classes:
        count = len(cls.methods)
        score = cls.real // count + (count > 1) if count else cls.real
        blocks.append(Block("class", cls.name, cls.lineno, cls.col_offset, score))
        blocks.extend(
            Block("method", f"{cls.name}.{m.name}", m.lineno, m.col_offset, m.complexity)
            for m in cls.methods
        )
    total = (
        visitor.complexity
        + sum(f.complexity - 1 for f in visitor.functions)
        + sum(c.real - 1 for c in visitor.classes)
    )
    return ComplexityReport(tuple(blocks), total)


def _parse(source: str | bytes) -> ast.Module:
    if isinstance(source, bytes):
        try:
            # utf-8-sig: a file's byte order mark is skipped, as CPython does reading bytes.
            source = source.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SyntaxError(f"source is not valid UTF-8: {exc}") from None
    elif not isinstance(source, str):
        raise TypeError(f"source must be str or bytes, not {type(source).__name__}")
    if "\0" in source:
        # ast.parse raises ValueError for this on some 3.11 releases (3.11.2) and SyntaxError
        # on later ones: one class and one message, the ones rust_core raises too.
        raise SyntaxError("source code cannot contain null bytes")
    try:
        return ast.parse(source)
    except MemoryError:
        # CPython's parser reports some over-deep nesting ("parser stack overflowed") as
        # MemoryError and the rest as RecursionError: one class for "too deeply nested".
        raise RecursionError("source is too deeply nested to parse") from None


def calculate_complexity(source: str | bytes) -> ComplexityReport:
    """Cyclomatic complexity of every function, method and class of ``source``, by radon's rules.

    See the module docs for the rules; the numbers are those of ``radon cc``. Raises
    SyntaxError for source that does not parse and TypeError for a non-text argument.
    """
    if rc is not None and hasattr(rc, "calculate_complexity_rust"):
        return rc.calculate_complexity_rust(source)
    return _reference(source)


def calculate_complexity_batch(sources: Sequence[str | bytes]) -> list[ComplexityReport]:
    """:func:`calculate_complexity` of each source, in order (parsed in parallel natively).

    The first source (by position) that does not parse raises a SyntaxError whose message
    starts with ``source <index>:``.
    """
    if rc is not None and hasattr(rc, "calculate_complexity_batch"):
        return rc.calculate_complexity_batch(sources)
    if isinstance(sources, (str, bytes)):
        raise TypeError("sources must be a sequence of sources, not a single str or bytes")
    return [_batch_item(index, source) for index, source in enumerate(sources)]


def _reference(source: str | bytes) -> ComplexityReport:
    """The pure-Python path, also what the native path defers to for source it refuses."""
    return _report(_parse(stored(source)))  # a str/bytes subclass by its stored contents


def _batch_item(index: int, source: str | bytes) -> ComplexityReport:
    try:
        return _reference(source)
    except SyntaxError as exc:
        raise SyntaxError(f"source {index}: {exc.msg}") from None


class AnalysisCore:
    """Complexity reports for an agent's source tree, with a threshold for "too complex".

    radon's ranks apply: 1-5 A, 6-10 B, 11-20 C, 21-30 D, 31-40 E, 41+ F.
    """

    def __init__(self, threshold: int = 10) -> None:
        if threshold < 1:
            raise ValueError(f"threshold must be >= 1, got {threshold}")
        self.threshold = threshold

    @staticmethod
    def rank(complexity: int) -> str:
        """The letter rank radon gives a complexity score (A best to F worst)."""
        if complexity < 0:
            raise ValueError("complexity must be non-negative")
        for letter, limit in zip("ABCDE", (5, 10, 20, 30, 40), strict=True):
            if complexity <= limit:
                return letter
        return "F"

    def too_complex(self, source: str | bytes) -> list[Block]:
        """The blocks of ``source`` whose complexity exceeds the threshold, worst first."""
        report = calculate_complexity(source)
        over = [b for b in report.blocks if b.complexity > self.threshold]
        return sorted(over, key=lambda b: (-b.complexity, b.lineno))

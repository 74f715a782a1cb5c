"""Finds every ``rust_core`` hook in a module, of every variant, and the defects in each.

One libcst pass (:class:`HookCollector`) records the imports of ``rust_core`` and every call
that may reach Rust, each with its ancestor chain; :func:`analyze_module` then classifies
them. The variants (A-H import shapes, 1-7 dispatch shapes) and the defects are those of
``hook-variants.md``; :mod:`migrate.defects` documents each defect kind with examples.

Results are plain frozen dataclasses so worker processes can send them back.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import libcst as cst
import libcst.matchers as m
from libcst.metadata import MetadataWrapper, PositionProvider

from pyagent.migrate import hooks
from pyagent.migrate.defects import (
    ARITY_MISMATCH,
    DEAD_RUST_NAME,
    DUPLICATE_REGISTRATION,
    EXCEPT_TOO_BROAD,
    EXCEPT_TOO_NARROW,
    FLAG_SENTINEL_DISAGREE,
    OSERROR_SKIPS_PYTHON,
    PANIC_ESCAPES,
    RC_UNDEFINED,
    STUB_FALLBACK,
)
from pyagent.migrate.rust_exports import RustExports

__all__ = [
    "AuditConfig",
    "BridgeHelper",
    "Defect",
    "HookCollector",
    "HookSite",
    "ImportSite",
    "ModuleAudit",
    "analyze_module",
    "analyze_source",
    "crate_defects",
    "names_in",
]

#: Method names through which a bridge object (variant H) dispatches by Rust name.
DEFAULT_BRIDGE_METHODS = frozenset({"try_call", "call_rust"})
_BRIDGE_NAME_PARAMS = frozenset({"name", "fn_name", "func_name", "function", "rust_name", "func"})
_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError", "OSError"})
_EVERYTHING = frozenset({"*", "BaseException"})
_HELPER_RE = re.compile(r"^_*try_")


@dataclass(frozen=True)
class BridgeHelper:
    """A function that calls rust_core by a name it is given (variant H's central helper).

    ``getattr(rc, attr)(*args)`` inside ``_try_rust_call(attr, *args, fallback=...)`` is
    one; ``execute(self, method_name, params)`` handing ``f"{method_name}_rust"`` to it is
    another (a forwarder, with a suffix). Call sites pass the Rust name as a string at
    ``name_index``; the helper's except clause is theirs too.
    """

    name: str
    name_index: int  # which positional argument of a call site holds the Rust name
    suffix: str = ""  # appended to the name by the helper ("_rust")
    conditional: bool = False  # the suffix is appended only when the name lacks it
    policy: str = "unknown"  # exception policy of the helper's own try, if any
    caught: tuple[str, ...] = ()
    forwards: bool = True  # the call site's other arguments reach Rust unchanged
    owner: str = ""  # class holding the helper ("" for a module function)
    file: str = ""  # "" for a helper configured by name (any receiver matches)
    line: int = 0

    def rust_name(self, literal: str) -> str:
        """The Rust name a call site passing ``literal`` reaches."""
        if not self.suffix or (self.conditional and literal.endswith(self.suffix)):
            return literal
        return literal + self.suffix

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form."""
        return {
            "name": self.name,
            "owner": self.owner,
            "file": self.file,
            "line": self.line,
            "name_index": self.name_index,
            "suffix": self.suffix,
            "conditional": self.conditional,
            "exception_policy": self.policy,
            "caught": list(self.caught),
            "forwards": self.forwards,
        }


@dataclass(frozen=True)
class AuditConfig:
    """What the audit compares hooks against; pickled once to each worker."""

    exports: RustExports = field(default_factory=RustExports)
    #: Rust names the manifest lists as not migrated yet: a hook may wait for them.
    pending: frozenset[str] = frozenset()
    bridge_methods: frozenset[str] = DEFAULT_BRIDGE_METHODS
    #: Bridge helpers found anywhere in the tree (a first pass), so call sites in other
    #: modules (``get_bridge()._try_rust_call("f_rust", ...)``) resolve.
    bridge_helpers: tuple[BridgeHelper, ...] = ()
    #: Only these defect codes (None: all), minus ``ignore`` (``--select`` / ``--ignore``).
    select: frozenset[str] | None = None
    ignore: frozenset[str] = frozenset()
    #: The extension module whose imports and calls are hooks (``--extension NAME``).
    extension: str = "rust_core"

    def wants(self, code: str) -> bool:
        """Whether ``--select`` / ``--ignore`` keep defects of ``code``."""
        return (self.select is None or code in self.select) and code not in self.ignore


@dataclass(frozen=True)
class Defect:
    """One finding: a defect kind (see :mod:`migrate.defects`) at a place in the source."""

    code: str
    file: str
    line: int
    function: str | None
    rust_name: str | None
    message: str

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form (schema documented in docs/migrate.md)."""
        return {
            "code": self.code,
            "file": self.file,
            "line": self.line,
            "function": self.function,
            "rust_name": self.rust_name,
            "message": self.message,
        }


@dataclass(frozen=True)
class ImportSite:
    """One import of ``rust_core`` and how the module survives its failure."""

    line: int
    variant: str  # "A".."H", or "direct" for an unguarded import
    scope: str  # "<module>", or the function / bridge class holding a lazy import
    binding: str | None  # local name of the module object, None for from-imports
    names: tuple[tuple[str, str], ...]  # from-imports: (local name, rust name)
    sentinel: bool  # the binding is set to None when the import fails
    flags: tuple[str, ...]
    caught: tuple[str, ...]  # what the except clause (or suppress) catches; "*" for bare

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form."""
        return {
            "line": self.line,
            "variant": self.variant,
            "scope": self.scope,
            "binding": self.binding,
            "names": [{"local": a, "rust": b} for a, b in self.names],
            "sentinel": self.sentinel,
            "flags": list(self.flags),
            "caught": list(self.caught),
        }


@dataclass(frozen=True)
class HookSite:
    """One call that reaches Rust from a Python function, classified."""

    file: str
    line: int
    function: str
    variant: str  # import variant of the binding used, "A".."H"
    shape: str  # canonical, guarded, guarded-try, truthy-try, unguarded, flag, helper-split,
    # result-based, lazy-import, bridge
    rust_name: str
    binding: str | None
    guard: tuple[str, ...]  # hasattr, sentinel, flag
    exception_policy: str  # propagates, specific, too-narrow, swallows-exceptions, swallows-all
    caught: tuple[str, ...]
    fallback: str  # python, stub, none, helper, lambda
    exported: bool | None
    exported_source: bool | None
    exported_built: bool | None
    arity: str  # ok, mismatch, unknown
    defects: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form."""
        return {
            "file": self.file,
            "line": self.line,
            "function": self.function,
            "variant": self.variant,
            "shape": self.shape,
            "rust_name": self.rust_name,
            "binding": self.binding,
            "guard": list(self.guard),
            "exception_policy": self.exception_policy,
            "caught": list(self.caught),
            "fallback": self.fallback,
            "exported": self.exported,
            "exported_source": self.exported_source,
            "exported_built": self.exported_built,
            "arity": self.arity,
            "defects": list(self.defects),
        }


@dataclass(frozen=True)
class ModuleAudit:
    """Everything the audit found in one file."""

    path: str
    imports: tuple[ImportSite, ...] = ()
    hooks: tuple[HookSite, ...] = ()
    defects: tuple[Defect, ...] = ()
    #: Functions (qualified names) that already reach Rust in some way.
    hooked_functions: frozenset[str] = frozenset()
    bridge_helpers: tuple[BridgeHelper, ...] = ()
    #: Defects silenced by ``# migrate: ignore[...]`` comments.
    suppressed: int = 0

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form."""
        return {
            "path": self.path,
            "imports": [i.to_json() for i in self.imports],
            "hooks": [h.to_json() for h in self.hooks],
            "defects": [d.to_json() for d in self.defects],
        }


# --- matchers (module-level named functions only: they must pickle) --------------------


def _is_rust_core_module(name: str, extension: str = "rust_core") -> bool:
    return name == extension or name.startswith(extension + ".")


def _dotted(node: cst.BaseExpression | None) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return ""


_TRIVIAL_VALUE = (
    m.Name("True")
    | m.Name("False")
    | m.Name("None")
    | m.Integer()
    | m.Float()
    | m.SimpleString()
    | m.List(elements=[])
    | m.Dict(elements=[])
    | m.Tuple(elements=[])
    | m.Set(elements=[])
    | m.Call(func=m.Name("list") | m.Name("dict") | m.Name("set") | m.Name("tuple"), args=[])
    | m.UnaryOperation(expression=m.Integer() | m.Float())
)
_TRIVIAL_SMALL = (
    m.Pass()
    | m.Expr(value=m.Ellipsis() | m.SimpleString())
    | m.Return(value=None)
    | m.Return(value=_TRIVIAL_VALUE)
    | m.Raise(exc=m.Name("NotImplementedError") | m.Call(func=m.Name("NotImplementedError")))
)
_HASATTR_CALL = m.Call(func=m.Name("hasattr"))
_SUPPRESS = m.Call(func=m.Name("suppress") | m.Attribute(attr=m.Name("suppress")))
_BOOL = m.Name("True") | m.Name("False")
_TYPE_CHECKING = m.Name("TYPE_CHECKING") | m.Attribute(attr=m.Name("TYPE_CHECKING"))


def _is_trivial_statement(node: cst.CSTNode) -> bool:
    if isinstance(node, cst.SimpleStatementLine):
        return all(m.matches(s, _TRIVIAL_SMALL) for s in node.body)
    return False


def _is_docstring(node: cst.CSTNode) -> bool:
    return (
        isinstance(node, cst.SimpleStatementLine)
        and len(node.body) == 1
        and m.matches(node.body[0], m.Expr(value=m.SimpleString() | m.ConcatenatedString()))
    )


def names_in(node: cst.CSTNode, *, variables_only: bool = False) -> set[str]:
    """Every identifier ``node`` mentions as a :class:`libcst.Name`.

    With ``variables_only`` the attribute names of ``x.name`` and the keywords of
    ``f(name=...)`` are left out: only names that are variables in some scope remain.
    """
    found: set[str] = set()

    class _Names(cst.CSTVisitor):
        def visit_Name(self, name: cst.Name) -> None:
            found.add(name.value)

        def visit_Attribute(self, attribute: cst.Attribute) -> bool:
            if variables_only:
                attribute.value.visit(self)
                return False
            return True

        def visit_Arg(self, arg: cst.Arg) -> bool:
            if variables_only:
                arg.value.visit(self)
                return False
            return True

    node.visit(_Names())
    return found


def _caught(handler: cst.ExceptHandler) -> set[str]:
    if handler.type is None:
        return {"*"}
    elements: Sequence[cst.BaseExpression]
    if isinstance(handler.type, cst.Tuple):
        elements = [e.value for e in handler.type.elements]
    else:
        elements = [handler.type]
    return {_dotted(e).rsplit(".", 1)[-1] or "?" for e in elements}


def _suppressed(node: cst.With) -> set[str] | None:
    caught: set[str] = set()
    for item in node.items:
        if m.matches(item.item, _SUPPRESS):
            assert isinstance(item.item, cst.Call)
            caught |= {_dotted(a.value).rsplit(".", 1)[-1] for a in item.item.args}
    return caught or None


def _assignments(statements: Iterable[cst.CSTNode]) -> list[tuple[str, cst.BaseExpression]]:
    """(name, value) of simple ``name = value`` / ``name: T = value`` statements, in order."""
    found: list[tuple[str, cst.BaseExpression]] = []
    for statement in statements:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.Assign):
                for target in small.targets:
                    if isinstance(target.target, cst.Name):
                        found.append((target.target.value, small.value))
            elif (
                isinstance(small, cst.AnnAssign)
                and isinstance(small.target, cst.Name)
                and small.value is not None
            ):
                found.append((small.target.value, small.value))
    return found


def _body(node: cst.BaseSuite) -> Sequence[cst.BaseStatement | cst.BaseSmallStatement]:
    return node.body


# --- the collecting pass ------------------------------------------------------------------


class HookCollector(cst.CSTVisitor):
    """Records rust_core imports, candidate Rust calls and module-level flag assignments.

    Each record keeps the chain of ancestors (the visitor's stack) so the analysis can see
    the enclosing ``if`` guards, ``try`` handlers and function without a second pass.
    """

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, extension: str = "rust_core") -> None:
        super().__init__()
        self.extension = extension
        self.stack: list[cst.CSTNode] = []
        self.imports: list[tuple[cst.Import | cst.ImportFrom, tuple[cst.CSTNode, ...]]] = []
        self.calls: list[tuple[cst.Call, tuple[cst.CSTNode, ...]]] = []
        self.module_assigns: list[tuple[str, cst.BaseExpression, int]] = []
        self.positions: Any = None
        #: Function qualname -> (first, last + 1) line of its header, for suppressions.
        self.headers: dict[str, tuple[int, int]] = {}
        #: First line of a simple statement -> its last line.
        self.statement_end: dict[int, int] = {}

    def on_visit(self, node: cst.CSTNode) -> bool:
        """Pushes ``node`` on the ancestor stack."""
        self.stack.append(node)
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode) -> None:
        """Pops the ancestor stack."""
        super().on_leave(original_node)
        self.stack.pop()

    def line(self, node: cst.CSTNode) -> int:
        """1-based line of ``node``."""
        if self.positions is not None:
            return self.positions[node].start.line
        return self.get_metadata(PositionProvider, node).start.line

    def visit_Import(self, node: cst.Import) -> None:
        """Records ``import rust_core`` in any form."""
        if any(_is_rust_core_module(_dotted(a.name), self.extension) for a in node.names):
            self.imports.append((node, tuple(self.stack)))

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        """Records ``from rust_core import ...``."""
        if node.relative or node.module is None:
            return
        module = _dotted(node.module)
        # ``from pkg import _native`` imports a dotted extension ``pkg._native`` itself.
        if _is_rust_core_module(module, self.extension) or (
            not isinstance(node.names, cst.ImportStar)
            and any(f"{module}.{_dotted(a.name)}" == self.extension for a in node.names)
        ):
            self.imports.append((node, tuple(self.stack)))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        """Records the lines of the function's header (decorators to the colon)."""
        qualname = ".".join(
            n.name.value for n in self.stack if isinstance(n, (cst.FunctionDef, cst.ClassDef))
        )
        start = self.get_metadata(PositionProvider, node).start.line
        body = self.get_metadata(PositionProvider, node.body).start.line
        for decorator in node.decorators:
            start = min(start, self.get_metadata(PositionProvider, decorator).start.line)
        self.headers[qualname] = (start, body + 1)

    def visit_Call(self, node: cst.Call) -> None:
        """Records a call that may reach Rust; resolved once all bindings are known."""
        func = node.func
        if isinstance(func, (cst.Name, cst.Attribute, cst.Call)):
            self.calls.append((node, tuple(self.stack)))

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        """Records module-level assignments (flags forced after the import) and spans.

        A suppression comment may close a call wrapped over several lines, so each simple
        statement's last line is kept by its first.
        """
        span = self.get_metadata(PositionProvider, node)
        self.statement_end[span.start.line] = max(
            span.end.line, self.statement_end.get(span.start.line, 0)
        )
        # Module-level statements only: stack is [Module, SimpleStatementLine].
        if len(self.stack) == 2:
            for name, value in _assignments([node]):
                self.module_assigns.append((name, value, self.line(node)))


# --- analysis -----------------------------------------------------------------------------


@dataclass
class _Scope:
    qualname: str
    function: cst.FunctionDef | None
    function_index: int  # index in the stack, -1 at module level
    in_class: bool  # the function is directly in a class body
    class_names: tuple[str, ...]  # every class enclosing the node


def _scope(stack: Sequence[cst.CSTNode]) -> _Scope:
    parts: list[str] = []
    function: cst.FunctionDef | None = None
    index = -1
    in_class = False
    classes: list[str] = []
    for i, node in enumerate(stack):
        if isinstance(node, cst.FunctionDef):
            in_class = bool(parts) and isinstance(_last_def(stack[:i]), cst.ClassDef)
            parts.append(node.name.value)
            function, index = node, i
        elif isinstance(node, cst.ClassDef):
            parts.append(node.name.value)
            classes.append(node.name.value)
    return _Scope(".".join(parts) or "<module>", function, index, in_class, tuple(classes))


def _last_def(stack: Sequence[cst.CSTNode]) -> cst.CSTNode | None:
    for node in reversed(stack):
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            return node
    return None


@dataclass
class _Guard:
    tests: list[cst.BaseExpression] = field(default_factory=list)
    caught: set[str] = field(default_factory=set)
    handlers: list[cst.ExceptHandler] = field(default_factory=list)
    in_try: bool = False
    #: The try (or suppress) statements around the call, innermost last.
    tries: list[cst.CSTNode] = field(default_factory=list)


def _guard(stack: Sequence[cst.CSTNode], start: int) -> _Guard:
    """Conditions and handlers around the last node of ``stack``, from index ``start`` on."""
    guard = _Guard()
    for i in range(max(start, 0), len(stack) - 1):
        node, child = stack[i], stack[i + 1]
        if isinstance(node, (cst.If, cst.IfExp)) and child is node.body:
            guard.tests.append(node.test)
        elif isinstance(node, cst.BooleanOperation) and child is node.right:
            guard.tests.append(node.left)
        elif isinstance(node, cst.Try) and child is node.body:
            guard.in_try = True
            guard.tries.append(node)
            for handler in node.handlers:
                guard.caught |= _caught(handler)
                guard.handlers.append(handler)
        elif isinstance(node, cst.With) and child is node.body:
            suppressed = _suppressed(node)
            if suppressed:
                guard.in_try = True
                guard.tries.append(node)
                guard.caught |= suppressed
        elif isinstance(node, cst.IndentedBlock) and i > start:
            # Early exits before the statement holding the call guard it too:
            # ``if not HAS_RUST: return python(...)`` then ``return rc.f(...)``.
            for statement in node.body:
                if statement is child:
                    break
                if isinstance(statement, cst.If) and _ends_in_exit(statement.body):
                    guard.tests.append(statement.test)
    return guard


_OS_ERRORS = frozenset(
    {
        "OSError",
        "IOError",
        "EnvironmentError",
        "FileNotFoundError",
        "FileExistsError",
        "PermissionError",
        "IsADirectoryError",
        "NotADirectoryError",
        "TimeoutError",
    }
)
_STUB_COMMENT_RE = re.compile(r"\b(stub|mock)(bed|s)?\b", re.IGNORECASE)


def _parameter_names(function: cst.FunctionDef) -> set[str]:
    params = function.params
    return {p.name.value for p in (*params.posonly_params, *params.params, *params.kwonly_params)}


def _returns_a_parameter(statements: Sequence[cst.CSTNode], function: cst.FunctionDef) -> bool:
    """``return content``: the fallback hands back its input, computing nothing."""
    if len(statements) != 1 or not isinstance(statements[0], cst.SimpleStatementLine):
        return False
    (small,) = statements[0].body or (None,)
    return (
        isinstance(small, cst.Return)
        and isinstance(small.value, cst.Name)
        and small.value.value in _parameter_names(function)
    )


def _commented_stub(statements: Sequence[cst.CSTNode]) -> bool:
    """A comment in (or just above) the fallback calls it a stub or a mock."""
    for statement in statements:
        for comment in m.findall(statement, m.Comment()):
            assert isinstance(comment, cst.Comment)
            if _STUB_COMMENT_RE.search(comment.value):
                return True
    return False


def _suffix(expr: cst.BaseExpression) -> tuple[str, bool]:
    """The suffix ``f"{name}_rust"`` / ``name + "_rust"`` appends, and if only when missing.

    ``name if name.endswith("_rust") else f"{name}_rust"`` appends it only when missing.
    """
    conditional = False
    candidates = [expr]
    if isinstance(expr, cst.IfExp):
        conditional = bool(m.findall(expr.test, m.Attribute(attr=m.Name("endswith"))))
        candidates = [expr.body, expr.orelse]
    for candidate in candidates:
        if isinstance(candidate, cst.FormattedString) and len(candidate.parts) >= 2:
            first, last = candidate.parts[0], candidate.parts[-1]
            if isinstance(first, cst.FormattedStringExpression) and isinstance(
                last, cst.FormattedStringText
            ):
                return last.value, conditional
        if (
            isinstance(candidate, cst.BinaryOperation)
            and isinstance(candidate.operator, cst.Add)
            and isinstance(candidate.right, cst.SimpleString)
        ):
            value = candidate.right.evaluated_value
            if isinstance(value, str):
                return value, conditional
    return "", False


def _ends_in_exit(body: cst.BaseSuite) -> bool:
    if isinstance(body, cst.IndentedBlock):
        last = body.body[-1] if body.body else None
        if isinstance(last, cst.SimpleStatementLine):
            return isinstance(last.body[-1], (cst.Return, cst.Raise))
        return False
    if isinstance(body, cst.SimpleStatementSuite):
        return isinstance(body.body[-1], (cst.Return, cst.Raise))
    return False


def _policy(caught: set[str], in_try: bool) -> str:
    if not in_try or not caught or caught <= _IMPORT_ERRORS:
        return "propagates"
    if caught & _EVERYTHING or {"Exception", "PanicException"} <= caught:
        return "swallows-all"
    if "Exception" in caught:
        return "swallows-exceptions"
    if "TypeError" in caught and caught & {"OverflowError", "ArithmeticError"}:
        return "specific"
    return "too-narrow"


class _Analysis:
    def __init__(self, path: str, collector: HookCollector, config: AuditConfig) -> None:
        self.path = path
        self.c = collector
        self.config = config
        self.defects: list[Defect] = []
        self.imports: list[ImportSite] = []
        self.hooks: list[HookSite] = []
        self.hooked: set[str] = set()
        # binding name -> site, per scope ("<module>" or a function qualname)
        self.bindings: dict[tuple[str, str], ImportSite] = {}
        self.from_names: dict[tuple[str, str], tuple[str, ImportSite]] = {}
        self.bridge_classes: set[str] = set()
        self.bridge_methods = set(config.bridge_methods)
        #: Helpers by name: configured, found tree-wide, then this module's own.
        self.helpers: dict[str, BridgeHelper] = {h.name: h for h in config.bridge_helpers}
        self.local_helpers: dict[str, BridgeHelper] = {}
        #: (code, id of the try statement) already reported: one except clause, one report.
        self.reported_clauses: set[tuple[str, int]] = set()

    def defect(
        self, code: str, line: int, function: str | None, rust: str | None, message: str
    ) -> None:
        self.defects.append(Defect(code, self.path, line, function, rust, message))

    # imports ---------------------------------------------------------------------------

    def run_imports(self) -> None:
        for node, stack in self.c.imports:
            self.import_site(node, stack)

    def import_site(
        self, node: cst.Import | cst.ImportFrom, stack: tuple[cst.CSTNode, ...]
    ) -> None:
        if any(isinstance(n, cst.If) and m.matches(n.test, _TYPE_CHECKING) for n in stack):
            return
        scope = _scope(stack)
        line = self.c.line(node)
        statement_index = next(
            i
            for i in range(len(stack) - 1, -1, -1)
            if isinstance(stack[i], cst.SimpleStatementLine)
        )
        statement = stack[statement_index]
        container: cst.Try | cst.With | None = None
        for i in range(statement_index - 1, max(scope.function_index, 0) - 1, -1):
            candidate = stack[i]
            if isinstance(candidate, cst.Try) and stack[i + 1] is candidate.body:
                container = candidate
                break
            if isinstance(candidate, cst.With) and _suppressed(candidate):
                container = candidate
                break
            if isinstance(candidate, (cst.FunctionDef, cst.ClassDef)):
                break
        extension = self.config.extension
        binding: str | None = None
        names: list[tuple[str, str]] = []
        is_submodule = False
        if isinstance(node, cst.Import):
            for alias in node.names:
                dotted = _dotted(alias.name)
                if not _is_rust_core_module(dotted, extension):
                    continue
                if alias.asname is not None:
                    binding = _dotted(alias.asname.name)
                else:
                    binding = dotted.split(".")[0]
                is_submodule = dotted != extension and alias.asname is not None
        elif isinstance(node.names, cst.ImportStar):
            names.append(("*", "*"))
        else:
            for alias in node.names:
                imported = _dotted(alias.name)
                local = _dotted(alias.asname.name) if alias.asname else imported
                if f"{_dotted(node.module)}.{imported}" == extension:
                    binding = local  # the extension itself: ``from pkg import _native``
                elif imported == extension or _dotted(node.module) != extension:
                    binding = local
                    is_submodule = True
                else:
                    names.append((local, imported))

        caught: set[str] = set()
        sentinels: set[str] = set()
        try_flags: list[tuple[str, bool, bool]] = []  # name, value, before the import
        handler_flags: list[tuple[str, bool]] = []
        if isinstance(container, cst.Try):
            seen_import = False
            for stmt in _body(container.body):
                if stmt is statement:
                    seen_import = True
                for name, value in _assignments([stmt]):
                    if m.matches(value, _BOOL):
                        assert isinstance(value, cst.Name)
                        try_flags.append((name, value.value == "True", not seen_import))
            for handler in container.handlers:
                caught |= _caught(handler)
                for name, value in _assignments(_body(handler.body)):
                    if m.matches(value, m.Name("None")):
                        sentinels.add(name)
                    elif m.matches(value, _BOOL):
                        assert isinstance(value, cst.Name)
                        handler_flags.append((name, value.value == "True"))
        elif isinstance(container, cst.With):
            caught = _suppressed(container) or set()
        locals_ = {binding} if binding else {local for local, _ in names}
        flags = tuple(
            dict.fromkeys(
                name
                for name in [f[0] for f in try_flags] + [f[0] for f in handler_flags]
                if name not in locals_
            )
        )
        sentinel = bool(locals_) and locals_ <= sentinels

        if scope.class_names:
            variant = "H"
        elif scope.function is not None:
            variant = "G"
        elif container is None:
            variant = "direct"
        elif names:
            variant = "E"
        elif is_submodule:
            variant = "F"
        elif sentinel:
            variant = "D" if binding == extension else ("B" if flags else "A")
        else:
            variant = "C"
        site = ImportSite(
            line=line,
            variant=variant,
            scope=scope.qualname,
            binding=binding,
            names=tuple(names),
            sentinel=sentinel,
            flags=flags,
            caught=tuple(sorted(caught)),
        )
        self.imports.append(site)
        if variant == "H":
            self.bridge_classes.add(scope.class_names[-1])
        key_scope = "<module>" if variant not in ("G", "H") else scope.qualname
        if binding:
            self.bindings[(key_scope, binding)] = site
        for local, rust in names:
            self.from_names[(key_scope, local)] = (rust, site)
        if variant == "G":
            self.hooked.add(scope.qualname)
        if isinstance(container, cst.Try):
            self.check_flags(site, try_flags, handler_flags)
        self.check_from_names(site)

    def check_flags(
        self,
        site: ImportSite,
        try_flags: list[tuple[str, bool, bool]],
        handler_flags: list[tuple[str, bool]],
    ) -> None:
        scope = None if site.scope == "<module>" else site.scope
        module_level = {name for name, _, _ in self.c.module_assigns}
        for flag in site.flags:
            in_try = [(value, before) for name, value, before in try_flags if name == flag]
            in_handler = [value for name, value in handler_flags if name == flag]
            if any(not value for value, _ in in_try) or any(in_handler):
                self.defect(
                    FLAG_SENTINEL_DISAGREE,
                    site.line,
                    scope,
                    None,
                    f"flag {flag!r} is True when the import fails or False when it succeeds",
                )
            elif any(before for _, before in in_try) and not in_handler:
                self.defect(
                    FLAG_SENTINEL_DISAGREE,
                    site.line,
                    scope,
                    None,
                    f"flag {flag!r} is set True before the import and stays True if it fails",
                )
            elif (
                in_try
                and not in_handler
                and site.scope == "<module>"
                and flag
                not in {name for name, _, line in self.c.module_assigns if line < site.line}
            ):
                self.defect(
                    FLAG_SENTINEL_DISAGREE,
                    site.line,
                    scope,
                    None,
                    f"flag {flag!r} is never set when the import fails, so reading it raises "
                    "NameError",
                )
            if site.scope == "<module>" and flag in module_level:
                for name, value, line in self.c.module_assigns:
                    if name == flag and line > site.line and m.matches(value, m.Name("True")):
                        self.defect(
                            FLAG_SENTINEL_DISAGREE,
                            line,
                            None,
                            None,
                            f"flag {flag!r} is forced True after the import while the "
                            "extension may be missing",
                        )

    def check_from_names(self, site: ImportSite) -> None:
        for _, rust in site.names:
            if rust == "*":
                continue
            exported = self.exported(rust)
            if exported[0] is False and rust not in self.config.pending:
                self.defect(
                    DEAD_RUST_NAME,
                    site.line,
                    None if site.scope == "<module>" else site.scope,
                    rust,
                    f"`from {self.config.extension} import {rust}` names a function the crate "
                    "does not export: the whole import fails and every hook of this block falls "
                    "back",
                )

    # calls -----------------------------------------------------------------------------

    def exported(self, rust: str) -> tuple[bool | None, bool | None, bool | None]:
        source, built = self.config.exports.exported(rust)
        known = [v for v in (source, built) if v is not None]
        overall = True if any(known) else (False if known else None)
        return overall, source, built

    def visible(self, table: dict[tuple[str, str], Any], name: str, qualname: str) -> Any:
        parts = qualname.split(".")
        for end in range(len(parts), 0, -1):
            hit = table.get((".".join(parts[:end]), name))
            if hit is not None:
                return hit
        return table.get(("<module>", name))

    def bridge_method_names(self) -> None:
        # Methods of a local bridge class whose first argument is a function name.
        for _node, stack in self.c.imports:
            for ancestor in stack:
                if (
                    isinstance(ancestor, cst.ClassDef)
                    and ancestor.name.value in self.bridge_classes
                ):
                    for statement in _body(ancestor.body):
                        if isinstance(statement, cst.FunctionDef):
                            params = statement.params.params
                            if len(params) >= 2 and params[1].name.value in _BRIDGE_NAME_PARAMS:
                                self.bridge_methods.add(statement.name.value)

    def run_calls(self) -> None:
        self.bridge_method_names()
        for name in self.bridge_methods:
            self.helpers.setdefault(name, BridgeHelper(name, 0))
        self.find_helpers()
        for call, stack in self.c.calls:
            scope = _scope(stack)
            if scope.function is None:
                continue
            if self.is_helper_call(call, scope):
                self.helper_site(call, stack, scope)
                continue
            resolved = self.resolve(call, scope)
            if resolved is None:
                continue
            rust, binding, site, helper = resolved
            self.hook(call, stack, scope, rust, binding, site, helper)

    # bridge helpers --------------------------------------------------------------------

    def _visible_params(self, scope: _Scope) -> list[str]:
        function = scope.function
        assert function is not None
        params = [p.name.value for p in (*function.params.posonly_params, *function.params.params)]
        if hooks.is_method(function, scope.in_class) and params:
            params = params[1:]
        return params

    def _dynamic_name(
        self, call: cst.Call, scope: _Scope
    ) -> tuple[cst.BaseExpression, BridgeHelper | None] | None:
        """The expression naming the Rust function of a by-name call, and the helper used."""
        func = call.func
        if (
            isinstance(func, cst.Call)
            and m.matches(func.func, m.Name("getattr"))
            and len(func.args) >= 2
            and isinstance(func.args[0].value, cst.Name)
            and not isinstance(func.args[1].value, (cst.SimpleString, cst.ConcatenatedString))
            and self.visible(self.bindings, func.args[0].value.value, scope.qualname) is not None
        ):
            return func.args[1].value, None
        name = func.attr.value if isinstance(func, cst.Attribute) else _dotted(func)
        helper = self.helpers.get(name)
        if helper is not None and len(call.args) > helper.name_index:
            arg = call.args[helper.name_index]
            if not arg.star and arg.keyword is None and isinstance(arg.value, cst.Name):
                return arg.value, helper
        return None

    def _derive(self, expr: cst.BaseExpression, scope: _Scope) -> tuple[int, str, bool] | None:
        """(parameter index, suffix, conditional) when ``expr`` comes from a parameter."""
        params = self._visible_params(scope)
        if not isinstance(expr, cst.Name):
            return None
        if expr.value in params:
            return params.index(expr.value), "", False
        assert scope.function is not None
        for assign in m.findall(
            scope.function, m.Assign(targets=[m.AssignTarget(target=m.Name(expr.value))])
        ):
            assert isinstance(assign, cst.Assign)
            used = [p for p in params if p in names_in(assign.value)]
            if used:
                suffix, conditional = _suffix(assign.value)
                return params.index(used[0]), suffix, conditional
        return None

    def _forwards(self, call: cst.Call, scope: _Scope, skip: int | None) -> bool:
        """True when every other argument is the function's own ``*args``/``**kwargs``."""
        assert scope.function is not None
        params = scope.function.params
        stars = {
            p.name.value for p in (params.star_arg, params.star_kwarg) if isinstance(p, cst.Param)
        }
        for index, arg in enumerate(call.args):
            if index == skip or (arg.keyword and arg.keyword.value in ("fallback", "default")):
                continue
            if not (arg.star and isinstance(arg.value, cst.Name) and arg.value.value in stars):
                return False
        return True

    def find_helpers(self) -> None:
        """Finds the module's bridge helpers, to a fixed point (a forwarder uses a helper)."""
        changed = True
        while changed:
            changed = False
            for call, stack in self.c.calls:
                scope = _scope(stack)
                if scope.function is None or scope.function.name.value in self.local_helpers:
                    continue
                found = self._dynamic_name(call, scope)
                if found is None:
                    continue
                expr, inner = found
                derived = self._derive(expr, scope)
                if derived is None:
                    continue
                index, suffix, conditional = derived
                guard = _guard(stack, scope.function_index)
                policy, caught = _policy(guard.caught, guard.in_try), tuple(sorted(guard.caught))
                if inner is not None and not guard.in_try:
                    policy, caught = inner.policy, inner.caught
                if inner is not None and not suffix:
                    suffix, conditional = inner.suffix, inner.conditional
                forwards = self._forwards(call, scope, None if inner is None else inner.name_index)
                if inner is not None:
                    forwards = forwards and inner.forwards
                name = scope.function.name.value
                helper = BridgeHelper(
                    name=name,
                    name_index=index,
                    suffix=suffix,
                    conditional=conditional,
                    policy=policy,
                    caught=caught,
                    forwards=forwards,
                    owner=scope.class_names[-1] if scope.in_class else "",
                    file=self.path,
                    line=self.c.line(scope.function),
                )
                self.local_helpers[name] = helper
                self.helpers[name] = helper
                changed = True

    def is_helper_call(self, call: cst.Call, scope: _Scope) -> bool:
        """True for the by-name Rust call inside a helper (``getattr(rc, attr)(...)``)."""
        assert scope.function is not None
        helper = self.local_helpers.get(scope.function.name.value)
        found = self._dynamic_name(call, scope) if helper is not None else None
        return found is not None and found[1] is None

    def helper_site(self, call: cst.Call, stack: tuple[cst.CSTNode, ...], scope: _Scope) -> None:
        """The helper's own Rust call, reported as a hook whose name comes from callers."""
        assert scope.function is not None
        helper = self.local_helpers[scope.function.name.value]
        line = self.c.line(call)
        qualname = scope.qualname
        self.hooked.add(qualname)
        guard = _guard(stack, scope.function_index)
        codes = self.exception_defects(guard, helper.policy, line, qualname, None)
        func = call.func
        assert isinstance(func, cst.Call)
        binding = _dotted(func.args[0].value)
        site = self.visible(self.bindings, binding, qualname)
        self.hooks.append(
            HookSite(
                file=self.path,
                line=line,
                function=qualname,
                variant=site.variant if site else "?",
                shape="bridge-helper",
                rust_name="*" + helper.suffix,
                binding=binding,
                guard=(),
                exception_policy=helper.policy,
                caught=helper.caught,
                fallback="caller",
                exported=None,
                exported_source=None,
                exported_built=None,
                arity="unknown",
                defects=tuple(dict.fromkeys(codes)),
            )
        )

    def _receiver_matches(
        self, func: cst.BaseExpression, helper: BridgeHelper, scope: _Scope
    ) -> bool:
        """Whether a call of ``helper``'s name really goes to the helper.

        A helper named like any method (``execute``) must not claim ``cursor.execute``:
        the receiver has to look like the bridge (``get_bridge()``, ``RustBridge``,
        ``self`` inside the helper's class), unless the name itself says Rust.
        """
        if not helper.file or "rust" in helper.name.lower():
            return True
        if isinstance(func, cst.Name):
            return helper.file == self.path and not helper.owner
        assert isinstance(func, cst.Attribute)
        receiver = cst.Module(body=[]).code_for_node(func.value)
        if "bridge" in receiver.lower() or (helper.owner and helper.owner in receiver):
            return True
        return receiver in ("self", "cls") and helper.owner in scope.class_names

    def exception_defects(
        self, guard: _Guard, policy: str, line: int, qualname: str, rust: str | None
    ) -> list[str]:
        """Reports the exception policy's defect once per except clause; returns its codes."""
        found: list[tuple[str, str]] = []
        if policy == "swallows-all":
            found.append(
                (
                    EXCEPT_TOO_BROAD,
                    "the except clause around the Rust call swallows every error, panics "
                    "included, so real Rust bugs vanish",
                )
            )
        elif policy == "swallows-exceptions":
            found.append(
                (
                    PANIC_ESCAPES,
                    "`except Exception` hides real Rust errors, yet a Rust panic "
                    "(pyo3_runtime.PanicException, a BaseException) escapes it anyway",
                )
            )
        elif policy == "too-narrow":
            found.append(
                (
                    EXCEPT_TOO_NARROW,
                    "the except clause catches "
                    + ", ".join(sorted(guard.caught))
                    + " but not TypeError/OverflowError from argument conversion",
                )
            )
        codes = []
        for code, message in found:
            codes.append(code)
            key = (code, id(guard.tries[-1]) if guard.tries else line)
            if key in self.reported_clauses:
                continue
            self.reported_clauses.add(key)
            self.defect(code, line, qualname, rust, message)
        return codes

    def resolve(
        self, call: cst.Call, scope: _Scope
    ) -> tuple[str, str | None, ImportSite | None, BridgeHelper | None] | None:
        func = call.func
        if isinstance(func, cst.Attribute):
            # ``rc.f(...)``, or ``rc.sub.f(...)`` for a function of a rust_core submodule.
            parts = [func.attr.value]
            root: cst.BaseExpression = func.value
            while isinstance(root, cst.Attribute):
                parts.insert(0, root.attr.value)
                root = root.value
            if isinstance(root, cst.Name):
                site = self.visible(self.bindings, root.value, scope.qualname)
                if site is not None and site.variant != "H":
                    return ".".join(parts), root.value, site, None
        if isinstance(func, cst.Name):
            hit = self.visible(self.from_names, func.value, scope.qualname)
            if hit is not None:
                return hit[0], func.value, hit[1], None
        if (
            isinstance(func, cst.Call)
            and m.matches(func.func, m.Name("getattr"))
            and len(func.args) >= 2
            and isinstance(func.args[0].value, cst.Name)
            and isinstance(func.args[1].value, cst.SimpleString)
        ):
            site = self.visible(self.bindings, func.args[0].value.value, scope.qualname)
            literal = func.args[1].value.evaluated_value
            if site is not None and isinstance(literal, str):
                return literal, func.args[0].value.value, site, None
        name = func.attr.value if isinstance(func, cst.Attribute) else _dotted(func)
        helper = self.helpers.get(name)
        if (
            helper is not None
            and isinstance(func, (cst.Attribute, cst.Name))
            and len(call.args) > helper.name_index
            and isinstance(call.args[helper.name_index].value, cst.SimpleString)
            and not (set(scope.class_names) & self.bridge_classes and not helper.file)
            and self._receiver_matches(func, helper, scope)
        ):
            name_arg = call.args[helper.name_index].value
            assert isinstance(name_arg, cst.SimpleString)
            value = name_arg.evaluated_value
            if isinstance(value, str) and all(p.isidentifier() for p in value.split(".")):
                receiver = _dotted(func.value) if isinstance(func, cst.Attribute) else ""
                return helper.rust_name(value), receiver or None, None, helper
        return None

    def hook(
        self,
        call: cst.Call,
        stack: tuple[cst.CSTNode, ...],
        scope: _Scope,
        rust: str,
        binding: str | None,
        site: ImportSite | None,
        helper: BridgeHelper | None,
    ) -> None:
        bridge = helper is not None
        function = scope.function
        assert function is not None
        qualname = scope.qualname
        self.hooked.add(qualname)
        line = self.c.line(call)
        codes: list[str] = []

        def report(code: str, message: str) -> None:
            codes.append(code)
            self.defect(code, line, qualname, rust, message)

        guard = _guard(stack, scope.function_index)
        tested: set[str] = set()
        hasattr_guard = False
        for test in guard.tests:
            tested |= names_in(test)
            if m.findall(test, _HASATTR_CALL):
                hasattr_guard = True
        flags = set(site.flags) if site else set()
        all_flags = {f for s in self.imports for f in s.flags}
        guard_kinds = []
        if hasattr_guard:
            guard_kinds.append("hasattr")
        if binding and binding in tested and not bridge:
            guard_kinds.append("sentinel")
        if tested & (flags | all_flags):
            guard_kinds.append("flag")

        policy = _policy(guard.caught, guard.in_try)
        caught = set(guard.caught)
        # A bridge call site without a try of its own has the helper's except clause.
        inherited = helper is not None and not guard.in_try and helper.policy != "unknown"
        if inherited:
            assert helper is not None
            policy, caught = helper.policy, set(helper.caught)
        split = bool(_HELPER_RE.match(function.name.value))

        # The statement of the function body that holds the call, and what follows it.
        hook_statement: cst.CSTNode | None = None
        if scope.function_index + 2 < len(stack):
            hook_statement = stack[scope.function_index + 2]
        fallback_statements: list[cst.CSTNode] = []
        body = function.body
        if isinstance(body, cst.IndentedBlock) and hook_statement is not None:
            after = False
            for statement in body.body:
                if after:
                    fallback_statements.append(statement)
                elif statement is hook_statement:
                    after = True
            if isinstance(hook_statement, cst.If) and hook_statement.orelse is not None:
                orelse = hook_statement.orelse
                if isinstance(orelse, cst.Else):
                    fallback_statements = [*_body(orelse.body), *fallback_statements]
                else:
                    fallback_statements = [orelse, *fallback_statements]

        if not fallback_statements and isinstance(body, cst.IndentedBlock):
            # ``if not HAS_RUST: return python(...)`` before the Rust call: that branch is
            # the fallback.
            watched = {binding, *(site.flags if site else ())} - {None}
            for statement in body.body:
                if statement is hook_statement:
                    break
                if (
                    isinstance(statement, cst.If)
                    and _ends_in_exit(statement.body)
                    and names_in(statement.test) & watched
                ):
                    fallback_statements.extend(_body(statement.body))

        # Shape.
        if bridge:
            shape = "bridge"
        elif site is not None and site.variant == "G":
            shape = "lazy-import"
        elif split:
            shape = "helper-split"
        elif self.result_based(call, stack):
            shape = "result-based"
        elif ((site is not None and site.names) or "flag" in guard_kinds) and not hasattr_guard:
            shape = "flag"
        elif hasattr_guard:
            shape = "guarded-try" if policy not in ("propagates",) else "guarded"
            if shape == "guarded" and self.is_canonical(hook_statement, scope, rust, binding):
                shape = "canonical"
        else:
            shape = "truthy-try" if policy != "propagates" else "unguarded"

        # Fallback quality.
        stub_why = "is a stub"
        fallback = ""
        if bridge:
            fallback, stub_why = self.bridge_fallback(call, function)
        if fallback and fallback != "none":
            pass  # the bridge call's own fallback argument decides
        elif split:
            fallback = "helper"
        elif not fallback_statements:
            fallback = "none"
        elif all(_is_trivial_statement(s) for s in fallback_statements):
            fallback = "stub"
        elif _returns_a_parameter(fallback_statements, function):
            fallback, stub_why = "stub", "returns its input unchanged"
        elif _commented_stub(fallback_statements):
            fallback, stub_why = "stub", "is commented as a stub or mock"
        else:
            fallback = "python"
        if fallback in ("stub", "none"):
            what = stub_why if fallback == "stub" else "is missing"
            report(STUB_FALLBACK, f"the Python path after the Rust call {what}")
        elif not split:
            for handler in guard.handlers:
                returns = [s for s in _body(handler.body) if m.findall(s, m.Return())]
                if returns and _caught(handler) <= _OS_ERRORS:
                    report(
                        OSERROR_SKIPS_PYTHON,
                        "the except clause returns when the Rust call raises "
                        + "/".join(sorted(_caught(handler)))
                        + ": the Python path is skipped instead of run (or the error raised)",
                    )
                    break
                if any(_is_trivial_statement(s) for s in returns):
                    report(
                        STUB_FALLBACK,
                        "the except clause returns a stub value instead of running the Python path",
                    )
                    break

        # Exception policy: the helper's clause is reported once, at the helper.
        if not inherited:
            codes.extend(self.exception_defects(guard, policy, line, qualname, rust))

        # Variant C (and unguarded from-imports): the name is unbound when the import
        # failed, so using it without first checking the flag is a NameError.
        if (
            site is not None
            and not bridge
            and site.variant in ("C", "E", "F")
            and not site.sentinel
            and not tested & set(site.flags)
        ):
            report(
                RC_UNDEFINED,
                f"{binding or rust!r} is undefined when the import fails (no sentinel) and is "
                "used without checking the flag: NameError",
            )

        # Export and arity.
        exported, in_source, in_built = self.exported(rust)
        if exported is False and rust not in self.config.pending:
            report(
                DEAD_RUST_NAME,
                f"{self.config.extension} does not export {rust!r}: this hook always falls back",
            )
        arity = "unknown"
        signature = self.config.exports.signatures.get(rust)
        if signature is not None and (helper is None or helper.forwards):
            args = list(call.args)
            if helper is not None:
                args = [
                    a
                    for i, a in enumerate(args)
                    if i != helper.name_index
                    and not (a.keyword and a.keyword.value in ("fallback", "default"))
                ]
            problem = signature.check_call(
                positional=sum(1 for a in args if a.keyword is None and not a.star),
                keywords=[a.keyword.value for a in args if a.keyword is not None],
                has_star=any(a.star == "*" for a in args),
                has_double_star=any(a.star == "**" for a in args),
            )
            arity = "ok" if problem is None else "mismatch"
            if problem is not None:
                report(
                    ARITY_MISMATCH,
                    f"the call {problem}; Rust signature is {rust}{signature.render()}",
                )

        self.hooks.append(
            HookSite(
                file=self.path,
                line=line,
                function=qualname,
                variant="H" if bridge else (site.variant if site else "?"),
                shape=shape,
                rust_name=rust,
                binding=binding,
                guard=tuple(guard_kinds),
                exception_policy=policy,
                caught=tuple(sorted(caught)),
                fallback=fallback,
                exported=exported,
                exported_source=in_source,
                exported_built=in_built,
                arity=arity,
                defects=tuple(dict.fromkeys(codes)),
            )
        )

    def result_based(self, call: cst.Call, stack: tuple[cst.CSTNode, ...]) -> bool:
        # ``result = rc.f(x)`` followed in the same block by ``if result...``.
        if len(stack) < 4:
            return False
        assign, line, block = stack[-2], stack[-3], stack[-4]
        if not (
            isinstance(assign, cst.Assign)
            and assign.value is call
            and len(assign.targets) == 1
            and isinstance(assign.targets[0].target, cst.Name)
            and isinstance(block, cst.IndentedBlock)
        ):
            return False
        name = assign.targets[0].target.value
        after = False
        for statement in block.body:
            if after and isinstance(statement, cst.If) and name in names_in(statement.test):
                return True
            after = after or statement is line
        return False

    def bridge_fallback(self, call: cst.Call, function: cst.FunctionDef) -> tuple[str, str]:
        """The fallback argument's quality, and why it is a stub."""
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value in ("fallback", "default"):
                value = arg.value
                if isinstance(value, cst.Lambda) and m.matches(value.body, _TRIVIAL_VALUE):
                    return "stub", "is a constant"
                if (
                    isinstance(value, cst.Lambda)
                    and isinstance(value.body, cst.Name)
                    and value.body.value in _parameter_names(function)
                ):
                    return "stub", "returns its input unchanged"
                return "python", ""
        return "none", ""

    def is_canonical(
        self, statement: cst.CSTNode | None, scope: _Scope, rust: str, binding: str | None
    ) -> bool:
        if not isinstance(statement, cst.If) or scope.function is None or binding is None:
            return False
        expected = hooks.dispatch_source(
            scope.function, rust, in_class=scope.in_class, binding=binding
        )
        actual = cst.Module(body=[statement.with_changes(leading_lines=())]).code
        # Compared as syntax trees: a formatter may wrap the long return line.
        try:
            return ast.dump(ast.parse(actual)) == ast.dump(ast.parse(expected))
        except SyntaxError:
            return False

    def finish(self) -> ModuleAudit:
        # Hooks in a file are reported in source order.
        return ModuleAudit(
            path=self.path,
            imports=tuple(sorted(self.imports, key=lambda s: s.line)),
            hooks=tuple(sorted(self.hooks, key=lambda h: h.line)),
            defects=tuple(sorted(set(self.defects), key=lambda d: (d.line, d.code, d.message))),
            # A class is hooked when its constructor is (the class-hook shape).
            hooked_functions=frozenset(
                self.hooked
                | {q.removesuffix(".__new__") for q in self.hooked if q.endswith(".__new__")}
            ),
            bridge_helpers=tuple(sorted(self.local_helpers.values(), key=lambda h: h.line)),
        )


def analyze_module(module: cst.Module, path: str, config: AuditConfig | None = None) -> ModuleAudit:
    """Audits a parsed module; ``path`` is only used to label the findings."""
    config = config or AuditConfig()
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    collector = HookCollector(config.extension)
    wrapper.visit(collector)
    collector.positions = wrapper.resolve(PositionProvider)
    analysis = _Analysis(path, collector, config)
    analysis.run_imports()
    analysis.run_calls()
    return _apply_suppressions(analysis.finish(), module, collector, config)


#: ``# migrate: ignore`` (every code) or ``# migrate: ignore[dead-rust-name, stub-fallback]``.
SUPPRESSION_RE = re.compile(r"#\s*migrate:\s*ignore\b(?:\[([\w\s,-]*)\])?")


def _suppressed_codes(line: str) -> set[str] | None:
    """The codes a line's suppression comment silences; ``{"*"}`` for all, None if none."""
    found = SUPPRESSION_RE.search(line)
    if found is None:
        return None
    if found.group(1) is None:
        return {"*"}
    return {c.strip() for c in found.group(1).split(",") if c.strip()}


def _apply_suppressions(
    audit: ModuleAudit, module: cst.Module, collector: HookCollector, config: AuditConfig
) -> ModuleAudit:
    """Drops silenced defects and those ``--select`` / ``--ignore`` leave out.

    A defect is silenced by a suppression comment on its own line or on its function's
    header (decorators to the colon). Hooks keep only the codes that remain.
    """
    lines = module.code.splitlines()

    def on_line(number: int, code: str) -> bool:
        if not 0 < number <= len(lines):
            return False
        codes = _suppressed_codes(lines[number - 1])
        return codes is not None and ("*" in codes or code in codes)

    def silenced(line: int, function: str | None, code: str) -> bool:
        end = collector.statement_end.get(line, line)
        if any(on_line(n, code) for n in range(line, end + 1)):
            return True
        header = collector.headers.get(function or "")
        return header is not None and any(on_line(n, code) for n in range(*header))

    kept = tuple(
        d
        for d in audit.defects
        if config.wants(d.code) and not silenced(d.line, d.function, d.code)
    )
    hooks = tuple(
        dataclasses.replace(
            h,
            defects=tuple(
                c for c in h.defects if config.wants(c) and not silenced(h.line, h.function, c)
            ),
        )
        for h in audit.hooks
    )
    suppressed = sum(
        1 for d in audit.defects if config.wants(d.code) and silenced(d.line, d.function, d.code)
    )
    return dataclasses.replace(audit, defects=kept, hooks=hooks, suppressed=suppressed)


def analyze_source(
    source: str | bytes, path: str = "<string>", config: AuditConfig | None = None
) -> ModuleAudit:
    """Parses and audits source text; raises ``libcst.ParserSyntaxError`` if it cannot parse."""
    return analyze_module(cst.parse_module(source), path, config)


def crate_defects(exports: RustExports) -> list[Defect]:
    """Defects of the Rust side itself: names registered twice (the later one wins)."""
    found = []
    for name, regs in sorted(exports.duplicates().items()):
        first, *rest = regs
        for reg in rest:
            found.append(
                Defect(
                    DUPLICATE_REGISTRATION,
                    reg.file,
                    reg.line,
                    None,
                    name,
                    f"{name!r} is registered again here (Rust fn `{reg.ident}`), after "
                    f"{first.file}:{first.line} (fn `{first.ident}`); the later one silently wins",
                )
            )
    return found

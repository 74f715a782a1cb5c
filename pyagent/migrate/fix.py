"""``migrate fix``: rewrites each audit defect that has a mechanical fix.

:class:`FixHooksCommand` audits the module (:func:`migrate.audit.analyze_module`), then:

* rewrites a hook of any non-canonical shape whose Rust call is a plain ``return <call>``
  (under an ``if`` guard and/or a ``try`` whose handlers only fall through) into the
  canonical dispatch, keeping the call as written. That drops the swallowing ``try``
  (``except-too-broad``, ``panic-escapes``, ``except-too-narrow``) and the unsafe ``if rc:``
  test of a flag-only import (``rc-undefined``);
* renames a dead Rust name to the exported one when exactly one exported name is its
  evident spelling (``f`` <-> ``f_rust``, or one close match), in the hasattr guard, the
  call, a bridge call's string or a ``from rust_core import``.

Anything else is left alone and stays reported by ``audit``: each defect kind says in
:mod:`migrate.defects` why it has no mechanical fix. Only the rewritten statements change;
every other line of the module keeps its bytes.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext, VisitorBasedCodemodCommand
from libcst.metadata import PositionProvider

from pyagent.migrate import hooks
from pyagent.migrate.audit import AuditConfig, HookSite, ImportSite, ModuleAudit, analyze_module
from pyagent.migrate.defects import DEAD_RUST_NAME

__all__ = ["CANONICALIZABLE", "FixHooksCommand", "exported_spelling"]

#: Shapes ``fix`` can rewrite to the canonical hook (when the call is a plain return).
CANONICALIZABLE = frozenset({"guarded", "guarded-try", "truthy-try", "unguarded", "flag"})
_SENTINEL_VARIANTS = frozenset({"A", "B", "D", "F", "direct"})


def exported_spelling(name: str, exported: Sequence[str]) -> str | None:
    """The one exported name ``name`` evidently means, or None when none or several fit.

    ``f`` and ``f_rust`` are the same function spelt two ways; otherwise the closest name
    is taken when it is close (ratio >= 0.8) and at least 0.1 closer than the next one.
    Dotted (submodule) names are never guessed.
    """
    if "." in name:
        return None
    flat = [e for e in exported if "." not in e]
    spelt = {name + "_rust", name.removesuffix("_rust")} - {name}
    same = [e for e in flat if e in spelt]
    if same:
        return same[0] if len(same) == 1 else None
    # A typo: the best match, if close and clearly closer than the runner-up.
    scored = sorted(
        ((difflib.SequenceMatcher(None, name, e).ratio(), e) for e in flat), reverse=True
    )
    if not scored or scored[0][0] < 0.8:
        return None
    if len(scored) > 1 and scored[1][0] > scored[0][0] - 0.1:
        return None
    return scored[0][1]


def _falls_through(handler: cst.ExceptHandler) -> bool:
    """A handler that only passes or logs, then lets the Python path run."""
    for statement in handler.body.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            return False
        for small in statement.body:
            if isinstance(small, cst.Pass):
                continue
            if isinstance(small, cst.Expr) and isinstance(small.value, (cst.Call, cst.Ellipsis)):
                continue
            return False
    return True


def _returned_call(statement: cst.CSTNode) -> cst.Call | None:
    """The call of ``return <call>`` (alone on its line), else None."""
    if (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Return)
        and isinstance(statement.body[0].value, cst.Call)
    ):
        return statement.body[0].value
    return None


def _unwrap_try(statement: cst.CSTNode) -> cst.Call | None:
    """``try: return <call>`` with fall-through handlers only, or a plain ``return <call>``."""
    if isinstance(statement, cst.Try):
        if (
            statement.orelse is not None
            or statement.finalbody is not None
            or len(statement.body.body) != 1
            or not all(_falls_through(h) for h in statement.handlers)
        ):
            return None
        return _returned_call(statement.body.body[0])
    return _returned_call(statement)


def _hook_call(statement: cst.CSTNode) -> cst.Call | None:
    """The Rust call of a hook statement ``fix`` can rewrite, else None."""
    if isinstance(statement, cst.If):
        if statement.orelse is not None or not isinstance(statement.body, cst.IndentedBlock):
            return None
        if len(statement.body.body) != 1:
            return None
        return _unwrap_try(statement.body.body[0])
    if isinstance(statement, cst.Try):
        return _unwrap_try(statement)
    return None


class _Rename(cst.CSTTransformer):
    """Renames the Rust name in one statement: string literals and ``binding.<name>``."""

    def __init__(self, old: str, new: str, binding: str | None) -> None:
        super().__init__()
        self.old, self.new, self.binding = old, new, binding

    def leave_SimpleString(
        self, original_node: cst.SimpleString, updated_node: cst.SimpleString
    ) -> cst.SimpleString:
        if original_node.evaluated_value == self.old:
            quote = original_node.quote
            return updated_node.with_changes(
                value=f"{original_node.prefix}{quote}{self.new}{quote}"
            )
        return updated_node

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.Attribute:
        if (
            self.binding is not None
            and m.matches(original_node.value, m.Name(self.binding))
            and original_node.attr.value == self.old
        ):
            return updated_node.with_changes(attr=cst.Name(self.new))
        return updated_node

    def leave_ImportAlias(
        self, original_node: cst.ImportAlias, updated_node: cst.ImportAlias
    ) -> cst.ImportAlias:
        # ``from rust_core import old`` keeps its local name: ``import new as old``.
        if m.matches(original_node.name, m.Name(self.old)):
            asname = updated_node.asname or cst.AsName(name=cst.Name(self.old))
            return updated_node.with_changes(name=cst.Name(self.new), asname=asname)
        return updated_node


class FixHooksCommand(VisitorBasedCodemodCommand):
    """Rewrites the defects of a module that have a mechanical fix (see the module doc)."""

    DESCRIPTION = (
        "Rewrites rust_core hooks to the canonical shape (dropping swallowing try/except) "
        "and renames dead Rust names to the exported spelling; idempotent."
    )
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, context: CodemodContext, config: AuditConfig | None = None) -> None:
        """``config`` gives the exports dead names are matched against."""
        super().__init__(context)
        self.config = config or AuditConfig()
        self.audit: ModuleAudit | None = None
        self.scope: list[str] = []
        #: One line per rewrite: ``12: f: canonical hook``.
        self.fixed: list[str] = []
        self.renames: dict[int, tuple[str, str]] = {}  # hook line -> (old, new)
        self.module_site: ImportSite | None = None

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        """Audits the module, plans the renames, then rewrites function by function."""
        self.audit = analyze_module(tree, self.context.filename or "<module>", self.config)
        exported = sorted(
            (self.config.exports.source_names or frozenset())
            | (self.config.exports.built_names or frozenset())
        )
        for defect in self.audit.defects:
            if defect.code == DEAD_RUST_NAME and defect.rust_name:
                new = exported_spelling(defect.rust_name, exported)
                if new is not None:
                    self.renames[defect.line] = (defect.rust_name, new)
        sites = [s for s in self.audit.imports if s.scope == "<module>" and s.binding]
        sentinel = [s for s in sites if s.sentinel or s.variant in _SENTINEL_VARIANTS]
        flagged = [s for s in sites if s.flags]
        chosen = sentinel or flagged
        self.module_site = chosen[0] if chosen else None
        return super().transform_module_impl(tree)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        """Enters a class scope."""
        self.scope.append(node.name.value)

    def leave_ClassDef(
        self, original_node: cst.ClassDef, updated_node: cst.ClassDef
    ) -> cst.ClassDef:
        """Leaves a class scope."""
        self.scope.pop()
        return updated_node

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        """Enters a function scope."""
        self.scope.append(node.name.value)

    def leave_ImportFrom(
        self, original_node: cst.ImportFrom, updated_node: cst.ImportFrom
    ) -> cst.ImportFrom:
        """A dead ``from rust_core import name`` gets the exported spelling."""
        line = self.get_metadata(PositionProvider, original_node).start.line
        if line in self.renames:
            old, new = self.renames[line]
            self.fixed.append(
                f"{line}: from {self.config.extension} import {old}: renamed to {new}"
            )
            return updated_node.visit(_Rename(old, new, None))  # type: ignore[return-value]
        return updated_node

    def _guard(self, site: ImportSite | None, hook: HookSite) -> str | None:
        if site is None or hook.binding != site.binding:
            return None
        if site.sentinel or site.variant in _SENTINEL_VARIANTS:
            return f"{site.binding} is not None"
        return site.flags[0] if site.flags else None

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        """Rewrites the function's hook statements that have a mechanical fix."""
        qualname = ".".join(self.scope)
        self.scope.pop()
        assert self.audit is not None
        hooks_here = [h for h in self.audit.hooks if h.function == qualname]
        body = original_node.body
        if not hooks_here or not isinstance(body, cst.IndentedBlock):
            return updated_node
        updated_body = updated_node.body
        assert isinstance(updated_body, cst.IndentedBlock)
        new_body = list(updated_body.body)
        changed = False
        for index, statement in enumerate(body.body):
            position = self.get_metadata(PositionProvider, statement)
            for hook in hooks_here:
                if not position.start.line <= hook.line <= position.end.line:
                    continue
                replacement = self._fix(statement, new_body[index], hook)
                if replacement is not None:
                    new_body[index] = replacement
                    changed = True
                    break
        if not changed:
            return updated_node
        return updated_node.with_changes(body=updated_body.with_changes(body=new_body))

    def _fix(
        self, original: cst.BaseStatement, updated: cst.BaseStatement, hook: HookSite
    ) -> cst.BaseStatement | None:
        rename = self.renames.get(hook.line)
        guard = self._guard(self.module_site, hook)
        call = _hook_call(original)
        if (
            hook.shape in CANONICALIZABLE
            and hook.fallback == "python"
            and guard is not None
            and call is not None
            and self.get_metadata(PositionProvider, call).start.line == hook.line
        ):
            module = cst.Module(body=[])
            if rename is not None:
                call = call.visit(_Rename(*rename, hook.binding))  # type: ignore[assignment]
            assert isinstance(call, cst.Call) and hook.binding is not None
            rust = rename[1] if rename else hook.rust_name
            # The arguments stay as written (with their comments); only the shape changes.
            arguments = module.code_for_node(call)[len(module.code_for_node(call.func)) :]
            source = hooks.DISPATCH_TEMPLATE.format(
                guard=guard,
                binding=hook.binding,
                head=rust.split(".", 1)[0],
                rust=rust,
                args=arguments.strip()[1:-1],
            )
            statement = cst.parse_statement(source)
            if module.code_for_node(statement) == module.code_for_node(
                original.with_changes(leading_lines=())
            ):
                return None
            if rename is not None:
                self.fixed.append(
                    f"{hook.line}: {hook.function}: renamed {rename[0]} to {rename[1]}"
                )
            self.fixed.append(f"{hook.line}: {hook.function}: {hook.shape} hook made canonical")
            assert isinstance(original, (cst.If, cst.Try))  # what _hook_call accepts
            return statement.with_changes(leading_lines=original.leading_lines)
        if rename is not None:
            self.fixed.append(f"{hook.line}: {hook.function}: renamed {rename[0]} to {rename[1]}")
            return updated.visit(_Rename(*rename, hook.binding))  # type: ignore[return-value]
        return None

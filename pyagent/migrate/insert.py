"""``migrate insert``: the codemod that adds the canonical ``rust_core`` hook.

:class:`InsertHooksCommand` is a :class:`libcst.codemod.VisitorBasedCodemodCommand`. It first
audits the module (:func:`migrate.audit.analyze_module`) so that a function which already
reaches Rust in any variant is left alone and a module that already imports ``rust_core`` in
any variant gets no second import; then it puts the dispatch first in each target function
(after its docstring) and, if it inserted any dispatch into a module without a hook, the
sentinel import after the module's docstring, ``__future__`` and other imports.

Every other line of the module is untouched: nodes are only inserted, never rebuilt.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence

import libcst as cst
from libcst.codemod import CodemodContext, SkipFile, VisitorBasedCodemodCommand

from pyagent.migrate import hooks
from pyagent.migrate.audit import AuditConfig, ModuleAudit, analyze_module, names_in

__all__ = ["InsertHooksCommand", "import_index"]

#: Import variants whose binding is always bound (sentinel or hard import): reuse it.
_SENTINEL_VARIANTS = frozenset({"A", "B", "D", "F", "direct"})


def _is_import_line(statement: cst.CSTNode) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(s, (cst.Import, cst.ImportFrom)) for s in statement.body
    )


def _is_import_block(statement: cst.CSTNode) -> bool:
    """An import line, or a ``try``/``if`` whose branches hold only imports and assignments."""
    if _is_import_line(statement):
        return True
    if isinstance(statement, (cst.Try, cst.If)):
        blocks: list[cst.BaseSuite] = [statement.body]
        if isinstance(statement, cst.Try):
            blocks += [h.body for h in statement.handlers]
            if not any(_is_import_line(s) for s in statement.body.body):
                return False
        elif not any(_is_import_line(s) for s in statement.body.body):
            return False
        for block in blocks:
            for inner in block.body:
                if _is_import_line(inner):
                    continue
                if isinstance(inner, cst.SimpleStatementLine) and all(
                    isinstance(s, (cst.Assign, cst.AnnAssign, cst.Pass)) for s in inner.body
                ):
                    continue
                return False
        return True
    return False


def _is_docstring(statement: cst.CSTNode) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def _is_dunder_assignment(statement: cst.CSTNode) -> bool:
    """``__all__ = [...]``, ``__version__ = "1"``...: module metadata kept with the imports."""
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    for small in statement.body:
        targets: list[cst.BaseExpression]
        if isinstance(small, cst.Assign):
            targets = [t.target for t in small.targets]
        elif isinstance(small, (cst.AnnAssign, cst.AugAssign)):
            targets = [small.target]
        else:
            return False
        if not all(
            isinstance(t, cst.Name) and t.value.startswith("__") and t.value.endswith("__")
            for t in targets
        ):
            return False
    return True


def import_index(body: Sequence[cst.CSTNode]) -> int:
    """Where the import goes: after the docstring and the leading run of import blocks.

    ``__all__`` and other dunder assignments among the leading imports (``asyncio/tasks.py``
    puts ``__all__`` before its imports) belong to that run too.
    """
    index = 1 if body and _is_docstring(body[0]) else 0
    last_import = index
    while index < len(body) and (
        _is_import_block(body[index]) or _is_dunder_assignment(body[index])
    ):
        index += 1
        last_import = index
    return last_import


class _YieldFinder(cst.CSTVisitor):
    """Finds ``yield`` in a function body, not descending into nested scopes."""

    def __init__(self) -> None:
        self.found = False

    def visit_Yield(self, node: cst.Yield) -> bool:
        self.found = True
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


class InsertHooksCommand(VisitorBasedCodemodCommand):
    """Adds the canonical rust_core fallback hook to the named functions of a module."""

    DESCRIPTION = (
        "Adds the canonical `rust_core` fallback hook (sentinel import + dispatch) to the "
        "named functions; idempotent, and never adds a second import of rust_core."
    )

    def __init__(
        self,
        context: CodemodContext,
        targets: Mapping[str, str],
        extension: str = hooks.DEFAULT_EXTENSION,
    ) -> None:
        """``targets`` maps function qualnames (``f``, ``Class.method``) to Rust names.

        ``extension`` is the module the hooks import (``rust_core`` unless told otherwise).
        """
        super().__init__(context)
        self.targets = dict(targets)
        self.extension = extension
        self.scope: list[tuple[str, bool]] = []
        self.inserted: list[str] = []
        self.found: set[str] = set()
        self.audit: ModuleAudit | None = None
        self.binding = "rc"
        self.flag: str | None = None
        self.needs_import = True
        self.blocked: str | None = None
        self.future_annotations = False
        #: Targets not found in the module, and targets refused with the reason.
        self.missing: list[str] = []
        self.refused: list[str] = []

    @staticmethod
    def add_args(arg_parser: argparse.ArgumentParser) -> None:
        """For ``python -m libcst.tool codemod``: ``--target qualname=rust_name``."""
        arg_parser.add_argument(
            "--target",
            dest="targets",
            action="append",
            default=[],
            help="function=rust_name to hook (repeatable)",
        )

    def _choose_binding(self, audit: ModuleAudit) -> None:
        module_sites = [s for s in audit.imports if s.scope == "<module>" and s.binding]
        sentinel = [s for s in module_sites if s.sentinel or s.variant == "direct"]
        flagged = [s for s in module_sites if s.flags]
        if sentinel:
            self.binding, self.needs_import = sentinel[0].binding or "rc", False
        elif flagged:
            site = flagged[0]
            self.binding, self.flag, self.needs_import = site.binding or "rc", site.flags[0], False
        elif audit.imports or audit.hooks:
            variants = sorted({s.variant for s in audit.imports} | {h.variant for h in audit.hooks})
            self.blocked = (
                f"module already reaches {self.extension} through variant "
                f"{'/'.join(variants)} with no module-level binding to reuse; add the hook by hand"
            )
            self.needs_import = False

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        """Audits the module, then inserts the dispatches and, if needed, the import."""
        self.audit = analyze_module(
            tree, self.context.filename or "<module>", AuditConfig(extension=self.extension)
        )
        self.future_annotations = any(
            isinstance(small, cst.ImportFrom)
            and isinstance(small.module, cst.Name)
            and small.module.value == "__future__"
            and not isinstance(small.names, cst.ImportStar)
            and any(getattr(a.name, "value", None) == "annotations" for a in small.names)
            for statement in tree.body
            if isinstance(statement, cst.SimpleStatementLine)
            for small in statement.body
        )
        self._choose_binding(self.audit)
        if self.needs_import:
            self._choose_free_binding(tree)
        updated = super().transform_module_impl(tree)
        for name in sorted(set(self.targets) - self.found):
            self.missing.append(name)
            self.warn(f"{name}: no such function in this module")
        if self.inserted and self.needs_import:
            updated = self._add_import(updated)
        unhooked = (self.found & set(self.targets)) - self.audit.hooked_functions
        if self.blocked and not self.inserted and unhooked:
            raise SkipFile(self.blocked)
        return updated

    def _choose_free_binding(self, tree: cst.Module) -> None:
        """Binds the new import to the first candidate name the module never uses."""
        used = names_in(tree, variables_only=True)
        free = [name for name in hooks.BINDING_CANDIDATES if name not in used]
        if free:
            self.binding = free[0]
        else:
            self.blocked = (
                "every binding name insert may use ("
                + ", ".join(hooks.BINDING_CANDIDATES)
                + ") is taken in this module"
            )
            self.needs_import = False

    def refuse(self, qualname: str, reason: str) -> None:
        """Records a target that is not hooked, with the reason (also a codemod warning)."""
        self.refused.append(f"{qualname}: {reason}")
        self.warn(f"{qualname}: not hooked: {reason}")

    def _add_import(self, module: cst.Module) -> cst.Module:
        body = list(module.body)
        index = import_index(body)
        block = hooks.import_statement(self.binding, self.extension)
        if index > 0:
            block = block.with_changes(leading_lines=[cst.EmptyLine()])
        if index < len(body):
            leading = list(body[index].leading_lines)
            if not leading or leading[0].comment is not None:
                body[index] = body[index].with_changes(leading_lines=[cst.EmptyLine(), *leading])
        body.insert(index, block)
        return module.with_changes(body=body)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        """Enters a class scope."""
        self.scope.append((node.name.value, True))

    def leave_ClassDef(
        self, original_node: cst.ClassDef, updated_node: cst.ClassDef
    ) -> cst.ClassDef:
        """Leaves a class scope; a target class gets a ``__new__`` dispatch if it has none.

        A class with its own ``__new__`` had the dispatch put into it by
        :meth:`leave_FunctionDef`; one without gets the canonical constructor
        (:func:`migrate.hooks.constructor_statement`) just before ``__init__``.
        """
        qualname = ".".join(name for name, _ in self.scope)
        self.scope.pop()
        rust = self.targets.get(qualname)
        if rust is None:
            return updated_node
        self.found.add(qualname)
        assert self.audit is not None
        if f"{qualname}.__new__" in self.audit.hooked_functions:
            return updated_node
        body = updated_node.body
        if not isinstance(body, cst.IndentedBlock):
            self.warn(f"{qualname}: one-line class body; not hooked")
            return updated_node
        statements = list(body.body)
        if any(isinstance(s, cst.FunctionDef) and s.name.value == "__new__" for s in statements):
            return updated_node
        if self.blocked is not None:
            self.refuse(qualname, self.blocked)
            return updated_node
        constructor = hooks.constructor_statement(
            updated_node,
            rust,
            binding=self.binding,
            flag=self.flag,
            future_annotations=self.future_annotations,
            extension=self.extension,
        )
        at = next(
            (
                i
                for i, s in enumerate(statements)
                if isinstance(s, cst.FunctionDef) and s.name.value == "__init__"
            ),
            None,
        )
        if at is None:
            at = 1 if statements and _is_docstring(statements[0]) else 0
        if at > 0:
            constructor = constructor.with_changes(leading_lines=[cst.EmptyLine()])
        if at < len(statements) and not getattr(statements[at], "leading_lines", True):
            statements[at] = statements[at].with_changes(leading_lines=[cst.EmptyLine()])
        statements.insert(at, constructor)
        self.inserted.append(f"{qualname}.__new__")
        return updated_node.with_changes(body=body.with_changes(body=statements))

    def _unsafe(self, func: cst.FunctionDef, in_class: bool, pass_self: bool) -> str | None:
        """Why dispatching ``func`` would break it, or None when it is safe.

        The dispatch reads the module binding (and flag) by name, so a function that uses
        that name itself (a parameter or local ``rc``) would shadow it: UnboundLocalError or
        a wrong object. A method whose body reads ``self``/``cls`` needs that state, which a
        dispatch without it would silently drop.
        """
        used = names_in(func, variables_only=True)
        for name in (self.binding, self.flag):
            if name is not None and name in used:
                return (
                    f"the function uses the name {name!r} itself, which is the module's "
                    f"{self.extension} binding here; rename it first"
                )
        # A class hook's ``__new__`` builds the Rust object instead of an instance: its
        # ``cls`` only serves the Python path.
        if hooks.is_method(func, in_class) and not pass_self and func.name.value != "__new__":
            params = [*func.params.posonly_params, *func.params.params]
            if params:
                first = params[0].name.value
                body_names = names_in(func.body, variables_only=True)
                if first in body_names:
                    return (
                        f"the method uses {first!r}, which the dispatch would not pass; "
                        f"name the target RUST_NAME{hooks.PASS_SELF_SUFFIX} to pass it"
                    )
        return None

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        """Enters a function scope."""
        self.scope.append((node.name.value, False))

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        """Inserts the dispatch when this function is a target not hooked yet."""
        in_class = len(self.scope) >= 2 and self.scope[-2][1]
        qualname = ".".join(name for name, _ in self.scope)
        self.scope.pop()
        rust = self.targets.get(qualname)
        if rust is None and in_class and original_node.name.value == "__new__":
            # A target class with its own constructor: the dispatch goes into it.
            rust = self.targets.get(qualname.rpartition(".")[0])
        if rust is None:
            return updated_node
        self.found.add(qualname)
        assert self.audit is not None
        if qualname in self.audit.hooked_functions:
            return updated_node
        if self.blocked is not None:
            self.refuse(qualname, self.blocked)
            return updated_node
        body = updated_node.body
        if not isinstance(body, cst.IndentedBlock):
            self.warn(f"{qualname}: one-line body; not hooked")
            return updated_node
        finder = _YieldFinder()
        body.visit(finder)
        if finder.found:
            self.warn(f"{qualname}: generator; `return rc.f(...)` would not work, not hooked")
            return updated_node
        pass_self = rust.endswith(hooks.PASS_SELF_SUFFIX)
        rust = rust.removesuffix(hooks.PASS_SELF_SUFFIX)
        reason = self._unsafe(original_node, in_class, pass_self)
        if reason is not None:
            self.refuse(qualname, reason)
            return updated_node
        dispatch = hooks.dispatch_statement(
            original_node,
            rust,
            in_class=in_class,
            binding=self.binding,
            flag=self.flag,
            pass_self=pass_self,
        )
        statements = list(body.body)
        at = 1 if statements and _is_docstring(statements[0]) else 0
        statements.insert(at, dispatch)
        self.inserted.append(qualname)
        return updated_node.with_changes(body=body.with_changes(body=statements))

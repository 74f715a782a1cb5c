"""migrate: insert and audit ``rust_core`` fallback hooks in any Python agent source tree.

``python -m migrate insert|audit|status`` (console script ``pyagent-migrate``). The codemod
is built on ``libcst.codemod``: :class:`InsertHooksCommand` writes the canonical hook of
:mod:`migrate.hooks`; :func:`analyze_module` recognises every hook variant of
``hook-variants.md`` and the defects of :mod:`migrate.defects`. See ``docs/migrate.md``.
"""

from migrate.audit import AuditConfig, Defect, HookSite, ImportSite, ModuleAudit, analyze_module
from migrate.defects import DEFECT_KINDS, DefectKind, Example
from migrate.insert import InsertHooksCommand
from migrate.rust_exports import RustExports, read_rust_exports
from migrate.targets import HookTarget, TargetSet, parse_hook_spec, targets_from_manifest

__all__ = [
    "DEFECT_KINDS",
    "AuditConfig",
    "Defect",
    "DefectKind",
    "Example",
    "HookSite",
    "HookTarget",
    "ImportSite",
    "InsertHooksCommand",
    "ModuleAudit",
    "RustExports",
    "TargetSet",
    "analyze_module",
    "parse_hook_spec",
    "read_rust_exports",
    "targets_from_manifest",
]

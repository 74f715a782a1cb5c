"""migrate: insert and audit ``rust_core`` fallback hooks in any Python agent source tree.

``python -m pyagent.migrate insert|audit|status`` (console script ``pyagent-migrate``). The codemod
is built on ``libcst.codemod``: :class:`InsertHooksCommand` writes the canonical hook of
:mod:`migrate.hooks`; :func:`analyze_module` recognises every hook variant of
``hook-variants.md`` and the defects of :mod:`migrate.defects`. See ``docs/migrate.md``.
"""

try:
    import libcst  # noqa: F401  (the extra this subpackage needs)
except ImportError as _missing:
    raise ImportError(
        f"{__name__} needs libcst, which pyagent installs only with the extra: "
        "pip install 'pyagent[migrate]'",
        name=_missing.name,
    ) from _missing

from pyagent.migrate.audit import (
    AuditConfig,
    Defect,
    HookSite,
    ImportSite,
    ModuleAudit,
    analyze_module,
)
from pyagent.migrate.defects import DEFECT_KINDS, DefectKind, Example
from pyagent.migrate.insert import InsertHooksCommand
from pyagent.migrate.rust_exports import RustExports, read_rust_exports
from pyagent.migrate.targets import HookTarget, TargetSet, parse_hook_spec, targets_from_manifest

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

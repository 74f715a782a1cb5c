"""Renders audit and insert results as a terminal table, JSON (schema 1) or Markdown.

The JSON documents are the stable interface (documented in ``docs/migrate.md``); the table
and Markdown are for people. Keys are only ever added within a schema version.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from typing import Any

from pyagent.migrate.audit import Defect
from pyagent.migrate.runner import FileResult, RunSummary
from pyagent.migrate.rust_exports import RustExports

__all__ = [
    "SCHEMA",
    "audit_json",
    "audit_sarif",
    "fix_json",
    "insert_json",
    "render_audit",
    "render_fix",
    "render_insert",
    "table",
]

SCHEMA = 1


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain aligned text table."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table (pipes in cells escaped)."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|") or " "

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _yes(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "?"}[value]


# --- audit --------------------------------------------------------------------------------


def audit_json(
    results: Sequence[FileResult],
    summary: RunSummary,
    exports: RustExports,
    crate: Sequence[Defect],
) -> dict[str, Any]:
    """The audit document (schema 1)."""
    audits = [r.audit for r in results if r.audit is not None]
    hooks = [h for a in audits for h in a.hooks]
    defects = [*crate, *(d for a in audits for d in a.defects)]
    return {
        "schema": SCHEMA,
        "command": "audit",
        "summary": {
            **summary.to_json(),
            "imports": sum(len(a.imports) for a in audits),
            "hooks": len(hooks),
            "defects": len(defects),
            "defects_by_code": dict(sorted(Counter(d.code for d in defects).items())),
            "suppressed": sum(a.suppressed for a in audits),
            "variants": dict(sorted(Counter(i.variant for a in audits for i in a.imports).items())),
            "shapes": dict(sorted(Counter(h.shape for h in hooks).items())),
        },
        "rust": {
            "source_dir": exports.source_dir,
            "source_exports": None
            if exports.source_names is None
            else sorted(exports.source_names),
            "built_module": exports.built_file,
            "built_exports": None if exports.built_names is None else sorted(exports.built_names),
        },
        # Each defect is listed once, in the top-level list; hooks carry their codes.
        "files": [
            {
                "path": a.path,
                "imports": [i.to_json() for i in a.imports],
                "hooks": [h.to_json() for h in a.hooks],
            }
            for a in audits
            if a.imports or a.hooks
        ],
        "failures": [
            {"path": r.path, "message": r.message} for r in results if r.status == "failed"
        ],
        "defects": [d.to_json() for d in defects],
        "bridge_helpers": [h.to_json() for a in audits for h in a.bridge_helpers],
    }


def audit_sarif(document: dict[str, Any]) -> dict[str, Any]:
    """The audit's defects as SARIF 2.1.0, for code-scanning tools (GitHub, GitLab...).

    Each defect kind is a rule (its title, why and fix from :mod:`migrate.defects`); paths
    are made relative to the current folder when they are under it. A defect marked by a
    baseline carries ``baselineState`` ``unchanged`` (else ``new``).
    """
    from importlib.metadata import PackageNotFoundError, version

    from pyagent.migrate.defects import DEFECT_KINDS

    try:
        tool_version = version("pyagent")
    except PackageNotFoundError:
        tool_version = "0+unknown"
    rules = [
        {
            "id": kind.code,
            "name": kind.code.replace("-", " ").title().replace(" ", ""),
            "shortDescription": {"text": kind.title.replace("`", "")},
            "fullDescription": {"text": kind.why},
            "help": {"text": f"{kind.fix} Autofix: {kind.autofix}"},
            "defaultConfiguration": {"level": "error"},
        }
        for kind in DEFECT_KINDS
    ]
    index = {rule["id"]: i for i, rule in enumerate(rules)}

    def uri(path: str) -> str:
        relative = os.path.relpath(os.path.abspath(path))
        return (path if relative.startswith("..") else relative).replace(os.sep, "/")

    results = []
    for defect in document["defects"]:
        result: dict[str, Any] = {
            "ruleId": defect["code"],
            "ruleIndex": index[defect["code"]],
            "level": "error",
            "message": {"text": defect["message"]},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri(defect["file"])},
                        "region": {"startLine": max(1, defect["line"])},
                    }
                }
            ],
        }
        if "baseline" in defect:
            result["baselineState"] = "unchanged" if defect["baseline"] else "new"
        results.append(result)
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "pyagent-migrate",
                        "version": tool_version,
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }


def render_audit(document: dict[str, Any], fmt: str) -> str:
    """The audit document as ``table``, ``json``, ``markdown`` or ``sarif``."""
    if fmt == "json":
        return json.dumps(document, indent=2) + "\n"
    if fmt == "sarif":
        return json.dumps(audit_sarif(document), indent=2) + "\n"
    headers = [
        "location",
        "function",
        "var",
        "shape",
        "rust name",
        "exported",
        "arity",
        "exceptions",
        "fallback",
        "defects",
    ]
    rows = [
        [
            f"{h['file']}:{h['line']}",
            h["function"],
            h["variant"],
            h["shape"],
            h["rust_name"],
            _yes(h["exported"]),
            h["arity"],
            h["exception_policy"],
            h["fallback"],
            ",".join(h["defects"]) or "-",
        ]
        for f in document["files"]
        for h in f["hooks"]
    ]
    defect_rows = [
        [
            f"{d['file']}:{d['line']}",
            d["code"] + (" (baseline)" if d.get("baseline") else ""),
            d["function"] or "-",
            d["message"],
        ]
        for d in document["defects"]
    ]
    s = document["summary"]
    counts = (
        f"{s['hooks']} hooks, {s['defects']} defects; "
        f"{s['files_scanned']} files scanned, {s['files_failed']} failed "
        f"in {s['elapsed_s']:.2f}s ({s['jobs']} jobs)"
    )
    failures = [[f["path"], f["message"]] for f in document["failures"]]
    if fmt == "markdown":
        parts = ["# rust_core hook audit", "", counts, "", "## Hooks", ""]
        parts.append(markdown_table(headers, rows) if rows else "No hooks found.")
        parts += ["", "## Defects", ""]
        parts.append(
            markdown_table(["location", "code", "function", "message"], defect_rows)
            if defect_rows
            else "No defects."
        )
        if failures:
            parts += ["", "## Files that failed", "", markdown_table(["file", "error"], failures)]
        return "\n".join(parts) + "\n"
    parts = [table(headers, rows) if rows else "no hooks found"]
    if defect_rows:
        parts += ["", "defects:"] + [f"  {r[0]}: {r[1]}: {r[3]}" for r in defect_rows]
    if failures:
        parts += ["", "failed:"] + [f"  {p}: {m}" for p, m in failures]
    return "\n".join(parts) + "\n"


# --- insert -------------------------------------------------------------------------------


def insert_json(
    results: Sequence[FileResult],
    summary: RunSummary,
    mode: str,
    unsupported: Sequence[str],
    warnings: Sequence[str] = (),
) -> dict[str, Any]:
    """The insert document (schema 1)."""
    return {
        "schema": SCHEMA,
        "command": "insert",
        "mode": mode,
        "summary": {
            **summary.to_json(),
            "hooks_inserted": sum(len(r.inserted) for r in results),
            "hooks_refused": sum(len(r.refused) for r in results),
            "targets_missing": sum(len(r.missing) for r in results),
        },
        "files": [
            {
                "path": r.path,
                "status": r.status,
                "message": r.message,
                "inserted": list(r.inserted),
                "warnings": list(r.warnings),
                "missing": list(r.missing),
                "refused": list(r.refused),
            }
            for r in results
            if r.status != "unchanged" or r.warnings
        ],
        "unsupported": list(unsupported),
        "warnings": list(warnings),
    }


def render_insert(document: dict[str, Any], fmt: str) -> str:
    """The insert document as ``table``, ``json`` or ``markdown`` (diffs are printed apart)."""
    if fmt == "json":
        return json.dumps(document, indent=2) + "\n"
    rows = [
        [
            f["path"],
            f["status"],
            ", ".join(f["inserted"]) or "-",
            "; ".join([f["message"], *f["warnings"]] if f["message"] else f["warnings"]) or "-",
        ]
        for f in document["files"]
    ]
    headers = ["file", "status", "hooked", "notes"]
    if fmt == "markdown":
        body = markdown_table(headers, rows) if rows else "Nothing to change."
        return "# rust_core hook insertion\n\n" + body + "\n"
    return (table(headers, rows) + "\n") if rows else ""


# --- fix ----------------------------------------------------------------------------------


def fix_json(results: Sequence[FileResult], summary: RunSummary, mode: str) -> dict[str, Any]:
    """The fix document (schema 1): per file, what was rewritten."""
    return {
        "schema": SCHEMA,
        "command": "fix",
        "mode": mode,
        "summary": {**summary.to_json(), "fixes": sum(len(r.fixed) for r in results)},
        "files": [
            {"path": r.path, "status": r.status, "message": r.message, "fixed": list(r.fixed)}
            for r in results
            if r.status != "unchanged"
        ],
    }


def render_fix(document: dict[str, Any], fmt: str) -> str:
    """The fix document as ``table``, ``json`` or ``markdown`` (diffs are printed apart)."""
    if fmt == "json":
        return json.dumps(document, indent=2) + "\n"
    rows = [
        [f["path"], f["status"], "; ".join(f["fixed"]) or f["message"] or "-"]
        for f in document["files"]
    ]
    headers = ["file", "status", "fixes"]
    if fmt == "markdown":
        body = markdown_table(headers, rows) if rows else "Nothing to fix."
        return "# rust_core hook fixes\n\n" + body + "\n"
    return (table(headers, rows) + "\n") if rows else ""

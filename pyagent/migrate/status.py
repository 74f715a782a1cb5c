"""``migrate status``: the manifest's priority list against what the tree actually holds.

Per hot path: is each Python function hooked (audit of its pyagent module), is each Rust name
exported (crate source and built module), did parity pass and how fast is Rust, from
``build/status/parity.json`` and ``build/status/bench.json`` when they exist ("not run"
otherwise).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pyagent.migrate.audit import AuditConfig, ModuleAudit
from pyagent.migrate.report import SCHEMA, markdown_table, table
from pyagent.migrate.runner import AuditTask
from pyagent.migrate.rust_exports import RustExports

__all__ = ["load_results", "module_file", "render_status", "status_json"]


def module_file(root: Path, module: str) -> Path | None:
    """The file of dotted ``module`` under ``root`` (module or package), if it exists."""
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def load_results(path: Path) -> dict[str, Any] | None:
    """A parity/bench JSON document, or None when absent or unreadable (shown as not run)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or not isinstance(document.get("hot_paths"), list):
        return None
    return document


def _speedup(entries: list[dict[str, Any]]) -> dict[str, Any]:
    if not entries:
        return {"status": "not run", "workloads": []}
    workloads = [
        {
            "workload": e.get("workload"),
            "rust_vs_python": e.get("rust_vs_python"),
            "peer": e.get("peer"),
            "rust_vs_peer": e.get("rust_vs_peer"),
            "correct": bool(e.get("correct")),
        }
        for e in entries
    ]
    status = "measured" if all(w["correct"] for w in workloads) else "incorrect"
    return {"status": status, "workloads": workloads}


def status_json(
    manifest: Any,
    root: Path,
    exports: RustExports,
    status_dir: Path,
    config: AuditConfig | None = None,
) -> dict[str, Any]:
    """The status document (schema 1) for every hot path of ``manifest``."""
    config = config or AuditConfig(exports=exports)
    task = AuditTask(config)
    audits: dict[Path, ModuleAudit | None] = {}
    parity = load_results(status_dir / "parity.json")
    bench = load_results(status_dir / "bench.json")
    parity_by_name = {e.get("name"): e for e in (parity or {}).get("hot_paths", [])}
    bench_by_name: dict[str, list[dict[str, Any]]] = {}
    for entry in (bench or {}).get("hot_paths", []):
        # The brief names the hot path "name"; a bench that groups workloads may name the
        # group "name" and the hot path "hot_path": accept both.
        bench_by_name.setdefault(entry.get("hot_path") or entry.get("name"), []).append(entry)

    rows = []
    for order, hot_path in enumerate(manifest.hot_paths):
        file = module_file(root, hot_path.module)
        if file is not None and file not in audits:
            audits[file] = task(
                str(file.relative_to(root) if file.is_relative_to(root) else file)
            ).audit
        audit = audits.get(file) if file is not None else None
        functions = []
        for function in hot_path.functions:
            hooks = [
                h
                for h in (audit.hooks if audit else ())
                # A class is hooked through its constructor.
                if h.function in (function.python, f"{function.python}.__new__")
                and h.rust_name == function.rust
            ]
            in_source, in_built = exports.exported(function.rust)
            functions.append(
                {
                    "python": function.python,
                    "rust": function.rust,
                    "hooked": bool(hooks),
                    "shape": hooks[0].shape if hooks else None,
                    "defects": sorted({c for h in hooks for c in h.defects}),
                    "exported_source": in_source,
                    "exported_built": in_built,
                }
            )
        if file is None:
            hooked = "no module"
        else:
            count = sum(f["hooked"] for f in functions)
            hooked = "yes" if count == len(functions) else ("partial" if count else "no")
        known = [
            True in (f["exported_source"], f["exported_built"])
            for f in functions
            if (f["exported_source"], f["exported_built"]) != (None, None)
        ]
        if not known:
            rust = "unknown"
        else:
            rust = "yes" if all(known) else ("partial" if any(known) else "no")
        parity_entry = parity_by_name.get(hot_path.name)
        rows.append(
            (
                hot_path.priority,
                order,
                {
                    "name": hot_path.name,
                    "component": hot_path.component,
                    "priority": hot_path.priority,
                    "section": hot_path.section,
                    "issue": hot_path.issue,
                    "kind": hot_path.kind,
                    "migrated": hot_path.migrated,
                    "module": hot_path.module,
                    "module_file": str(file) if file else None,
                    "hooked": hooked,
                    "rust_exported": rust,
                    "functions": functions,
                    "parity": {
                        "status": parity_entry.get("status", "not run")
                        if parity_entry
                        else "not run",
                        "examples": parity_entry.get("examples") if parity_entry else None,
                        "detail": parity_entry.get("detail", "") if parity_entry else "",
                    },
                    "speedup": _speedup(bench_by_name.get(hot_path.name, [])),
                },
            )
        )
    hot_paths = [row for _, _, row in sorted(rows, key=lambda r: (r[0], r[1]))]
    return {
        "schema": SCHEMA,
        "command": "status",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "manifest": str(manifest.path),
        "rust": {"source_dir": exports.source_dir, "built_module": exports.built_file},
        "parity": _run_info(parity, status_dir / "parity.json"),
        "bench": _run_info(bench, status_dir / "bench.json"),
        "summary": {
            "hot_paths": len(hot_paths),
            "migrated": sum(h["migrated"] for h in hot_paths),
            "hooked": sum(h["hooked"] == "yes" for h in hot_paths),
            "rust_exported": sum(h["rust_exported"] == "yes" for h in hot_paths),
            "parity_passed": sum(h["parity"]["status"] == "passed" for h in hot_paths),
        },
        "hot_paths": hot_paths,
    }


def _run_info(document: dict[str, Any] | None, path: Path) -> dict[str, Any]:
    if document is None:
        return {"present": False, "path": str(path)}
    return {
        "present": True,
        "path": str(path),
        "generated_at": document.get("generated_at"),
        "commit": document.get("commit"),
    }


def _speed_cell(speedup: dict[str, Any]) -> str:
    if speedup["status"] != "measured":
        return speedup["status"]
    ratios = [w["rust_vs_python"] for w in speedup["workloads"] if w["rust_vs_python"]]
    if not ratios:
        return "measured"
    low, high = min(ratios), max(ratios)
    return f"{low:.1f}x" if low == high else f"{low:.1f}-{high:.1f}x"


def render_status(document: dict[str, Any], fmt: str) -> str:
    """The status document as ``table``, ``json`` or ``markdown``."""
    if fmt == "json":
        return json.dumps(document, indent=2) + "\n"
    headers: Sequence[str] = [
        "prio",
        "hot path",
        "component",
        "migrated",
        "hooked",
        "rust",
        "parity",
        "speedup",
    ]
    rows = [
        [
            str(h["priority"]),
            h["name"],
            h["component"],
            "yes" if h["migrated"] else "no",
            h["hooked"],
            h["rust_exported"],
            h["parity"]["status"],
            _speed_cell(h["speedup"]),
        ]
        for h in document["hot_paths"]
    ]
    s = document["summary"]
    line = (
        f"{s['hot_paths']} hot paths: {s['migrated']} migrated, {s['hooked']} hooked, "
        f"{s['rust_exported']} exported by rust_core, {s['parity_passed']} passing parity"
    )
    notes = [f"{name}: not run" for name in ("parity", "bench") if not document[name]["present"]]
    if fmt == "markdown":
        extra = "".join(f"\n- {n}" for n in notes)
        return f"# Migration status\n\n{line}\n{extra}\n\n{markdown_table(headers, rows)}\n"
    return table(headers, rows) + "\n\n" + line + ("\n" + "; ".join(notes) if notes else "") + "\n"

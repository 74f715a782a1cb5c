"""``python -m pyagent.migrate`` / ``pyagent-migrate``: insert, audit and status of rust_core hooks.

Exit status: 0 when all is well; 1 when ``insert --check`` would change a file or
``audit --strict`` found a defect; 2 for a usage error or a file that could not be read or
parsed (it is reported and left untouched).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

from pyagent.migrate.audit import AuditConfig, crate_defects
from pyagent.migrate.baseline import load_baseline, mark_baseline, write_baseline
from pyagent.migrate.hooks import DEFAULT_EXTENSION, valid_extension
from pyagent.migrate.report import (
    audit_json,
    fix_json,
    insert_json,
    render_audit,
    render_fix,
    render_insert,
)
from pyagent.migrate.runner import (
    AuditTask,
    FileResult,
    FixTask,
    InsertTask,
    Progress,
    RunSummary,
    gather_files,
    run_files,
)
from pyagent.migrate.rust_exports import RustExports, find_rust_core_dir, read_rust_exports
from pyagent.migrate.targets import TargetError, TargetSet, parse_hook_spec, targets_from_manifest

__all__ = ["main"]

_FORMATS = ("table", "json", "markdown")


def _common(parser: argparse.ArgumentParser, formats: Sequence[str] = _FORMATS) -> None:
    parser.add_argument(
        "-j", "--jobs", type=int, default=None, help="worker processes (default: CPU count)"
    )
    parser.add_argument("--format", choices=formats, default="table", help="report format")
    parser.add_argument("-o", "--output", type=Path, help="write the report here, not stdout")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress or summary line")
    parser.add_argument(
        "--include",
        action="append",
        metavar="GLOB",
        help="only files matching GLOB (repeatable; matched against the path, the path under "
        "PATH, and for a GLOB without '/' each folder name)",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        metavar="GLOB",
        help="skip files matching GLOB (repeatable; e.g. --exclude tests --exclude '*_pb2.py')",
    )


def _extension_name(value: str) -> str:
    if not valid_extension(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a module name (dotted identifiers)")
    return value


def _extension_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--extension",
        type=_extension_name,
        default=DEFAULT_EXTENSION,
        metavar="NAME",
        help=f"the extension module the hooks import (default: {DEFAULT_EXTENSION}); e.g. "
        "myagent._native to hook an agent's own extension under its own name",
    )


def _rust_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rust-core",
        type=Path,
        help="the extension's crate (default: a folder named like the extension's last "
        "component, e.g. rust_core/, beside or above the paths)",
    )
    parser.add_argument(
        "--no-rust-source", action="store_true", help="do not read the crate's Rust source"
    )
    parser.add_argument(
        "--no-built", action="store_true", help="do not import the built rust_core module"
    )
    parser.add_argument(
        "--manifest",
        type=Path,
        help="hot-path manifest (default: pyagent/hot_paths.toml); its unmigrated names "
        "are not reported as dead",
    )


_MAIN_EPILOG = """\
examples:
  pyagent-migrate audit src/ --rust-core ../rust_core     every hook, its shape and defects
  pyagent-migrate fix --diff src/                          what fix would rewrite
  pyagent-migrate insert --hook agent.cache:digest=generate_hash src/
  pyagent-migrate status                                   pyagent's hot paths

exit status: 0 fine; 1 insert/fix --check would change a file, or audit --strict found a
(new) defect; 2 usage error, a target not found or ambiguous, or (insert, fix, audit
--strict) a file that could not be read or parsed.
"""

_INSERT_EPILOG = """\
examples:
  pyagent-migrate insert --diff --hook agent.core.cache:generate_hash src/
  pyagent-migrate insert --hook src/agent/search.py:find_literal=find_literal_rust src/
  pyagent-migrate insert --hook agent.seq:Matcher.ratio='ratio(self)' src/   (passes self)
  pyagent-migrate insert --check pyagent/                  CI: exit 1 if a hook is missing

Each --hook must name exactly one file and an existing function (else exit 2). A function
that uses the binding name itself, a method that reads self/cls, a read-only file and a
module reaching rust_core only through a from-import, lazy import or bridge are refused
with the reason (exit 0). Without --hook or --manifest, pyagent's manifest is used only
when the tree has one of its modules.
"""

_AUDIT_EPILOG = """\
examples:
  pyagent-migrate audit src/ --strict                      CI: exit 1 on any defect
  pyagent-migrate audit src/ --select dead-rust-name,arity-mismatch
  pyagent-migrate audit src/ --exclude tests --format sarif -o migrate.sarif
  pyagent-migrate audit src/ --write-baseline migrate-baseline.json
  pyagent-migrate audit src/ --baseline migrate-baseline.json --strict   only new ones fail

Silence one finding with a comment on its line or on the function's def line:
  return rc.f(x)  # migrate: ignore[panic-escapes]
  def f(x):  # migrate: ignore
Defect codes: python -m pyagent.migrate docs
"""

_FIX_EPILOG = """\
examples:
  pyagent-migrate fix --diff src/                          review the rewrites
  pyagent-migrate fix src/ && pyagent-migrate audit --strict src/
  pyagent-migrate fix --check src/                         CI: exit 1 if a fix is pending

Rewrites hooks of any shape whose Rust call is a plain return to the canonical hook
(dropping swallowing try/except) and dead Rust names to the one exported spelling.
"""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pyagent")
    except PackageNotFoundError:
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="pyagent-migrate",
        description="Insert, audit and fix rust_core fallback hooks in Python agent source trees.",
        epilog=_MAIN_EPILOG,
        formatter_class=raw,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    insert = sub.add_parser(
        "insert",
        help="add the canonical hook to named functions",
        epilog=_INSERT_EPILOG,
        formatter_class=raw,
    )
    insert.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    source = insert.add_mutually_exclusive_group()
    source.add_argument("--manifest", type=Path, help="hot-path manifest (default: pyagent's)")
    source.add_argument(
        "--hook",
        action="append",
        default=[],
        metavar="MODULE:FUNCTION=RUST_NAME",
        help="hook this function (repeatable); MODULE is dotted or a file path; "
        "RUST_NAME(self) passes a method's self",
    )
    mode = insert.add_mutually_exclusive_group()
    mode.add_argument("--diff", action="store_true", help="print a unified diff, write nothing")
    mode.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file would change"
    )
    _extension_option(insert)
    _common(insert)

    audit = sub.add_parser(
        "audit",
        help="report every hook, its shape and its defects",
        epilog=_AUDIT_EPILOG,
        formatter_class=raw,
    )
    audit.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    audit.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 if a defect (not in the baseline) is found, 2 if a file failed",
    )
    audit.add_argument(
        "--select", action="append", metavar="CODES", help="report only these defect codes"
    )
    audit.add_argument(
        "--ignore", action="append", metavar="CODES", help="do not report these defect codes"
    )
    audit.add_argument(
        "--baseline", type=Path, metavar="FILE", help="defects in FILE are known: not new"
    )
    audit.add_argument(
        "--write-baseline", type=Path, metavar="FILE", help="record today's defects in FILE"
    )
    _extension_option(audit)
    _rust_options(audit)
    _common(audit, (*_FORMATS, "sarif"))

    fix = sub.add_parser(
        "fix",
        help="rewrite the defects that have a mechanical fix (canonical hook, names)",
        epilog=_FIX_EPILOG,
        formatter_class=raw,
    )
    fix.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    fix_mode = fix.add_mutually_exclusive_group()
    fix_mode.add_argument("--diff", action="store_true", help="print a unified diff, write nothing")
    fix_mode.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file would change"
    )
    _extension_option(fix)
    _rust_options(fix)
    _common(fix)

    status = sub.add_parser("status", help="the manifest's hot paths: hooked, exported, parity")
    status.add_argument("--root", type=Path, default=Path("."), help="repository root")
    status.add_argument(
        "--status-dir",
        type=Path,
        help="where parity.json / bench.json live (default: ROOT/build/status)",
    )
    _rust_options(status)
    status.add_argument("--format", choices=_FORMATS, default="table", help="report format")
    status.add_argument("-o", "--output", type=Path, help="write the report here, not stdout")

    sub.add_parser("docs", help="print the defect reference generated for docs/migrate.md")
    return parser


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")


def _exports(args: argparse.Namespace, paths: Sequence[Path]) -> RustExports:
    extension = getattr(args, "extension", DEFAULT_EXTENSION)
    rust_dir = None
    if not args.no_rust_source:
        rust_dir = args.rust_core or find_rust_core_dir(paths, extension.rpartition(".")[2])
    return read_rust_exports(rust_dir, use_built=not args.no_built, module_name=extension)


def _pending(manifest: Path | None) -> frozenset[str]:
    from pyagent.manifest import load_manifest

    loaded = load_manifest(manifest)
    return frozenset(name for h in loaded.hot_paths if not h.migrated for name in h.rust_names)


def _resolve_targets(args: argparse.Namespace, targets: TargetSet, files: list[str]) -> list[str]:
    """Why the targets cannot be used on ``files`` (empty when they can).

    Every ``--hook`` must name exactly one file; a module name matching two files is
    ambiguous for any source. A manifest may list modules the tree does not have (yet),
    but not one of them matching is a foreign tree, not a run to do silently.
    """
    problems = []
    for target, found in targets.matched_files(files).items():
        if len(found) > 1:
            problems.append(
                f"{target.label}: {target.module} matches {len(found)} files ("
                + ", ".join(found)
                + "); name one by its file path or a longer dotted path"
            )
        elif not found and args.hook:
            problems.append(f"{target.label}: no file under the given paths is {target.module}")
    if not args.hook and targets.targets and not any(targets.matched_files(files).values()):
        if args.manifest is None:
            problems.append(
                "no --hook given, and no file under the given paths is a module of "
                "pyagent's manifest (pyagent/hot_paths.toml): name the functions to hook "
                "with --hook MODULE:FUNCTION[=RUST_NAME], or give --manifest FILE"
            )
        else:
            problems.append(f"no file under the given paths is a module of {args.manifest}")
    return problems


def _insert(args: argparse.Namespace) -> int:
    try:
        if args.hook:
            targets = TargetSet(tuple(parse_hook_spec(spec) for spec in args.hook))
        else:
            targets = targets_from_manifest(args.manifest)
        files = gather_files(args.paths, include=args.include, exclude=args.exclude)
    except (TargetError, FileNotFoundError, ValueError) as exc:
        print(f"migrate insert: {exc}", file=sys.stderr)
        return 2
    problems = _resolve_targets(args, targets, files)
    for problem in problems:
        print(f"migrate insert: error: {problem}", file=sys.stderr)
    if problems:
        return 2
    if not args.hook and args.manifest is None and not args.quiet:
        print("migrate insert: hooking the functions of pyagent's manifest", file=sys.stderr)
    shared = [
        f"several functions dispatch to rust_core.{rust}: {', '.join(labels)}; "
        "give each its own RUST_NAME"
        for rust, labels in sorted(targets.shared_rust_names().items())
    ]
    for warning in shared:
        print(f"migrate insert: warning: {warning}", file=sys.stderr)
    mode = "check" if args.check else ("diff" if args.diff else "write")
    progress = Progress(len(files), enabled=None if not args.quiet else False)
    results, summary = run_files(
        InsertTask(targets, mode, args.extension), files, jobs=args.jobs, progress=progress
    )
    if mode == "diff":
        for result in results:
            sys.stdout.write(result.diff)
    document = insert_json(results, summary, mode, targets.unsupported, shared)
    report = render_insert(document, args.format)
    if report and (args.format == "json" or mode != "diff" or args.output):
        _emit(report, args.output)
    elif report:
        sys.stderr.write(report)
    # A --hook names a function that must be there; a manifest may list ones still to come.
    missing = [f"{r.path}: {name}: no such function" for r in results for name in r.missing]
    for line in missing:
        print(f"migrate insert: {'error' if args.hook else 'note'}: {line}", file=sys.stderr)
    for result in results:
        for refusal in result.refused:
            print(f"migrate insert: refused: {result.path}: {refusal}", file=sys.stderr)
    if not args.quiet:
        label = "would change" if mode in ("check", "diff") else "changed"
        print(f"migrate insert: {summary.line(label)}", file=sys.stderr)
    if summary.failed or (missing and args.hook):
        return 2
    return 1 if mode == "check" and summary.changed else 0


def _audit_bridge_callers(
    config: AuditConfig, results: list[FileResult], summary: RunSummary, jobs: int | None
) -> tuple[list[FileResult], RunSummary]:
    """Audits again the files that call a bridge helper found elsewhere in the tree.

    ``get_bridge()._try_rust_call("f_rust", ...)`` in one module reaches Rust through a
    helper defined in another, so the first pass collects the helpers and this second pass
    re-reads only the files that mention one of their names.
    """
    helpers = tuple(h for r in results if r.audit for h in r.audit.bridge_helpers)
    if not helpers:
        return results, summary
    needles = {h.name.encode() for h in helpers}
    callers = []
    for result in results:
        if result.status == "failed":
            continue
        with contextlib.suppress(OSError):
            if any(n in Path(result.path).read_bytes() for n in needles):
                callers.append(result.path)
    config = dataclasses.replace(config, bridge_helpers=helpers)
    again, second = run_files(
        AuditTask(config), callers, jobs=jobs, progress=Progress(0, enabled=False)
    )
    by_path = {r.path: r for r in again}
    merged = [by_path.get(r.path, r) for r in results]
    return merged, RunSummary.of(merged, summary.elapsed_s + second.elapsed_s, summary.jobs)


def _codes(values: list[str] | None, option: str) -> frozenset[str] | None:
    """Defect codes of ``--select`` / ``--ignore`` (comma-separated, repeatable)."""
    if not values:
        return None
    from pyagent.migrate.defects import DEFECT_KINDS

    codes = frozenset(c.strip() for v in values for c in v.split(",") if c.strip())
    unknown = codes - {k.code for k in DEFECT_KINDS}
    if unknown:
        raise ValueError(f"{option}: unknown defect code(s) {', '.join(sorted(unknown))}")
    return codes


def _audit(args: argparse.Namespace) -> int:
    try:
        files = gather_files(args.paths, include=args.include, exclude=args.exclude)
        pending = _pending(args.manifest)
        select = _codes(args.select, "--select")
        ignore = _codes(args.ignore, "--ignore") or frozenset()
        baseline = load_baseline(args.baseline) if args.baseline else None
    except (FileNotFoundError, ValueError) as exc:
        print(f"migrate audit: {exc}", file=sys.stderr)
        return 2
    exports = _exports(args, args.paths)
    config = AuditConfig(
        exports=exports, pending=pending, select=select, ignore=ignore, extension=args.extension
    )
    progress = Progress(len(files), enabled=None if not args.quiet else False)
    results, summary = run_files(AuditTask(config), files, jobs=args.jobs, progress=progress)
    results, summary = _audit_bridge_callers(config, results, summary, args.jobs)
    crate = [d for d in crate_defects(exports) if config.wants(d.code)]
    document = audit_json(results, summary, exports, crate)
    new = document["summary"]["defects"]
    if baseline is not None:
        new = mark_baseline(document["defects"], baseline, args.baseline)
        document["summary"]["defects_new"] = new
    if args.write_baseline:
        written = write_baseline(args.write_baseline, document["defects"])
        print(f"migrate audit: {written} defects written to {args.write_baseline}", file=sys.stderr)
    _emit(render_audit(document, args.format), args.output)
    if not args.quiet:
        s = document["summary"]
        known = f" ({s['defects'] - new} in the baseline)" if baseline is not None else ""
        print(
            f"migrate audit: {s['hooks']} hooks, {s['defects']} defects{known}, "
            f"{s['suppressed']} suppressed; {summary.line(None)}",
            file=sys.stderr,
        )
    # An unreadable or unparsable file is reported; only --strict makes it fail the run.
    if summary.failed and args.strict:
        return 2
    return 1 if args.strict and new else 0


def _audit_config(args: argparse.Namespace, files: list[str]) -> AuditConfig:
    """Exports and pending names, plus the bridge helpers of the whole tree (a first pass)."""
    config = AuditConfig(
        exports=_exports(args, args.paths),
        pending=_pending(args.manifest),
        extension=args.extension,
    )
    results, _ = run_files(
        AuditTask(config), files, jobs=args.jobs, progress=Progress(0, enabled=False)
    )
    helpers = tuple(h for r in results if r.audit for h in r.audit.bridge_helpers)
    return dataclasses.replace(config, bridge_helpers=helpers)


def _fix(args: argparse.Namespace) -> int:
    try:
        files = gather_files(args.paths, include=args.include, exclude=args.exclude)
        config = _audit_config(args, files)
    except (FileNotFoundError, ValueError) as exc:
        print(f"migrate fix: {exc}", file=sys.stderr)
        return 2
    mode = "check" if args.check else ("diff" if args.diff else "write")
    progress = Progress(len(files), enabled=None if not args.quiet else False)
    results, summary = run_files(FixTask(config, mode), files, jobs=args.jobs, progress=progress)
    if mode == "diff":
        for result in results:
            sys.stdout.write(result.diff)
    report = render_fix(fix_json(results, summary, mode), args.format)
    if report and (args.format == "json" or mode != "diff" or args.output):
        _emit(report, args.output)
    elif report:
        sys.stderr.write(report)
    if not args.quiet:
        label = "would change" if mode in ("check", "diff") else "changed"
        print(f"migrate fix: {summary.line(label)}", file=sys.stderr)
    if summary.failed:
        return 2
    return 1 if mode == "check" and summary.changed else 0


def _status(args: argparse.Namespace) -> int:
    from pyagent.manifest import load_manifest
    from pyagent.migrate.status import render_status, status_json

    root = args.root.resolve()
    manifest = load_manifest(args.manifest)
    if args.rust_core is None and not args.no_rust_source and (root / "rust_core").is_dir():
        args.rust_core = root / "rust_core"
    exports = _exports(args, [root])
    config = AuditConfig(exports=exports, pending=_pending(args.manifest))
    status_dir = args.status_dir or root / "build" / "status"
    document = status_json(manifest, root, exports, status_dir, config)
    _emit(render_status(document, args.format), args.output)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m pyagent.migrate`` and the ``pyagent-migrate`` console script."""
    args = build_parser().parse_args(argv)
    if args.command == "insert":
        return _insert(args)
    if args.command == "audit":
        return _audit(args)
    if args.command == "status":
        return _status(args)
    if args.command == "fix":
        return _fix(args)
    from pyagent.migrate.defects import render_markdown

    sys.stdout.write(render_markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())

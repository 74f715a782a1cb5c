"""Runs insert or audit over many files in parallel, with per-file result types.

Like libcst's own parallel runner (``libcst.codemod._cli``) each file is one task whose
outcome is a value (changed, unchanged, skipped, failed) summed into a final summary; unlike
it, writes are atomic (:func:`pyagent.base_core.save_atomic`, owner kept), a file that
fails to parse is reported and left untouched, and the audit's findings travel back to the
parent as data.

Tasks are module-level classes holding only picklable data, handed to each worker once by
the pool initializer.
"""

from __future__ import annotations

import difflib
import errno
import fnmatch
import os
import re
import stat
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

import libcst as cst
import rich.progress
from libcst.codemod import CodemodContext, SkipFile
from rich.console import Console

from pyagent.base_core import save_atomic
from pyagent.migrate.audit import AuditConfig, ModuleAudit, analyze_module
from pyagent.migrate.fix import FixHooksCommand
from pyagent.migrate.insert import InsertHooksCommand
from pyagent.migrate.targets import TargetSet

__all__ = [
    "AuditTask",
    "FileResult",
    "FixTask",
    "InsertTask",
    "Progress",
    "RunSummary",
    "gather_files",
    "run_files",
    "write_atomic",
]

#: Files containing this marker are generated code and are skipped, as libcst does.
GENERATED_MARKER = "@" + "generated"
_SKIP_DIRS = frozenset(
    {"__pycache__", "node_modules", "target", "site-packages", "venv", ".venv", "build"}
)


@dataclass(frozen=True)
class FileResult:
    """The outcome of one file: ``changed``, ``unchanged``, ``skipped`` or ``failed``."""

    path: str
    status: str
    message: str = ""
    diff: str = ""
    warnings: tuple[str, ...] = ()
    inserted: tuple[str, ...] = ()
    audit: ModuleAudit | None = None
    #: insert: targets with no such function in the file, and targets refused with why.
    missing: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()
    #: fix: one line per rewrite.
    fixed: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunSummary:
    """Counts over a run: what the final summary line prints."""

    scanned: int
    changed: int
    unchanged: int
    skipped: int
    failed: int
    elapsed_s: float
    jobs: int

    @classmethod
    def of(cls, results: Sequence[FileResult], elapsed: float, jobs: int) -> RunSummary:
        """Sums per-file results."""
        count = {s: 0 for s in ("changed", "unchanged", "skipped", "failed")}
        for result in results:
            count[result.status] += 1
        return cls(len(results), **count, elapsed_s=round(elapsed, 3), jobs=jobs)

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form."""
        return {
            "files_scanned": self.scanned,
            "files_changed": self.changed,
            "files_unchanged": self.unchanged,
            "files_skipped": self.skipped,
            "files_failed": self.failed,
            "elapsed_s": self.elapsed_s,
            "jobs": self.jobs,
        }

    def line(self, changed_label: str | None = "changed") -> str:
        """One human line, e.g. ``12 files scanned, 1 changed, 0 skipped, 0 failed in 0.4s``."""
        changed = f"{self.changed} {changed_label}, " if changed_label else ""
        return (
            f"{self.scanned} files scanned, {changed}"
            f"{self.skipped} skipped, {self.failed} failed in {self.elapsed_s:.2f}s "
            f"({self.jobs} job{'s' if self.jobs != 1 else ''})"
        )


class Task(Protocol):
    """What a worker runs on one file."""

    def __call__(self, path: str) -> FileResult: ...


def write_atomic(path: Path, data: bytes) -> None:
    """Replaces ``path`` with ``data`` so a reader sees the old or the new file, never half.

    The write is :func:`pyagent.base_core.save_atomic` (temporary file in the same folder,
    fsynced, renamed over the target, the folder fsynced; a symbolic link is written
    through; leftovers of killed writers are cleaned up). What a codemod needs on top: the
    rewritten source keeps its owner and group. save_atomic leaves the new file to the
    writer (right for state files), so when the owner differs it is given back afterwards
    (``os.chown``); when that cannot work (not root, and the file is not ours or its group
    is not one of ours) a PermissionError is raised before anything is written, so the
    file is left as it was. Permission bits are kept by save_atomic (setuid and setgid
    dropped, as any write by a non-root user drops them).
    """
    before = path.stat()
    owner = (before.st_uid, before.st_gid)
    euid = os.geteuid()
    if euid != 0 and (
        before.st_uid != euid or before.st_gid not in {os.getegid(), *os.getgroups()}
    ):
        raise PermissionError(
            errno.EPERM, "cannot keep the file's owner and group after rewriting it", str(path)
        )
    save_atomic(path, data)
    after = path.stat()
    if (after.st_uid, after.st_gid) != owner:
        os.chown(path, *owner)


def _unified_diff(path: str, old: bytes, new: bytes, encoding: str) -> str:
    # ``a/`` + an absolute path would read ``a//tmp/...``; patch -p1 wants one slash.
    path = path.lstrip("/")
    return "".join(
        difflib.unified_diff(
            old.decode(encoding).splitlines(keepends=True),
            new.decode(encoding).splitlines(keepends=True),
            fromfile=f"a/{path}",
            tofile=f"b/{path}",
        )
    )


_PARSER_POSITION_RE = re.compile(r"^(?:parser error: )?error at (\d+):(\d+): ")


def syntax_error_message(exc: cst.ParserSyntaxError, data: bytes | None = None) -> str:
    """``line L, column C: what`` for a file libcst cannot parse.

    libcst's summary (``Syntax Error @ 1:1``) often points at the start of the statement or
    file; the native parser's own message carries the real position, and when even that is
    missing Python's compiler is asked (it also says when only libcst rejects the file).
    """
    detail = exc.message.strip()
    line, column = exc.raw_line, exc.raw_column + 1
    found = _PARSER_POSITION_RE.match(detail)
    if found:
        line, column = int(found.group(1)), int(found.group(2)) + 1
        detail = detail[found.end() :]
    elif data is not None and (line, column) == (1, 1):
        try:
            compile(data, "<file>", "exec", dont_inherit=True)
            detail = f"{detail} (Python itself compiles the file; only libcst rejects it)"
        except SyntaxError as err:
            line, column = err.lineno or line, err.offset or column
            detail = err.msg
        except ValueError:
            pass
    if len(detail) > 200:
        detail = detail[:197] + "..."
    return f"line {line}, column {column}: {detail}"


def _parse(path: str, data: bytes) -> cst.Module | FileResult:
    try:
        return cst.parse_module(data)
    except cst.ParserSyntaxError as exc:
        return FileResult(path, "failed", f"cannot parse: {syntax_error_message(exc, data)}")
    except Exception as exc:  # tokenizer / encoding errors surface as other types
        return FileResult(path, "failed", f"cannot parse: {type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class InsertTask:
    """``migrate insert`` on one file: mode ``write``, ``diff`` or ``check``."""

    targets: TargetSet
    mode: str = "write"
    #: The extension module the hooks import (``--extension NAME``).
    extension: str = "rust_core"

    def __call__(self, path: str) -> FileResult:
        """Hooks the target functions of ``path``; writes only in ``write`` mode."""
        targets = self.targets.for_file(path)
        if not targets:
            return FileResult(path, "unchanged")
        old = Path(path).read_bytes()
        if GENERATED_MARKER.encode() in old:
            return FileResult(path, "skipped", "generated file")
        tree = _parse(path, old)
        if isinstance(tree, FileResult):
            return tree
        context = CodemodContext(filename=path)
        command = InsertHooksCommand(context, targets, self.extension)
        try:
            new_tree = command.transform_module(tree)
        except SkipFile as exc:
            return FileResult(
                path,
                "skipped",
                str(exc),
                warnings=tuple(context.warnings),
                missing=tuple(command.missing),
                refused=tuple(command.refused),
            )
        except Exception as exc:
            return FileResult(path, "failed", f"{type(exc).__name__}: {exc}")
        new = new_tree.bytes
        warnings = tuple(context.warnings)
        missing, refused = tuple(command.missing), tuple(command.refused)
        if new == old:
            return FileResult(
                path, "unchanged", warnings=warnings, missing=missing, refused=refused
            )
        status, message, diff = _apply_change(path, old, new, new_tree.encoding, self.mode)
        read_only: tuple[str, ...] = ()
        if status == "skipped":
            read_only = tuple(f"{name}: the file is read-only" for name in command.inserted)
        return FileResult(
            path,
            status,
            message,
            diff=diff,
            warnings=warnings,
            inserted=tuple(command.inserted) if status == "changed" else (),
            missing=missing,
            refused=refused + read_only,
        )


def _apply_change(
    path: str, old: bytes, new: bytes, encoding: str, mode: str
) -> tuple[str, str, str]:
    """Writes (``write``), diffs (``diff``) or only notes (``check``) a changed file.

    Returns ``(status, message, diff)``: ``changed``, or ``skipped`` for a read-only file
    (a read-only file says "do not edit me"; root could write it anyway, so the bits are
    checked rather than trusting the write to fail), or ``failed`` when writing failed.
    """
    if not os.stat(path).st_mode & stat.S_IWUSR:
        return "skipped", "read-only file: not rewritten (make it writable to change it)", ""
    if mode == "diff":
        return "changed", "", _unified_diff(path, old, new, encoding)
    if mode == "write":
        try:
            write_atomic(Path(path), new)
        except OSError as exc:
            return "failed", f"cannot write: {exc}", ""
    return "changed", "", ""


@dataclass(frozen=True)
class FixTask:
    """``migrate fix`` on one file: mode ``write``, ``diff`` or ``check``."""

    config: AuditConfig = field(default_factory=AuditConfig)
    mode: str = "write"

    def __call__(self, path: str) -> FileResult:
        """Rewrites the defects of ``path`` that have a mechanical fix."""
        try:
            old = Path(path).read_bytes()
        except OSError as exc:
            return FileResult(path, "failed", f"cannot read: {exc}")
        if not any(needle in old for needle in _needles(self.config)):
            return FileResult(path, "unchanged")
        if GENERATED_MARKER.encode() in old:
            return FileResult(path, "skipped", "generated file")
        tree = _parse(path, old)
        if isinstance(tree, FileResult):
            return tree
        command = FixHooksCommand(CodemodContext(filename=path), self.config)
        try:
            new_tree = command.transform_module(tree)
        except Exception as exc:
            return FileResult(path, "failed", f"{type(exc).__name__}: {exc}")
        new = new_tree.bytes
        if new == old:
            return FileResult(path, "unchanged")
        status, message, diff = _apply_change(path, old, new, new_tree.encoding, self.mode)
        fixed = tuple(command.fixed) if status == "changed" else ()
        return FileResult(path, status, message, diff=diff, fixed=fixed)


def _needles(config: AuditConfig) -> list[bytes]:
    """Bytes one of which a file must contain to be worth parsing for hooks."""
    return [
        # The last component: ``pkg._native`` may be imported as ``from pkg import _native``.
        config.extension.rpartition(".")[2].encode(),
        *(n.encode() for n in config.bridge_methods),
        *(h.name.encode() for h in config.bridge_helpers),
    ]


@dataclass(frozen=True)
class AuditTask:
    """``migrate audit`` on one file."""

    config: AuditConfig = field(default_factory=AuditConfig)

    def __call__(self, path: str) -> FileResult:
        """Audits ``path``; files never naming the extension or a bridge are not parsed."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            return FileResult(path, "failed", f"cannot read: {exc}")
        if not any(needle in data for needle in _needles(self.config)):
            return FileResult(path, "unchanged", audit=ModuleAudit(path))
        tree = _parse(path, data)
        if isinstance(tree, FileResult):
            return tree
        try:
            audit = analyze_module(tree, path, self.config)
        except Exception as exc:
            return FileResult(path, "failed", f"{type(exc).__name__}: {exc}")
        return FileResult(path, "unchanged", audit=audit)


def _glob_hit(path: str, relative: str, patterns: Sequence[str]) -> bool:
    """True when a pattern matches the path, its part under the given root, or a component.

    A pattern without ``/`` is also matched against each folder and file name, so
    ``tests`` drops every ``tests/`` folder.
    """
    parts = Path(relative).parts
    for pattern in patterns:
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(relative, pattern):
            return True
        if "/" not in pattern and any(fnmatch.fnmatch(part, pattern) for part in parts):
            return True
    return False


def gather_files(
    paths: Iterable[str | Path],
    *,
    include: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
) -> list[str]:
    """Every ``.py`` file under ``paths`` (files are taken as given), sorted, no duplicates.

    Hidden folders, ``__pycache__``, virtualenvs and build output are not descended into.
    Paths are kept relative to the cwd when given relative, for readable reports.
    ``include`` globs keep only the files one matches; ``exclude`` globs drop files (see
    :func:`_glob_hit` for what a glob is matched against).
    """
    include, exclude = list(include or ()), list(exclude or ())
    found: set[str] = set()

    def keep(path: str, relative: str) -> bool:
        if include and not _glob_hit(path, relative, include):
            return False
        return not (exclude and _glob_hit(path, relative, exclude))

    for raw in paths:
        path = Path(raw)
        if path.is_file():
            normal = os.path.normpath(str(path))
            if keep(normal, path.name):
                found.add(normal)
            continue
        if not path.is_dir():
            raise FileNotFoundError(f"no such file or folder: {raw}")
        for folder, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
            for name in files:
                if not name.endswith(".py"):
                    continue
                full = os.path.normpath(os.path.join(folder, name))
                if keep(full, os.path.relpath(full, path)):
                    found.add(full)
    return sorted(found)


class Progress:
    """A progress bar (rich) on stderr with files done, time and ETA; only on a terminal.

    Piped or redirected, nothing is drawn, so reports and logs stay plain text. The bar is
    transient: :meth:`clear` removes it before the summary line is printed.
    """

    def __init__(self, total: int, stream: TextIO | None = None, enabled: bool | None = None):
        self.stream = stream or sys.stderr
        self.total = total
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.started = time.monotonic()
        self.last = 0.0
        self._bar: rich.progress.Progress | None = None
        self._task: rich.progress.TaskID | None = None

    def _start(self) -> rich.progress.Progress:
        console = Console(file=self.stream, force_terminal=True, highlight=False)
        bar = rich.progress.Progress(
            rich.progress.TextColumn("[bold]migrate[/]"),
            rich.progress.BarColumn(bar_width=30),
            rich.progress.TextColumn("{task.fields[line]}"),
            console=console,
            transient=True,
            auto_refresh=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task = bar.add_task("files", total=max(self.total, 1), line="")
        bar.start()
        self._bar = bar
        return bar

    def update(self, done: int) -> None:
        """Redraws the bar at most ten times a second, and always for the last file."""
        if not self.enabled:
            return
        now = time.monotonic()
        if done < self.total and now - self.last < 0.1:
            return
        self.last = now
        elapsed = now - self.started
        eta = ""
        if 0 < done < self.total:
            eta = f", ETA {elapsed / done * (self.total - done):.0f}s"
        bar = self._bar or self._start()
        assert self._task is not None
        line = f"{done}/{self.total} files {elapsed:.1f}s{eta}"
        bar.update(self._task, completed=done, line=line)
        bar.refresh()

    def clear(self) -> None:
        """Erases the progress bar."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


_TASK: Callable[[str], FileResult] | None = None


def _init_worker(task: Callable[[str], FileResult]) -> None:
    global _TASK
    _TASK = task


def _run_one(path: str) -> FileResult:
    assert _TASK is not None
    return _TASK(path)


def run_files(
    task: Callable[[str], FileResult],
    files: Sequence[str],
    *,
    jobs: int | None = None,
    progress: Progress | None = None,
) -> tuple[list[FileResult], RunSummary]:
    """Runs ``task`` on every file, in ``jobs`` processes; results come back in file order.

    ``jobs`` defaults to the CPU count; small runs (or ``jobs=1``) stay in this process,
    where forking would cost more than it saves.
    """
    started = time.monotonic()
    jobs = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
    jobs = min(jobs, max(1, len(files) // 8))
    progress = progress or Progress(len(files))
    results: list[FileResult] = []
    try:
        if jobs == 1:
            for path in files:
                results.append(task(path))
                progress.update(len(results))
        else:
            chunksize = max(1, min(64, len(files) // (jobs * 8)))
            cst.parse_module("")  # warm the parser before forking, as libcst does
            with ProcessPoolExecutor(
                max_workers=jobs, initializer=_init_worker, initargs=(task,)
            ) as pool:
                for result in pool.map(_run_one, files, chunksize=chunksize):
                    results.append(result)
                    progress.update(len(results))
    finally:
        progress.clear()
    return results, RunSummary.of(results, time.monotonic() - started, jobs)

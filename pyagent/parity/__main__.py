"""``python -m pyagent.parity``: run every parity property and print the table as rows finish.

Each hot path runs in a child process of its own, so an abort, a segfault, a hang or a
memory blow-up in one row fails that row only (with the signal or the limit it hit) and the
run goes on. Two rows run at a time by default (``--jobs``). Each row reports its examples
(Hypothesis inputs summed over the hot path's properties), its seconds and its child's peak
memory.

Exit status 1 on any mismatch or crashed row, on a hot path that rust_core exports without
a property, or on a manifest ``migrated`` flag that disagrees with the built extension.
Results go to ``build/status/parity.json`` (``--json``); a run of some rows (``--only``)
updates those rows of the saved result and marks them, leaving the others as they were.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import rich.progress
from rich.console import Console
from rich.text import Text

from pyagent.manifest import HotPath, has_rust_name, load_manifest
from pyagent.parity.profiles import PROFILE_ENV, load_profile
from pyagent.parity.registry import PropertyResult, registered, run_property
from pyagent.parity.results import git_commit, write_results

DEFAULT_JSON = Path("build/status/parity.json")
#: Per-row limits: a row past them is killed and reported failed with the limit it hit.
DEFAULT_TIMEOUT = {"quick": 900.0, "thorough": 7200.0}
DEFAULT_MEMORY_MIB = 4096
#: Environment variable naming extra modules whose properties register in every row (for
#: the harness's own tests, e.g. a property that aborts on purpose).
EXTRA_ENV = "PARITY_EXTRA_PROPERTIES"


def _static_row(hot_path: HotPath, rust_core: object, properties: set[str]) -> dict[str, Any]:
    """The row of a hot path whose status is known without running it; status "" if not."""
    exported = rust_core is not None and all(
        has_rust_name(rust_core, n) for n in hot_path.rust_names
    )
    row: dict[str, Any] = {
        "name": hot_path.name,
        "component": hot_path.component,
        "status": "",
        "examples": 0,
        "seconds": 0.0,
        "peak_mib": None,
        "detail": "",
    }
    if not exported:
        if hot_path.migrated:
            row.update(status="failed", detail="manifest says migrated; rust_core lacks it")
        else:
            row.update(status="not migrated", detail=f"issue #{hot_path.issue}")
    elif not hot_path.migrated:
        row.update(status="failed", detail="rust_core exports it; manifest says not migrated")
    elif hot_path.name not in properties:
        row.update(status="no property", detail="exported by rust_core but no parity property")
    return row


def _import_extras() -> None:
    import importlib

    for name in filter(None, os.environ.get(EXTRA_ENV, "").split(",")):
        importlib.import_module(name)


def _run_child(name: str, out: Path) -> int:
    """The child side: runs one hot path's properties and writes the result to ``out``."""
    registered()
    _import_extras()
    result: PropertyResult = run_property(name)
    out.write_text(
        json.dumps(
            {
                "passed": result.passed,
                "examples": result.examples,
                "seconds": round(result.seconds, 3),
                "detail": result.detail,
            }
        ),
        encoding="utf-8",
    )
    return 0


class _Child:
    """One row's child process, with its limits."""

    def __init__(self, row: dict[str, Any], profile: str, timeout: float, memory_mib: int):
        self.row = row
        self.timeout = timeout
        handle, path = tempfile.mkstemp(prefix="parity-row-", suffix=".json")
        os.close(handle)
        self.out = Path(path)
        limit = memory_mib * 2**20

        def limits() -> None:  # runs in the child, before exec
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

        env = {**os.environ, PROFILE_ENV: profile}
        # Output goes to a file, not a pipe: a chatty failing row must never block on a full
        # pipe and be reported as a hang.
        self.log = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115 - closed in _finish
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pyagent.parity",
                "--child",
                row["name"],
                "--row-out",
                str(self.out),
            ],
            env=env,
            preexec_fn=limits,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.memory_mib = memory_mib

    def poll(self) -> dict[str, Any] | None:
        """The finished row, or None while the child runs (killed past its time limit)."""
        elapsed = time.perf_counter() - self.started
        pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
        if pid == 0:
            if elapsed <= self.timeout:
                return None
            self.process.kill()
            _, status, usage = os.wait4(self.process.pid, 0)
            killed: str | None = f"timed out after {self.timeout:.0f} s (killed)"
        else:
            killed = None
        # Reaped here with its own rusage, so Popen must not wait for it again.
        self.process.returncode = os.waitstatus_to_exitcode(status)
        return self._finish(elapsed, killed, usage.ru_maxrss / 1024)

    def _finish(self, elapsed: float, killed: str | None, peak_mib: float) -> dict[str, Any]:
        self.log.seek(0)
        output = self.log.read()
        self.log.close()
        row = dict(self.row)
        row["seconds"] = round(elapsed, 3)
        row["peak_mib"] = round(peak_mib, 1)
        code = self.process.returncode
        try:
            result = json.loads(self.out.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            result = None
        finally:
            self.out.unlink(missing_ok=True)
        if killed is None and result is not None and code == 0:
            row.update(
                status="passed" if result["passed"] else "failed",
                examples=result["examples"],
                detail=result["detail"],
            )
            return row
        if killed is not None:
            reason = killed
        elif code is not None and code < 0:
            reason = f"child killed by {signal.Signals(-code).name}"
        else:
            reason = f"child exited with status {code}"
        if "MemoryError" in output:
            reason += f" (memory limit {self.memory_mib} MiB)"
        tail = " | ".join(output.strip().splitlines()[-3:])
        row.update(status="failed", detail=f"{reason}: {tail}" if tail else reason)
        return row


#: Colours of the result column on a terminal.
_STATUS_STYLE = {
    "passed": "green",
    "failed": "bold red",
    "no property": "bold red",
    "not migrated": "yellow",
}


class _Table:
    """Prints the table's lines: plain text when stdout is piped, coloured on a terminal.

    Piped (CI logs, ``| tee``), every line is exactly the plain text, with no escape codes
    and no wrapping. On a terminal the result column is coloured, and a transient line
    under the table names the rows still running, their time so far and how many rows are
    done (rich), so a long row is never mistaken for a hang.
    """

    def __init__(self, total: int, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False, soft_wrap=True)
        self.colour = self.console.is_terminal
        self.total = total
        self.done = 0
        self._live: rich.progress.Progress | None = None
        self._task: rich.progress.TaskID | None = None

    def _plain(self, text: str) -> None:
        self.console.file.write(text + "\n")
        self.console.file.flush()

    def line(self, text: str, style: str | None = None) -> None:
        """One line of the table (header, row or footer)."""
        if not self.colour:
            self._plain(text)
            return
        self.console.print(Text(text, style=style or ""), soft_wrap=True)

    def row(self, row: dict[str, Any], width: int) -> None:
        """A finished (or statically known) row."""
        examples = row["examples"] or ""
        seconds = f"{row['seconds']:.1f}" if row["status"] in ("passed", "failed") else ""
        peak = f"{row['peak_mib']:.0f}" if row.get("peak_mib") else ""
        head = f"{row['name']:<{width}}  {examples:>8}  {seconds:>7}  {peak:>8}  "
        detail = f"  ({row['detail']})" if row["detail"] and row["status"] != "passed" else ""
        self.done += 1
        if not self.colour:
            self._plain(head + row["status"] + detail)
            return
        text = Text(head)
        text.append(row["status"], style=_STATUS_STYLE.get(row["status"], ""))
        text.append(detail, style="dim")
        self.console.print(text, soft_wrap=True)

    def running(self, children: list[_Child]) -> None:
        """Redraws the line naming the rows still running (terminal only)."""
        if not self.colour:
            return
        if self._live is None:
            self._live = rich.progress.Progress(
                rich.progress.SpinnerColumn(),
                rich.progress.TextColumn("{task.description}"),
                console=self.console,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._task = self._live.add_task("", total=None)
            self._live.start()
        assert self._task is not None
        now = time.perf_counter()
        names = ", ".join(f"{c.row['name']} {now - c.started:.0f} s" for c in children)
        description = f"{self.done}/{self.total} rows done; running: {names or '-'}"
        self._live.update(self._task, description=description)

    def stop(self) -> None:
        """Removes the running line."""
        if self._live is not None:
            self._live.stop()
            self._live = None


def _run_rows(
    rows: list[dict[str, Any]],
    profile: str,
    jobs: int,
    timeout: float,
    memory_mib: int,
    table: _Table | None = None,
) -> list[dict[str, Any]]:
    """Runs the rows that need it, ``jobs`` at a time, printing each as it finishes."""
    table = table or _Table(len(rows))
    width = max(len(str(r["name"])) for r in rows)
    table.line(
        f"{'hot path':<{width}}  {'examples':>8}  {'seconds':>7}  {'peak MiB':>8}  result",
        style="bold",
    )
    done: dict[str, dict[str, Any]] = {}
    waiting = []
    for row in rows:
        if row["status"]:
            done[row["name"]] = row
            table.row(row, width)
        else:
            waiting.append(row)
    running: list[_Child] = []
    try:
        while waiting or running:
            while waiting and len(running) < jobs:
                running.append(_Child(waiting.pop(0), profile, timeout, memory_mib))
            for child in list(running):
                finished = child.poll()
                if finished is not None:
                    running.remove(child)
                    done[finished["name"]] = finished
                    table.row(finished, width)
            table.running(running)
            time.sleep(0.05)
    finally:
        table.stop()
    return [done[r["name"]] for r in rows]


def _merge(path: Path, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The saved full result with ``rows`` in place of theirs, each marked as a partial run."""
    try:
        saved = json.loads(path.read_text(encoding="utf-8")).get("hot_paths", [])
    except (OSError, ValueError):
        saved = []
    fresh = {r["name"]: {**r, "partial_run": git_commit()} for r in rows}
    merged = [fresh.pop(r["name"], r) for r in saved if isinstance(r, dict) and "name" in r]
    return merged + list(fresh.values())


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the harness; see the module docstring for the exit status."""
    parser = argparse.ArgumentParser(prog="python -m pyagent.parity", description=__doc__)
    parser.add_argument("--thorough", action="store_true", help="many more examples per property")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these hot paths")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to save results")
    parser.add_argument("--jobs", type=int, default=2, help="rows run at once (default 2)")
    parser.add_argument("--timeout", type=float, help="seconds per row before it is killed")
    parser.add_argument(
        "--memory", type=int, default=DEFAULT_MEMORY_MIB, help="MiB of address space per row"
    )
    parser.add_argument("--child", metavar="NAME", help=argparse.SUPPRESS)
    parser.add_argument("--row-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        load_profile()
        return _run_child(args.child, args.row_out)

    profile = load_profile("thorough" if args.thorough else None)
    try:
        import rust_core
    except ImportError:
        rust_core = None  # type: ignore[assignment, unused-ignore]
    manifest = load_manifest()
    properties = set(registered())
    unknown = sorted(set(args.only or ()) - set(manifest.names))
    if unknown:
        parser.error(f"not hot paths of the manifest: {', '.join(unknown)}")
    hot_paths = [h for h in manifest.hot_paths if not args.only or h.name in args.only]
    version = getattr(rust_core, "__version__", None)
    table = _Table(len(hot_paths))
    table.line(f"parity ({profile} profile), rust_core {version or 'absent'}", style="bold")
    started = time.perf_counter()
    rows = _run_rows(
        [_static_row(h, rust_core, properties) for h in hot_paths],
        profile,
        max(1, args.jobs),
        args.timeout or DEFAULT_TIMEOUT.get(profile, 900.0),
        args.memory,
        table,
    )
    failed = [r for r in rows if r["status"] in ("failed", "no property")]
    passed = sum(r["status"] == "passed" for r in rows)
    table.line(
        f"{passed} passed, {len(failed)} failed, {len(rows) - passed - len(failed)} not migrated"
        f" in {time.perf_counter() - started:.0f} s",
        style="bold red" if failed else "bold green",
    )
    table.line(
        "examples: Hypothesis inputs summed over each hot path's properties; "
        "peak MiB: the row process's largest resident set",
        style="dim",
    )
    saved = _merge(args.json, rows) if args.only else rows
    partial_rows = sorted(r["name"] for r in rows) if args.only else []
    write_results(args.json, saved, profile=profile, rust_core=version, partial_rows=partial_rows)
    merged = " (these rows merged into the saved run)" if args.only else ""
    table.line(f"results: {args.json}{merged}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m pyagent``: print which backend serves each hot path.

A header (versions and the ``PYAGENT_BACKEND`` in force), one row per hot path of the
manifest, and totals; ``--json`` prints the same as one JSON object for scripts. On a
terminal the table is drawn with rich (backends coloured); piped, it is plain text, and
piping into ``head`` ends quietly.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict

from rich.console import Console
from rich.table import Table

from pyagent import HotPathBackend, __version__, backend_report
from pyagent.backend import active_backend


def _rust_core_version() -> str | None:
    try:
        import rust_core
    except ImportError:
        return None
    return getattr(rust_core, "__version__", None)


#: Colour of each backend on a terminal.
_BACKEND_STYLE = {"rust": "green", "python": "yellow", "pending": "dim"}


def _print_rich(console: Console, title: str, rows: Sequence[HotPathBackend], footer: str) -> None:
    """The report as a rich table (terminal only): backend coloured, totals as caption."""
    table = Table(title=title, caption=footer, title_justify="left", caption_justify="left")
    table.add_column("hot path", no_wrap=True)
    table.add_column("backend", no_wrap=True)
    table.add_column("why")
    for row in rows:
        style = _BACKEND_STYLE.get(row.backend, "")
        table.add_row(row.name, f"[{style}]{row.backend}[/]" if style else row.backend, row.reason)
    console.print(table)


def main(argv: Sequence[str] | None = None) -> int:
    """Prints the backend report; exit status 0 (2 for bad arguments, as argparse does)."""
    parser = argparse.ArgumentParser(prog="python -m pyagent", description=__doc__)
    parser.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    args = parser.parse_args(argv)
    rows = backend_report()
    totals = Counter(row.backend for row in rows)
    header = {
        "pyagent": __version__,
        "rust_core": _rust_core_version(),
        "PYAGENT_BACKEND": active_backend().value,
    }
    try:
        if args.json:
            payload = {**header, "totals": dict(totals), "hot_paths": [asdict(r) for r in rows]}
            print(json.dumps(payload, indent=2))
            return 0
        title = (
            f"pyagent {__version__}, rust_core {header['rust_core'] or 'not installed'}, "
            f"PYAGENT_BACKEND={header['PYAGENT_BACKEND']}"
        )
        counts = ", ".join(f"{count} {name}" for name, count in sorted(totals.items()))
        footer = f"{len(rows)} hot paths: {counts}"
        console = Console(highlight=False)
        if console.is_terminal:
            _print_rich(console, title, rows, footer)
        else:
            # Piped: plain, stable text for scripts and tests (no escape codes, no wrapping).
            print(title)
            width = max(len(r.name) for r in rows)
            print(f"  {'hot path':<{width}}  {'backend':<7}  why")
            for row in rows:
                print(f"  {row.name:<{width}}  {row.backend:<7}  {row.reason}")
            print(footer)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (head, less) has gone: not an error. Point stdout at /dev/null so the
        # interpreter's own flush at exit does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())

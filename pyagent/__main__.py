"""``python -m pyagent``: print which backend serves each hot path.

A header (versions and the ``PYAGENT_BACKEND`` in force), one row per hot path of the
manifest, and totals; ``--json`` prints the same as one JSON object for scripts. Piping into
``head`` ends quietly.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict

from pyagent import __version__, backend_report
from pyagent.backend import active_backend


def _rust_core_version() -> str | None:
    try:
        import rust_core
    except ImportError:
        return None
    return getattr(rust_core, "__version__", None)


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
        print(
            f"pyagent {__version__}, rust_core {header['rust_core'] or 'not installed'}, "
            f"PYAGENT_BACKEND={header['PYAGENT_BACKEND']}"
        )
        width = max(len(r.name) for r in rows)
        print(f"  {'hot path':<{width}}  {'backend':<7}  why")
        for row in rows:
            print(f"  {row.name:<{width}}  {row.backend:<7}  {row.reason}")
        counts = ", ".join(f"{count} {name}" for name, count in sorted(totals.items()))
        print(f"{len(rows)} hot paths: {counts}")
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (head, less) has gone: not an error. Point stdout at /dev/null so the
        # interpreter's own flush at exit does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m pyagent``: print which backend serves each hot path."""

from __future__ import annotations

import sys

from pyagent import __version__, backend_report
from pyagent.backend import active_backend


def main() -> int:
    """Prints the backend report as a table; exit status 0."""
    rows = backend_report()
    width = max(len(r.name) for r in rows)
    print(f"pyagent {__version__}, PYAGENT_BACKEND={active_backend().value}")
    for row in rows:
        print(f"  {row.name:<{width}}  {row.backend:<7}  {row.reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

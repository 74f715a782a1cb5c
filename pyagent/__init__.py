"""PyAgent common cores: the pure-Python reference of every hot path, hooked to ``rust_core``.

Importing the package applies ``PYAGENT_BACKEND`` (see :mod:`pyagent.backend`) before any
core module imports the extension, so the switch governs every hook in the process.
"""

import itertools
import os
import sys

from pyagent._version import __version__
from pyagent.backend import Backend, HotPathBackend, backend_report, configure


def _invoked_as_report() -> bool:
    """True when this process is ``python -m pyagent`` or the ``pyagent-backend`` script."""
    argv = list(getattr(sys, "orig_argv", ()))
    as_module = any(a == "-m" and b == "pyagent" for a, b in itertools.pairwise(argv))
    return as_module or os.path.basename(sys.argv[0] if sys.argv else "") == "pyagent-backend"


try:
    configure()
except (ValueError, ImportError) as _error:
    # A library import raises (a misparsed switch must not pass silently); the report
    # command, whose whole job is to say which backend serves what, says why and exits 2.
    if not _invoked_as_report():
        raise
    sys.stderr.write(f"python -m pyagent: error: {_error}\n")
    raise SystemExit(2) from None

__all__ = ["Backend", "HotPathBackend", "__version__", "backend_report"]

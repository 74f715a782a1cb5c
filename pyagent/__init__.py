"""PyAgent common cores: the pure-Python reference of every hot path, hooked to ``rust_core``.

Importing the package applies ``PYAGENT_BACKEND`` (see :mod:`pyagent.backend`) before any
core module imports the extension, so the switch governs every hook in the process.
"""

from pyagent._version import __version__
from pyagent.backend import Backend, HotPathBackend, backend_report, configure

configure()

__all__ = ["Backend", "HotPathBackend", "__version__", "backend_report"]

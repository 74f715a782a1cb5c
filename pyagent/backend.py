"""Which backend serves each hot path, and the ``PYAGENT_BACKEND`` switch.

Every hooked module imports ``rust_core`` itself (``try: import rust_core as rc`` /
``except ImportError: rc = None``) and each hot function calls Rust when ``rc`` has the
function. This module decides, once, at ``import pyagent``, whether that import may succeed:

* ``PYAGENT_BACKEND`` unset, empty or ``auto``: Rust wherever ``rust_core`` is installed and
  its version matches ``pyagent.__version__`` (a mismatched build is ignored with a warning).
* ``python``: ``rust_core`` is made unimportable (``sys.modules["rust_core"] = None``), so
  every hook of every shape, ours or an agent's, takes its pure-Python path.
* ``rust``: a missing ``rust_core``, a version mismatch, or a build lacking a hot path the
  manifest marks as migrated is an ImportError: nothing silently falls back.

Any other value is a ValueError: a switch that misparses is how native code goes untested.
"""

from __future__ import annotations

import enum
import importlib
import importlib.util
import os
import sys
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType

from pyagent._version import __version__
from pyagent.manifest import HotPath, has_rust_name, load_manifest

__all__ = [
    "ENV_VAR",
    "Backend",
    "HotPathBackend",
    "active_backend",
    "backend_report",
    "configure",
    "forced_python",
    "parse_backend",
]

ENV_VAR = "PYAGENT_BACKEND"


class Backend(enum.Enum):
    """A value of ``PYAGENT_BACKEND``."""

    AUTO = "auto"
    PYTHON = "python"
    RUST = "rust"


def parse_backend(value: str | None) -> Backend:
    """Parses a ``PYAGENT_BACKEND`` value; surrounding space and case are ignored.

    ``None`` and the empty string mean ``auto``. Anything outside ``auto``, ``python``,
    ``rust`` raises ValueError rather than being read as "set, therefore true".
    """
    if value is None or not value.strip():
        return Backend.AUTO
    try:
        return Backend(value.strip().lower())
    except ValueError:
        choices = ", ".join(b.value for b in Backend)
        raise ValueError(f"{ENV_VAR}={value!r} is not one of: {choices}") from None


_active: Backend | None = None


def active_backend() -> Backend:
    """The backend chosen when pyagent was imported."""
    return _active if _active is not None else configure()


def _missing_functions(module: ModuleType) -> list[str]:
    return [
        f"{h.name} ({name})"
        for h in load_manifest().migrated
        for name in h.rust_names
        if not has_rust_name(module, name)
    ]


def _block_rust_core() -> None:
    # A None entry makes every later `import rust_core` raise ImportError: the documented
    # import-system way to hide a module, so every hook variant takes its fallback.
    sys.modules["rust_core"] = None  # type: ignore[assignment]


def configure(environ: Mapping[str, str] | None = None) -> Backend:
    """Applies ``PYAGENT_BACKEND`` from ``environ`` (default ``os.environ``); see module docs.

    Called by ``import pyagent`` before any hooked module imports ``rust_core``.
    """
    global _active
    env = os.environ if environ is None else environ
    backend = parse_backend(env.get(ENV_VAR))
    if backend is Backend.PYTHON:
        _block_rust_core()
        _active = backend
        return backend
    try:
        import rust_core

        spec = getattr(rust_core, "__spec__", None)
        locations = getattr(spec, "submodule_search_locations", None)
        if spec is not None and spec.origin in (None, "namespace") and locations:
            # A folder named rust_core on sys.path (the crate's, when run from a checkout)
            # imports as a namespace package: it is not the extension, so it is hidden like
            # a missing one rather than reported as a version mismatch.
            _block_rust_core()
            raise ImportError(
                f"rust_core is only a folder ({', '.join(locations)}), not the built extension"
            )
    except ImportError as exc:
        if backend is Backend.RUST:
            raise ImportError(
                f"{ENV_VAR}=rust but rust_core cannot be imported ({exc}); "
                "build and install it with `nox -s build`"
            ) from exc
        _active = backend
        return backend
    native_version = getattr(rust_core, "__version__", None)
    if native_version != __version__:
        message = (
            f"rust_core {native_version} does not match pyagent {__version__}; "
            "rebuild it with `nox -s build`"
        )
        if backend is Backend.RUST:
            raise ImportError(message)
        warnings.warn(message + "; using the Python backend", RuntimeWarning, stacklevel=2)
        _block_rust_core()
    elif backend is Backend.RUST and (missing := _missing_functions(rust_core)):
        raise ImportError(
            f"{ENV_VAR}=rust but rust_core {native_version} lacks migrated hot paths: "
            + ", ".join(missing)
        )
    _active = backend
    return backend


@dataclass(frozen=True)
class HotPathBackend:
    """Which backend serves one hot path now, and why."""

    name: str
    component: str
    module: str
    backend: str  # "rust", "python" or "pending" (no Python reference yet)
    reason: str


def _hooked_module(hot_path: HotPath) -> ModuleType | None:
    if importlib.util.find_spec(hot_path.module) is None:
        return None
    return importlib.import_module(hot_path.module)


def _serving(hot_path: HotPath) -> HotPathBackend:
    def row(backend: str, reason: str) -> HotPathBackend:
        return HotPathBackend(hot_path.name, hot_path.component, hot_path.module, backend, reason)

    module = _hooked_module(hot_path)
    if module is None or not all(
        hasattr(module, f.python.split(".")[0]) for f in hot_path.functions
    ):
        return row("pending", f"no Python reference yet (issue #{hot_path.issue})")
    # The module's own sentinel is what its dispatch reads, so report from it.
    rc = getattr(module, "rc", None)
    if rc is None:
        if active_backend() is Backend.PYTHON:
            return row("python", f"forced by {ENV_VAR}=python")
        return row("python", "rust_core is not importable")
    missing = [name for name in hot_path.rust_names if not has_rust_name(rc, name)]
    if not missing:
        return row("rust", f"rust_core {getattr(rc, '__version__', '?')}")
    if not hot_path.migrated:
        return row("python", f"not migrated yet (issue #{hot_path.issue})")
    return row("python", "this rust_core build lacks " + ", ".join(missing))


def backend_report() -> list[HotPathBackend]:
    """Per hot path of the manifest: the backend that serves it and why."""
    return [_serving(h) for h in load_manifest().hot_paths]


@contextmanager
def forced_python() -> Iterator[None]:
    """Within the block, every hooked pyagent module takes its pure-Python path.

    It swaps each hooked module's ``rc`` sentinel for ``None`` (what a failed import leaves),
    so the code exercised is the same public function with Rust absent. For the parity
    harness and benchmarks; not thread-safe.
    """
    saved: list[tuple[ModuleType, object]] = []
    for module_name in dict.fromkeys(h.module for h in load_manifest().hot_paths):
        spec = importlib.util.find_spec(module_name)
        if spec is None:
            continue
        module = importlib.import_module(module_name)
        if hasattr(module, "rc"):
            saved.append((module, module.rc))
            setattr(module, "rc", None)  # noqa: B010 - the attribute is dynamic
    try:
        yield
    finally:
        for module, rc in saved:
            setattr(module, "rc", rc)  # noqa: B010

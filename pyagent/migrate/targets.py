"""Which functions to hook: from the pyagent manifest, another manifest, or ``--hook`` specs.

A target names a module (a dotted path, matched against the trailing components of a file's
path, so ``pyagent.cache_core`` and ``cache_core`` both match ``pyagent/cache_core.py``) or a
file, a function (``name`` or ``Class.method``) and the ``rust_core`` name it dispatches to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pyagent.migrate.hooks import PASS_SELF_SUFFIX

__all__ = [
    "HookTarget",
    "TargetError",
    "TargetSet",
    "parse_hook_spec",
    "targets_from_manifest",
]


class TargetError(ValueError):
    """A ``--hook`` spec or manifest entry that cannot be used."""


@dataclass(frozen=True)
class HookTarget:
    """One function (or class, hooked through its constructor) to hook."""

    module: str | None  # dotted module path, or None when matched by file
    file: str | None  # resolved file path, or None when matched by module
    function: str  # "name", "Class" or "Class.method"
    rust: str

    @property
    def label(self) -> str:
        """``module:function`` as the user wrote it."""
        return f"{self.module or self.file}:{self.function}"

    def matches(self, path: Path, dotted: tuple[str, ...]) -> bool:
        """True when this target is about the file at ``path`` (module parts ``dotted``)."""
        if self.file is not None:
            return str(path.resolve()) == self.file
        assert self.module is not None
        parts = tuple(self.module.split("."))
        return len(parts) <= len(dotted) and dotted[-len(parts) :] == parts


def module_parts(path: Path) -> tuple[str, ...]:
    """Dotted-name components of a file path (``pkg/__init__.py`` is ``pkg``)."""
    parts = list(path.resolve().with_suffix("").parts[1:])
    if parts and parts[-1] == "__init__":
        parts.pop()
    return tuple(parts)


@dataclass(frozen=True)
class TargetSet:
    """All targets of a run, plus manifest entries that insert cannot hook."""

    targets: tuple[HookTarget, ...]
    unsupported: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Accept any iterable, but store a tuple: the set is pickled to every worker.
        object.__setattr__(self, "targets", tuple(self.targets))
        object.__setattr__(self, "unsupported", tuple(self.unsupported))

    def for_file(self, path: str | Path) -> dict[str, str]:
        """Function qualname -> rust name, for the functions to hook in ``path``."""
        file = Path(path)
        dotted = module_parts(file)
        return {t.function: t.rust for t in self.targets if t.matches(file, dotted)}

    def matched_files(self, files: Iterable[str]) -> dict[HookTarget, list[str]]:
        """For each target, the files among ``files`` it names (none, one, or ambiguous)."""
        parts = [(f, module_parts(Path(f))) for f in files]
        return {t: [f for f, dotted in parts if t.matches(Path(f), dotted)] for t in self.targets}

    def shared_rust_names(self) -> dict[str, list[str]]:
        """Rust names that several targets dispatch to.

        ``ntpath.join`` and ``shlex.join`` both to ``rc.join``: one Rust function cannot be
        both, so this is worth a warning.
        """
        by_rust: dict[str, list[str]] = {}
        for target in self.targets:
            rust = target.rust.removesuffix(PASS_SELF_SUFFIX)
            by_rust.setdefault(rust, []).append(target.label)
        return {rust: labels for rust, labels in by_rust.items() if len(set(labels)) > 1}


def parse_hook_spec(spec: str) -> HookTarget:
    """Parses ``module:function=rust_name`` (``=rust_name`` defaults to the function name).

    The module is a dotted path, or a file path (containing ``/`` or ending in ``.py``).
    """
    left, _, rust = spec.partition("=")
    module, sep, function = left.rpartition(":")
    if not sep or not module or not function:
        raise TargetError(f"--hook {spec!r}: expected module:function=rust_name")
    rust = rust.strip() or function.rsplit(".", 1)[-1]
    bare = rust.removesuffix(PASS_SELF_SUFFIX)
    if not all(p.isidentifier() for p in (*bare.split("."), *function.split("."))):
        raise TargetError(f"--hook {spec!r}: function and rust name must be (dotted) identifiers")
    if "/" in module or module.endswith(".py"):
        return HookTarget(None, str(Path(module).resolve()), function, rust)
    if not all(p.isidentifier() for p in module.split(".")):
        raise TargetError(f"--hook {spec!r}: {module!r} is not a dotted module path")
    return HookTarget(module, None, function, rust)


def targets_from_manifest(path: str | Path | None = None) -> TargetSet:
    """Targets for every function and class of every hot path in the manifest.

    The default manifest is pyagent's. A ``python`` name that is a class gets the class hook
    (a ``__new__`` dispatch); a dotted ``rust`` name reaches into a rust_core submodule.
    """
    from pyagent.manifest import load_manifest

    manifest = load_manifest(path)
    targets = [
        HookTarget(hot_path.module, None, function.python, function.rust)
        for hot_path in manifest.hot_paths
        for function in hot_path.functions
    ]
    return TargetSet(tuple(targets))

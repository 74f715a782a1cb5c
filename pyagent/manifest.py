"""The hot-path manifest: the one machine-readable list of what moves to ``rust_core``.

``hot_paths.toml`` beside this module transcribes the seed's priority list
(``rust_mapping_strategy.md``). Parity, benchmarks, the status report and the ``migrate``
codemod all read it through :func:`load_manifest`, so adding a hot path means editing that
one file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = [
    "MANIFEST_PATH",
    "HookedFunction",
    "HotPath",
    "Manifest",
    "ManifestError",
    "SeedListItem",
    "has_rust_name",
    "load_manifest",
]

MANIFEST_PATH = Path(__file__).with_name("hot_paths.toml")

_SECTIONS = frozenset({"1", "2", "3-next"})
_KINDS = frozenset({"function", "class", "submodule"})
_SEED_LISTS = frozenset({"completed", "next"})


class ManifestError(ValueError):
    """The manifest file is malformed: a missing field, a wrong type or a dangling name."""


def has_rust_name(module: object, name: str) -> bool:
    """Whether ``module`` exports ``name``.

    A dotted name (``submodule.function``, for a hot path of kind "submodule") is looked up
    attribute by attribute.
    """
    target = module
    for part in name.split("."):
        if not hasattr(target, part):
            return False
        target = getattr(target, part)
    return True


@dataclass(frozen=True)
class HookedFunction:
    """One Python function of a hot path and the ``rust_core`` attribute it dispatches to."""

    python: str
    rust: str


@dataclass(frozen=True)
class HotPath:
    """A hot path of the seed's priority list and where it lives on both sides."""

    name: str
    component: str
    core: str
    module: str
    section: str
    priority: int
    issue: int
    kind: str
    peer: str
    migrated: bool
    functions: tuple[HookedFunction, ...]

    @property
    def rust_names(self) -> tuple[str, ...]:
        """Every ``rust_core`` attribute this hot path needs once migrated."""
        return tuple(f.rust for f in self.functions)


@dataclass(frozen=True)
class SeedListItem:
    """An entry of the seed's section 3 ("completed hooks" or "next priority")."""

    list: str
    item: str
    hot_paths: tuple[str, ...]


@dataclass(frozen=True)
class Manifest:
    """The parsed manifest, in the file's order."""

    hot_paths: tuple[HotPath, ...]
    seed_lists: tuple[SeedListItem, ...]
    path: Path

    def get(self, name: str) -> HotPath:
        """The hot path called ``name`` (its seed name); KeyError if there is none."""
        for hot_path in self.hot_paths:
            if hot_path.name == name:
                return hot_path
        raise KeyError(f"no hot path named {name!r} in {self.path}")

    @property
    def names(self) -> tuple[str, ...]:
        """Seed names of every hot path, in manifest order."""
        return tuple(h.name for h in self.hot_paths)

    @property
    def migrated(self) -> tuple[HotPath, ...]:
        """The hot paths whose Rust function has landed."""
        return tuple(h for h in self.hot_paths if h.migrated)


def _field(entry: dict[str, object], key: str, kind: type, where: str) -> object:
    if key not in entry:
        raise ManifestError(f"{where}: missing field {key!r}")
    value = entry[key]
    # bool is an int subclass; a priority of `true` is a typo, not a number.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ManifestError(f"{where}: field {key!r} must be {kind.__name__}, got {value!r}")
    return value


def _hot_path(entry: dict[str, object], index: int) -> HotPath:
    where = f"hot_path #{index + 1} ({entry.get('name', '?')})"
    raw_functions = _field(entry, "functions", list, where)
    assert isinstance(raw_functions, list)
    if not raw_functions:
        raise ManifestError(f"{where}: needs at least one function")
    functions = []
    for raw in raw_functions:
        if not isinstance(raw, dict):
            raise ManifestError(f"{where}: each function must be a table, got {raw!r}")
        functions.append(
            HookedFunction(
                python=str(_field(raw, "python", str, where)),
                rust=str(_field(raw, "rust", str, where)),
            )
        )
    hot_path = HotPath(
        name=str(_field(entry, "name", str, where)),
        component=str(_field(entry, "component", str, where)),
        core=str(_field(entry, "core", str, where)),
        module=str(_field(entry, "module", str, where)),
        section=str(_field(entry, "section", str, where)),
        priority=int(_field(entry, "priority", int, where)),  # type: ignore[call-overload]
        issue=int(_field(entry, "issue", int, where)),  # type: ignore[call-overload]
        kind=str(_field(entry, "kind", str, where)),
        peer=str(_field(entry, "peer", str, where)),
        migrated=bool(_field(entry, "migrated", bool, where)),
        functions=tuple(functions),
    )
    if hot_path.section not in _SECTIONS:
        raise ManifestError(f"{where}: section must be one of {sorted(_SECTIONS)}")
    if hot_path.kind not in _KINDS:
        raise ManifestError(f"{where}: kind must be one of {sorted(_KINDS)}")
    if not any(
        rust == hot_path.name or rust.startswith(hot_path.name + ".")
        for rust in hot_path.rust_names
    ):
        raise ManifestError(f"{where}: one function must dispatch to the seed name itself")
    return hot_path


def parse_manifest(text: str, path: Path = MANIFEST_PATH) -> Manifest:
    """Parses and validates manifest text; see ``hot_paths.toml`` for the fields."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{path}: {exc}") from exc
    hot_paths = tuple(_hot_path(e, i) for i, e in enumerate(data.get("hot_path", [])))
    if not hot_paths:
        raise ManifestError(f"{path}: no [[hot_path]] entries")
    seen: set[str] = set()
    rust_seen: dict[str, str] = {}
    for hot_path in hot_paths:
        if hot_path.name in seen:
            raise ManifestError(f"{path}: hot path {hot_path.name!r} listed twice")
        seen.add(hot_path.name)
        for function in hot_path.functions:
            owner = rust_seen.setdefault(function.rust, hot_path.name)
            if (
                owner != hot_path.name
                or sum(f.rust == function.rust for f in hot_path.functions) > 1
            ):
                raise ManifestError(f"{path}: rust name {function.rust!r} used twice")
    seed_lists = []
    for entry in data.get("seed_list", []):
        where = f"seed_list {entry.get('item', '?')!r}"
        names = _field(entry, "hot_paths", list, where)
        assert isinstance(names, list)
        for name in names:
            if name not in seen:
                raise ManifestError(f"{where}: names unknown hot path {name!r}")
        item = SeedListItem(
            list=str(_field(entry, "list", str, where)),
            item=str(_field(entry, "item", str, where)),
            hot_paths=tuple(str(n) for n in names),
        )
        if item.list not in _SEED_LISTS:
            raise ManifestError(f"{where}: list must be one of {sorted(_SEED_LISTS)}")
        seed_lists.append(item)
    return Manifest(hot_paths=hot_paths, seed_lists=tuple(seed_lists), path=path)


@cache
def _load_cached(path: Path) -> Manifest:
    return parse_manifest(path.read_text(encoding="utf-8"), path)


def load_manifest(path: str | Path | None = None) -> Manifest:
    """Loads the manifest (``pyagent/hot_paths.toml`` by default), validated and cached."""
    return _load_cached(Path(path).resolve() if path is not None else MANIFEST_PATH)

"""Generated agent trees mixing every hook variant and defect, for CLI and scale tests."""

from __future__ import annotations

import textwrap
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from pyagent.migrate.defects import DEFECT_KINDS, EXAMPLE_RUST

CLEAN_TEMPLATES: dict[str, tuple[str, str]] = {
    "A": (
        "A",
        '''
        """Variant A, the canonical hook."""
        import hashlib

        try:
            import rust_core as rc
        except ImportError:
            rc = None


        def generate_hash(data, algorithm="sha256"):
            """Digest."""
            if rc is not None and hasattr(rc, "generate_hash"):
                return rc.generate_hash(data, algorithm)
            return hashlib.new(algorithm, data).hexdigest()
        ''',
    ),
    "B": (
        "B",
        """
        try:
            import rust_core as rc
            RUST_AVAILABLE = True
        except (ImportError, OSError):
            rc = None
            RUST_AVAILABLE = False


        def sharding_index(key, shard_count):
            if RUST_AVAILABLE and hasattr(rc, "sharding_index"):
                try:
                    return rc.sharding_index(key, shard_count)
                except (TypeError, OverflowError):
                    pass
            return sum(key.encode()) % shard_count
        """,
    ),
    "C": (
        "C",
        """
        try:
            import rust_core as rc
            HAS_RUST = True
        except ImportError:
            HAS_RUST = False


        def sharding_index(key, shard_count):
            if HAS_RUST:
                return rc.sharding_index(key, shard_count)
            return sum(key.encode()) % shard_count
        """,
    ),
    "D": (
        "D",
        """
        try:
            import rust_core
        except ImportError:
            rust_core = None


        def sharding_index(key, shard_count):
            if rust_core is not None and hasattr(rust_core, "sharding_index"):
                return rust_core.sharding_index(key, shard_count)
            return sum(key.encode()) % shard_count
        """,
    ),
    "E": (
        "E",
        """
        try:
            from rust_core import generate_hash as _gh, sharding_index as _si
            HAS_FAST = True
        except ImportError:
            HAS_FAST = False


        def sharding_index(key, shard_count):
            if HAS_FAST:
                return _si(key, shard_count)
            return sum(key.encode()) % shard_count
        """,
    ),
    "F": (
        "F",
        """
        try:
            from rust_core import rust_core as rc
        except ImportError:
            rc = None


        def sharding_index(key, shard_count):
            if rc is not None and hasattr(rc, "sharding_index"):
                return rc.sharding_index(key, shard_count)
            return sum(key.encode()) % shard_count
        """,
    ),
    "G": (
        "G",
        """
        def sharding_index(key, shard_count):
            try:
                import rust_core as rc
                return rc.sharding_index(key, shard_count)
            except ImportError:
                pass
            return sum(key.encode()) % shard_count
        """,
    ),
    "H": (
        "H",
        """
        from agent.bridge import bridge


        def sharding_index(key, shard_count):
            return bridge.try_call(
                "sharding_index", key, shard_count, fallback=lambda: sum(key.encode()) % shard_count
            )
        """,
    ),
    "plain": (
        "",
        """
        def sharding_index(key, shard_count):
            return sum(key.encode()) % shard_count
        """,
    ),
}


@dataclass(frozen=True)
class Template:
    name: str
    source: str
    variant: str
    defect: str | None  # the defect kind planted, if any


def templates() -> list[Template]:
    """Clean modules of every variant plus every INVALID Python example of every defect."""
    found = [
        Template(name, textwrap.dedent(source).lstrip(), variant, None)
        for name, (variant, source) in CLEAN_TEMPLATES.items()
    ]
    for kind in DEFECT_KINDS:
        for index, example in enumerate(kind.invalid):
            if example.rust is EXAMPLE_RUST:
                found.append(Template(f"{kind.code}-{index}", example.python, "", kind.code))
    return found


def write_crate(root: Path, rust: str = EXAMPLE_RUST) -> Path:
    """A minimal rust_core crate (Cargo.toml + src/lib.rs) under ``root``."""
    crate = root / "rust_core"
    (crate / "src").mkdir(parents=True, exist_ok=True)
    (crate / "Cargo.toml").write_text('[package]\nname = "rust_core"\n', encoding="utf-8")
    (crate / "src" / "lib.rs").write_text(rust, encoding="utf-8")
    return crate


def make_tree(root: Path, count: int) -> tuple[Path, Counter[str]]:
    """``count`` modules cycling through :func:`templates`; returns the tree and planted counts.

    The counter holds ``template:<name>`` per module written and ``defect:<code>`` per
    module with that defect planted.
    """
    tree = root / "agent"
    planted: Counter[str] = Counter()
    all_templates = templates()
    for index in range(count):
        template = all_templates[index % len(all_templates)]
        package = tree / f"pkg{index // 100:03d}"
        package.mkdir(parents=True, exist_ok=True)
        (package / f"mod_{index:05d}.py").write_text(template.source, encoding="utf-8")
        planted[f"template:{template.name}"] += 1
        if template.defect:
            planted[f"defect:{template.defect}"] += 1
    return tree, planted


@pytest.fixture
def crate(tmp_path: Path) -> Path:
    return write_crate(tmp_path)

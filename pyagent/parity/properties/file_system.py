"""FileSystemCore parity: discover_files and bulk_hash_files on generated trees.

Each example builds a small tree in a fresh temporary folder (names with glob metacharacters,
hidden names, non-ASCII and undecodable bytes, empty folders, symlinks, FIFOs) and runs both
backends on it. Results are compared exactly: sorted relative paths, and the
``(path, digest, error)`` tuples including the error strings. No float tolerance is involved.
Patterns come from a token grammar (valid, mostly) and from arbitrary text (mostly invalid:
both backends must raise the same ValueError or agree).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from pyagent import file_system_core
from pyagent.parity import hostile
from pyagent.parity.compare import same
from pyagent.parity.registry import parity_property

NAMES = [
    "a", "b", "ab", "a.py", "b.txt", ".h", ".git", "x[1]", "*", "?", "a-b", "a b", "é", "-", "]",
    "\\", "a]", "[",
    "日本", "\udcff", "a\udc80", "node_modules", "ba",
]  # fmt: skip
names = st.one_of(
    st.sampled_from(NAMES),
    st.text(
        st.characters(blacklist_characters="/\0", blacklist_categories=("Cs",)),
        min_size=1,
        max_size=4,
    ).filter(lambda n: n not in (".", "..") and len(n.encode()) < 200),
)
rel_paths = st.lists(names, min_size=1, max_size=4).map("/".join)

TOKENS = [
    "*", "**", "?", "a", "b", ".", "py", "txt", "[ab]", "[!a]", "[^b]", "[a-z]", "[]]", "\\*",
    "é", "\udcff", "-", "x", "[", "\\",
    # Set edges: '-' first or last, ']' first, escapes inside, equal and reversed ranges.
    "[-a]", "[a-]", "[]-a]", "[!]a]", "[a-a]", "[b-a]", "[\\]]", "[\\-a]", "[a-\\b]", "\\a",
]  # fmt: skip
segments = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=4).map("".join)
globs = st.one_of(
    st.builds(
        lambda lead, segs, trail: lead + "/".join(segs) + trail,
        st.sampled_from(["", "", "/"]),
        st.lists(segments, min_size=1, max_size=3),
        st.sampled_from(["", "", "/"]),
    ),
    st.text(max_size=8),
    st.sampled_from(["a//b", "//", "/", "a/", "/a", "**/", "a/**", "a]", "-"]),
)


@contextmanager
def tree(
    files: list[str], dirs: list[str], links: list[tuple[str, str]], fifo: bool
) -> Iterator[Path]:
    """A fresh folder holding ``files`` (content: their own name), empty ``dirs`` and links."""
    root = Path(tempfile.mkdtemp(prefix="parity-fs-"))
    try:
        for rel in dirs:
            with suppress(OSError):  # a file is in the way: the tree just lacks this folder
                (root / rel).mkdir(parents=True, exist_ok=True)
        for rel in files:
            with suppress(OSError):
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).write_bytes(os.fsencode(rel) * (1 + len(rel) % 3))
        for rel, target in links:
            with suppress(OSError):
                (root / rel).symlink_to(root / target)
        if fifo and hasattr(os, "mkfifo"):
            with suppress(OSError):  # "fifo" may already be a generated file or folder
                os.mkfifo(root / "fifo")
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


trees = st.fixed_dictionaries(
    {
        "files": st.lists(rel_paths, max_size=12),
        "dirs": st.lists(rel_paths, max_size=3),
        "links": st.lists(st.tuples(rel_paths, rel_paths), max_size=3),
        "fifo": st.booleans(),
    }
)


@parity_property("discover_files")
@given(
    spec=trees,
    patterns=st.lists(globs, max_size=3),
    ignore=st.lists(globs, max_size=2),
    as_path=st.booleans(),
)
def discover_files_agrees(
    spec: dict[str, object], patterns: list[str], ignore: list[str], as_path: bool
) -> None:
    """Same sorted relative paths on generated trees and globs, or the same error class."""
    with tree(**spec) as root:  # type: ignore[arg-type]
        same(file_system_core.discover_files, root if as_path else str(root), patterns, ignore)
        same(file_system_core.discover_files, root)


@parity_property("discover_files")
@given(
    root=st.one_of(
        st.sampled_from(["missing", "file", "link", "", "a\0b", "."]),
        st.sampled_from([b".", 3, None, ["."]]),
    ),
    patterns=st.one_of(
        st.just(("*",)), st.sampled_from(["*", b"*", None, 3, [b"*"], [None], ["*", 1]])
    ),
    ignore=st.one_of(st.just(()), st.sampled_from(["x", [1], None])),
)
def discover_files_rejects_the_same(root: object, patterns: object, ignore: object) -> None:
    """Missing, file or bad roots, bad pattern containers: the same exception class."""
    with tree(["file", "d/f"], [], [("link", "d")], False) as base:
        where = os.path.join(base, root) if isinstance(root, str) and root else root
        same(file_system_core.discover_files, where, patterns, ignore)


@parity_property("bulk_hash_files")
@given(
    spec=trees,
    extra=st.lists(
        st.sampled_from(["missing", "", "fifo", "a", "a/b/c", ".", "a\udcff"]), max_size=4
    ),
    big=st.sampled_from([0, 1, (1 << 18) - 1, 1 << 18, (1 << 18) + 7, 600_000]),
    algorithm=st.sampled_from(["md5", "sha1", "sha256", "sha512", "SHA256", "Md5"]),
    order=st.randoms(use_true_random=False),
    as_path=st.booleans(),
)
def bulk_hash_files_agrees(
    spec: dict[str, object],
    extra: list[str],
    big: int,
    algorithm: str,
    order: object,
    as_path: bool,
) -> None:
    """Same ``(path, digest, error)`` per path, in order.

    Covers files, folders, links, FIFOs, missing paths and a file straddling the read chunk.
    """
    with tree(**spec) as root:  # type: ignore[arg-type]
        (root / "big.bin").write_bytes(bytes(i % 253 for i in range(big)))
        rels = [*spec["files"], *spec["dirs"], *(a for a, _ in spec["links"]), *extra, "big.bin"]  # type: ignore[misc]
        order.shuffle(rels)  # type: ignore[attr-defined]
        paths = [root / r if as_path else os.path.join(root, r) for r in rels]
        same(file_system_core.bulk_hash_files, paths, algorithm)


@parity_property("bulk_hash_files")
@given(
    paths=st.one_of(
        st.sampled_from(["x", b"x", None, 3, [b"x"], [None], ["a\0b"], [3], [["x"]]]),
        st.lists(st.text(max_size=6), max_size=3),
    ),
    algorithm=st.one_of(
        st.sampled_from(["sha256", "sha-256", "", "blake2b", "MD5", None, 5, b"md5"]),
        st.text(max_size=6),
    ),
)
def bulk_hash_files_rejects_the_same(paths: object, algorithm: object) -> None:
    """Bad path containers and items, NUL, unknown or non-str algorithms: same class.

    Any list of str paths (relative, mostly missing) gives the same per-path results.
    """
    same(file_system_core.bulk_hash_files, paths, algorithm)


@parity_property("discover_files")
@given(root=hostile.for_kind("path"), patterns=hostile.mix(st.just(["*"]), "sequence"))
def discover_files_hostile(root: object, patterns: object) -> None:
    """Hostile roots (FIFO, dangling link, loop, NUL, long names) and pattern lists."""
    same(file_system_core.discover_files, root, patterns)


@parity_property("bulk_hash_files")
@given(
    paths=st.one_of(st.lists(hostile.for_kind("path"), max_size=3), hostile.for_kind("sequence")),
    algorithm=hostile.mix(st.just("sha256"), "string"),
)
def bulk_hash_files_hostile(paths: object, algorithm: object) -> None:
    """Hostile paths and algorithm names: the same per-path results or the same error."""
    same(file_system_core.bulk_hash_files, paths, algorithm)

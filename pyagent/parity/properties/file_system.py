"""FileSystemCore parity: discover_files and bulk_hash_files on generated trees.

Each example builds a small tree in a fresh temporary folder (names with glob metacharacters,
hidden names, non-ASCII and undecodable bytes, empty folders, symlinks, FIFOs) and runs both
backends on it. Results are compared exactly: sorted relative paths, and the
``(path, digest, error)`` tuples including the error strings. No float tolerance is involved.
Patterns come from a token grammar (valid, mostly) and from arbitrary text (mostly invalid:
both backends must raise the same ValueError or agree). Sets (``[...]``) get their own property:
one pattern per call, so an invalid neighbour cannot mask a misread set, on a tree whose names
are exactly the characters sets treat specially.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from hypothesis import example, given
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


# --- glob sets ----------------------------------------------------------------------------
# The characters the sets below are made of: set syntax (']' '-' '!' '^' '\' '['), the
# neighbours of '/' ('.' is U+002E, '0' U+0030, with '+' ',' '-' ':' '1' around them) so that a
# range spanning '/' can be told from one ending just before or starting just after it, and
# plain letters.
SET_CHARS = "ab]-!^\\[.0+,:1zA"
#: Inside a set these must be escaped to be plain members: ']' closes, '-' makes a range and
#: '\' escapes ('!' and '^' negate only right after '[', and '[' is always a member).
_SET_SYNTAX = "]-\\"

# Every character of SET_CHARS is a file name (but '.', which cannot be one), so a set that
# gains or loses one member lists a different file. Two-character names tell a set that ends
# early ('[ab]' read as '[a]' then a literal ']') from the real one; files in folders tell a
# set that matches '/' (and so lets one segment of a pattern span two) from one that does not.
SET_TREE = [
    *(c for c in SET_CHARS if c != "."),
    ".x", "a]", "ab", "-a", "0.", "00", "a0", "]]", "\\]",
    "d/a", "d/-", "d/]", "d/0", "e/.x", "]d/b", "0d/-", "a.b/c", "q/q/q",
]  # fmt: skip


def _member(c: str, escape: bool) -> str:
    """``c`` as a plain member of a set: escaped when it is set syntax, or when asked."""
    return "\\" + c if escape or c in _SET_SYNTAX else c


set_items = st.one_of(
    st.builds(_member, st.sampled_from(SET_CHARS), st.booleans()),
    # A range lo-hi (lo <= hi, so it is valid), either end possibly escaped.
    st.builds(
        lambda pair, e1, e2: f"{_member(min(pair), e1)}-{_member(max(pair), e2)}",
        st.tuples(st.sampled_from(SET_CHARS), st.sampled_from(SET_CHARS)),
        st.booleans(),
        st.booleans(),
    ),
    # A range spanning '/', from one of its lower neighbours to one of its upper ones: the set
    # must hold both ends and all between but '/' itself.
    st.builds(
        lambda lo, hi: f"{_member(lo, False)}-{hi}",
        st.sampled_from("+,-."),
        st.sampled_from("01:"),
    ),
)
glob_sets = st.builds(
    lambda neg, lead, items, tail: "[" + neg + lead + "".join(items) + tail + "]",
    st.sampled_from(["", "", "", "!", "^"]),
    # A ']' or '-' right after '[' (or '[!') is literal; ']-a' and ']-^' are ranges from ']'.
    st.sampled_from(["", "", "", "]", "-", "]-a", "]-^", "!", "^"]),
    st.lists(set_items, min_size=1, max_size=3),
    st.sampled_from(["", "", "", "-"]),  # a '-' last is literal
)
segment_pieces = st.one_of(
    glob_sets,
    st.sampled_from(["?", "*", "a", "b", "]", "-", ".", "0", "d"]),
    st.builds(lambda c: "\\" + c, st.sampled_from(SET_CHARS)),
)
around = st.sampled_from(["?", "*", "?", "*", "d", "0"])
glob_segments = st.one_of(
    # A set alone: among the one-character names it lists exactly its members, the surest way
    # to see one gained or lost.
    glob_sets,
    # A set between two pieces: it lines up with the '/' of "d/a" should it ever match '/'.
    st.builds(lambda a, s, b: a + s + b, around, glob_sets, around),
    st.lists(segment_pieces, min_size=1, max_size=3).map("".join),
)
# Appended to a pattern's last segment, mostly nothing: unclosed sets (one ending in a '-' with
# nothing after it), a reversed range and a lone '\' at the end of the segment, inside a set or
# outside one (all ValueError).
BROKEN_TAILS = ["[", "[a", "[a-", "[]-", "[!a-", "[\\", "[a\\", "[!\\", "[a-\\", "\\", "[b-a]"]
broken_tails = st.sampled_from([*[""] * (3 * len(BROKEN_TAILS)), *BROKEN_TAILS])
set_globs = st.builds(
    lambda lead, segs, tail, trail: lead + "/".join(segs) + tail + trail,
    st.sampled_from(["", "", "", "/", "**/"]),
    st.lists(glob_segments, min_size=1, max_size=2),
    broken_tails,
    st.sampled_from(["", "", "", "/"]),
)


@parity_property("discover_files")
@example(extra=[], patterns=["[!]a]"]).via("regression: ']' first after '[!' is a member")
@example(extra=[], patterns=["[ab]", "[]a]"]).via("regression: a set closes only at its ']'")
@example(extra=[], patterns=["?[.-0]?"]).via("regression: a range spanning '/' never matches it")
@example(extra=[], patterns=["[\\", "[a\\"]).via("regression: trailing '\\' in a set")
@example(extra=[], patterns=["[a-"]).via("regression: unclosed set ending in '-'")
@given(
    extra=st.lists(
        st.lists(
            st.text(st.sampled_from(SET_CHARS), min_size=1, max_size=3), min_size=1, max_size=2
        )
        .filter(lambda parts: all(p not in (".", "..") for p in parts))
        .map(lambda parts: "/".join(["f", *parts])),
        max_size=4,
    ),
    patterns=st.lists(set_globs, min_size=1, max_size=3),
)
def discover_files_sets_agree(extra: list[str], patterns: list[str]) -> None:
    """Sets, ranges and escapes: the same files (or error class) for each pattern on its own.

    Each pattern is used alone, as ``patterns`` and as ``ignore``, so that another, invalid
    pattern cannot turn a misread set into the same ValueError on both sides.
    """
    with tree([*SET_TREE, *extra], [], [], False) as root:
        for pattern in patterns:
            same(file_system_core.discover_files, root, [pattern])
            same(file_system_core.discover_files, root, ["*"], [pattern])


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


#: Paths beside the tree's own: missing, empty, a FIFO, nested, a name that is not UTF-8,
#: and (on Linux) a regular file that opens but cannot be read: /proc/self/mem, whose first
#: page is unmapped, so the first read fails with EIO (an error string, not a digest).
_EXTRA_PATHS = ["missing", "", "fifo", "a", "a/b/c", ".", "a\udcff"]
if os.path.exists("/proc/self/mem"):
    _EXTRA_PATHS.append("/proc/self/mem")


@parity_property("bulk_hash_files")
@given(
    spec=trees,
    extra=st.lists(st.sampled_from(_EXTRA_PATHS), max_size=4),
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

    Covers files, folders, links, FIFOs, missing paths, a file straddling the read chunk and
    one whose read fails after it opened.
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

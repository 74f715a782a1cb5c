"""SearchCore parity: find_literal on generated trees, and the same errors on bad arguments.

Every example writes a small tree into a fresh temporary directory: nested and hidden
directories, files mixing the needle with CRLF, invalid UTF-8 and NUL bytes (also beyond the
8 KiB binary sniff), and ``.gitignore`` files built from gitignore syntax (negation, anchors,
dir-only, ``**``, classes, escapes) plus random junk lines. Both backends must return the
identical hit list (paths, lines, byte columns, decoded text, order). No float tolerance.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st

from pyagent import search_core
from pyagent.parity import hostile
from pyagent.parity.compare import same
from pyagent.parity.properties.strategies import any_text, not_data
from pyagent.parity.registry import parity_property

NAMES = ["a", "b", "c", ".h", "d.txt", "e.log", "x y", "\u00e9", "keep.log", "build", "[a]"]
SEGMENTS = [
    "a", "b", "*", "?", "*.log", "[a-c]", "[!a]", "[]a]", "**", "d*", "\\#x", "\u00e9",
    "keep.log", ".h", "build", "x\\ y", "\\[a]", "[.-0]",
]  # fmt: skip
CHUNKS = [
    b"foo", b"FOO", b"Foo", b"x", b" ", b"\n", b"\r\n", b"\xff", b"\xe9", "\u00e9".encode(),
    b"fo", b"o", b"\xed\xa0\x80", b"\xf0\x9f", "\u212a".encode(),
]  # fmt: skip

Files = list[tuple[tuple[str, ...], str, bytes]]
Tree = tuple[Files, dict[tuple[str, ...], str]]
names = st.sampled_from(NAMES)
directories = st.lists(names, max_size=3).map(tuple)


@st.composite
def gitignore_lines(draw: st.DrawFn) -> str:
    """A gitignore line from the syntax's building blocks, or (1 in 6) random junk."""
    if draw(st.integers(0, 5)) == 0:
        return draw(st.text(alphabet="ab*?[]!/\\# .\r\u00e9", max_size=8))
    parts = draw(st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=3))
    line = "/".join(parts)
    if draw(st.booleans()):
        line = "/" + line
    if draw(st.integers(0, 3)) == 0:
        line += "/"
    if draw(st.integers(0, 3)) == 0:
        line = "!" + line
    return line + draw(st.sampled_from(["", "", " ", "  ", "\\ "]))


contents = st.builds(
    lambda pad, chunks, tail: pad + b"".join(chunks) + tail,
    st.sampled_from([b"", b"", b"foo x\n" * 1400]),
    st.lists(st.sampled_from(CHUNKS), max_size=25),
    st.sampled_from([b"", b"", b"", b"\0", b"foo\0"]),
)


@st.composite
def trees(draw: st.DrawFn) -> Tree:
    """Files (directory parts, name, bytes) and .gitignore texts by directory."""
    files = draw(st.lists(st.tuples(directories, names, contents), max_size=10))
    ignore_dirs = draw(st.lists(directories, max_size=3))
    ignores = {d: "\n".join(draw(st.lists(gitignore_lines(), max_size=5))) for d in ignore_dirs}
    return files, ignores


def write_tree(
    root: Path,
    files: Files,
    ignores: dict[tuple[str, ...], str],
) -> None:
    """Writes the drawn tree under ``root``; on a file/directory name clash the first wins."""
    for parts, name, data in files:
        try:
            folder = root.joinpath(*parts)
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / name
            if not target.exists():
                # Every file holds "foo" on its first line, so which files the walk (hidden
                # names, .gitignore rules) and the glob let through always shows in the hits.
                target.write_bytes(b"foo\n" + data)
        except OSError:
            continue
    for parts, text in ignores.items():
        try:
            folder = root.joinpath(*parts)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / ".gitignore").write_text(text, encoding="utf-8")
        except OSError:
            continue


needles = st.one_of(
    st.sampled_from(["foo", "FOO", "o", "fo", "\u00e9", "\r", "oo f", "k", "\ufffd"]),
    st.text(alphabet="fo x\u00e9K", min_size=1, max_size=4),
)
globs = st.sampled_from(["*", "*", "*.log", "?", "[a-d]*", "*.txt", "\u00e9", "[", "a\\"])
max_counts = st.one_of(st.none(), st.integers(0, 3))


@parity_property("find_literal_rust")
# Regression examples that reach branches random trees rarely hit together (each kills a
# mutant of the Python reference that survived the random draws):
# a class range ("[a-c]" must match "b", and only "a".."c"); a class ending in "-" ("[a-]":
# the "-" is literal, not a range); "?" followed by more pattern; an escape before a trailing
# space ("\\c " ignores "c": the space after the escaped letter is trimmed); a nested
# .gitignore matching a name relative to its own directory; a negation re-including a file.
@example(
    tree=(
        [((), n, b"") for n in ("a", "b", "c", "-", "e", "keep.log", "e.log")]
        + [(("d",), "a", b""), (("d",), "b", b"")],
        {(): "\\c \n*.log\n!keep.log", ("d",): "a"},
    ),
    needle="foo",
    glob="[a-c]",
    ignore_case=False,
    max_count=None,
)
@example(
    tree=([((), n, b"") for n in ("a", "b", "-", "[a-]")], {("d",): "[b-]"}),
    needle="foo",
    glob="[a-]",
    ignore_case=False,
    max_count=None,
)
@example(
    tree=(
        [((), n, b"") for n in ("e.log", "ab.log", "x")] + [(("d",), "b", b"")],
        {(): "[.-0]\n[!a]x", ("d",): "[a-c]"},
    ),
    needle="o",
    glob="?.log",
    ignore_case=True,
    max_count=None,
)
@given(
    tree=trees(),
    needle=needles,
    glob=globs,
    ignore_case=st.booleans(),
    max_count=max_counts,
)
def find_literal_agrees(
    tree: Tree,
    needle: str,
    glob: str,
    ignore_case: bool,
    max_count: int | None,
) -> None:
    """Same hits, in the same order, on a generated tree with .gitignore files."""
    files, ignores = tree
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_tree(root, files, ignores)
        same(
            search_core.find_literal,
            needle,
            tmp,
            glob=glob,
            ignore_case=ignore_case,
            max_count=max_count,
        )
        # Every file the walk lets through is a hit for "foo": the .gitignore verdicts show.
        same(search_core.find_literal, "foo", tmp, max_count=1)
        # The same call on a file instead of a folder: NotADirectoryError from both.
        (root / "plain").write_bytes(b"foo\n")
        same(search_core.find_literal, needle, str(root / "plain"), glob=glob)


class _BytesPath:
    """An os.PathLike whose __fspath__ gives bytes: a TypeError from both backends."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __fspath__(self) -> bytes:
        return os.fsencode(self.path)


@parity_property("find_literal_rust")
# A float or bool max_count with every other argument valid: only the max_count check can
# raise (TypeError), so nothing else masks it.
@example(needle="foo", root_kind="dir", glob="*", ignore_case=False, max_count=1.5)
@example(needle="foo", root_kind="dir", glob="*", ignore_case=False, max_count=True)
@given(
    needle=hostile.mix(
        st.one_of(any_text, st.sampled_from(["", "a\nb", "foo"]), not_data), "string"
    ),
    root_kind=st.sampled_from(
        ["dir", "path", "file", "missing", "bytes", "nul", "none", "int", "pathlike-bytes"]
    ),
    glob=hostile.mix(st.one_of(st.sampled_from(["*", "[x", "x\\", "\ud800"]), not_data), "string"),
    ignore_case=hostile.mix(st.one_of(st.booleans(), st.none(), st.integers(0, 1)), "int"),
    max_count=st.one_of(
        st.none(),
        st.integers(-3, 3),
        st.just(10**30),
        st.just(-(10**30)),
        st.booleans(),
        st.floats(0, 2),
        st.just("1"),
        hostile.for_kind("int"),
    ),
)
def find_literal_rejects_the_same(
    needle: object, root_kind: str, glob: object, ignore_case: object, max_count: object
) -> None:
    """Bad types, encodings, values, globs and roots: the same exception class."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "f.txt").write_bytes(b"foo\n")
        root: object = {
            "dir": tmp,
            "path": Path(tmp),
            "file": os.path.join(tmp, "f.txt"),
            "missing": os.path.join(tmp, "nope"),
            "bytes": os.fsencode(tmp),
            "nul": tmp + "\0x",
            "none": None,
            "int": 3,
            "pathlike-bytes": _BytesPath(tmp),
        }[root_kind]
        same(
            search_core.find_literal,
            needle,
            root,
            glob=glob,
            ignore_case=ignore_case,
            max_count=max_count,
        )

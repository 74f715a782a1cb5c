"""SearchCore.find_literal on the selected backend, and the same hits as ripgrep.

The ripgrep comparisons run ``rg`` (Debian's ``ripgrep``, installed by ``.ci/run``) with the
flags that select the semantics find_literal implements: ``-F`` literal, gitignore files
honoured without a git repository and only under the root (``--no-require-git
--no-ignore-parent --no-ignore-global --no-ignore-exclude --no-ignore-dot``).
"""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from pyagent.search_core import find_literal

RG = shutil.which("rg")
needs_rg = pytest.mark.skipif(
    RG is None, reason="ripgrep (rg) is not installed: apt-get install ripgrep"
)
RG_FLAGS = [
    "-F",
    "--json",
    "--no-require-git",
    "--no-ignore-parent",
    "--no-ignore-global",
    "--no-ignore-exclude",
    "--no-ignore-dot",
    "--no-messages",
    "--no-config",
]


def _text(field: dict[str, str]) -> bytes:
    return field["text"].encode() if "text" in field else base64.b64decode(field["bytes"])


def ripgrep(
    needle: str, root: Path, *, ignore_case: bool = False, max_count: int | None = None
) -> list[tuple[str, int, int, str]]:
    """rg's hits in find_literal's shape (path relative to root; sorted)."""
    assert RG is not None
    args = [RG, *RG_FLAGS]
    if ignore_case:
        args.append("-i")
    if max_count is not None:
        args += ["-m", str(max_count)]
    run = subprocess.run([*args, "-e", needle, "."], cwd=root, capture_output=True, check=False)
    assert run.returncode in (0, 1), run.stderr
    hits = []
    for raw in run.stdout.splitlines():
        message = json.loads(raw)
        if message["type"] != "match":
            continue
        data = message["data"]
        path = os.fsdecode(_text(data["path"]))
        line = _text(data["lines"]).removesuffix(b"\n")
        column = data["submatches"][0]["start"] + 1
        hits.append(
            (path.removeprefix("./"), data["line_number"], column, line.decode("utf-8", "replace"))
        )
    return sorted(hits, key=lambda h: (os.fsencode(h[0]), h[1]))


def relative(hits: list[tuple[str, int, int, str]], root: Path) -> list[tuple[str, int, int, str]]:
    return [(os.path.relpath(p, root), n, c, t) for p, n, c, t in hits]


def write(root: Path, files: dict[str, bytes | str]) -> None:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)


def test_hits_are_lines_with_byte_columns_in_path_order(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"b.txt": "x foo\nnone\nfoo foo\n", "a/z.txt": "caf\u00e9 foo\r\nfoo", "a.txt": "foo"},
    )
    got = find_literal("foo", tmp_path)
    assert relative(got, tmp_path) == [
        ("a.txt", 1, 1, "foo"),
        ("a/z.txt", 1, 7, "caf\u00e9 foo\r"),  # byte column: é is two bytes
        ("a/z.txt", 2, 1, "foo"),
        ("b.txt", 1, 3, "x foo"),
        ("b.txt", 3, 1, "foo foo"),
    ]
    assert got[0][0] == os.path.join(tmp_path, "a.txt")


def test_gitignore_rules_hidden_files_and_binaries(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".gitignore": "*.log\n!keep.log\n/build/\ndeep/**/x\n# comment\n\\#lit\n!.shown\n",
            "a.log": "foo", "sub/keep.log": "foo", "build/o.txt": "foo", "sub/build/o.txt": "foo",
            "deep/x": "foo", "deep/1/2/x": "foo", "deep/y": "foo", "#lit": "foo",
            ".hidden": "foo", ".git/config": "foo", ".shown": "foo",
            "sub/.gitignore": "!a.log\no.txt\n", "sub/a.log": "foo",
            "bin.dat": b"foo\0foo", "late.dat": b"foo\n" + b"x" * 9000 + b"\0",
            "bad.txt": b"\xff\xfefoo\xed\xa0\x80\n",
        },
    )  # fmt: skip
    got = {path for path, *_ in relative(find_literal("foo", tmp_path), tmp_path)}
    assert got == {".shown", "sub/keep.log", "sub/a.log", "deep/y", "late.dat", "bad.txt"}
    bad = [h for h in find_literal("foo", tmp_path) if h[0].endswith("bad.txt")]
    assert bad[0][2:] == (3, "\ufffd\ufffdfoo\ufffd\ufffd\ufffd")


def test_glob_ignore_case_and_max_count(tmp_path: Path) -> None:
    write(tmp_path, {"a.py": "Foo\nFOO\nfoo\n", "b.txt": "foo\n", "c.py": "bar\n"})
    assert [h[1] for h in find_literal("foo", tmp_path, glob="*.py")] == [3]
    assert [h[1] for h in find_literal("foo", tmp_path, glob="*.py", ignore_case=True)] == [1, 2, 3]
    assert [h[1] for h in find_literal("fOo", tmp_path, ignore_case=True, max_count=2)] == [1, 2, 1]
    assert find_literal("foo", tmp_path, max_count=0) == []
    assert find_literal("\u00e9", tmp_path) == []


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"needle": ""}, ValueError),
        ({"needle": "a\nb"}, ValueError),
        ({"needle": b"foo"}, TypeError),
        ({"needle": "\ud800"}, UnicodeEncodeError),
        ({"glob": "[a"}, ValueError),
        ({"glob": None}, TypeError),
        ({"ignore_case": 1}, TypeError),
        ({"max_count": -1}, ValueError),
        ({"max_count": True}, TypeError),
        ({"max_count": 1.0}, TypeError),
        ({"root": "missing"}, FileNotFoundError),
        ({"root": "file"}, NotADirectoryError),
        ({"root": b"."}, TypeError),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict[str, object], error: type[Exception]) -> None:
    (tmp_path / "file").write_text("foo")
    args: dict[str, object] = {"needle": "foo", "root": tmp_path, **kwargs}
    if args["root"] in ("missing", "file"):
        args["root"] = tmp_path / str(args["root"])
    with pytest.raises(error):
        find_literal(**args)  # type: ignore[arg-type]


def random_tree(root: Path, seed: int, files: int = 120) -> None:
    """A tree with gitignores, hidden and binary files, CRLF, invalid UTF-8 and Unicode."""
    rng = random.Random(seed)
    dirs = ["", "src", "src/deep", "docs", "build", "vendor/lib", ".cache", "node_modules/x"]
    words = ["foo", "Foo", "FOO", "bar", "caf\u00e9", "\u4e2d\u6587", "foobar", "x", " "]
    for i in range(files):
        folder = rng.choice(dirs)
        name = f"f{i}" + rng.choice([".py", ".txt", ".log", ".min.js", ""])
        lines = [
            " ".join(rng.choices(words, k=rng.randint(0, 6))) for _ in range(rng.randint(0, 30))
        ]
        data = rng.choice(["\n", "\r\n"]).join(lines).encode()
        if rng.random() < 0.1:
            data = data[:50] + b"\0" + data[50:]
        if rng.random() < 0.1:
            data += b"\xff\xfe foo \xc3\n"
        write(root, {os.path.join(folder, name): data})
    write(
        root,
        {
            ".gitignore": "*.log\nbuild/\n/vendor\n!important.log\nnode_modules\n",
            "src/.gitignore": "*.min.js\n!f1*.min.js\ndeep/*.txt\n",
            "docs/.gitignore": "/f2*\n",
            "src/important.log": "foo important\n",
        },
    )


@needs_rg
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("needle", ["foo", "caf\u00e9", "o b", "\u4e2d"])
def test_same_hits_as_ripgrep(tmp_path: Path, seed: int, needle: str) -> None:
    random_tree(tmp_path, seed)
    assert relative(find_literal(needle, tmp_path), tmp_path) == ripgrep(needle, tmp_path)


@needs_rg
@pytest.mark.parametrize("seed", range(3))
def test_same_hits_as_ripgrep_ignore_case_and_max_count(tmp_path: Path, seed: int) -> None:
    random_tree(tmp_path, seed)
    got = relative(find_literal("foo", tmp_path, ignore_case=True, max_count=2), tmp_path)
    assert got == ripgrep("foo", tmp_path, ignore_case=True, max_count=2)
    assert len(got) > 10


@needs_rg
def test_same_hits_as_ripgrep_on_this_repository() -> None:
    root = Path(__file__).resolve().parents[1] / "pyagent"
    got = relative(find_literal("def ", root), root)
    assert got == ripgrep("def ", root)
    assert len(got) > 50

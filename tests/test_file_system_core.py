"""FileSystemCore: discover_files and bulk_hash_files on the selected backend."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from pyagent.backend import forced_python
from pyagent.cache_core import ALGORITHMS
from pyagent.file_system_core import CHUNK, NOT_REGULAR, bulk_hash_files, discover_files

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file-system features")


def make_tree(root: Path, files: list[str]) -> None:
    for rel in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rel.encode("utf-8", "surrogateescape"))


def too_deep(parent: Path, name: str = "deep") -> str:
    """A folder under ``parent`` whose full path exceeds PATH_MAX: listing it as a folder
    works, opening it by path fails with ENAMETOOLONG, even for root. Built with dir_fd so
    no call ever sees the long path. Returns its path relative to ``parent``."""
    parts = [name] + ["d" * 250] * 20
    fd = os.open(parent, os.O_RDONLY)
    try:
        for part in parts:
            os.mkdir(part, dir_fd=fd)
            child = os.open(part, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = child
        with open(os.open("f", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "wb") as handle:
            handle.write(b"unreachable")
    finally:
        os.close(fd)
    return "/".join(parts)


# --- discover_files: patterns -----------------------------------------------------------

TREE = [
    "top.py",
    "README.md",
    ".hidden",
    "src/app.py",
    "src/util/helpers.py",
    "src/util/data.json",
    "src/a-b.txt",
    "docs/index.md",
    "docs/api/ref.md",
    "build/out.py",
    "x[1].txt",
    "star*.txt",
]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*", sorted(TREE)),
        ("*.py", ["build/out.py", "src/app.py", "src/util/helpers.py", "top.py"]),
        ("src/*.py", ["src/app.py"]),  # '*' never crosses '/'
        ("src/**/*.py", ["src/app.py", "src/util/helpers.py"]),  # '**' = zero or more dirs
        ("/*.py", ["top.py"]),  # a leading '/' anchors at root
        ("**/api/*", ["docs/api/ref.md"]),
        ("docs/**", ["docs/api/ref.md", "docs/index.md"]),
        ("?op.py", ["top.py"]),
        ("[!t]op.py", []),
        ("[^a-s]op.py", ["top.py"]),
        ("[a-c]*", ["src/a-b.txt", "src/app.py"]),
        ("*.[jm][sd]*", ["README.md", "docs/api/ref.md", "docs/index.md", "src/util/data.json"]),
        ("x\\[1\\].txt", ["x[1].txt"]),
        ("x[[]1].txt", ["x[1].txt"]),
        ("star\\*.txt", ["star*.txt"]),
        (".*", [".hidden"]),
        ("src", []),  # folders are never listed
    ],
)
def test_glob_semantics(tmp_path: Path, pattern: str, expected: list[str]) -> None:
    make_tree(tmp_path, TREE)
    assert discover_files(tmp_path, [pattern]) == expected


def test_a_set_or_wildcard_never_matches_a_separator(tmp_path: Path) -> None:
    make_tree(tmp_path, ["a/b", "a-b", "a.b"])
    assert discover_files(tmp_path, ["a[!x]b"]) == ["a-b", "a.b"]
    assert discover_files(tmp_path, ["a[+-0]b"]) == ["a-b", "a.b"]  # range spans '/'
    assert discover_files(tmp_path, ["a?b"]) == ["a-b", "a.b"]
    assert discover_files(tmp_path, ["/a*"]) == ["a-b", "a.b"]


def test_several_patterns_and_the_default(tmp_path: Path) -> None:
    make_tree(tmp_path, TREE)
    assert discover_files(tmp_path, ["*.md", "*.json"]) == [
        "README.md",
        "docs/api/ref.md",
        "docs/index.md",
        "src/util/data.json",
    ]
    assert discover_files(tmp_path) == sorted(TREE)
    assert discover_files(str(tmp_path), []) == []


def test_ignore_excludes_files_and_prunes_folders(tmp_path: Path) -> None:
    make_tree(tmp_path, TREE)
    assert discover_files(tmp_path, ["*.py"], ["build"]) == [
        "src/app.py",
        "src/util/helpers.py",
        "top.py",
    ]
    assert discover_files(tmp_path, ["*"], ["*.md", "src/**"]) == sorted(
        [".hidden", "build/out.py", "star*.txt", "top.py", "x[1].txt"]
    )
    # A trailing '/' matches folders only: the folder "util" goes, a file named so would stay.
    (tmp_path / "util").write_bytes(b"")
    got = discover_files(tmp_path, ["*"], ["util/"])
    assert "util" in got and "src/util/helpers.py" not in got


@posix_only
def test_a_pruned_folder_is_never_read(tmp_path: Path) -> None:
    make_tree(tmp_path, ["keep.txt"])
    (tmp_path / "skip").mkdir()
    too_deep(tmp_path / "skip")
    assert discover_files(tmp_path, ["*"], ["skip"]) == ["keep.txt"]
    assert discover_files(tmp_path, ["*"], ["deep/"]) == ["keep.txt"]


@pytest.mark.parametrize("pattern", ["", "/", "a//b", "a//", "[a", "[z-a]", "a\\", "[!", "x/[\\"])
def test_bad_patterns_are_value_errors(tmp_path: Path, pattern: str) -> None:
    with pytest.raises(ValueError):
        discover_files(tmp_path, [pattern])
    with pytest.raises(ValueError):
        discover_files(tmp_path, ["*"], [pattern])


@pytest.mark.parametrize(
    ("root", "patterns", "ignore"),
    [(b"/tmp", ("*",), ()), (3, ("*",), ()), (".", "*", ()), (".", [b"*"], ()), (".", ["*"], [1])],
)
def test_bad_argument_types_are_type_errors(root: object, patterns: object, ignore: object) -> None:
    with pytest.raises(TypeError):
        discover_files(root, patterns, ignore)  # type: ignore[arg-type]


def test_nul_in_root_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        discover_files("a\0b")


# --- discover_files: the walk -----------------------------------------------------------


def test_empty_folders_and_an_empty_root(tmp_path: Path) -> None:
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    assert discover_files(tmp_path) == []
    (tmp_path / "a" / "b" / "f").write_bytes(b"")
    assert discover_files(tmp_path) == ["a/b/f"]


def test_missing_root_and_file_root(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as missing:
        discover_files(tmp_path / "nope")
    assert missing.value.filename == str(tmp_path / "nope")
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        discover_files(tmp_path / "f")
    with pytest.raises(FileNotFoundError):
        discover_files("")


def test_output_is_sorted_as_python_sorts_str(tmp_path: Path) -> None:
    names = ["b", "a-b", "a/b", "a/a", "A", "é", "z", "~", "ä/x", "a.b", "😀", "\u00e9x"]
    make_tree(tmp_path, names)
    got = discover_files(tmp_path)
    assert got == sorted(names) and len(got) == len(names)


def test_unicode_names(tmp_path: Path) -> None:
    names = ["héllo wörld.txt", "日本/語.md", "emoji 😀/ok.py", "tab\tand\nnewline"]
    make_tree(tmp_path, names)
    assert discover_files(tmp_path) == sorted(names)
    assert discover_files(tmp_path, ["日本/*"]) == ["日本/語.md"]
    assert discover_files(tmp_path, ["?????.md"]) == []
    assert discover_files(tmp_path, ["?.md"]) == ["日本/語.md"]  # '?' is one character


@pytest.mark.skipif(sys.platform != "linux", reason="Linux file names are arbitrary bytes")
def test_non_utf8_names_come_back_as_fsdecode_gives_them(tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/bad\xff\xfename"
    os.mkdir(raw)
    with open(raw + b"/f\x80.txt", "wb") as handle:
        handle.write(b"x")
    expected = os.fsdecode(b"bad\xff\xfename/f\x80.txt")
    assert discover_files(tmp_path) == [expected]
    assert discover_files(tmp_path, ["bad??name/f?.txt"]) == [expected]
    assert discover_files(tmp_path, ["f\udc80.txt"]) == [expected]
    assert discover_files(tmp_path, ["*"], ["bad\udcff*"]) == []
    # and the names it returns open the files
    assert bulk_hash_files([tmp_path / expected], "md5")[0][1] == hashlib.md5(b"x").hexdigest()


@posix_only
def test_symlinks_are_neither_followed_nor_listed(tmp_path: Path) -> None:
    make_tree(tmp_path, ["real/f.txt"])
    (tmp_path / "real" / "loop").symlink_to(tmp_path / "real")
    (tmp_path / "self").symlink_to(tmp_path / "self")
    (tmp_path / "to_file").symlink_to(tmp_path / "real" / "f.txt")
    (tmp_path / "to_dir").symlink_to(tmp_path / "real")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    assert discover_files(tmp_path) == ["real/f.txt"]
    # root itself may be a link to a folder
    assert discover_files(tmp_path / "to_dir") == ["f.txt"]


@posix_only
def test_special_files_are_not_listed(tmp_path: Path) -> None:
    make_tree(tmp_path, ["f"])
    os.mkfifo(tmp_path / "fifo")
    assert discover_files(tmp_path) == ["f"]


@posix_only
def test_an_unreadable_folder_raises_rather_than_shortening_the_list(tmp_path: Path) -> None:
    make_tree(tmp_path, ["a.txt", "z/z.txt"])
    (tmp_path / "m").mkdir()
    too_deep(tmp_path / "m")
    with pytest.raises(OSError) as raised:
        discover_files(tmp_path)
    filename = raised.value.filename
    # the first folder on the way down whose path is too long to open
    assert filename.startswith(str(tmp_path / "m" / "deep" / "ddd"))
    assert len(os.fsencode(filename)) >= 4096 > len(os.fsencode(filename)) - 251


@posix_only
def test_a_mode_000_folder_is_a_permission_error_unless_root(tmp_path: Path) -> None:
    make_tree(tmp_path, ["a.txt", "locked/secret.txt"])
    (tmp_path / "locked").chmod(0)
    try:
        if IS_ROOT:  # root ignores modes: the folder is read like any other
            assert discover_files(tmp_path) == ["a.txt", "locked/secret.txt"]
        else:
            with pytest.raises(PermissionError):
                discover_files(tmp_path)
        assert discover_files(tmp_path, ["*"], ["locked"]) == ["a.txt"]
    finally:
        (tmp_path / "locked").chmod(0o755)


@posix_only
def test_the_first_unreadable_folder_in_sorted_depth_first_order_is_reported(
    tmp_path: Path,
) -> None:
    for top in ["b", "a", "c"]:
        (tmp_path / top).mkdir()
        too_deep(tmp_path / top, name=f"deep{top}")
    for _ in range(3):
        with pytest.raises(OSError) as raised:
            discover_files(tmp_path)
        assert raised.value.filename.startswith(str(tmp_path / "a" / "deepa"))


def test_a_large_tree(tmp_path: Path) -> None:
    files = [f"d{i % 17}/e{i % 5}/f{i}.{'py' if i % 3 else 'txt'}" for i in range(3000)]
    make_tree(tmp_path, files)
    assert discover_files(tmp_path) == sorted(files)
    assert discover_files(tmp_path, ["*.txt"], ["e0"]) == sorted(
        f for f in files if f.endswith(".txt") and "/e0/" not in f
    )


def test_folders_removed_during_the_walk_are_skipped(tmp_path: Path) -> None:
    """A remover thread deletes folders while walks run: no walk raises, each lists only
    files that existed, and some walks really ran while folders were vanishing."""
    files = [f"d{i:03}/s/f{j}" for i in range(150) for j in range(3)]
    files += [f"d{i:03}/g{j}" for i in range(150) for j in range(2)]
    partial = 0
    for round_ in range(3):
        root = tmp_path / f"round{round_}"
        make_tree(root, files)
        folders = sorted(root.iterdir())
        random.Random(round_).shuffle(folders)

        def remove(folders: list[Path] = folders) -> None:
            for folder in folders:
                shutil.rmtree(folder, ignore_errors=True)

        remover = threading.Thread(target=remove)
        remover.start()
        while remover.is_alive():
            found = discover_files(root)
            assert set(found) <= set(files)
            partial += 0 < len(found) < len(files)
        remover.join()
        assert discover_files(root) == []
    assert partial > 0


def test_the_reference_skips_a_folder_that_vanishes_before_or_while_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deterministic: the Python reference's scandir is wrapped so that one folder is gone
    when it is opened and another vanishes after its first entry (Linux then reports
    ENOENT for the rest of the listing)."""
    make_tree(tmp_path, ["a/x", "b/c/y", "b/z", "d/w", "e/v1", "e/v2"])
    real_scandir = os.scandir

    class Vanishing:
        def __init__(self, path: str) -> None:
            self.inner = real_scandir(path)
            self.given = 0

        def __enter__(self) -> Vanishing:
            return self

        def __exit__(self, *exc: object) -> None:
            self.inner.close()

        def __iter__(self) -> Vanishing:
            return self

        def __next__(self) -> os.DirEntry[str]:
            if self.given == 1:
                raise FileNotFoundError(2, "No such file or directory")
            self.given += 1
            return min(self.inner, key=lambda e: e.name)

    def scandir(path: Any) -> Any:
        # shutil.rmtree itself lists folders by descriptor: those pass through.
        if isinstance(path, str) and path.endswith("b"):
            shutil.rmtree(path, ignore_errors=True)
        if isinstance(path, str) and path.endswith("e"):
            return Vanishing(path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with forced_python():
        assert discover_files(tmp_path) == ["a/x", "d/w", "e/v1"]
        # The root itself vanishing is still an error.
        with pytest.raises(FileNotFoundError):
            discover_files(tmp_path / "b")


# --- bulk_hash_files --------------------------------------------------------------------


def file_digest(path: Path, algorithm: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, algorithm).hexdigest()


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_digests_equal_hashlib(tmp_path: Path, algorithm: str) -> None:
    sizes = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 12345]
    paths = []
    for size in sizes:
        path = tmp_path / f"f{size}"
        path.write_bytes(bytes(i % 251 for i in range(size)))
        paths.append(path)
    got = bulk_hash_files(paths, algorithm.upper())
    assert got == [(str(p), file_digest(p, algorithm), None) for p in paths]


def test_results_keep_input_order_and_duplicates(tmp_path: Path) -> None:
    paths = []
    for i in range(200):
        path = tmp_path / f"{i:03}"
        path.write_bytes(os.urandom(i * 97))
        paths.append(str(path))
    order = paths[::-1] + paths[:5]
    got = bulk_hash_files(order)
    assert [r[0] for r in got] == order
    assert [r[1] for r in got] == [file_digest(Path(p), "sha256") for p in order]
    assert bulk_hash_files([]) == []
    assert bulk_hash_files(iter(paths[:2])) == bulk_hash_files(paths[:2])


@pytest.mark.skipif(sys.platform != "linux", reason="errno numbers and texts are Linux's")
def test_unreadable_paths_are_reported_not_dropped(tmp_path: Path) -> None:
    (tmp_path / "ok").write_bytes(b"ok")
    (tmp_path / "dir").mkdir()
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "link").symlink_to(tmp_path / "ok")
    deep = tmp_path / too_deep(tmp_path) / "f"
    names = ["missing", "dir", "fifo", "loop", "link", "ok", "ok/child"]
    got = bulk_hash_files([str(tmp_path / n) for n in names] + [deep, ""])
    ok = hashlib.sha256(b"ok").hexdigest()
    assert [(digest, error) for _, digest, error in got] == [
        (None, "FileNotFoundError: [Errno 2] No such file or directory"),
        (None, "IsADirectoryError: [Errno 21] Is a directory"),
        (None, NOT_REGULAR),
        (None, "OSError: [Errno 40] Too many levels of symbolic links"),
        (ok, None),  # a link hashes its target
        (ok, None),
        (None, "NotADirectoryError: [Errno 20] Not a directory"),
        (None, "OSError: [Errno 36] File name too long"),
        (None, "FileNotFoundError: [Errno 2] No such file or directory"),
    ]


@posix_only
def test_a_mode_000_file_is_a_permission_error_unless_root(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_bytes(b"s")
    path.chmod(0)
    try:
        [(_, digest, error)] = bulk_hash_files([path])
        if IS_ROOT:  # root ignores modes
            assert (digest, error) == (hashlib.sha256(b"s").hexdigest(), None)
        else:
            assert digest is None and error == "PermissionError: [Errno 13] Permission denied"
    finally:
        path.chmod(0o644)


@pytest.mark.parametrize(
    ("paths", "algorithm", "error"),
    [
        (["x"], "sha-256", ValueError),
        (["x"], "", ValueError),
        (["x"], "blake2b", ValueError),
        (["x"], None, TypeError),
        ("x", "sha256", TypeError),
        (b"x", "sha256", TypeError),
        ([b"x"], "sha256", TypeError),
        ([1], "sha256", TypeError),
        (3, "sha256", TypeError),
        (["a\0b"], "sha256", ValueError),
    ],
)
def test_bad_arguments(paths: object, algorithm: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        bulk_hash_files(paths, algorithm)  # type: ignore[arg-type]


def test_path_objects_come_back_as_str(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    [(path, digest, error)] = bulk_hash_files([tmp_path / "f"], "md5")
    assert path == str(tmp_path / "f") and type(path) is str
    assert digest == hashlib.md5(b"").hexdigest() and error is None


@pytest.mark.requires_rust
def test_native_hashing_releases_the_gil(tmp_path: Path) -> None:
    from tests.test_native_gil import main_thread_runs_during

    blob = os.urandom(8 << 20)
    paths = []
    for i in range(8):
        (tmp_path / str(i)).write_bytes(blob)
        paths.append(tmp_path / str(i))
    assert main_thread_runs_during(lambda: bulk_hash_files(paths, "sha512")) > 1000


class _PathStr(str):
    """A str subclass path: results name it as a plain str on both backends."""


def test_a_str_subclass_path_comes_back_as_a_plain_str(tmp_path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("x")
    [(path, digest, error)] = bulk_hash_files([_PathStr(str(target))])
    assert type(path) is str and path == str(target)
    assert digest is not None and error is None

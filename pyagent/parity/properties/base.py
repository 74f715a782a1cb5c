"""BaseCore parity: save_atomic writes the same bytes and mode, or fails the same way."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import math
import os
import shutil
import stat
import tempfile
from pathlib import Path

import numpy
from hypothesis import example, given
from hypothesis import strategies as st

from pyagent import base_core
from pyagent.parity import hostile
from pyagent.parity.compare import call_both, call_python, call_rust, same_outcome
from pyagent.parity.properties.strategies import any_text, bytes_like
from pyagent.parity.registry import parity_property

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
payloads = st.one_of(
    bytes_like, any_text, json_values, st.just({1, 2}), st.builds(object), st.just(math.nan)
)
#: Buffers that are not C-contiguous: BufferError from both backends, whatever the exporter.
strided = st.sampled_from(
    [
        numpy.arange(12, dtype=numpy.uint8)[::2],
        numpy.zeros((3, 4)).T,
        memoryview(b"abcdef")[::2],
    ]
)
payloads = st.one_of(payloads, strided)
#: Where the target goes inside a fresh folder: valid names (the longest, not UTF-8, links
#: written through), and every way to fail (NUL, one byte too long, a link loop).
targets = st.one_of(
    st.sampled_from(["state.json", "a b.txt", "ünï.bin", ".hidden", "n" * 240, "n" * 255]),
    st.sampled_from([os.fsdecode(b"\xff-not-utf8.bin"), "link", "dangling", "chain"]),
    st.sampled_from(["missing/state.json", "afile/state.json", "adir", "", ".", "..", "x/"]),
    st.sampled_from(["a\0b", "n" * 256, "loop", "link-to-dir"]),
)


def _prepare(root: Path, existing_mode: int | None) -> None:
    (root / "afile").write_bytes(b"not a folder")
    (root / "adir").mkdir()
    (root / "link").symlink_to("state.json")
    (root / "chain").symlink_to("link")
    (root / "dangling").symlink_to("adir/created.json")
    (root / "loop").symlink_to("loop")
    (root / "link-to-dir").symlink_to("adir")
    if existing_mode is not None:
        for name in ("state.json", "a b.txt"):
            (root / name).write_bytes(b"old content")
            (root / name).chmod(existing_mode)


def _snapshot(root: Path) -> dict[str, tuple[bytes | None, str | None, int]]:
    """Every entry under root with its bytes and mode: catches stray temp files too."""
    return {
        str(entry.relative_to(root)): (
            entry.read_bytes() if entry.is_file() else None,
            os.readlink(entry) if entry.is_symlink() else None,
            stat.S_IMODE(entry.lstat().st_mode),
        )
        for entry in sorted(root.rglob("*"))
    }


@parity_property("save_atomic")
@given(
    data=payloads,
    target=targets,
    existing_mode=st.sampled_from([None, 0o600, 0o644, 0o755]),
    as_path=st.booleans(),
)
def save_atomic_agrees(data: object, target: str, existing_mode: int | None, as_path: bool) -> None:
    """Same outcome class, and byte-identical folders (content, modes, no temp files)."""
    rust_root, python_root = (Path(tempfile.mkdtemp(prefix="parity-save-")) for _ in range(2))
    try:
        for root in (rust_root, python_root):
            _prepare(root, existing_mode)

        def argument(root: Path) -> object:
            path = os.path.join(root, target)
            return Path(path) if as_path and target not in ("", "x/") else path

        rust = call_rust(base_core.save_atomic, argument(rust_root), data)
        python = call_python(base_core.save_atomic, argument(python_root), data)
        same_outcome(rust, python)
        assert _snapshot(rust_root) == _snapshot(python_root)
    finally:
        shutil.rmtree(rust_root, ignore_errors=True)
        shutil.rmtree(python_root, ignore_errors=True)


@parity_property("save_atomic")
@given(data=st.one_of(st.binary(), any_text, st.integers(), st.none()))
def save_atomic_rejects_bytes_paths(data: object) -> None:
    """Bytes paths are a TypeError from both backends, before any write."""
    rust, python = call_both(base_core.save_atomic, b"/nonexistent/parity-bytes-path", data)
    same_outcome(rust, python)
    assert rust.error is TypeError


@parity_property("save_atomic")
@given(
    name=st.sampled_from([*hostile.PATH_NAMES, "", ".", "..", "a\x00b", "new.txt"]),
    data=hostile.mix(st.binary(max_size=8), "buffer"),
)
def save_atomic_hostile(name: str, data: object) -> None:
    """Hostile targets and data: the same outcome class from both backends.

    Folders, FIFOs, dangling links, loops, 255/256-byte and non-UTF-8 names, NUL, strided
    or odd buffers.
    """
    rust_root, python_root = (Path(tempfile.mkdtemp(prefix="parity-hostile-")) for _ in range(2))
    try:
        for root in (rust_root, python_root):
            hostile.make_tree(str(root))
        rust = call_rust(base_core.save_atomic, os.path.join(rust_root, name), data)
        python = call_python(base_core.save_atomic, os.path.join(python_root, name), data)
        same_outcome(rust, python)
    finally:
        shutil.rmtree(rust_root, ignore_errors=True)
        shutil.rmtree(python_root, ignore_errors=True)


def _spec_prefix(name: str) -> bytes:
    """The temporary-file prefix of target ``name``, restated from the module docstring.

    Written out here rather than taken from base_core, so a bug in the reference's own
    naming is seen as a leftover the reference removes and rust_core keeps (or the reverse).
    """
    raw = os.fsencode(name)
    if len(raw) + 22 <= 255:  # "." + name + "." + 16 hex digits + ".tmp"
        return b"." + raw + b"."
    return b"." + raw[:200] + b"~" + hashlib.sha256(raw).hexdigest()[:16].encode() + b"."


def _other_form(name: str) -> bytes:
    """The prefix the *other* naming rule would give: never this target's."""
    raw = os.fsencode(name)
    if _spec_prefix(name).startswith(b"." + raw + b"."):
        return b"." + raw[:200] + b"~" + hashlib.sha256(raw).hexdigest()[:16].encode() + b"."
    return b"." + raw + b"."


#: Leftovers next to the target: what a clean-up must remove (an unlocked regular file of
#: ours with the exact name pattern) and every near miss it must keep.
LEFTOVERS = [
    "stale", "stale", "locked", "other-owner", "fifo", "dir", "symlink", "upper-hex",
    "short-tail", "long-tail", "suffix", "other-target", "other-form",
]  # fmt: skip


def _leftover(root: Path, name: str, kind: str, index: int, locks: list[int]) -> None:
    tail = f"{index:015x}a".encode() + b".tmp"
    prefix = _spec_prefix(name)
    raw = {
        "upper-hex": prefix + f"{index:015X}A".encode() + b".tmp",
        "short-tail": prefix + f"{index:015x}".encode() + b".tmp",
        "long-tail": prefix + f"{index:017x}".encode() + b".tmp",
        "suffix": prefix + tail + b"x",
        "other-target": _spec_prefix(name + "x")[:-1] + b"." + tail,
        "other-form": _other_form(name) + tail,
    }.get(kind, prefix + tail)
    if len(raw) > 255:
        return  # no file system holds that name: nothing to leave behind
    path = os.path.join(os.fsencode(root), raw)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dir":
        os.mkdir(path)
    elif kind == "symlink":
        os.symlink(b"missing", path)
    else:
        with open(path, "wb") as handle:
            handle.write(b"left by a killed writer")
        if kind == "other-owner" and os.geteuid() == 0:
            os.chown(path, 4242, 4242)
        if kind == "locked":
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            fcntl.flock(fd, fcntl.LOCK_EX)
            locks.append(fd)


@parity_property("save_atomic")
@given(
    name=st.one_of(
        st.sampled_from(["state.json", os.fsdecode(b"\xfe-not-utf8"), "\u00e9" * 117]),
        # Around the switch to the long naming rule (233 bytes fit, 234 do not).
        st.integers(229, 255).map(lambda n: "n" * n),
    ),
    kinds=st.lists(st.sampled_from(LEFTOVERS), min_size=1, max_size=6),
    data=st.one_of(st.binary(max_size=8), st.text(max_size=4)),
    existing=st.booleans(),
    relative=st.booleans(),
)
# The longest name of the short rule (233 bytes) and the shortest of the long one (234).
@example(name="n" * 233, kinds=["stale", "other-form"], data=b"x", existing=True, relative=False)
@example(name="n" * 234, kinds=["stale", "other-form"], data=b"x", existing=False, relative=True)
def save_atomic_cleans_up_leftovers(
    name: str, kinds: list[str], data: object, existing: bool, relative: bool
) -> None:
    """Leftover temporary files: both backends remove the same ones and keep the rest.

    Next to the target: unlocked leftovers of this target (removed), and near misses that
    must stay: one locked by a live writer, another owner's, a FIFO, folder or link with the
    pattern's name, wrong hex tails, another target's, the other naming rule's. Targets of
    every length around the long-name switch, given as absolute or relative paths.
    """
    roots = [Path(tempfile.mkdtemp(prefix="parity-stale-")) for _ in range(2)]
    locks: list[int] = []
    here = os.getcwd()
    try:
        for root in roots:
            if existing:
                (root / name).write_bytes(b"old content")
            for index, kind in enumerate(kinds):
                with contextlib.suppress(FileExistsError):
                    _leftover(root, name, kind, index, locks)

        def save(root: Path, call: object) -> object:
            if not relative:
                return call(base_core.save_atomic, os.path.join(root, name), data)  # type: ignore[operator]
            os.chdir(root)
            try:
                return call(base_core.save_atomic, name, data)  # type: ignore[operator]
            finally:
                os.chdir(here)

        rust = save(roots[0], call_rust)
        python = save(roots[1], call_python)
        same_outcome(rust, python)  # type: ignore[arg-type]
        assert rust.error is None, rust.describe()  # type: ignore[attr-defined]
        assert _snapshot(roots[0]) == _snapshot(roots[1])
    finally:
        os.chdir(here)
        for fd in locks:
            os.close(fd)
        for root in roots:
            shutil.rmtree(root, ignore_errors=True)

"""FileSystemCore: discovering and hashing a 20,000-file, 1 GiB tree.

Workload: 20,000 regular files totalling exactly 1 GiB (log-normal sizes, 1 B to a few MiB,
random bytes from a fixed seed) in 20 packages x 10 folders x 95 files, plus ``node_modules``
and ``.git`` folders of 500 files each. The tree is generated once under the system temp
folder (about 10 s) and reused by later runs; a sibling ``.json`` file marks it complete and
holds every file's SHA-256, so results are checked without rehashing. All files are read once
at import, so every timing is WARM page cache: this measures the walk, the syscalls and the
hashing, not the disk.

Groups:

* ``discover_files``: patterns ``*.py``, ``*.json``, ``*.md`` (name at any depth), ignoring
  ``node_modules`` and ``.git``. Peer: ``os.walk`` (pruning ``dirs`` in place) + ``fnmatch``
  on names.
* ``discover_files:scandir``: the same with a hand-written recursive ``os.scandir`` (Rust vs
  peer only; the reference is timed in the main group).
* ``bulk_hash_files``: SHA-256 of all 20,000 files. Peer: a ``hashlib.file_digest`` loop.
* ``bulk_hash_files:scan``: the whole job, discover every file then hash it. Peer: ``os.walk``
  + ``hashlib.file_digest``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from bench.conftest import compare, rust_vs_peer_only, scaled
from pyagent import file_system_core

FILES = scaled(20_000, 2_000)
TOTAL_BYTES = scaled(1 << 30, 64 << 20)
SEED = 20261124
PATTERNS = ("*.py", "*.json", "*.md")
IGNORE = ("node_modules", ".git")
EXTENSIONS = (".py", ".json", ".md", ".txt", ".bin", ".rs")
ROOT = Path(tempfile.gettempdir()) / f"pyagent-bench-fs-{FILES}x{TOTAL_BYTES}-{SEED}"
MARKER = ROOT.with_suffix(".json")


def _layout() -> list[str]:
    rels = []
    for pkg in range(FILES // 1000):  # 20 in the full profile
        for sub in range(10):
            for i in range(95):
                rels.append(f"pkg{pkg:02}/mod{sub}/file{i:03}{EXTENSIONS[i % len(EXTENSIONS)]}")
    rels += [f"node_modules/dep{i // 50}/index{i}.js" for i in range(FILES // 40)]
    rels += [f".git/objects/{i % 256:02x}/obj{i}" for i in range(FILES // 40)]
    assert len(rels) == FILES
    return rels


def _sizes(rng: np.random.Generator) -> list[int]:
    raw = rng.lognormal(mean=9.5, sigma=1.6, size=FILES)
    sizes = np.floor(raw * (TOTAL_BYTES / raw.sum())).astype(np.int64)
    sizes[np.argmax(sizes)] += TOTAL_BYTES - int(sizes.sum())
    return [int(s) for s in sizes]


def _generate() -> dict[str, str]:
    """Writes the tree (idempotently: the marker is written last) and returns its digests."""
    if MARKER.exists():
        digests: dict[str, str] = json.loads(MARKER.read_text())
        if len(digests) == FILES:
            return digests
    shutil.rmtree(ROOT, ignore_errors=True)
    rng = np.random.default_rng(SEED)
    digests = {}
    for rel, size in zip(_layout(), _sizes(rng), strict=True):
        data = rng.bytes(size)
        path = ROOT / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        digests[rel] = hashlib.sha256(data).hexdigest()
    MARKER.write_text(json.dumps(digests))
    return digests


DIGESTS = _generate()
ALL = sorted(DIGESTS)
ALL_PATHS = [os.path.join(ROOT, rel) for rel in ALL]
EXPECTED_FOUND = sorted(
    rel
    for rel in ALL
    if rel.split("/")[0] not in IGNORE
    and any(fnmatch.fnmatchcase(rel.rsplit("/", 1)[-1], p) for p in PATTERNS)
)
EXPECTED_HASHES = [(p, DIGESTS[rel], None) for p, rel in zip(ALL_PATHS, ALL, strict=True)]
for _path in ALL_PATHS:  # warm the page cache: every timing below is warm-cache
    with open(_path, "rb") as _handle:
        while _handle.read(1 << 20):
            pass


def walk_fnmatch(root: str, patterns: tuple[str, ...], ignore: tuple[str, ...]) -> list[str]:
    """The usual ``os.walk`` + ``fnmatch`` scan: prune ignored names, match file names."""
    found = []
    for top, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not any(fnmatch.fnmatchcase(d, i) for i in ignore)]
        rel_top = os.path.relpath(top, root)
        for name in files:
            if any(fnmatch.fnmatchcase(name, p) for p in patterns) and not any(
                fnmatch.fnmatchcase(name, i) for i in ignore
            ):
                found.append(name if rel_top == "." else f"{rel_top}/{name}")
    found.sort()
    return found


def scandir_fnmatch(root: str, patterns: tuple[str, ...], ignore: tuple[str, ...]) -> list[str]:
    """A recursive ``os.scandir`` scan (what ``os.walk`` does, without its bookkeeping)."""
    found: list[str] = []
    stack = [("", root)]
    while stack:
        rel_dir, path = stack.pop()
        with os.scandir(path) as entries:
            for entry in entries:
                if any(fnmatch.fnmatchcase(entry.name, i) for i in ignore):
                    continue
                rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                if entry.is_dir(follow_symlinks=False):
                    stack.append((rel, entry.path))
                elif entry.is_file(follow_symlinks=False) and any(
                    fnmatch.fnmatchcase(entry.name, p) for p in patterns
                ):
                    found.append(rel)
    found.sort()
    return found


def hashlib_digests(paths: list[str]) -> list[tuple[str, str | None, str | None]]:
    out: list[tuple[str, str | None, str | None]] = []
    for path in paths:
        with open(path, "rb") as handle:
            out.append((path, hashlib.file_digest(handle, "sha256").hexdigest(), None))
    return out


def walk_and_hash(root: str) -> list[tuple[str, str | None, str | None]]:
    paths = []
    for top, dirs, files in os.walk(root):
        dirs.sort()
        paths.extend(os.path.join(top, name) for name in sorted(files))
    return sorted(hashlib_digests(paths))


def discover_and_hash(root: str) -> list[tuple[str, str | None, str | None]]:
    rels = file_system_core.discover_files(root)
    return file_system_core.bulk_hash_files([os.path.join(root, rel) for rel in rels])


WORKLOAD = f"{FILES:,} files, {TOTAL_BYTES >> 20:,} MiB, warm page cache"


def test_discover_files(benchmark: object, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="discover_files",
        workload=f"{WORKLOAD}; {', '.join(PATTERNS)} ignoring {', '.join(IGNORE)}",
        ours=lambda: file_system_core.discover_files(ROOT, PATTERNS, IGNORE),
        peer=lambda: walk_fnmatch(str(ROOT), PATTERNS, IGNORE),
        check=lambda got: got == EXPECTED_FOUND,
    )


@rust_vs_peer_only
def test_discover_files_scandir(benchmark: object, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="discover_files",
        group_suffix=":scandir",
        peer_name="os.scandir+fnmatch",
        workload=f"{WORKLOAD}; {', '.join(PATTERNS)} ignoring {', '.join(IGNORE)}",
        ours=lambda: file_system_core.discover_files(ROOT, PATTERNS, IGNORE),
        peer=lambda: scandir_fnmatch(str(ROOT), PATTERNS, IGNORE),
        check=lambda got: got == EXPECTED_FOUND,
    )


def test_bulk_hash_files(benchmark: object, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="bulk_hash_files",
        workload=f"{WORKLOAD}; sha256 of every file",
        ours=lambda: file_system_core.bulk_hash_files(ALL_PATHS),
        peer=lambda: hashlib_digests(ALL_PATHS),
        check=lambda got: got == EXPECTED_HASHES,
    )


def test_discover_and_hash_scan(benchmark: object, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="bulk_hash_files",
        group_suffix=":scan",
        peer_name="os.walk+hashlib",
        workload=f"{WORKLOAD}; discover every file, then sha256 each",
        ours=lambda: discover_and_hash(str(ROOT)),
        peer=lambda: walk_and_hash(str(ROOT)),
        check=lambda got: got == EXPECTED_HASHES,
    )

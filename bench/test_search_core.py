"""SearchCore.find_literal over a 5,000-file, 200 MB tree, against ripgrep.

Workload: 5,000 text files of 40,000 bytes (200 MB) in 50 directories, lines of source-like
words, the needle on about one line in 2,000, plus a root ``.gitignore``; generated once into
``build/bench-data/search`` (deterministic, reused while its marker file matches). Peer:
``rg -F`` (Debian's ripgrep) run as a subprocess with the flags that select find_literal's
semantics; its hits (parsed from ``--json``) are the expected answer every implementation is
checked against. All three read the files from the page cache after the first round.
"""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import subprocess
from pathlib import Path

from bench.conftest import compare, scaled
from pyagent import search_core

ROOT = Path(__file__).resolve().parents[1] / "build" / "bench-data" / "search"
FILES = scaled(5_000, 500)
FILE_BYTES = 40_000
NEEDLE = "hot_path_marker"
MARKER = f"v1 {FILES} {FILE_BYTES} {NEEDLE}"
RG_FLAGS = [
    "-F", "--json", "--no-require-git", "--no-ignore-parent", "--no-ignore-global",
    "--no-ignore-exclude", "--no-ignore-dot", "--no-messages", "--no-config",
]  # fmt: skip


def generate() -> Path:
    """Writes the tree unless it is already there (idempotent)."""
    marker = ROOT / ".generated"
    if marker.exists() and marker.read_text() == MARKER:
        return ROOT
    shutil.rmtree(ROOT, ignore_errors=True)
    rng = random.Random(20261124)
    words = [
        "def", "return", "self", "value", "import", "class", "for", "in", "if", "else", "None",
        "agent", "result", "config", "(", ")", ":", "=", "+", "caf\u00e9", "\u4e2d\u6587", "0",
    ]  # fmt: skip
    lines = [" ".join(rng.choices(words, k=rng.randint(3, 14))) for _ in range(20_000)]
    for i in range(FILES):
        folder = ROOT / f"pkg{i % 50:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        chunks: list[str] = []
        size = 0
        while size < FILE_BYTES:
            line = rng.choice(lines)
            if rng.random() < 1 / 2000:
                line = f"{line} {NEEDLE} {line}"
            chunks.append(line)
            size += len(line.encode()) + 1
        data = "\n".join(chunks).encode()[:FILE_BYTES]
        (folder / f"module_{i:05d}.py").write_bytes(data)
    (ROOT / ".gitignore").write_text("*.pyc\n__pycache__/\n")
    marker.write_text(MARKER)
    return ROOT


def _text(field: dict[str, str]) -> bytes:
    return field["text"].encode() if "text" in field else base64.b64decode(field["bytes"])


def ripgrep() -> list[tuple[str, int, int, str]]:
    """rg's hits in find_literal's shape, sorted the same way."""
    rg = shutil.which("rg")
    if rg is None:
        raise RuntimeError("ripgrep (rg) is needed for this benchmark: apt-get install ripgrep")
    run = subprocess.run([rg, *RG_FLAGS, "-e", NEEDLE, str(ROOT)], capture_output=True, check=False)
    hits = []
    for raw in run.stdout.splitlines():
        if not raw.startswith(b'{"type":"match"'):
            continue
        data = json.loads(raw)["data"]
        line = _text(data["lines"]).removesuffix(b"\n").decode("utf-8", "replace")
        column = data["submatches"][0]["start"] + 1
        hits.append((os.fsdecode(_text(data["path"])), data["line_number"], column, line))
    hits.sort(key=lambda h: (os.fsencode(h[0]), h[1]))
    return hits


generate()
EXPECTED = ripgrep()


def test_find_literal(benchmark: object, implementation: str) -> None:
    assert len(EXPECTED) > FILES // 5  # the needle is on about 1 line in 2,000
    compare(
        benchmark,
        implementation,
        hot_path="find_literal_rust",
        workload=f"{FILES:,} files, {FILES * FILE_BYTES / 1e6:.0f} MB, {len(EXPECTED):,} hits",
        ours=lambda: search_core.find_literal(NEEDLE, str(ROOT)),
        peer=ripgrep,
        check=lambda got: got == EXPECTED,
    )

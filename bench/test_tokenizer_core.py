"""count_tokens over batches of mixed text, against tiktoken on the same vocabulary.

Workload: 100 MB of mixed text in 10,000 texts of ~10 KB (lines of this repository's Python
and Markdown, multilingual prose with accents, CJK and emoji, numbers and whitespace runs),
generated deterministically in memory; the shipped tiny vocabulary (3,256 ranks) with the
cl100k pattern. Peer: ``tiktoken.Encoding`` built from the same ranks and pattern,
``encode_ordinary_batch`` (its thread pool), counting the lengths. The pure-Python reference
runs about 0.5 MB/s, so the main group (Python, Rust, tiktoken) uses the first 2 MB of the
workload; the ``:100MB`` group times Rust against tiktoken on all of it. Every result is
checked against tiktoken's counts.
"""

from __future__ import annotations

import random
from functools import cache
from pathlib import Path

import tiktoken

from bench.conftest import compare, rust_vs_peer_only, scaled
from pyagent.tokenizer_core import PATTERNS, TINY_VOCABULARY, Tokenizer, count_tokens, load_ranks

ROOT = Path(__file__).resolve().parents[1]
TOTAL_BYTES = scaled(100_000_000, 4_000_000)
TEXT_BYTES = 10_000
SMALL_BYTES = 2_000_000
RANKS = load_ranks(TINY_VOCABULARY)
PATTERN = PATTERNS["cl100k"]
ENCODING = tiktoken.Encoding(
    "tiny-cl100k", pat_str=PATTERN, mergeable_ranks=RANKS, special_tokens={}
)


def _pool() -> list[str]:
    rng = random.Random(7)
    lines: list[str] = []
    for path in sorted([*ROOT.glob("pyagent/*.py"), *ROOT.glob("docs/**/*.md")]):
        lines.extend(path.read_text(encoding="utf-8").splitlines())
    words = [
        "the", "agent", "caf\u00e9", "na\u00efve", "\u00fcber", "\u4e2d\u6587", "\u6587\u672c",
        "\u65e5\u672c\u8a9e", "\U0001f389", "\U0001f680", "\u0434\u0430\u043d\u043d\u044b\u0435",
        "\u0645\u0631\u062d\u0628\u0627", "I'm", "it's", "we'll", "2026", "3.14159", "x=1",
    ]  # fmt: skip
    for _ in range(2_000):
        lines.append(" ".join(rng.choices(words, k=rng.randint(2, 16))))
        lines.append(" " * rng.randint(0, 12) + str(rng.randint(0, 10**9)))
    return lines


@cache
def texts() -> list[str]:
    """The 100 MB workload (UTF-8 bytes), as ~10 KB texts."""
    rng = random.Random(20261124)
    pool = _pool()
    out: list[str] = []
    total = 0
    while total < TOTAL_BYTES:
        parts: list[str] = []
        size = 0
        while size < TEXT_BYTES:
            line = rng.choice(pool)
            parts.append(line)
            size += len(line.encode()) + 1
        out.append("\n".join(parts))
        total += size
    return out


@cache
def small_texts() -> list[str]:
    out: list[str] = []
    total = 0
    for text in texts():
        if total >= SMALL_BYTES:
            break
        out.append(text)
        total += len(text.encode())
    return out


def tiktoken_counts(batch: list[str]) -> list[int]:
    return [len(ids) for ids in ENCODING.encode_ordinary_batch(batch)]


@cache
def expected(full: bool) -> list[int]:
    return tiktoken_counts(texts() if full else small_texts())


def ours(batch: list[str]) -> list[int]:
    # The tokenizer is built inside the timed call so each backend builds its own (~10 ms).
    result = count_tokens(Tokenizer(RANKS, PATTERN), batch, disallowed_special=())
    assert isinstance(result, list)
    return result


def test_count_tokens(benchmark: object, implementation: str) -> None:
    batch = small_texts()
    compare(
        benchmark,
        implementation,
        hot_path="count_tokens_rust",
        workload=f"{len(batch):,} texts, {sum(len(t.encode()) for t in batch) / 1e6:.1f} MB",
        ours=lambda: ours(batch),
        peer=lambda: tiktoken_counts(batch),
        check=lambda got: got == expected(False),
    )


@rust_vs_peer_only
def test_count_tokens_100mb(benchmark: object, implementation: str) -> None:
    batch = texts()
    compare(
        benchmark,
        implementation,
        hot_path="count_tokens_rust",
        workload=f"{len(batch):,} texts, {sum(len(t.encode()) for t in batch) / 1e6:.0f} MB",
        ours=lambda: ours(batch),
        peer=lambda: tiktoken_counts(batch),
        check=lambda got: got == expected(True),
        group_suffix=":100MB",
    )

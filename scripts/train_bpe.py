"""Trains the small byte-level BPE vocabulary shipped in pyagent/data/tiny.tiktoken.

Corpus: this repository's own text (README.md, docs/**/*.md, pyagent/**/*.py,
migrate/**/*.py, parity/**/*.py), in sorted path order. Training is the classic byte-level
BPE: the corpus is split with the cl100k pattern, every piece starts as its bytes, and the
most frequent adjacent pair (ties: the greater pair of byte strings) is merged, ``--merges``
times. Ranks 0..255 are the single bytes, so any text encodes; merge ``i`` gets rank
``256 + i``. Output: tiktoken's format, ``base64(token) rank`` per line. Deterministic.

    python scripts/train_bpe.py --merges 3000 --out pyagent/data/tiny.tiktoken
"""

from __future__ import annotations

import argparse
import base64
from collections import Counter, defaultdict
from itertools import pairwise
from pathlib import Path

import regex

from pyagent.tokenizer_core import PATTERNS

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ["README.md", "docs/**/*.md", "pyagent/**/*.py", "migrate/**/*.py", "parity/**/*.py"]


def corpus() -> str:
    """The training text: every source file, in sorted order."""
    files = sorted({p for pattern in SOURCES for p in ROOT.glob(pattern) if p.is_file()})
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in files)


def train(text: str, merges: int) -> list[bytes]:
    """The tokens in rank order: the 256 bytes, then one per merge."""
    pieces = Counter(m.group().encode() for m in regex.finditer(PATTERNS["cl100k"], text))
    words = [[bytes([b]) for b in piece] for piece in pieces]
    freqs = list(pieces.values())
    counts: Counter[tuple[bytes, bytes]] = Counter()
    where: defaultdict[tuple[bytes, bytes], set[int]] = defaultdict(set)
    for index, word in enumerate(words):
        for pair in pairwise(word):
            counts[pair] += freqs[index]
            where[pair].add(index)
    tokens = [bytes([b]) for b in range(256)]
    for _ in range(merges):
        if not counts:
            break
        best = max(counts.items(), key=lambda item: (item[1], item[0]))[0]
        merged = best[0] + best[1]
        tokens.append(merged)
        for index in list(where.pop(best, ())):
            word, freq = words[index], freqs[index]
            for pair in pairwise(word):
                counts[pair] -= freq
                if counts[pair] <= 0:
                    del counts[pair]
            out: list[bytes] = []
            i = 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(merged)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            words[index] = out
            for pair in pairwise(out):
                counts[pair] += freq
                where[pair].add(index)
        counts.pop(best, None)
    return tokens


def main() -> None:
    """Trains and writes the ranks file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merges", type=int, default=3000)
    parser.add_argument("--out", type=Path, default=ROOT / "pyagent" / "data" / "tiny.tiktoken")
    args = parser.parse_args()
    tokens = train(corpus(), args.merges)
    lines = [f"{base64.b64encode(t).decode()} {rank}\n" for rank, t in enumerate(tokens)]
    args.out.write_text("".join(lines), encoding="ascii")
    print(f"{args.out}: {len(tokens)} ranks")


if __name__ == "__main__":
    main()

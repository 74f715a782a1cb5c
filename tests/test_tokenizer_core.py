"""Tokenizer and count_tokens on the selected backend; the same ids as tiktoken on real text."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import tiktoken

from pyagent.tokenizer_core import (
    PATTERNS,
    TINY_VOCABULARY,
    Tokenizer,
    count_tokens,
    load_ranks,
    tiny_tokenizer,
)

ROOT = Path(__file__).resolve().parents[1]
RANKS = load_ranks(TINY_VOCABULARY)
SPECIALS = {"<|endoftext|>": len(RANKS), "<|fim_prefix|>": len(RANKS) + 1}
SAMPLE = (
    "Hello, world! It's 2026: caf\u00e9 \u4e2d\u6587 \U0001f389\n\n    def f(x):\r\n\treturn x  "
)


def peer(pattern: str) -> tiktoken.Encoding:
    return tiktoken.Encoding(
        pattern, pat_str=PATTERNS[pattern], mergeable_ranks=RANKS, special_tokens=SPECIALS
    )


def real_texts() -> list[str]:
    files = sorted([*ROOT.glob("pyagent/*.py"), *ROOT.glob("docs/**/*.md"), ROOT / "README.md"])
    return [p.read_text(encoding="utf-8") for p in files]


def test_shipped_vocabulary_is_byte_level_bpe() -> None:
    assert len(RANKS) == 3256
    assert all(RANKS[bytes([b])] == b for b in range(256))
    assert sorted(RANKS.values()) == list(range(len(RANKS)))
    tok = tiny_tokenizer()
    ids = tok.encode("    return self")
    assert len(ids) < len("    return self") / 2  # merges learned from this repository
    assert tok.n_vocab == len(RANKS) + 1


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_same_ids_as_tiktoken_on_this_repository(pattern: str) -> None:
    tok = Tokenizer(RANKS, PATTERNS[pattern], SPECIALS)
    enc = peer(pattern)
    texts = [*real_texts(), SAMPLE]
    assert len(texts) > 10
    for text in texts:
        ids = tok.encode(text, disallowed_special=())
        assert ids == enc.encode(text, disallowed_special=())
        assert tok.decode(ids) == text
    assert count_tokens(tok, texts, disallowed_special=()) == [
        len(ids) for ids in enc.encode_ordinary_batch(texts)
    ]


def test_special_tokens() -> None:
    tok = Tokenizer(RANKS, PATTERNS["cl100k"], SPECIALS)
    text = "a<|endoftext|>b<|fim_prefix|>"
    with pytest.raises(ValueError, match="disallowed special token"):
        tok.encode(text)
    ids = tok.encode(text, allowed_special="all")
    assert ids == [RANKS[b"a"], SPECIALS["<|endoftext|>"], RANKS[b"b"], SPECIALS["<|fim_prefix|>"]]
    assert tok.decode(ids) == text
    partial = tok.encode(text, allowed_special={"<|endoftext|>"}, disallowed_special=())
    assert partial[:3] == ids[:3] and len(partial) > 4
    assert tok.encode(text, disallowed_special=()) == tok.encode_ordinary(text)
    with pytest.raises(ValueError):
        tok.encode("no specials but x", disallowed_special={"x"})
    assert count_tokens(tok, text, allowed_special="all") == 4
    with pytest.raises(ValueError):
        count_tokens(tok, ["fine", text])


def test_round_trip_and_counts() -> None:
    tok = tiny_tokenizer()
    texts = ["", " ", "\n\n\n", SAMPLE, "x" * 5000, "\u00e9\u0301" * 50, "A\u0308\ufeff\u2028"]
    for text in texts:
        assert tok.decode(tok.encode(text)) == text
        assert tok.decode_bytes(tok.encode(text)) == text.encode()
    assert count_tokens(tok, texts) == [len(tok.encode(t)) for t in texts]
    assert count_tokens(tok, tuple(texts)) == count_tokens(tok, texts)
    assert count_tokens(tok, "") == 0
    assert tok.encode_batch(texts) == [tok.encode(t) for t in texts]
    assert tok.decode([RANKS["\u00e9".encode()[:1]]]) == "\ufffd"  # half a character


def test_a_vocabulary_file_loads_like_a_real_one(tmp_path: Path) -> None:
    path = tmp_path / "mine.tiktoken"
    lines = [f"{base64.b64encode(t).decode()} {r}" for t, r in RANKS.items()]
    path.write_text("\n".join(lines) + "\n\n")
    assert load_ranks(path) == RANKS
    path.write_text("not-base64!! 1\n")
    with pytest.raises(ValueError):
        load_ranks(path)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda r, p, s: ({k: v for k, v in r.items() if k != b"A"}, p, s), ValueError),
        (lambda r, p, s: ({**r, b"zz": 5}, p, s), ValueError),
        (lambda r, p, s: ({**r, b"zz": -1}, p, s), ValueError),
        (lambda r, p, s: ({**r, b"zz": 2**32}, p, s), ValueError),
        (lambda r, p, s: ({**r, b"": 9999}, p, s), ValueError),
        (lambda r, p, s: ({**r, "zz": 9999}, p, s), TypeError),
        (lambda r, p, s: ({**r, b"zz": 1.5}, p, s), TypeError),
        (lambda r, p, s: (r, "(unclosed", s), ValueError),
        (lambda r, p, s: (r, 42, s), TypeError),
        (lambda r, p, s: (r, p, {"<|x|>": 7}), ValueError),
        (lambda r, p, s: (list(r.items()), p, s), TypeError),
    ],
)
def test_bad_vocabularies(change: object, error: type[Exception]) -> None:
    ranks, pattern, specials = change(RANKS, PATTERNS["cl100k"], SPECIALS)  # type: ignore[operator]
    with pytest.raises(error):
        Tokenizer(ranks, pattern, specials)


def test_bad_calls() -> None:
    tok = tiny_tokenizer()
    with pytest.raises(KeyError):
        tok.decode([10**9])
    with pytest.raises(KeyError):
        tok.decode([-1])
    with pytest.raises(TypeError):
        tok.decode([1.0])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        tok.encode(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(UnicodeEncodeError):
        tok.encode("\ud800")
    with pytest.raises(TypeError):
        count_tokens(tok, 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        count_tokens("not a tokenizer", "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        tok.encode("x", allowed_special="everything")


@pytest.mark.requires_rust
def test_the_rust_class_serves_the_python_name() -> None:
    import rust_core

    assert isinstance(tiny_tokenizer(), rust_core.Tokenizer)


def test_many_distinct_pieces_same_ids_as_tiktoken() -> None:
    # More distinct merged pieces than rust_core's per-thread piece cache holds (it empties
    # itself and goes on), each piece repeated so later occurrences come from the cache.
    import random

    rng = random.Random(6)
    words = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=6)) for _ in range(40_000)]
    text = " ".join(words + words[:2000])
    tok = Tokenizer(RANKS, PATTERNS["cl100k"], SPECIALS)
    assert tok.encode(text) == peer("cl100k").encode(text)
    long_pieces = [
        "\u4e2d\u6587" * 3000,
        " " * 3000 + "x",
        "7" * 3001,
        "'" * 2000,
        "".join(rng.choices("aeinorst_", k=20_000)),  # one piece merged many ways
    ]
    for pattern in sorted(PATTERNS):
        tok = Tokenizer(RANKS, PATTERNS[pattern], SPECIALS)
        for text in long_pieces:
            assert tok.encode(text) == peer(pattern).encode(text)


@pytest.mark.requires_rust
@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_fast_splitters_cut_as_the_pattern(pattern: str) -> None:
    import regex

    tok = Tokenizer(RANKS, PATTERNS[pattern], SPECIALS)
    assert tok._split_engine == ("cl100k" if pattern == "cl100k" else "regex")  # type: ignore[attr-defined]
    compiled = regex.compile(PATTERNS[pattern])
    edge = [
        "", " ", "  ", "\t\t", "x  ", "  x", " \n ", "a \n\n  b", "\r\n\r\n  \r", "it's I'LL",
        "'\u017f 'Ve x're", "12345678", "\u00a0\u3000x", "a\u0301b\u0308", " !!\n\n/x", "\x1c\x1c",
    ]  # fmt: skip
    for text in [*real_texts(), SAMPLE, *edge]:
        expected = [m.group() for m in compiled.finditer(text) if m.group()]
        assert tok._pieces(text) == expected  # type: ignore[attr-defined]


@pytest.mark.requires_rust
def test_other_patterns_run_on_fancy_regex() -> None:
    tok = Tokenizer(RANKS, r"\w+|\W", SPECIALS)
    assert tok._split_engine == "fancy-regex"  # type: ignore[attr-defined]
    assert tok._pieces("ab, c") == ["ab", ",", " ", "c"]  # type: ignore[attr-defined]
    assert tok.encode("ab, c") == tiktoken.Encoding(
        "w", pat_str=r"\w+|\W", mergeable_ranks=RANKS, special_tokens=SPECIALS
    ).encode("ab, c")


def test_long_pieces_merge_in_near_linear_time_with_the_same_ids() -> None:
    # Pieces either side of the length where both backends switch from rescanning to a
    # heap, and the quadratic inputs (a scaled-down size: the heap merge makes them
    # O(n log n), and these ids are compared with tiktoken's).
    import random

    rng = random.Random(17)
    texts = ["".join(rng.choices("ab_ \u00e9", k=k)) for k in (120, 127, 128, 129, 130, 300)]
    texts += ["".join(rng.choices("aeinorst", k=k)) for k in (128, 129, 200, 5000)]
    texts += [" " * 20_000, "ab" * 20_000, "\n" * 20_000, "\u4e2d" * 10_000]
    tok = Tokenizer(RANKS, PATTERNS["cl100k"], SPECIALS)
    expected = peer("cl100k")
    for text in texts:
        assert tok.encode_ordinary(text) == expected.encode_ordinary(text), text[:20]

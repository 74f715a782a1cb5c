r"""Tokenizer parity: encode, count_tokens, decode and construction, and agreement with tiktoken.

Each call builds its own :class:`~pyagent.tokenizer_core.Tokenizer` inside the compared call,
so the Rust run uses ``rust_core.Tokenizer`` and the Python run the reference class. The
vocabulary is the shipped tiny one (3,256 ranks) under the cl100k, o200k and Llama 3
patterns, with two special tokens. Besides Rust == Python, every successful encode is
checked against ``tiktoken.Encoding`` built from the same ranks, pattern and special tokens,
and ``decode(encode(t)) == t``. Token ids are integers: no tolerance.

rust_core splits text with fast engines for the three known patterns (a hand-written cl100k
scanner; regex-automata on the o200k and Llama 3 patterns rewritten without lookahead):
``split_matches_the_regex_module`` compares their pieces one by one with Python's ``regex``
module (the reference's engine) and with rust_core's fancy-regex fallback, on text made of
whitespace runs, ``\r\n``, digits, apostrophes and contractions, letters of every case
class, marks and arbitrary Unicode.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from functools import cache
from typing import Any

import regex
import tiktoken
from hypothesis import example, given
from hypothesis import strategies as st

from pyagent import tokenizer_core
from pyagent.backend import forced_python
from pyagent.parity import hostile
from pyagent.parity.compare import Outcome, outcome_of, same_outcome
from pyagent.parity.properties.strategies import any_text, not_data
from pyagent.parity.registry import parity_property
from pyagent.tokenizer_core import PATTERNS, Tokenizer, count_tokens, load_ranks

RANKS = load_ranks(tokenizer_core.TINY_VOCABULARY)
SPECIALS = {"<|endoftext|>": len(RANKS), "<|fim|>": len(RANKS) + 1}
FRAGMENTS = [
    *SPECIALS, "<|", "|>", "'s", "'LL", "'\u017f", " \n ", "\r\n", "\n\n", "  ", "\u017f", "\u212a",
    "1234567", "\u00a0", "\x1c", "\u3000", "\u0301", "caf\u00e9", "\U0001f389", "\u4e2d\u6587",
    "def f(x):\n    return x", "\t", "\x85", "\u2028", "\ufeff", "A\u0308", "\u0130", "\u1e9e",
]  # fmt: skip
texts = st.lists(st.one_of(st.text(max_size=12), st.sampled_from(FRAGMENTS)), max_size=12).map(
    "".join
)
patterns = st.sampled_from(sorted(PATTERNS))
special_sets = st.one_of(
    st.just("all"),
    st.just(frozenset()),
    st.just(()),
    st.sampled_from([{"<|endoftext|>"}, ["<|fim|>", "<|x|>"], ("<|endoftext|>", "<|fim|>")]),
)


def both(call: Callable[[], Any]) -> Outcome:
    """Runs ``call`` on the Rust path and with every hook forced to Python; same outcome."""
    if tokenizer_core.rc is None or not hasattr(tokenizer_core.rc, "Tokenizer"):
        raise AssertionError("rust_core is not active in pyagent.tokenizer_core")
    rust = outcome_of(call)
    with forced_python():
        python = outcome_of(call)
    same_outcome(rust, python, rel_tol=0)
    return rust


@cache
def tiktoken_encoding(pattern: str) -> tiktoken.Encoding:
    """The tiktoken peer for one pattern (only the given ranks; nothing is downloaded)."""
    return tiktoken.Encoding(
        f"tiny-{pattern}",
        pat_str=PATTERNS[pattern],
        mergeable_ranks=RANKS,
        special_tokens=SPECIALS,
    )


def tokenizer(pattern: str) -> Tokenizer:
    """The tiny vocabulary under ``pattern``, on whichever backend is active.

    Built once per pattern and backend (tokenizers are immutable): construction is compared
    by ``construction_rejects_the_same`` and ``drawn_vocabularies_agree``.
    """
    return _tokenizer(pattern, tokenizer_core.rc is not None)


@cache
def _tokenizer(pattern: str, native: bool) -> Tokenizer:
    tok = Tokenizer(RANKS, PATTERNS[pattern], SPECIALS)
    assert isinstance(tok, Tokenizer) is not native  # the backend the flag names
    return tok


@parity_property("count_tokens_rust")
@given(text=texts, pattern=patterns, allowed=special_sets, disallowed=special_sets)
def encode_agrees_with_tiktoken(text: str, pattern: str, allowed: Any, disallowed: Any) -> None:
    """Same ids from both backends and from tiktoken, or the same error; round trip."""
    outcome = both(
        lambda: tokenizer(pattern).encode(
            text, allowed_special=allowed, disallowed_special=disallowed
        )
    )
    # tiktoken wants sets where we also take lists and tuples.
    as_set = lambda v: v if v == "all" else frozenset(v)  # noqa: E731
    peer = outcome_of(
        lambda: tiktoken_encoding(pattern).encode(
            text, allowed_special=as_set(allowed), disallowed_special=as_set(disallowed)
        )
    )
    same_outcome(outcome, peer, rel_tol=0)
    if outcome.error is None:
        assert tokenizer(pattern).decode(outcome.value) == text
        both(lambda: tokenizer(pattern).decode(outcome.value))
        ordinary = both(lambda: tokenizer(pattern).encode_ordinary(text))
        assert ordinary.value == tiktoken_encoding(pattern).encode_ordinary(text)


@parity_property("count_tokens_rust")
@given(
    batch=st.one_of(texts, st.lists(texts, max_size=6), st.lists(texts, max_size=3).map(tuple)),
    pattern=patterns,
    allowed=special_sets,
    disallowed=special_sets,
)
def count_tokens_agrees(batch: Any, pattern: str, allowed: Any, disallowed: Any) -> None:
    """count_tokens of a text or a batch: same counts (= len of encode) or the same error."""
    outcome = both(
        lambda: count_tokens(
            tokenizer(pattern), batch, allowed_special=allowed, disallowed_special=disallowed
        )
    )
    if outcome.error is None:
        batched = both(
            lambda: tokenizer(pattern).encode_batch(
                [batch] if isinstance(batch, str) else batch,
                allowed_special=allowed,
                disallowed_special=disallowed,
            )
        )
        lengths = [len(ids) for ids in batched.value]
        assert outcome.value == (lengths[0] if isinstance(batch, str) else lengths)


@parity_property("count_tokens_rust")
@given(
    text=st.one_of(
        any_text,
        not_data,
        st.lists(st.one_of(any_text, not_data), max_size=3),
        # Not yet: hostile.for_kind("short_string") makes this property's data generation
        # flaky (FlakyStrategyDefinition, cause not found); the str subclasses ride in
        # encode_hostile_texts below.
        st.lists(st.text(max_size=4), max_size=3).map(hostile.LyingList),
        st.lists(st.text(max_size=4), max_size=3).map(hostile.RaisingList),
    ),
    allowed=st.one_of(special_sets, st.sampled_from(["none", ["\ud800"], [1], {"a": 1}]), not_data),
    disallowed=st.one_of(special_sets, st.sampled_from(["x", ["\ud800"], [None]]), not_data),
    target=st.sampled_from(["count", "encode", "batch", "ordinary", "not-a-tokenizer"]),
)
# texts that are no list or tuple but iterate as str (a str, a set): TypeError all the same.
@example(text="ab", allowed="all", disallowed=(), target="batch")
@example(text={"ab"}, allowed=(), disallowed="all", target="batch")
def bad_arguments_raise_the_same(text: Any, allowed: Any, disallowed: Any, target: str) -> None:
    """Wrong types, lone surrogates, bad special-token sets: the same exception class."""

    def call() -> Any:
        tok = tokenizer("cl100k")
        if target == "count":
            return count_tokens(tok, text, allowed_special=allowed, disallowed_special=disallowed)
        if target == "encode":
            return tok.encode(text, allowed_special=allowed, disallowed_special=disallowed)
        if target == "batch":
            return tok.encode_batch(text, allowed_special=allowed, disallowed_special=disallowed)
        if target == "ordinary":
            return tok.encode_ordinary(text)
        return count_tokens(text, "x")

    both(call)


ids = st.one_of(st.integers(0, len(RANKS) + 3), st.integers(), st.booleans(), not_data)


@parity_property("count_tokens_rust")
@given(
    tokens=st.one_of(
        st.lists(ids, max_size=8),
        st.lists(ids, max_size=4).map(tuple),
        not_data,
        hostile.for_kind("sequence"),
        st.lists(hostile.for_kind("int"), max_size=2),
    )
)
def decode_agrees(tokens: Any) -> None:
    """Decode and decode_bytes: same text/bytes, or the same error (KeyError, TypeError)."""
    both(lambda: tokenizer("o200k").decode(tokens))
    both(lambda: tokenizer("o200k").decode_bytes(tokens))


def _vocabulary(kind: str, value: Any) -> tuple[Any, Any, Any]:
    if kind in ("key", "special-key") and isinstance(value, (list, dict)):
        value = tuple(value)  # a key must be hashable
    ranks: Any = dict(RANKS)
    pattern: Any = PATTERNS["llama3"]
    specials: Any = dict(SPECIALS)
    if kind == "drop-byte":
        del ranks[bytes([value % 256 if isinstance(value, int) else 65])]
    elif kind == "rank":
        ranks[b"zz-new"] = value
    elif kind == "key":
        ranks[value] = 7000
    elif kind == "special-rank":
        specials["<|s|>"] = value
    elif kind == "special-key":
        specials[value] = 7001
    elif kind == "pattern":
        pattern = value
    elif kind == "ranks":
        ranks = value
    elif kind == "specials":
        specials = value
    return ranks, pattern, specials


@parity_property("count_tokens_rust")
@given(
    kind=st.sampled_from(
        [
            "drop-byte",
            "rank",
            "key",
            "special-rank",
            "special-key",
            "pattern",
            "ranks",
            "specials",
        ]
    ),
    value=st.one_of(
        st.integers(-5, 300),
        st.sampled_from([2**32 - 1, 2**32, -(2**70), 2**70, 5, 3300, True]),
        st.sampled_from([b"", b"ab", "", "<|endoftext|>", "\ud800", "(", "[a-", r"\p{L}+", None]),
        not_data,
        st.sampled_from([[(b"a", 1)], {}]),
    ),
)
def construction_rejects_the_same(kind: str, value: Any) -> None:
    """Missing bytes, bad or duplicate ranks, bad keys, invalid patterns: same error class."""
    ranks, pattern, specials = _vocabulary(kind, value)
    outcome = both(lambda: Tokenizer(ranks, pattern, specials).encode_ordinary("it's 42 ok"))
    # (tiktoken panics on patterns that match empty strings; we skip empty pieces.)
    if outcome.error is None and kind in ("rank", "special-rank"):
        peer = tiktoken.Encoding(
            "tiny-variant", pat_str=pattern, mergeable_ranks=ranks, special_tokens=specials
        )
        assert outcome.value == peer.encode_ordinary("it's 42 ok")


#: Characters on which the split patterns' alternatives turn (see rust_core's split.rs).
SPLIT_ALPHABET = (
    "aAsStTlLvVeErRdDmMxZ'\u2019\u017f\u212a \t\n\r\x0b\x0c\x1c\x85\xa0\u1680\u2028\u2029"
    "\u3000\u200b\ufeff07\u0663\u2167\xbd\uff11.,!/(-_+#\xe9\xc9\u01c5\u02b0\u4e2d\u0301"
    "\u0308\u0903\u20dd\U0001f389\u0130\u1e9e\xdf\u03b1\u0391\x00\U0001d400"
)
split_texts = st.lists(
    st.one_of(
        st.text(st.sampled_from(SPLIT_ALPHABET), max_size=10),
        st.text(st.characters(blacklist_categories=["Cs"]), max_size=4),
        st.sampled_from(FRAGMENTS),
        st.sampled_from(["'s", "'T", "'ll", "'Ve", "'re", "'d", "'M", " " * 5, "\r\n" * 2]),
    ),
    max_size=10,
).map("".join)


@cache
def _split_regex(pattern: str) -> Any:
    return regex.compile(PATTERNS[pattern])


@parity_property("count_tokens_rust")
@given(text=split_texts, pattern=patterns)
def split_matches_the_regex_module(text: str, pattern: str) -> None:
    """rust_core's fast splitters cut text into exactly the pieces of the pattern."""
    rc = tokenizer_core.rc
    if rc is None or not hasattr(rc, "Tokenizer"):
        raise AssertionError("rust_core is not active in pyagent.tokenizer_core")
    fast = rc.Tokenizer(RANKS, PATTERNS[pattern], SPECIALS)
    assert fast._split_engine == ("cl100k" if pattern == "cl100k" else "regex")
    # The same pattern in a group is not recognised, so it runs on fancy-regex.
    fallback = rc.Tokenizer(RANKS, f"(?:{PATTERNS[pattern]})", SPECIALS)
    assert fallback._split_engine == "fancy-regex"
    expected = [m.group() for m in _split_regex(pattern).finditer(text) if m.group()]
    assert fast._pieces(text) == expected
    assert fallback._pieces(text) == expected


@parity_property("count_tokens_rust")
@given(text=hostile.for_kind("short_string"))
def encode_hostile_texts(text: Any) -> None:
    """Lone surrogates, NUL, BOMs, str subclasses that lie or raise: same ids or same class."""
    both(lambda: tokenizer("cl100k").encode(text))
    both(lambda: count_tokens(tokenizer("cl100k"), text))


#: The byte alphabet of the drawn vocabularies' merged tokens: pieces of a few kinds under
#: every split pattern (letters, spaces, punctuation, digits), long runs of them too.
_VOCAB_ALPHABET = "ab !1"


@st.composite
def vocabularies(draw: st.DrawFn) -> dict[bytes, int]:
    """Every byte, then merged tokens over a small alphabet ranked in any order.

    A trained vocabulary merges in rank order (a token's parts rank below it); a drawn one
    need not, so a merge can make a pair of lower rank than the one being merged, the case
    the heap merge of long pieces must stop its sweep for. The merged ranks are either just
    above the bytes or the highest ranks there are, up to ``2**32-1``: tiktoken's "no merge"
    rank, which both backends find as a whole piece but never merge as a pair.
    """
    merged = draw(
        st.lists(
            st.text(_VOCAB_ALPHABET, min_size=2, max_size=6).map(str.encode),
            min_size=1,
            max_size=24,
            unique=True,
        )
    )
    ranks = {bytes([b]): b for b in range(256)}
    order = draw(st.permutations(range(len(merged))))
    base = draw(st.sampled_from([256, 2**32 - len(merged)]))
    ranks.update((token, base + rank) for token, rank in zip(merged, order, strict=True))
    return ranks


def _with_merges(*tokens: bytes, top: bool = False) -> dict[bytes, int]:
    """Every byte, then ``tokens`` ranked in the order given (ending at ``2**32-1`` if ``top``)."""
    ranks = {bytes([b]): b for b in range(256)}
    base = 2**32 - len(tokens) if top else 256
    ranks.update((token, base + i) for i, token in enumerate(tokens))
    return ranks


#: Texts whose pieces are often longer than the 128 bytes above which both backends merge
#: with a heap instead of rescanning (long runs of one letter, one space, one symbol).
long_texts = st.builds(
    lambda parts, times, tail: "".join(parts) * times + tail,
    st.lists(st.sampled_from(["a", "b", "ab", "ba", "aab", " ", "!", "1", "a b"]), max_size=4),
    st.sampled_from([0, 1, 2, 3, 43, 64, 65, 130]),
    st.sampled_from(["", "a", " ", "!!"]),
)


@parity_property("count_tokens_rust")
@given(ranks=vocabularies(), text=long_texts, pattern=patterns)
# Rank 2**32-1 (tiktoken's "no merge"): a whole piece, never a merged pair, short or long.
# The Python reference once merged such a pair where rust_core and tiktoken do not.
@example(ranks=_with_merges(b"ab", top=True), text="ab ab cab " + "ab" * 70, pattern="cl100k")
@example(ranks=_with_merges(b"ab", b"aab", top=True), text="aab aab " + "aab" * 50, pattern="o200k")
# Long pieces: a merge at a piece's first pair then one with its left neighbour at byte 0
# (and at every third byte), which only the linked list's `prev` finds.
@example(ranks=_with_merges(b"ab", b"aab"), text="aab" * 50, pattern="cl100k")
@example(ranks=_with_merges(b"ab", b"aab"), text="ab" + "aab" * 50, pattern="llama3")
# One rank left pending after a merge of the long path; then a merge making a lower rank than
# the one swept (the sweep stops and puts its bucket back), and equal ranks side by side.
@example(ranks=_with_merges(b"aa", b"aaaa"), text="a" * 131, pattern="cl100k")
@example(ranks=_with_merges(b"aaaa", b"aa"), text="a" * 131, pattern="cl100k")
@example(ranks=_with_merges(b"ba", b"ab", b"bab", b"aba"), text="ab" * 70, pattern="o200k")
# Merging "ab" at 0 makes "aba" (lower rank), which must merge before the next "ab" at 2.
@example(ranks=_with_merges(b"aba", b"ab"), text="abab" + "b" * 130, pattern="cl100k")
# The same, first in a bucket of three: the two pairs after it go back, both of them.
@example(ranks=_with_merges(b"abb", b"ab"), text="abbabab" + "b" * 130, pattern="cl100k")
# A pending "aa" at 128 whose part has grown to the piece's end (stale: no right neighbour).
@example(ranks=_with_merges(b"ab", b"aab", b"aa"), text="a" * 130 + "b", pattern="cl100k")
def drawn_vocabularies_agree(ranks: dict[bytes, int], text: str, pattern: str) -> None:
    """Any rank order, short and long pieces: the same ids from both backends and tiktoken.

    Also the tokenizer's state: ``n_vocab``, and a pickled copy encoding the same.
    """
    specials = {"<|end|>": len(ranks) + 3}

    def run() -> tuple[Any, ...]:
        tok = Tokenizer(ranks, PATTERNS[pattern], specials)
        copied = pickle.loads(pickle.dumps(tok))
        counted = count_tokens(tok, text)
        return tok.encode(text), tok.n_vocab, copied.encode(text[:200]), counted

    outcome = both(run)
    peer = tiktoken.Encoding(
        "drawn", pat_str=PATTERNS[pattern], mergeable_ranks=ranks, special_tokens=specials
    )
    assert outcome.value[0] == peer.encode(text)

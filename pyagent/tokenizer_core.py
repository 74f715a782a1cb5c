r"""InferenceCore tokenizer: byte-level BPE as GPT-4/GPT-4o and Llama 3 tokenize (count_tokens).

A :class:`Tokenizer` is built from a vocabulary in tiktoken's form: ``ranks`` maps every token
(bytes) to its rank, which is both the token id and the merge priority; ``pattern`` is the
regex that splits text into pieces before BPE (:data:`PATTERNS` has cl100k, o200k and
Llama 3's); ``special_tokens`` maps strings such as ``"<|endoftext|>"`` to ids outside the
ranks. :func:`load_ranks` reads a ``.tiktoken`` file (one ``base64(token) rank`` per line),
so a real vocabulary loads the same way as the small one shipped in
``pyagent/data/tiny.tiktoken`` (trained on this repository by ``scripts/train_bpe.py``).

Encoding is tiktoken's algorithm, so the ids are the ``tiktoken`` package's for the same
ranks, pattern and special tokens: the text is cut at allowed special tokens; every other
stretch is split by ``pattern`` (``regex`` module semantics: ``\p{L}``, possessive
quantifiers, lookahead); a piece that is itself a token is that token, otherwise its bytes
are merged pairwise, always the lowest-ranked adjacent pair first (leftmost on ties), until
no adjacent pair is a token. As in tiktoken, rank ``2**32-1`` marks "no token" while merging:
a token of that rank is found when it is a whole piece, but a pair of that rank is never
merged. Every single byte must have a rank, so any text encodes and
``decode(encode(t)) == t`` for every Unicode string ``t``.

Special tokens follow tiktoken's ``encode``: ``allowed_special`` (a collection of strings, or
``"all"``) are encoded as their ids; ``disallowed_special`` (default ``"all"``: every special
token not allowed) raise ValueError when they occur in the text; pass ``()`` to encode them as
plain text. Where two allowed special tokens overlap at one position the longer wins
(tiktoken leaves that order unspecified).

Unicode: the pattern's ``\p{...}`` classes follow Unicode 16.0 on both backends, the version
of the Rust ``regex`` crate's tables that tiktoken and rust_core use; the ``regex`` module is
pinned to its last Unicode 16.0 release (2025.7.34) for that reason (later releases know
Unicode 17 letters, which would split such text differently from tiktoken).

Errors, the same class from both backends: TypeError for wrong argument types; ValueError for
a vocabulary without every single byte, a rank outside ``0..2**32-1``, a duplicate id, an
empty token, an invalid pattern, or a disallowed special token in the text;
UnicodeEncodeError (a ValueError) for text with lone surrogates (tiktoken replaces them);
KeyError for decoding an unknown id.
"""

from __future__ import annotations

import base64
import heapq
import os
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import regex

from pyagent._files import open_regular

try:
    import rust_core as rc
except ImportError:
    rc = None  # type: ignore[assignment, unused-ignore]

__all__ = [
    "PATTERNS",
    "TINY_VOCABULARY",
    "Tokenizer",
    "count_tokens",
    "load_ranks",
    "tiny_tokenizer",
]

#: Split patterns of the public tokenizers (tiktoken_ext.openai_public, Meta's Llama 3).
PATTERNS: dict[str, str] = {
    "cl100k": (
        r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++"""
        r"""[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
    ),
    "o200k": "|".join(
        [
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"""
            r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"""
            r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""\p{N}{1,3}""",
            r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
            r"""\s*[\r\n]+""",
            r"""\s+(?!\S)""",
            r"""\s+""",
        ]
    ),
    "llama3": (
        r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+"""
        r"""[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
    ),
}

#: The small vocabulary shipped for tests and benchmarks (cl100k pattern).
TINY_VOCABULARY = Path(__file__).with_name("data") / "tiny.tiktoken"
_MAX_RANK = 2**32 - 1
#: Pieces longer than this many bytes merge with a heap (:meth:`Tokenizer._bpe_long`), as
#: rust_core's ``LONG_PIECE``: the same tokens, in O(n log n) instead of O(n^2).
_LONG_PIECE = 128

SpecialSet = Collection[str] | Literal["all"]


def load_ranks(path: str | os.PathLike[str]) -> dict[bytes, int]:
    """Reads a tiktoken ranks file: one ``base64(token) rank`` pair per non-empty line.

    Only a regular file is read (symlinks followed): a folder is IsADirectoryError, a FIFO,
    socket or device an OSError "not a regular file", at once and without blocking.
    """
    ranks: dict[bytes, int] = {}
    with open(open_regular(path), "rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                token, rank = line.split()
                ranks[base64.b64decode(token, validate=True)] = int(rank)
            except ValueError as exc:
                raise ValueError(f"{os.fspath(path)}:{number}: not 'base64 rank': {exc}") from None
    return ranks


def _type_name(value: object) -> str:
    return type(value).__name__


def _special_set(value: object, name: str, specials: Mapping[str, int]) -> frozenset[str]:
    """``"all"`` or a collection of str (set, frozenset, list, tuple) as a frozenset."""
    if isinstance(value, str):
        if value == "all":
            return frozenset(specials)
        raise TypeError(f"{name} must be 'all' or a collection of str, not {value!r}")
    if not isinstance(value, (set, frozenset, list, tuple)):
        raise TypeError(f"{name} must be 'all' or a collection of str, not {_type_name(value)}")
    for item in value:
        if not isinstance(item, str):
            raise TypeError(f"{name} must contain str, not {_type_name(item)}")
    for item in value:
        item.encode("utf-8")  # UnicodeEncodeError for lone surrogates, as rust_core raises
    return frozenset(value)


def _checked_text(text: object) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {_type_name(text)}")
    text = str.__str__(text)  # a str subclass by its characters, as rust_core reads it
    text.encode("utf-8")  # UnicodeEncodeError for lone surrogates, as rust_core raises
    return text


class Tokenizer:
    """Byte-level BPE tokenizer over tiktoken-format ranks (see the module docstring).

    ``ranks``: token bytes -> rank (= id); ``pattern``: the split regex; ``special_tokens``:
    special string -> id (ids distinct from every rank).

    Immutable, so one tokenizer may serve any number of threads (the Rust one encodes
    without the GIL). Pickling, ``copy`` and ``deepcopy`` give an equal tokenizer on either
    backend: the pickle names this class and holds the vocabulary.
    """

    def __new__(
        cls,
        ranks: Mapping[bytes, int],
        pattern: str,
        special_tokens: Mapping[str, int] | None = None,
    ) -> Tokenizer:
        """The rust_core implementation when the extension has it, else this class."""
        if rc is not None and hasattr(rc, "Tokenizer"):
            return rc.Tokenizer(ranks, pattern, special_tokens)
        return super().__new__(cls)

    def __init__(
        self,
        ranks: Mapping[bytes, int],
        pattern: str,
        special_tokens: Mapping[str, int] | None = None,
    ) -> None:
        if not isinstance(ranks, Mapping):
            raise TypeError(f"ranks must be a mapping of bytes to int, not {_type_name(ranks)}")
        if not isinstance(pattern, str):
            raise TypeError(f"pattern must be str, not {_type_name(pattern)}")
        if special_tokens is not None and not isinstance(special_tokens, Mapping):
            raise TypeError(
                f"special_tokens must be a mapping of str to int, not {_type_name(special_tokens)}"
            )
        encoder: dict[bytes, int] = {}
        for token, rank in ranks.items():
            if not isinstance(token, bytes):
                raise TypeError(f"ranks keys must be bytes, not {_type_name(token)}")
            if isinstance(rank, bool) or not isinstance(rank, int):
                raise TypeError(f"ranks values must be int, not {_type_name(rank)}")
            encoder[token] = rank
        specials: dict[str, int] = {}
        for name, rank in (special_tokens or {}).items():
            if not isinstance(name, str):
                raise TypeError(f"special_tokens keys must be str, not {_type_name(name)}")
            if isinstance(rank, bool) or not isinstance(rank, int):
                raise TypeError(f"special_tokens values must be int, not {_type_name(rank)}")
            specials[name] = rank
        pattern.encode("utf-8")
        for name in specials:
            name.encode("utf-8")
        ids: set[int] = set()
        for token, rank in [*encoder.items(), *((n.encode(), r) for n, r in specials.items())]:
            if not token:
                raise ValueError("tokens must not be empty")
            if not 0 <= rank <= _MAX_RANK:
                raise ValueError(f"ranks must be in 0..{_MAX_RANK}, got {rank}")
            if rank in ids:
                raise ValueError(f"duplicate token id {rank}")
            ids.add(rank)
        missing = [b for b in range(256) if bytes([b]) not in encoder]
        if missing:
            raise ValueError(f"ranks must give every single byte a rank; missing {missing[:8]}")
        try:
            self._regex = regex.compile(pattern)
        except (regex.error, OverflowError, RecursionError) as exc:
            raise ValueError(f"invalid pattern: {exc}") from None
        self._pattern = pattern
        self._encoder = encoder
        self._decoder = {rank: token for token, rank in encoder.items()}
        self._specials = specials
        self._special_decoder = {rank: name.encode() for name, rank in specials.items()}

    def __reduce__(self) -> tuple[Any, ...]:
        """``(Tokenizer, (ranks, pattern, special_tokens))``, ranks by rank as Rust writes them.

        The pickle names this class, so it loads as the Rust tokenizer where rust_core is
        installed and as this one elsewhere; copy and deepcopy build an equal tokenizer.
        """
        ranks = dict(sorted(self._encoder.items(), key=lambda item: item[1]))
        specials = dict(sorted(self._specials.items(), key=lambda item: item[1]))
        return (Tokenizer, (ranks, self._pattern, specials))

    def _bpe(self, piece: bytes, out: list[int]) -> None:
        """Appends the ids of one piece: lowest-ranked adjacent pair merged first."""
        rank = self._encoder.get(piece)
        if rank is not None:
            out.append(rank)
            return
        if len(piece) > _LONG_PIECE:
            self._bpe_long(piece, out)
            return
        parts = [piece[i : i + 1] for i in range(len(piece))]
        while len(parts) > 1:
            best, best_rank = -1, _MAX_RANK  # a pair of _MAX_RANK is never merged (tiktoken)
            for i in range(len(parts) - 1):
                pair = self._encoder.get(parts[i] + parts[i + 1])
                if pair is not None and pair < best_rank:
                    best, best_rank = i, pair
            if best < 0:
                break
            parts[best : best + 2] = [parts[best] + parts[best + 1]]
        out.extend(self._encoder[part] for part in parts)

    def _bpe_long(self, piece: bytes, out: list[int]) -> None:
        """:meth:`_bpe` for a long piece in O(n log n), as rust_core's ``merge_long``.

        Rescanning every adjacent pair after each merge is quadratic (100,000 spaces: over
        40 s). The same merges happen in the same order (lowest rank first, leftmost on
        ties): parts form a linked list indexed by their start byte, and a pending pair
        (start, end) is stale once the part at ``start`` is gone or no longer ends its pair at
        ``end`` (ends only grow, so a pair never comes back); stale pairs are skipped.

        Pending pairs wait in one bucket per rank, with a min-heap of the ranks that have
        one; a bucket is sorted by start when taken and swept in order. All pairs of a rank
        are the same bytes and merges only make longer pairs, so none of the rank being swept
        arrives during its sweep; a vocabulary whose merges are not in rank order can make a
        lower (or equal) rank, and the sweep then stops and puts the rest of its bucket back,
        so the order stays exactly (rank, start).
        """
        encoder = self._encoder
        n = len(piece)
        nxt = list(range(1, n + 1))
        prev = list(range(-1, n - 1))
        alive = [True] * n
        buckets: dict[int, list[tuple[int, int]]] = {}
        ranks: list[int] = []

        def push(rank: int | None, start: int, end: int) -> None:
            if rank is None or rank == _MAX_RANK:  # no token, or tiktoken's "no merge"
                return
            bucket = buckets.get(rank)
            if bucket is None:
                buckets[rank] = [(start, end)]
                heapq.heappush(ranks, rank)
            else:
                bucket.append((start, end))

        for i in range(n - 1):
            push(encoder.get(piece[i : i + 2]), i, i + 2)
        while ranks:
            rank = heapq.heappop(ranks)
            sweep = sorted(buckets.pop(rank))
            for at, (i, end) in enumerate(sweep):
                if not alive[i]:
                    continue
                j = nxt[i]
                if j >= n or nxt[j] != end:
                    continue
                alive[j] = False
                nxt[i] = end
                if end < n:
                    prev[end] = i
                    after = nxt[end]
                    push(encoder.get(piece[i:after]), i, after)
                before = prev[i]
                if before >= 0:
                    push(encoder.get(piece[before:end]), before, end)
                if ranks and ranks[0] <= rank:
                    for start, stop in sweep[at + 1 :]:
                        push(rank, start, stop)
                    break
        start = 0
        while start < n:
            end = nxt[start]
            out.append(encoder[piece[start:end]])
            start = end

    def _ordinary(self, text: str, out: list[int]) -> None:
        for match in self._regex.finditer(text):
            piece = match.group().encode("utf-8")
            if piece:
                self._bpe(piece, out)

    def _encode(self, text: str, allowed: frozenset[str], disallowed: frozenset[str]) -> list[int]:
        for name in sorted(disallowed):
            if name in text:
                raise ValueError(
                    f"text contains the disallowed special token {name!r}; pass "
                    "allowed_special to encode it as a special token, or "
                    "disallowed_special=() to encode it as text"
                )
        usable = sorted((s for s in allowed if s in self._specials), key=lambda s: (-len(s), s))
        out: list[int] = []
        if not usable:
            self._ordinary(text, out)
            return out
        splitter = regex.compile("|".join(regex.escape(s) for s in usable))
        start = 0
        for match in splitter.finditer(text):
            self._ordinary(text[start : match.start()], out)
            out.append(self._specials[match.group()])
            start = match.end()
        self._ordinary(text[start:], out)
        return out

    def _sets(
        self, allowed_special: object, disallowed_special: object
    ) -> tuple[frozenset[str], frozenset[str]]:
        allowed = _special_set(allowed_special, "allowed_special", self._specials)
        if isinstance(disallowed_special, str) and disallowed_special == "all":
            return allowed, frozenset(self._specials) - allowed
        return allowed, _special_set(disallowed_special, "disallowed_special", self._specials)

    def encode(
        self,
        text: str,
        *,
        allowed_special: SpecialSet = frozenset(),
        disallowed_special: SpecialSet = "all",
    ) -> list[int]:
        """The token ids of ``text`` (tiktoken's ``Encoding.encode``)."""
        allowed, disallowed = self._sets(allowed_special, disallowed_special)
        return self._encode(_checked_text(text), allowed, disallowed)

    def encode_ordinary(self, text: str) -> list[int]:
        """The token ids of ``text`` with special tokens encoded as plain text."""
        out: list[int] = []
        self._ordinary(_checked_text(text), out)
        return out

    def encode_batch(
        self,
        texts: Sequence[str],
        *,
        allowed_special: SpecialSet = frozenset(),
        disallowed_special: SpecialSet = "all",
    ) -> list[list[int]]:
        """:meth:`encode` of every text (a list or tuple of str)."""
        if not isinstance(texts, (list, tuple)):
            raise TypeError(f"texts must be a list or tuple of str, not {_type_name(texts)}")
        allowed, disallowed = self._sets(allowed_special, disallowed_special)
        checked = [_checked_text(t) for t in texts]
        return [self._encode(t, allowed, disallowed) for t in checked]

    def decode_bytes(self, tokens: Sequence[int]) -> bytes:
        """The bytes the ids stand for; KeyError for an id that is no token."""
        if not isinstance(tokens, (list, tuple)):
            raise TypeError(f"tokens must be a list or tuple of int, not {_type_name(tokens)}")
        parts = []
        for token in tokens:
            if isinstance(token, bool) or not isinstance(token, int):
                raise TypeError(f"tokens must contain int, not {_type_name(token)}")
            part = self._decoder.get(token)
            if part is None:
                part = self._special_decoder.get(token)
            if part is None:
                raise KeyError(token)
            parts.append(part)
        return b"".join(parts)

    def decode(self, tokens: Sequence[int]) -> str:
        """The text of the ids, UTF-8 decoded with ``errors="replace"`` (as tiktoken)."""
        return self.decode_bytes(tokens).decode("utf-8", "replace")

    @property
    def n_vocab(self) -> int:
        """One more than the largest id (tiktoken's ``n_vocab``)."""
        return max([*self._decoder, *self._special_decoder]) + 1


def count_tokens(
    tokenizer: Tokenizer,
    text: str | Sequence[str],
    *,
    allowed_special: SpecialSet = frozenset(),
    disallowed_special: SpecialSet = "all",
) -> int | list[int]:
    """The number of tokens of ``text``, or of each text of a list/tuple (a batch).

    Counts what :meth:`Tokenizer.encode` returns with the same special-token arguments.
    rust_core counts a batch in parallel without building the token lists.
    """
    if rc is not None and hasattr(rc, "count_tokens_rust"):
        return rc.count_tokens_rust(
            tokenizer, text, allowed_special=allowed_special, disallowed_special=disallowed_special
        )
    if not isinstance(tokenizer, Tokenizer):
        raise TypeError(f"tokenizer must be a Tokenizer, not {_type_name(tokenizer)}")
    if isinstance(text, str):
        return len(
            tokenizer.encode(
                text, allowed_special=allowed_special, disallowed_special=disallowed_special
            )
        )
    if not isinstance(text, (list, tuple)):
        raise TypeError(f"text must be str or a list or tuple of str, not {_type_name(text)}")
    batch = tokenizer.encode_batch(
        text, allowed_special=allowed_special, disallowed_special=disallowed_special
    )
    return [len(tokens) for tokens in batch]


def tiny_tokenizer(special_tokens: Mapping[str, int] | None = None) -> Tokenizer:
    """The shipped tiny vocabulary with the cl100k pattern (and ``<|endoftext|>``)."""
    ranks = load_ranks(TINY_VOCABULARY)
    if special_tokens is None:
        special_tokens = {"<|endoftext|>": max(ranks.values()) + 1}
    return Tokenizer(ranks, PATTERNS["cl100k"], special_tokens)

"""CacheCore parity: generate_hash and verify_integrity, single and batch."""

from __future__ import annotations

import hashlib

from hypothesis import example, given
from hypothesis import strategies as st

from pyagent import cache_core
from pyagent.parity import hostile
from pyagent.parity.compare import same
from pyagent.parity.properties.strategies import any_text, bytes_like, not_data
from pyagent.parity.registry import parity_property

algorithms = st.one_of(
    st.sampled_from(cache_core.ALGORITHMS),
    st.sampled_from(["MD5", "Sha256", "SHA512", "sha-256", "", "blake2b", "\ud800"]),
    st.text(max_size=8),
    st.none(),
    st.integers(),
)
data = st.one_of(bytes_like, any_text, not_data, hostile.for_kind("buffer"))


#: A buffer that is not C-contiguous (every other byte): BufferError from both backends.
STRIDED = memoryview(b"abcdef")[::2]

expected_digests = st.one_of(
    st.text(alphabet="0123456789abcdefABCDEF", max_size=130),
    any_text,
    st.binary(max_size=8),
    st.none(),
)


@parity_property("generate_hash")
@given(data=data, algorithm=hostile.mix(algorithms, "string"))
def generate_hash_agrees(data: object, algorithm: object) -> None:
    """Same digest (equal to hashlib) or the same error class, for any data and name."""
    outcome = same(cache_core.generate_hash, data, algorithm)
    if outcome.error is None and isinstance(data, bytes) and isinstance(algorithm, str):
        assert outcome.value == hashlib.new(algorithm.lower(), data).hexdigest()


@parity_property("generate_hash")
# A strided buffer before a bad item: its BufferError must come first, item by item, not the
# later item's TypeError (the check cannot be left to hashlib, which runs after all items).
@example(items=[b"a", STRIDED, 5], algorithm="sha256")
@given(
    items=hostile.mix(
        st.one_of(st.lists(data, max_size=6), st.tuples(data, data), data), "sequence"
    ),
    algorithm=hostile.mix(algorithms, "string"),
)
def generate_hash_batch_agrees(items: object, algorithm: object) -> None:
    """Batch digests agree, including bad items and non-iterables."""
    same(cache_core.generate_hash_batch, items, algorithm)


@parity_property("verify_integrity")
@given(
    data=data,
    algorithm=hostile.mix(algorithms, "string"),
    expected=hostile.mix(expected_digests, "string"),
    use_true=st.booleans(),
)
def verify_integrity_agrees(
    data: object, algorithm: object, expected: object, use_true: bool
) -> None:
    """Same verdict for true, case-changed, wrong and wrong-typed digests."""
    if use_true:
        try:
            expected = cache_core.generate_hash(data, algorithm)  # type: ignore[arg-type]
            expected = expected.upper() if len(expected) % 3 == 0 else expected
        except Exception:
            pass
    outcome = same(cache_core.verify_integrity, data, expected, algorithm)
    if use_true and outcome.error is None and isinstance(expected, str):
        assert outcome.value is True


@parity_property("verify_integrity")
# A strided item and a bare str: the item's BufferError comes before the TypeError for the
# str (items are checked first, and not only when hashed).
@example(items=[STRIDED], algorithm="sha256", tamper=[], extra=None, as_str=True)
@given(
    items=st.lists(st.one_of(st.binary(), any_text), max_size=6),
    algorithm=algorithms,
    tamper=st.lists(st.integers(0, 5), max_size=3),
    extra=st.one_of(st.none(), expected_digests),
    as_str=st.booleans(),
)
def verify_integrity_batch_agrees(
    items: list[object], algorithm: object, tamper: list[int], extra: object, as_str: bool
) -> None:
    """Batch verdicts agree, with tampered digests, length mismatches and a bare str.

    A bare str as ``expected`` has one character per item (so it would pass the length
    check if it were iterated): TypeError from both backends, as documented.
    """
    try:
        digests: list[object] = list(cache_core.generate_hash_batch(items, algorithm))  # type: ignore[arg-type]
    except Exception:
        digests = ["0" * 64 for _ in items]
    for index in tamper:
        if index < len(digests):
            digests[index] = "f" * 64
    if extra is not None:
        digests.append(extra)  # a length mismatch, or a wrong-typed digest
    if as_str:
        outcome = same(cache_core.verify_integrity_batch, items, "f" * len(items), algorithm)
        assert outcome.error is not None
    same(cache_core.verify_integrity_batch, items, digests, algorithm)

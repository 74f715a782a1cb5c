"""CacheCore behaviour; runs against whichever backend this run of the suite selects."""

from __future__ import annotations

import array
import hashlib

import pytest

from pyagent.cache_core import (
    ALGORITHMS,
    CacheCore,
    generate_hash,
    generate_hash_batch,
    verify_integrity,
    verify_integrity_batch,
)

SAMPLES = [b"", b"abc", bytes(range(256)) * 40, "héllo wörld 🌍".encode()]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("data", SAMPLES)
def test_digests_equal_hashlib(algorithm: str, data: bytes) -> None:
    assert generate_hash(data, algorithm) == hashlib.new(algorithm, data).hexdigest()


def test_default_is_sha256_and_names_ignore_case() -> None:
    assert generate_hash(b"x") == hashlib.sha256(b"x").hexdigest()
    assert generate_hash(b"x", "SHA1") == hashlib.sha1(b"x").hexdigest()


def test_str_is_hashed_as_utf8() -> None:
    assert generate_hash("héllo") == hashlib.sha256("héllo".encode()).hexdigest()


@pytest.mark.parametrize(
    "data",
    [bytearray(b"abc"), memoryview(b"abc"), array.array("i", [1, 2, 3]), memoryview(b"xabcx")[1:4]],
)
def test_any_contiguous_buffer_is_hashed_as_its_raw_bytes(data: object) -> None:
    assert generate_hash(data) == hashlib.sha256(bytes(memoryview(data))).hexdigest()  # type: ignore[arg-type]


def test_large_input_hashes_correctly() -> None:
    blob = bytes(range(256)) * 100_000  # 25 MB: takes the GIL-released path natively
    assert generate_hash(blob, "sha512") == hashlib.sha512(blob).hexdigest()


@pytest.mark.parametrize(
    ("data", "algorithm", "error"),
    [
        (123, "sha256", TypeError),
        (None, "sha256", TypeError),
        (b"x", "sha-256", ValueError),
        (b"x", "blake2b", ValueError),
        (b"x", "\ud800", ValueError),
        (b"x", None, TypeError),
        ("\ud800", "sha256", UnicodeEncodeError),
        (memoryview(b"abcd")[::2], "sha256", BufferError),
    ],
)
def test_bad_input_raises(data: object, algorithm: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        generate_hash(data, algorithm)  # type: ignore[arg-type]


def test_batch_matches_single_and_rejects_a_bare_str() -> None:
    items = [b"a", "b", bytearray(b"c")]
    assert generate_hash_batch(items, "md5") == [generate_hash(i, "md5") for i in items]
    assert generate_hash_batch([]) == []
    assert generate_hash_batch(iter([b"a"])) == [generate_hash(b"a")]
    with pytest.raises(TypeError):
        generate_hash_batch("abc")
    with pytest.raises(TypeError):
        generate_hash_batch([b"a", 1])


def test_big_batch_matches_hashlib() -> None:
    items = [bytes([i % 256]) * (i % 4096) for i in range(3000)]  # > 1 MiB: parallel natively
    assert generate_hash_batch(items) == [hashlib.sha256(i).hexdigest() for i in items]


def test_verify_integrity() -> None:
    digest = hashlib.md5(b"payload").hexdigest()
    assert verify_integrity(b"payload", digest, "md5")
    assert verify_integrity(b"payload", digest.upper(), "md5")
    assert not verify_integrity(b"payload!", digest, "md5")
    assert not verify_integrity(b"payload", digest[:-1], "md5")
    assert not verify_integrity(b"payload", "é" * 32, "md5")
    with pytest.raises(TypeError):
        verify_integrity(b"payload", digest.encode(), "md5")  # type: ignore[arg-type]


def test_verify_integrity_batch() -> None:
    items = [b"a", b"b", b"c"]
    digests = [hashlib.sha256(i).hexdigest() for i in items]
    digests[1] = digests[0]
    assert verify_integrity_batch(items, digests) == [True, False, True]
    with pytest.raises(ValueError, match="3 items but 2"):
        verify_integrity_batch(items, digests[:2])
    with pytest.raises(TypeError):
        verify_integrity_batch(items, "abc")


def test_cache_core_detects_corruption() -> None:
    cache = CacheCore(algorithm="MD5")
    key = cache.put(b"value")
    keys = cache.put_many([b"one", "two"])
    assert cache.get(key) == b"value" and cache.get(keys[1]) == b"two"
    assert cache.corrupted() == []
    cache._entries[keys[0]] = b"tampered"
    assert cache.corrupted() == [keys[0]]
    with pytest.raises(ValueError, match="integrity"):
        cache.get(keys[0])
    with pytest.raises(ValueError):
        CacheCore(algorithm="crc32")

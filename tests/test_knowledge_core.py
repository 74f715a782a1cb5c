"""KnowledgeCore.sharding_index behaviour on whichever backend this run selects."""

from __future__ import annotations

import zlib

import pytest

from pyagent.knowledge_core import KnowledgeCore, sharding_index, sharding_index_batch


@pytest.mark.parametrize("key", ["", "a", "Wikipedia", "ünïcødé 🌍", "x" * 10_000])
@pytest.mark.parametrize("count", [1, 2, 7, 64, 2**31 - 1, 2**40, 2**100])
def test_equals_zlib_adler32(key: str, count: int) -> None:
    assert sharding_index(key, count) == zlib.adler32(key.encode()) % count


def test_batch_of_a_million_keys_equals_zlib() -> None:
    keys = [f"agent-{i}/memory" for i in range(1_000_000)]
    assert sharding_index_batch(keys, 97) == [zlib.adler32(k.encode()) % 97 for k in keys]


@pytest.mark.parametrize(
    ("key", "count", "error"),
    [
        ("k", 0, ValueError),
        ("k", -5, ValueError),
        ("k", -(2**80), ValueError),
        ("k", False, ValueError),
        ("k", 1.5, TypeError),
        ("k", "3", TypeError),
        ("k", None, TypeError),
        (b"k", 3, TypeError),
        (3, 3, TypeError),
        ("\ud800", 3, UnicodeEncodeError),
    ],
)
def test_bad_input_raises(key: object, count: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        sharding_index(key, count)  # type: ignore[arg-type]
    with pytest.raises(error):
        sharding_index_batch([key], count)  # type: ignore[list-item, arg-type]


def test_batch_rejects_a_bare_str_and_checks_count_first() -> None:
    with pytest.raises(TypeError):
        sharding_index_batch("abc", 3)
    with pytest.raises(ValueError):
        sharding_index_batch([1, 2], 0)  # type: ignore[list-item]


def test_knowledge_core_spreads_and_finds_entries() -> None:
    core = KnowledgeCore(shard_count=8)
    core.put_many((f"fact-{i}", i) for i in range(800))
    core.put("extra", "x")
    assert sum(core.distribution()) == 801
    assert max(core.distribution()) < 200  # no shard hogs the keys
    assert core.get("fact-123") == 123 and core.get("extra") == "x"
    assert core.get("absent", "default") == "default"
    with pytest.raises(ValueError):
        KnowledgeCore(shard_count=0)


BIG = 70_000  # above the native batch's parallel threshold (65,536 keys)


def test_big_batch_with_mixed_keys_equals_zlib() -> None:
    keys = [f"k{i}" if i % 7 else f"ключ-{i}-🌍" for i in range(BIG)]
    keys[BIG // 2] = "é" * 300  # long non-ASCII key
    assert sharding_index_batch(keys, 1009) == [zlib.adler32(k.encode()) % 1009 for k in keys]
    assert sharding_index_batch(tuple(keys), 7) == [zlib.adler32(k.encode()) % 7 for k in keys]


@pytest.mark.parametrize(
    ("bad", "error"), [(None, TypeError), (b"bytes", TypeError), ("\ud800", UnicodeEncodeError)]
)
def test_big_batch_raises_for_the_first_bad_key(bad: object, error: type[Exception]) -> None:
    keys: list[object] = [f"k{i}" for i in range(BIG)]
    keys[BIG - 5] = 42  # a later bad key must not win over the first one
    keys[BIG // 3] = bad
    with pytest.raises(error):
        sharding_index_batch(keys, 64)  # type: ignore[arg-type]

"""KnowledgeCore: places knowledge entries in shards (seed section 2, ``sharding_index``).

A key's shard is the Adler-32 checksum of its UTF-8 bytes modulo the shard count: the
same as ``zlib.adler32(key.encode()) % shard_count``, cheap and stable across processes and
releases (unlike ``hash()``, which is salted per process).
"""

from __future__ import annotations

import operator
import zlib
from collections.abc import Iterable
from typing import Any

from pyagent._builtin import stored

try:
    import rust_core as rc
except ImportError:
    rc = None  # type: ignore[assignment, unused-ignore]

__all__ = ["KnowledgeCore", "sharding_index", "sharding_index_batch"]


def _shard_count(shard_count: object) -> int:
    try:
        count = operator.index(stored(shard_count))
    except TypeError:
        raise TypeError(
            f"shard_count must be an integer, not {type(shard_count).__name__}"
        ) from None
    if count < 1:
        raise ValueError("shard_count must be at least 1")
    return count


def _key_bytes(key: object) -> bytes:
    if not isinstance(key, str):
        raise TypeError(f"sharding keys must be str, not {type(key).__name__}")
    return key.encode("utf-8")


def sharding_index(key: str, shard_count: int) -> int:
    """The shard of ``key``: Adler-32 of its UTF-8 bytes modulo ``shard_count``.

    Raises TypeError for a non-str key or non-integer count, ValueError for a count below 1.
    """
    if rc is not None and hasattr(rc, "sharding_index"):
        return rc.sharding_index(key, shard_count)
    count = _shard_count(shard_count)
    return zlib.adler32(_key_bytes(key)) % count


def sharding_index_batch(keys: Iterable[str], shard_count: int) -> list[int]:
    """``sharding_index`` of every key, in order: one call for a whole batch."""
    if rc is not None and hasattr(rc, "sharding_index_batch"):
        return rc.sharding_index_batch(keys, shard_count)
    count = _shard_count(shard_count)
    if isinstance(keys, str):
        raise TypeError("keys must be an iterable of str, not a single str")
    return [zlib.adler32(_key_bytes(key)) % count for key in stored(keys)]


class KnowledgeCore:
    """Knowledge entries spread over a fixed number of shards by :func:`sharding_index`."""

    def __init__(self, shard_count: int = 16) -> None:
        self.shard_count = _shard_count(shard_count)
        self.shards: list[dict[str, Any]] = [{} for _ in range(self.shard_count)]

    def shard_of(self, key: str) -> int:
        """The shard index ``key`` belongs to."""
        return sharding_index(key, self.shard_count)

    def put(self, key: str, value: Any) -> int:
        """Stores ``value`` under ``key``; returns the shard it went to."""
        shard = self.shard_of(key)
        self.shards[shard][key] = value
        return shard

    def put_many(self, items: Iterable[tuple[str, Any]]) -> None:
        """Stores many entries, computing their shards in one batch call."""
        pairs = list(items)
        shards = sharding_index_batch([k for k, _ in pairs], self.shard_count)
        for (key, value), shard in zip(pairs, shards, strict=True):
            self.shards[shard][key] = value

    def get(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key``, or ``default``."""
        return self.shards[self.shard_of(key)].get(key, default)

    def distribution(self) -> list[int]:
        """Entry count per shard, to see how evenly keys spread."""
        return [len(shard) for shard in self.shards]

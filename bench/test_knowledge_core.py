"""KnowledgeCore.sharding_index on a million keys.

Workload: 1,000,000 keys shaped like PyAgent knowledge ids ("agent-<n>/memory/<hex>", ~30
bytes), 64 shards. Peer: ``zlib.adler32`` in a list comprehension.
"""

from __future__ import annotations

import random
import zlib

from bench.conftest import compare, scaled
from pyagent import knowledge_core

KEYS_COUNT = scaled(1_000_000, 100_000)
SHARDS = 64
rng = random.Random(7)
KEYS = [
    f"agent-{rng.randrange(10_000)}/memory/{rng.getrandbits(64):016x}" for _ in range(KEYS_COUNT)
]
EXPECTED = [zlib.adler32(k.encode()) % SHARDS for k in KEYS]


def test_sharding_index_batch(benchmark: object, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="sharding_index",
        workload=f"{KEYS_COUNT:,} keys of ~30 B, {SHARDS} shards",
        ours=lambda: knowledge_core.sharding_index_batch(KEYS, SHARDS),
        peer=lambda: [zlib.adler32(k.encode()) % SHARDS for k in KEYS],
        check=lambda got: got == EXPECTED,
    )

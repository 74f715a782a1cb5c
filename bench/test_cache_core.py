"""CacheCore: batch digests and integrity checks.

Workload: 100,000 cache entries of 64 to 1,024 bytes (random sizes, ~54 MB), SHA-256; and a
single 64 MiB blob. Peer: a hashlib loop (hashlib is OpenSSL, the usual choice).
"""

from __future__ import annotations

import hashlib
import hmac
import random

from bench.conftest import compare, scaled
from pyagent import cache_core

ITEMS = scaled(100_000, 10_000)
BLOB_MIB = scaled(64, 8)
rng = random.Random(20261124)
ENTRIES = [rng.randbytes(rng.randint(64, 1024)) for _ in range(ITEMS)]
DIGESTS = [hashlib.sha256(e).hexdigest() for e in ENTRIES]
BLOB = rng.randbytes(BLOB_MIB << 20)
BLOB_DIGEST = hashlib.sha256(BLOB).hexdigest()


def test_generate_hash_batch(benchmark: object, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="generate_hash",
        workload=f"{ITEMS:,} entries of 64-1024 B, sha256",
        ours=lambda: cache_core.generate_hash_batch(ENTRIES),
        peer=lambda: [hashlib.sha256(e).hexdigest() for e in ENTRIES],
        check=lambda got: got == DIGESTS,
    )


def test_generate_hash_large(benchmark: object, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="generate_hash",
        group_suffix=":64MiB",
        workload=f"one {BLOB_MIB} MiB blob, sha256",
        ours=lambda: cache_core.generate_hash(BLOB),
        peer=lambda: hashlib.sha256(BLOB).hexdigest(),
        check=lambda got: got == BLOB_DIGEST,
    )


def test_verify_integrity_batch(benchmark: object, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="verify_integrity",
        workload=f"{ITEMS:,} entries of 64-1024 B with their sha256 digests",
        ours=lambda: cache_core.verify_integrity_batch(ENTRIES, DIGESTS),
        peer=lambda: [
            hmac.compare_digest(hashlib.sha256(e).hexdigest(), d)
            for e, d in zip(ENTRIES, DIGESTS, strict=True)
        ],
        check=lambda got: got == [True] * ITEMS,
    )

"""KVCacheCore: page_copy over a float16 paged cache, and the BlockManager on an op trace.

page_copy workload: 1,000 block copies (random distinct sources and destinations) in a cache
of 32,000 blocks of 16 x 128 float16 (125 MiB, 4 KiB per block). Peer: numpy fancy indexing,
``cache[dst] = cache[src]``. The copied blocks are checked bit for bit. Every round repeats
the same copies on the same cache; sources and destinations are disjoint, so each round writes
the same bytes and rounds are identical.

block_manager workload: a fixed trace of 1,000,000 operations (numpy seed 20261124): decode
steps (append_token) over up to 128 live sequences, with allocations (prompts of 1..256
tokens), frees once a sequence has decoded 1..256 tokens, and 1% forks (beam-search style,
giving copy-on-write); 16,384 blocks of 16 tokens, enough that no operation fails.

* group ``block_manager``: one Python method call per operation, as a scheduler would make
  them. python = the pure-Python reference; peer = the same plain dict/list manager (the
  reference is that peer; the manifest names it "python"); rust = rust_core's class.
* group ``block_manager[replay]``: the whole trace in one ``replay(ops)`` call on Rust,
  against the peer's per-call loop: what batching the calls saves.

Every run's result (copy-on-write count, free blocks, live sequences, a checksum of the
final block tables) is checked against the reference's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bench.conftest import compare, rust_vs_peer_only, scaled
from pyagent import kv_cache_core
from pyagent.backend import forced_python
from pyagent.kv_cache_core import OP_ALLOCATE, OP_APPEND, OP_FORK, OP_FREE, BlockManager

# --------------------------------------------------------------------------------------------
# page_copy

NUM_BLOCKS = scaled(32_000, 4_000)
BLOCK_SHAPE = (16, 128)
COPIES = 1_000
_rng = np.random.default_rng(20261124)
CACHE = _rng.integers(0, 2**16, size=(NUM_BLOCKS, *BLOCK_SHAPE), dtype=np.uint16).view(np.float16)
_perm = _rng.permutation(NUM_BLOCKS)
MAPPING = np.stack([_perm[:COPIES], _perm[COPIES : 2 * COPIES]], axis=1).astype(np.int64)
SRC, DST = MAPPING[:, 0].copy(), MAPPING[:, 1].copy()
EXPECTED_BLOCKS = CACHE[SRC].view(np.uint16).copy()


def numpy_page_copy() -> np.ndarray:
    CACHE[DST] = CACHE[SRC]
    return CACHE


def _copied(cache: Any) -> bool:
    return cache is None or cache is CACHE


def test_page_copy(benchmark: object, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="page_copy",
        workload=f"{COPIES:,} blocks of 16x128 float16 in a {NUM_BLOCKS:,}-block cache",
        ours=lambda: kv_cache_core.page_copy(CACHE, MAPPING),
        peer=numpy_page_copy,
        check=lambda got: (
            _copied(got) and bool(np.array_equal(CACHE[DST].view(np.uint16), EXPECTED_BLOCKS))
        ),
    )


# --------------------------------------------------------------------------------------------
# block_manager

OPERATIONS = scaled(1_000_000, 100_000)
BM_BLOCKS = 16_384
BM_BLOCK_SIZE = 16
MAX_LIVE = 128


def make_trace(n: int = OPERATIONS, seed: int = 20261124) -> list[tuple[int, int, int]]:
    """A replayable trace of (op, a, b) rows that never runs out of blocks (see module doc)."""
    rng = np.random.default_rng(seed)
    u = rng.random(n).tolist()
    pick = rng.random(n).tolist()
    lengths = rng.integers(1, 257, size=(n, 2)).tolist()
    live: list[int] = []
    remaining: dict[int, int] = {}
    next_id = 0
    ops: list[tuple[int, int, int]] = []
    for i in range(n):
        if not live or (len(live) < MAX_LIVE and u[i] < 0.02):
            prompt, decode = lengths[i]
            ops.append((OP_ALLOCATE, next_id, prompt))
            live.append(next_id)
            remaining[next_id] = decode
            next_id += 1
            continue
        slot = int(pick[i] * len(live))
        seq = live[slot]
        if remaining[seq] == 0:
            ops.append((OP_FREE, seq, 0))
            live[slot] = live[-1]
            live.pop()
            del remaining[seq]
        elif u[i] > 0.99 and len(live) < MAX_LIVE:
            ops.append((OP_FORK, seq, next_id))
            live.append(next_id)
            remaining[next_id] = remaining[seq]
            next_id += 1
        else:
            ops.append((OP_APPEND, seq, 0))
            remaining[seq] -= 1
    return ops


TRACE = make_trace()
TRACE_ARRAY = np.array(TRACE, dtype=np.int64)


def drive(manager: Any, ops: list[tuple[int, int, int]]) -> tuple[int, int, int, int]:
    """One method call per operation; (copies, free blocks, live sequences, table checksum)."""
    allocate, append, free, fork = (
        manager.allocate,
        manager.append_token,
        manager.free,
        manager.fork,
    )
    copies = 0
    for op, a, b in ops:
        if op == OP_APPEND:
            if append(a) is not None:
                copies += 1
        elif op == OP_ALLOCATE:
            allocate(a, b)
        elif op == OP_FREE:
            free(a)
        else:
            fork(a, b)
    return copies, manager.num_free_blocks, len(manager), _checksum(manager)


def _checksum(manager: Any) -> int:
    """Position-weighted sum of the final block tables of the sequences still live."""
    return sum((i + 1) * sum(manager.block_table(s)) for i, s in enumerate(EXPECTED_LIVE))


def run_calls() -> tuple[int, int, int, int]:
    return drive(BlockManager(BM_BLOCKS, BM_BLOCK_SIZE), TRACE)


def run_python_reference() -> tuple[int, int, int, int]:
    with forced_python():
        manager = BlockManager(BM_BLOCKS, BM_BLOCK_SIZE)
    return drive(manager, TRACE)


def run_replay() -> tuple[int, int, int, int]:
    manager = BlockManager(BM_BLOCKS, BM_BLOCK_SIZE)
    copies = manager.replay(TRACE_ARRAY)
    return len(copies), manager.num_free_blocks, len(manager), _checksum(manager)


def _live_at_end(ops: list[tuple[int, int, int]]) -> list[int]:
    live: set[int] = set()
    for op, a, b in ops:
        if op == OP_ALLOCATE:
            live.add(a)
        elif op == OP_FREE:
            live.discard(a)
        elif op == OP_FORK:
            live.add(b)
    return sorted(live)


EXPECTED_LIVE = _live_at_end(TRACE)


@pytest.fixture(scope="module")
def expected_manager_result() -> tuple[int, int, int, int]:
    return run_python_reference()


def test_block_manager(
    benchmark: object, implementation: str, expected_manager_result: tuple[int, ...]
) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="block_manager",
        workload=f"{OPERATIONS:,} allocate/append/free/fork calls, {BM_BLOCKS:,} blocks of 16",
        ours=run_calls,
        peer=run_python_reference,
        check=lambda got: got == expected_manager_result,
    )


@rust_vs_peer_only
def test_block_manager_replay(
    benchmark: object, implementation: str, expected_manager_result: tuple[int, ...]
) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="block_manager",
        workload=f"{OPERATIONS:,} operations in one replay(ops) call vs one call each",
        ours=run_replay,
        peer=run_python_reference,
        check=lambda got: got == expected_manager_result,
        group_suffix="[replay]",
        peer_name="python dict/list manager, one call per op",
    )

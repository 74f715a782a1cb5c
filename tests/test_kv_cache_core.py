"""KVCacheCore: page_copy and the BlockManager, on the selected backend."""

from __future__ import annotations

import numpy as np
import pytest

from pyagent import kv_cache_core
from pyagent.kv_cache_core import (
    OP_ALLOCATE,
    OP_APPEND,
    OP_FORK,
    OP_FREE,
    BlockManager,
    NoFreeBlocksError,
    page_copy,
)

# --------------------------------------------------------------------------------------------
# page_copy


def _cache(num_blocks: int = 6, dtype: str = "float16") -> np.ndarray:
    return (np.arange(num_blocks * 8) // 8).astype(dtype).reshape(num_blocks, 2, 4)


@pytest.mark.parametrize("dtype", ["float16", "float32", "uint16", "int8", "float64"])
def test_copies_whole_blocks_in_place(dtype: str) -> None:
    cache = _cache(dtype=dtype)
    view = cache  # same object: the copy happens in place
    assert page_copy(cache, [[0, 3], [5, 1]]) is None
    assert view[:, 0, 0].tolist() == [0, 5, 2, 0, 4, 5]
    assert (cache == cache[:, :1, :1]).all()  # every element of a block was copied


def test_matches_numpy_fancy_indexing_with_overlapping_sources() -> None:
    # 1 is both a destination and a source, and (2, 4) / (4, 2) swap: every copy reads the
    # blocks as they were before the call, exactly like cache[dst] = cache[src].
    mapping = np.array([[0, 1], [1, 3], [2, 4], [4, 2], [5, 5]])
    cache = _cache()
    expected = cache.copy()
    expected[mapping[:, 1]] = expected[mapping[:, 0]]
    page_copy(cache, mapping)
    np.testing.assert_array_equal(cache, expected)
    assert cache[:, 0, 0].tolist() == [0, 0, 4, 1, 2, 5]


def test_large_copy_matches_numpy() -> None:
    rng = np.random.default_rng(3)
    cache = rng.integers(0, 2**16, size=(2000, 16, 32), dtype=np.uint16)
    perm = rng.permutation(2000)
    mapping = np.stack([perm[:700], perm[700:1400]], axis=1)
    expected = cache.copy()
    expected[mapping[:, 1]] = expected[mapping[:, 0]]
    page_copy(cache, mapping)
    np.testing.assert_array_equal(cache, expected)


def test_bfloat16_bit_patterns_and_nans_are_copied_bit_for_bit() -> None:
    cache = np.array([[0x7FC1, 0xFF80], [0x3F80, 0x8000]], dtype=np.uint16)
    page_copy(cache, [(0, 1)])
    assert cache.tolist() == [[0x7FC1, 0xFF80], [0x7FC1, 0xFF80]]
    halves = np.array([[np.nan, -0.0], [1.0, 2.0]], dtype=np.float16)
    page_copy(halves, [[0, 1]])
    assert halves.view(np.uint16)[1].tolist() == halves.view(np.uint16)[0].tolist()


def test_empty_mappings_and_self_copies_change_nothing() -> None:
    cache = _cache()
    before = cache.copy()
    for mapping in ([], np.zeros((0, 2), dtype=np.int64), [[2, 2]]):
        page_copy(cache, mapping)
    np.testing.assert_array_equal(cache, before)


@pytest.mark.parametrize(
    ("make_cache", "mapping", "error"),
    [
        (lambda: _cache().tolist(), [[0, 1]], TypeError),
        (lambda: bytearray(16), [[0, 1]], TypeError),
        (lambda: _cache().astype(object), [[0, 1]], TypeError),
        (lambda: np.array(3.0), [[0, 0]], ValueError),
        (lambda: np.repeat(_cache(), 2, axis=0)[::2], [[0, 1]], ValueError),
        (lambda: _cache().transpose(1, 0, 2), [[0, 1]], ValueError),
        (lambda: np.broadcast_to(_cache(), (6, 2, 4)), [[0, 1]], ValueError),
        (_cache, [[0, 6]], IndexError),
        (_cache, [[6, 0]], IndexError),
        (_cache, [[0, 1], [-1, 2]], IndexError),
        (_cache, [[0, 1], [2, 1]], ValueError),
        (_cache, [[0, 1, 2]], ValueError),
        (_cache, [0, 1], ValueError),
        (_cache, np.zeros((1, 1, 2), dtype=np.int64), ValueError),
        (_cache, [[0.0, 1.0]], TypeError),
        (_cache, [[True, False]], TypeError),
        (_cache, [["0", "1"]], TypeError),
        (_cache, None, TypeError),
        (_cache, [[0, 1], [2]], ValueError),
    ],
)
def test_bad_input_is_rejected_before_anything_is_written(
    make_cache: object, mapping: object, error: type[Exception]
) -> None:
    cache = make_cache()  # type: ignore[operator]
    before = cache.copy() if isinstance(cache, np.ndarray) else None
    with pytest.raises(error):
        page_copy(cache, [[1, 0], *mapping] if error is IndexError else mapping)
    if before is not None:
        np.testing.assert_array_equal(cache, before)


def test_read_only_cache_is_a_value_error() -> None:
    cache = _cache()
    cache.flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        page_copy(cache, [[0, 1]])


# --------------------------------------------------------------------------------------------
# BlockManager


def test_allocation_takes_the_lowest_unused_blocks_then_reuses_freed_ones_lifo() -> None:
    manager = BlockManager(8, 4)
    assert (manager.num_blocks, manager.block_size, manager.num_free_blocks) == (8, 4, 8)
    manager.allocate(1, 9)  # ceil(9 / 4) = 3 blocks
    manager.allocate(2, 4)
    assert manager.block_table(1) == [0, 1, 2]
    assert manager.block_table(2) == [3]
    assert manager.num_tokens(1) == 9 and len(manager) == 2
    manager.free(1)
    assert manager.num_free_blocks == 7 and len(manager) == 1
    manager.allocate(3, 5)  # the freed sequence's first block comes back first
    assert manager.block_table(3) == [0, 1]
    assert manager.append_token(2) is None  # block 3 is full: a new block
    assert manager.block_table(2) == [3, 2]
    assert manager.num_tokens(2) == 5


def test_appending_fills_the_last_block_before_taking_a_new_one() -> None:
    manager = BlockManager(4, 2)
    manager.allocate(7, 0)
    assert manager.block_table(7) == []
    for _ in range(5):
        assert manager.append_token(7) is None
    assert manager.block_table(7) == [0, 1, 2]
    assert manager.num_free_blocks == 1


def test_fork_shares_blocks_and_copy_on_write_returns_the_copy() -> None:
    manager = BlockManager(6, 4)
    manager.allocate(0, 6)  # blocks [0, 1], last one half full
    manager.fork(0, 1)
    assert manager.block_table(1) == [0, 1]
    assert manager.num_free_blocks == 4  # nothing allocated by the fork
    assert manager.append_token(1) == (1, 2)  # shared, partly filled: copy 1 -> 2
    assert manager.block_table(1) == [0, 2]
    assert manager.block_table(0) == [0, 1]
    assert manager.append_token(0) is None  # block 1 is the parent's alone now
    manager.free(0)
    assert manager.num_free_blocks == 4  # block 0 is still used by the child
    manager.free(1)
    assert manager.num_free_blocks == 6


def test_a_full_shared_last_block_needs_no_copy() -> None:
    manager = BlockManager(4, 2)
    manager.allocate(0, 4)
    manager.fork(0, 1)
    assert manager.append_token(1) is None
    assert manager.block_table(1) == [0, 1, 2]


def test_running_out_of_blocks_raises_and_changes_nothing() -> None:
    manager = BlockManager(3, 2)
    manager.allocate(0, 3)
    with pytest.raises(NoFreeBlocksError, match="need 2 free block"):
        manager.allocate(1, 4)
    assert isinstance(NoFreeBlocksError("x"), RuntimeError)
    assert manager.num_free_blocks == 1 and len(manager) == 1
    manager.fork(0, 1)
    assert manager.append_token(0) == (1, 2)  # copy-on-write takes the last free block
    assert manager.append_token(1) is None  # block 1 is the child's alone now
    with pytest.raises(NoFreeBlocksError):
        manager.append_token(1)  # its last block is full and nothing is free
    with pytest.raises(NoFreeBlocksError):
        manager.append_token(0)
    assert (manager.block_table(0), manager.num_tokens(0)) == ([0, 2], 4)
    assert (manager.block_table(1), manager.num_tokens(1)) == ([0, 1], 4)
    with pytest.raises(NoFreeBlocksError):
        manager.allocate(5, 2**80)


def test_unknown_and_duplicate_sequences() -> None:
    manager = BlockManager(4, 2)
    manager.allocate(0, 1)
    for call in (
        lambda: manager.free(9),
        lambda: manager.append_token(9),
        lambda: manager.block_table(9),
        lambda: manager.num_tokens(9),
        lambda: manager.fork(9, 10),
    ):
        with pytest.raises(KeyError):
            call()
    with pytest.raises(ValueError, match="already"):
        manager.allocate(0, 1)
    with pytest.raises(ValueError, match="already"):
        manager.fork(0, 0)
    manager.free(0)
    with pytest.raises(KeyError):
        manager.free(0)
    assert manager.num_free_blocks == 4


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((0, 4), ValueError),
        ((4, 0), ValueError),
        ((2**31, 4), ValueError),
        ((4, 2**100), ValueError),
        ((-(2**100), 4), ValueError),
        ((True, 4), TypeError),
        ((4.0, 4), TypeError),
        (("4", 4), TypeError),
        ((None, 4), TypeError),
    ],
)
def test_bad_sizes(args: tuple[object, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        BlockManager(*args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "error"),
    [(-1, ValueError), (2**63, ValueError), (True, TypeError), (1.0, TypeError), ("1", TypeError)],
)
def test_bad_sequence_ids_and_lengths(value: object, error: type[Exception]) -> None:
    manager = BlockManager(4, 2)
    manager.allocate(0, 2)
    with pytest.raises(error):
        manager.allocate(value, 1)  # type: ignore[arg-type]
    with pytest.raises(error):
        manager.fork(0, value)  # type: ignore[arg-type]
    with pytest.raises(error):
        manager.append_token(value)  # type: ignore[arg-type]
    if value != 2**63:
        with pytest.raises(error):
            manager.allocate(1, value)  # type: ignore[arg-type]
    assert manager.num_free_blocks == 3 and len(manager) == 1
    manager.allocate(np.int64(5), np.int32(3))  # numpy integers are integers
    assert manager.block_table(5) == [1, 2]


def test_replay_equals_the_same_calls() -> None:
    ops = np.array(
        [
            [OP_ALLOCATE, 0, 3],
            [OP_FORK, 0, 1],
            [OP_APPEND, 1, 0],
            [OP_APPEND, 0, 0],
            [OP_APPEND, 0, 0],
            [OP_FREE, 1, 0],
            [OP_ALLOCATE, 2, 1],
        ]
    )
    batch = BlockManager(8, 2)
    copies = batch.replay(ops)
    assert copies.dtype == np.int64 and copies.tolist() == [[1, 2]]
    single = BlockManager(8, 2)
    single.allocate(0, 3)
    single.fork(0, 1)
    assert single.append_token(1) == (1, 2)
    single.append_token(0)
    single.append_token(0)
    single.free(1)
    single.allocate(2, 1)
    for seq_id in (0, 2):
        assert batch.block_table(seq_id) == single.block_table(seq_id)
    assert batch.num_free_blocks == single.num_free_blocks
    assert batch.replay([]).shape == (0, 2)


def test_replay_validates_the_batch_first_then_stops_at_a_failing_op() -> None:
    manager = BlockManager(4, 2)
    for bad, error in (
        ([[OP_ALLOCATE, 0, 1], [9, 0, 0]], ValueError),
        ([[OP_ALLOCATE, 0]], ValueError),
        (np.array([[0, 0, 1]], dtype=np.uint64), TypeError),
        ([[0.0, 0.0, 1.0]], TypeError),
    ):
        with pytest.raises(error):
            manager.replay(bad)
        assert len(manager) == 0
    with pytest.raises(KeyError):
        manager.replay([[OP_ALLOCATE, 0, 1], [OP_FREE, 3, 0], [OP_ALLOCATE, 1, 1]])
    assert manager.block_table(0) == [0] and len(manager) == 1  # the op before it applied


def test_page_copy_performs_the_copies_the_manager_returns() -> None:
    manager = BlockManager(8, 4)
    cache = np.zeros((8, 4, 2), dtype=np.float16)
    manager.allocate(0, 3)
    cache[manager.block_table(0)[0], :3] = 1.5
    manager.fork(0, 1)
    copy = manager.append_token(1)
    assert copy is not None
    page_copy(cache, [copy])
    np.testing.assert_array_equal(cache[manager.block_table(1)[0]], cache[0])


@pytest.mark.requires_rust
def test_the_rust_classes_are_used_and_raise_the_python_error_class() -> None:
    assert kv_cache_core.rc is not None
    manager = BlockManager(1, 1)
    assert type(manager).__module__ == "rust_core"
    assert type(manager).__name__ == "BlockManager"
    assert type(manager) is kv_cache_core.rc.block_manager
    with pytest.raises(NoFreeBlocksError):
        manager.allocate(0, 2)


@pytest.mark.requires_rust
def test_rust_and_python_managers_agree_on_a_random_trace() -> None:
    from pyagent.backend import forced_python

    with forced_python():
        python = BlockManager(64, 4)
    rust = BlockManager(64, 4)
    assert type(python) is BlockManager and type(rust) is not BlockManager
    rng = np.random.default_rng(11)
    for _ in range(3000):
        op, a, b = int(rng.integers(0, 4)), int(rng.integers(0, 10)), int(rng.integers(0, 12))
        name, args = [
            ("allocate", (a, b)),
            ("append_token", (a,)),
            ("free", (a,)),
            ("fork", (a, b % 10)),
        ][op]
        results = []
        for manager in (rust, python):
            try:
                results.append(getattr(manager, name)(*args))
            except Exception as exc:
                results.append(type(exc))
        assert results[0] == results[1], (name, args, results)
        assert rust.num_free_blocks == python.num_free_blocks
    for seq_id in range(10):
        try:
            assert rust.block_table(seq_id) == python.block_table(seq_id)
        except KeyError:
            with pytest.raises(KeyError):
                python.block_table(seq_id)


class _LyingInt(int):
    """An int whose comparisons and conversions lie: a state must use its stored value."""

    def __index__(self) -> int:
        return 99

    def __int__(self) -> int:
        return 99

    def __lt__(self, other: object) -> bool:
        return True

    def __le__(self, other: object) -> bool:
        return False


def test_a_forged_state_of_int_subclasses_is_read_and_kept_as_plain_ints() -> None:
    import pickle

    manager = kv_cache_core.BlockManager(4, 2)
    manager.__setstate__(
        {
            "next_unused": _LyingInt(2),
            "free": [_LyingInt(1)],
            "sequences": [(_LyingInt(7), [_LyingInt(0)], _LyingInt(2))],
        }
    )
    state = manager.__getstate__()
    assert state == {"next_unused": 2, "free": [1], "sequences": [(7, [0], 2)]}
    assert type(state["next_unused"]) is int and type(state["free"][0]) is int
    assert all(type(v) is int for v in state["sequences"][0][1])
    # The pickle holds only plain ints, so it loads on either backend.
    assert pickle.loads(pickle.dumps(manager, protocol=0)).__getstate__() == state

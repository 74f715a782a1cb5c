"""KVCacheCore: paged KV-cache memory for attention (Inference/KV).

Paged attention (vLLM) stores each sequence's keys and values in fixed-size *blocks* of a
preallocated cache ``[num_blocks, ...]`` and keeps, per sequence, a *block table* listing the
blocks that hold its tokens in order. Two hot paths live here:

* :func:`page_copy` copies whole blocks inside the cache in place (the copy-on-write and
  swap step of a scheduler iteration);
* :class:`BlockManager` hands out and reclaims the block ids themselves: allocation for a
  prompt, one more token at a time, forks that share blocks (reference counted), and
  copy-on-write when a shared, partly filled last block is written to.

Both validate every argument before changing anything, and raise the same exception classes
on both backends (:class:`NoFreeBlocksError` is one class, raised by Rust as well).
"""

from __future__ import annotations

import functools
import operator
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from pyagent._builtin import stored

try:
    import rust_core as rc
except ImportError:
    rc = None  # type: ignore[assignment, unused-ignore]

__all__ = [
    "MAX_BLOCKS",
    "OP_ALLOCATE",
    "OP_APPEND",
    "OP_FORK",
    "OP_FREE",
    "BlockManager",
    "NoFreeBlocksError",
    "page_copy",
]

#: Block ids are int32 in attention kernels' block tables, so a manager holds at most this many.
MAX_BLOCKS = 2**31 - 1
#: Sequence ids are non-negative 64-bit integers.
_MAX_SEQ_ID = 2**63 - 1

#: Operation codes of :meth:`BlockManager.replay` (column 0 of its ``ops`` array).
OP_ALLOCATE = 0
OP_APPEND = 1
OP_FREE = 2
OP_FORK = 3


class NoFreeBlocksError(RuntimeError):
    """Not enough free blocks for the request; the manager's state is unchanged.

    A scheduler catches it to preempt or swap out a sequence and retry. rust_core raises this
    very class (it looks it up in this module), so ``except NoFreeBlocksError`` works on both
    backends.
    """


# --------------------------------------------------------------------------------------------
# page_copy


def _mapping_pairs(mapping: object, num_blocks: int) -> list[tuple[int, int]]:
    """The validated (src, dst) pairs of ``mapping``; see :func:`page_copy` for the rules."""
    pairs = np.asarray(mapping)
    if pairs.size == 0 and pairs.ndim == 1:
        return []  # an empty sequence: numpy gives it shape (0,) and dtype float64
    if pairs.size > 0 and (pairs.dtype.kind not in "iu"):
        raise TypeError(f"mapping must hold integers, not dtype {pairs.dtype}")
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ValueError(f"mapping must have shape (n, 2), got {pairs.shape}")
    listed: list[list[int]] = pairs.tolist()
    for src, dst in listed:
        if not (0 <= src < num_blocks and 0 <= dst < num_blocks):
            raise IndexError(
                f"block pair ({src}, {dst}) out of range for a cache of {num_blocks} blocks"
            )
    dsts = [dst for _, dst in listed]
    if len(set(dsts)) != len(dsts):
        raise ValueError("mapping has a duplicate destination block")
    return [(src, dst) for src, dst in listed]


def page_copy(cache: NDArray[Any], mapping: Sequence[Sequence[int]] | NDArray[np.integer]) -> None:
    """Copies whole blocks of ``cache`` in place: ``cache[dst] = cache[src]`` for each pair.

    ``cache`` is a writable, C-contiguous numpy array ``[num_blocks, ...]`` of any dtype
    without Python objects (float16, float32, bfloat16 stored as uint16, ...): blocks are
    copied as raw bytes. ``mapping`` is an integer array or sequence of ``(src, dst)`` pairs,
    shape ``(n, 2)``; an empty mapping is a no-op.

    Semantics are exactly numpy's ``cache[dst] = cache[src]`` with index arrays: every copy
    reads the blocks as they were *before* the call (a snapshot), so a block that is both a
    destination and a source in one mapping is read before it is overwritten, and swaps like
    ``[(0, 1), (1, 0)]`` work.

    Everything is checked before any byte is written:

    * ``cache`` not a numpy array, or a dtype holding objects: TypeError;
    * ``cache`` zero-dimensional, not C-contiguous or read-only: ValueError;
    * ``mapping`` not integer: TypeError; not shape ``(n, 2)``: ValueError;
    * a block id outside ``[0, num_blocks)``: IndexError (negative ids are not wrapped as
      numpy would: a negative block id is a bug in a block table, not an alias);
    * the same destination twice: ValueError (which copy wins would be arbitrary).

    This is the pure-Python reference: one numpy block assignment per pair, after saving the
    sources that the mapping also overwrites.
    """
    if rc is not None and hasattr(rc, "page_copy"):
        return rc.page_copy(cache, mapping)
    if not isinstance(cache, np.ndarray):
        raise TypeError(f"cache must be a numpy array, not {type(cache).__name__}")
    if cache.dtype.hasobject:
        raise TypeError(f"cache must not hold Python objects (dtype {cache.dtype})")
    if cache.ndim < 1:
        raise ValueError("cache must have a block dimension (ndim >= 1)")
    if not cache.flags.c_contiguous:
        raise ValueError("cache must be C-contiguous")
    if not cache.flags.writeable:
        raise ValueError("cache must be writable")
    pairs = _mapping_pairs(mapping, cache.shape[0])
    dsts = {dst for _, dst in pairs}
    saved = {src: cache[src].copy() for src, _ in pairs if src in dsts}
    for src, dst in pairs:
        cache[dst] = saved[src] if src in saved else cache[src]
    return None


# --------------------------------------------------------------------------------------------
# BlockManager


def _int_arg(value: object, name: str) -> int:
    """``value`` as an int: TypeError for bool and for anything without ``__index__``."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not bool")
    try:
        # An int subclass by its stored value, as rust_core reads it (docs/limits.md).
        return operator.index(stored(value))
    except TypeError:
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}") from None


def _seq_arg(value: object, name: str = "seq_id") -> int:
    seq_id = _int_arg(value, name)
    if not 0 <= seq_id <= _MAX_SEQ_ID:
        raise ValueError(f"{name} must be in [0, 2**63), got {seq_id}")
    return seq_id


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _locked(method: _Method) -> _Method:
    """Runs ``method`` under the manager's lock, so concurrent calls never interleave.

    Reentrant, because :meth:`BlockManager.replay` calls the other methods. The Rust manager
    serialises calls the same way, so both backends may be shared between threads.
    """

    @functools.wraps(method)
    def run(self: BlockManager, *args: Any) -> Any:
        with self._lock:
            return method(self, *args)

    return run  # type: ignore[return-value]


def _state_int(value: object, what: str, low: int, high: int) -> int:
    """An int of a pickled state in ``[low, high]``; ValueError otherwise (bool included).

    An int subclass counts by its stored value, as an exact int: its own comparisons are
    not asked, and it is not kept (the state, its pickles and every id handed out are ints).
    """
    number = stored(value) if isinstance(value, int) and not isinstance(value, bool) else None
    if number is None or not low <= number <= high:
        raise ValueError(f"invalid BlockManager state: {what} must be an int in [{low}, {high}]")
    return int(number)


def _state_list(value: object, what: str) -> list[Any] | tuple[Any, ...]:
    """A list or tuple of a pickled state, by its stored items (a subclass's never asked)."""
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"invalid BlockManager state: {what} must be a list")
    items: list[Any] | tuple[Any, ...] = stored(value)
    return items


class _Sequence:
    """One sequence's block table and token count."""

    __slots__ = ("blocks", "tokens")

    def __init__(self, blocks: list[int], tokens: int) -> None:
        self.blocks = blocks
        self.tokens = tokens


class BlockManager:
    """Paged-attention block allocator in the style of vLLM's block manager.

    ``num_blocks`` blocks of ``block_size`` token slots each (both in ``[1, 2**31 - 1]``).
    A sequence (id: an int in ``[0, 2**63)``) owns a *block table*: the ids of the blocks
    holding its tokens, in order; it needs ``ceil(tokens / block_size)`` of them.

    * :meth:`allocate` registers a sequence for a prompt of ``prompt_len`` tokens.
    * :meth:`append_token` adds one token: a new block when the last one is full (or there is
      none). If the last block is partly filled and shared with a fork, it is copied first
      (copy-on-write): the sequence gets a fresh block and the call returns ``(src, dst)``,
      the block copy the caller must perform (e.g. with :func:`page_copy`); else ``None``.
    * :meth:`fork` gives a child the parent's blocks and token count; shared blocks are
      reference counted and return to the free pool when their last user frees them.
    * :meth:`free` releases a sequence.

    Block choice is deterministic, so both backends produce identical tables: freed blocks go
    on a LIFO stack (a sequence's blocks are pushed last block first, so its first block is the
    next one handed out), and when the stack is empty the lowest never-used id is taken.

    Errors leave the manager unchanged: TypeError for a non-integer argument (``bool``
    included), ValueError for out-of-range values and for a sequence id that already exists,
    KeyError for an unknown one, and :class:`NoFreeBlocksError` when there are not enough free
    blocks. Argument checks come first, then existence, then capacity.

    Thread safety: a manager may be shared between threads. Every method runs under the
    manager's lock (a reentrant lock here, a mutex in Rust), so concurrent calls are
    serialised and never lose or double-count a block.

    Pickling, ``copy.copy`` and ``copy.deepcopy`` give an independent manager with the same
    state on either backend: the pickle names this class, so a manager pickled with Rust
    loads as the pure-Python one where rust_core is absent, and the reverse.

    This is the pure-Python reference (dicts and lists); rust_core's ``block_manager`` is the
    same class in Rust, chosen by ``__new__`` when it is available.
    """

    def __new__(cls, num_blocks: int, block_size: int) -> BlockManager:
        """Pick the native allocator when rust_core has it (see hot_paths.toml)."""
        if rc is not None and hasattr(rc, "block_manager"):
            return rc.block_manager(num_blocks, block_size)
        return super().__new__(cls)

    def __init__(self, num_blocks: int, block_size: int) -> None:
        blocks = _int_arg(num_blocks, "num_blocks")
        size = _int_arg(block_size, "block_size")
        if not 1 <= blocks <= MAX_BLOCKS:
            raise ValueError(f"num_blocks must be in [1, 2**31 - 1], got {blocks}")
        if not 1 <= size <= MAX_BLOCKS:
            raise ValueError(f"block_size must be in [1, 2**31 - 1], got {size}")
        self._num_blocks = blocks
        self._block_size = size
        self._next_unused = 0  # blocks >= this id have never been handed out
        self._free: list[int] = []  # freed blocks, LIFO
        self._refs: dict[int, int] = {}  # block id -> number of sequences using it
        self._seqs: dict[int, _Sequence] = {}
        self._lock = threading.RLock()

    # Pickling names this class (a stable, backend-neutral constructor): loading calls
    # BlockManager(num_blocks, block_size), which is the Rust manager where rust_core is
    # installed and this one elsewhere, then __setstate__ with the state below, which both
    # backends write and read identically. copy.copy and copy.deepcopy go the same way, so a
    # copy never shares block tables with its original.

    def __reduce__(self) -> tuple[Any, ...]:
        """``(BlockManager, (num_blocks, block_size), state)``; see :meth:`__getstate__`."""
        return (BlockManager, (self._num_blocks, self._block_size), self.__getstate__())

    @_locked
    def __getstate__(self) -> dict[str, Any]:
        """The allocator's whole state, canonical so both backends write the same.

        ``{"next_unused": int, "free": [block, ...] (stack order, top last),
        "sequences": [(seq_id, [block, ...], tokens), ...] (by seq_id)}``. Reference counts
        are not stored: they are the number of sequences holding each block.
        """
        return {
            "next_unused": self._next_unused,
            "free": list(self._free),
            "sequences": [
                (seq_id, list(seq.blocks), seq.tokens) for seq_id, seq in sorted(self._seqs.items())
            ],
        }

    @_locked
    def __setstate__(self, state: object) -> None:
        """Replaces the state with a pickled one, after checking it is consistent.

        ValueError (and the manager unchanged) for anything :meth:`__getstate__` could not
        have written: unknown or missing keys, ids out of range, a block both free and in use
        or neither, a duplicate sequence, or a block table whose length does not fit its tokens.
        """
        if not isinstance(state, dict) or set(state) != {"next_unused", "free", "sequences"}:
            raise ValueError(
                "invalid BlockManager state: expected a dict with keys "
                "'next_unused', 'free' and 'sequences'"
            )
        next_unused = _state_int(state["next_unused"], "next_unused", 0, self._num_blocks)
        free = [
            _state_int(block, "a free block", 0, next_unused - 1)
            for block in _state_list(state["free"], "free")
        ]
        refs: dict[int, int] = {}  # block -> sequences holding it
        seqs: dict[int, _Sequence] = {}
        for entry in _state_list(state["sequences"], "sequences"):
            entry = stored(entry)
            if not isinstance(entry, (list, tuple)) or len(entry) != 3:
                raise ValueError("invalid BlockManager state: a sequence must be a 3-tuple")
            seq_id = _state_int(entry[0], "a sequence id", 0, _MAX_SEQ_ID)
            blocks = [
                _state_int(block, "a block of a sequence", 0, next_unused - 1)
                for block in _state_list(entry[1], "a block table")
            ]
            tokens = _state_int(entry[2], "a token count", 0, 2**64 - 1)
            if seq_id in seqs:
                raise ValueError(f"invalid BlockManager state: sequence {seq_id} appears twice")
            if len(set(blocks)) != len(blocks):
                raise ValueError(f"invalid BlockManager state: sequence {seq_id} repeats a block")
            if len(blocks) != -(-tokens // self._block_size):
                raise ValueError(
                    f"invalid BlockManager state: sequence {seq_id} has {len(blocks)} blocks "
                    f"for {tokens} tokens"
                )
            for block in blocks:
                refs[block] = refs.get(block, 0) + 1
            seqs[seq_id] = _Sequence(blocks, tokens)
        if len(set(free)) != len(free) or any(block in refs for block in free):
            raise ValueError("invalid BlockManager state: a free block is listed twice or in use")
        if len(free) + len(refs) != next_unused:
            raise ValueError(
                "invalid BlockManager state: a handed-out block is neither free nor used"
            )
        self._next_unused = next_unused
        self._free = free
        self._refs = refs
        self._seqs = seqs

    @property
    def num_blocks(self) -> int:
        """Blocks managed in total."""
        return self._num_blocks

    @property
    def block_size(self) -> int:
        """Token slots per block."""
        return self._block_size

    @property
    @_locked
    def num_free_blocks(self) -> int:
        """Blocks that no sequence uses."""
        return len(self._free) + self._num_blocks - self._next_unused

    @_locked
    def __len__(self) -> int:
        """Number of live sequences."""
        return len(self._seqs)

    def _take(self) -> int:
        # Callers check num_free_blocks first, so this never runs dry.
        if self._free:
            block = self._free.pop()
        else:
            block = self._next_unused
            self._next_unused += 1
        self._refs[block] = 1
        return block

    def _release(self, block: int) -> None:
        count = self._refs[block] - 1
        if count:
            self._refs[block] = count
        else:
            del self._refs[block]
            self._free.append(block)

    def _get(self, seq_id: int) -> _Sequence:
        seq = self._seqs.get(seq_id)
        if seq is None:
            raise KeyError(seq_id)
        return seq

    def _no_free(self, needed: int) -> NoFreeBlocksError:
        return NoFreeBlocksError(
            f"need {needed} free block(s), {self.num_free_blocks} of {self._num_blocks} free"
        )

    @_locked
    def allocate(self, seq_id: int, prompt_len: int) -> None:
        """Registers ``seq_id`` with ``ceil(prompt_len / block_size)`` fresh blocks.

        ValueError if ``seq_id`` exists or ``prompt_len < 0``; NoFreeBlocksError if too few
        blocks are free (nothing is allocated then).
        """
        seq = _seq_arg(seq_id)
        tokens = _int_arg(prompt_len, "prompt_len")
        if tokens < 0:
            raise ValueError(f"prompt_len must be >= 0, got {tokens}")
        if seq in self._seqs:
            raise ValueError(f"sequence {seq} is already allocated")
        needed = -(-tokens // self._block_size)
        if needed > self.num_free_blocks:
            raise self._no_free(needed)
        self._seqs[seq] = _Sequence([self._take() for _ in range(needed)], tokens)

    @_locked
    def append_token(self, seq_id: int) -> tuple[int, int] | None:
        """Adds one token to ``seq_id``; the ``(src, dst)`` block copy to perform, or None.

        A new block is appended when the last one is full (or the sequence has none). When the
        last block has room but is shared (after :meth:`fork`), it is replaced by a fresh
        block and ``(shared, fresh)`` is returned: copy the shared block's contents into the
        fresh one before writing the token. KeyError for an unknown sequence;
        NoFreeBlocksError when a block is needed and none is free.
        """
        seq = self._get(_seq_arg(seq_id))
        if seq.tokens % self._block_size == 0:
            if not self.num_free_blocks:
                raise self._no_free(1)
            seq.blocks.append(self._take())
            seq.tokens += 1
            return None
        last = seq.blocks[-1]
        if self._refs[last] == 1:
            seq.tokens += 1
            return None
        if not self.num_free_blocks:
            raise self._no_free(1)
        fresh = self._take()
        self._refs[last] -= 1  # still >= 1: another sequence keeps it
        seq.blocks[-1] = fresh
        seq.tokens += 1
        return (last, fresh)

    @_locked
    def fork(self, parent_id: int, child_id: int) -> None:
        """Makes ``child_id`` share all of ``parent_id``'s blocks and tokens.

        KeyError for an unknown parent, ValueError if the child already exists.
        """
        parent_seq = _seq_arg(parent_id, "parent_id")
        child_seq = _seq_arg(child_id, "child_id")
        parent = self._get(parent_seq)
        if child_seq in self._seqs:
            raise ValueError(f"sequence {child_seq} is already allocated")
        for block in parent.blocks:
            self._refs[block] += 1
        self._seqs[child_seq] = _Sequence(list(parent.blocks), parent.tokens)

    @_locked
    def free(self, seq_id: int) -> None:
        """Releases ``seq_id``; blocks no other sequence shares become free.

        KeyError for an unknown sequence.
        """
        seq_key = _seq_arg(seq_id)
        seq = self._get(seq_key)
        del self._seqs[seq_key]
        for block in reversed(seq.blocks):
            self._release(block)

    @_locked
    def block_table(self, seq_id: int) -> list[int]:
        """A copy of ``seq_id``'s block ids, in token order. KeyError if unknown."""
        return list(self._get(_seq_arg(seq_id)).blocks)

    @_locked
    def num_tokens(self, seq_id: int) -> int:
        """Tokens held by ``seq_id``. KeyError if unknown."""
        return self._get(_seq_arg(seq_id)).tokens

    @_locked
    def replay(self, ops: NDArray[np.integer] | Sequence[Sequence[int]]) -> NDArray[np.int64]:
        """Runs a batch of operations in order; the copy-on-write pairs, shape ``(k, 2)``.

        ``ops`` is an integer array ``(n, 3)`` of ``(op, a, b)`` rows: ``OP_ALLOCATE``
        (allocate(a, b)), ``OP_APPEND`` (append_token(a)), ``OP_FREE`` (free(a)) and
        ``OP_FORK`` (fork(a, b)); ``b`` is ignored by append and free. The result stacks the
        ``(src, dst)`` pairs the appends returned, ready for :func:`page_copy`. One call
        amortises the per-call cost of a scheduler step. The array's dtype (integers that fit
        int64: uint64 is refused), shape and op codes
        are checked first (TypeError / ValueError, nothing run); an operation that fails
        raises its own error, with the operations before it applied, as the same sequence of
        method calls would.
        """
        table = np.asarray(ops)
        if table.size == 0 and table.ndim == 1:
            return np.zeros((0, 2), dtype=np.int64)
        lossless = table.dtype.kind == "i" or (table.dtype.kind == "u" and table.itemsize < 8)
        if table.size > 0 and not lossless:
            raise TypeError(f"ops must hold integers that fit int64, not dtype {table.dtype}")
        if table.ndim != 2 or table.shape[1] != 3:
            raise ValueError(f"ops must have shape (n, 3), got {table.shape}")
        rows: list[list[int]] = table.tolist()
        for op, _, _ in rows:
            if op not in (OP_ALLOCATE, OP_APPEND, OP_FREE, OP_FORK):
                raise ValueError(f"unknown op code {op}")
        copies: list[tuple[int, int]] = []
        for op, a, b in rows:
            if op == OP_ALLOCATE:
                self.allocate(a, b)
            elif op == OP_APPEND:
                copy = self.append_token(a)
                if copy is not None:
                    copies.append(copy)
            elif op == OP_FREE:
                self.free(a)
            else:
                self.fork(a, b)
        return np.array(copies, dtype=np.int64).reshape(len(copies), 2)

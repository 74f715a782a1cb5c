"""KVCacheCore parity: page_copy on caches of several dtypes, and a stateful BlockManager run.

No tolerance: page_copy moves bytes and the block manager returns integers, so every
observable must be equal exactly (and the arrays bit-identical, checked as raw bytes so NaN
payloads and -0.0 count).
"""

from __future__ import annotations

import copy
import pickle
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from pyagent import kv_cache_core
from pyagent.backend import forced_python
from pyagent.kv_cache_core import OP_ALLOCATE, OP_APPEND, OP_FORK, OP_FREE, BlockManager
from pyagent.parity import hostile
from pyagent.parity.compare import Outcome, call_python, call_rust, outcome_of, same_outcome
from pyagent.parity.registry import parity_property, parity_state_machine

# --------------------------------------------------------------------------------------------
# page_copy

DTYPES = ["float16", "float32", "uint16", "int8", "float64"]  # uint16: bfloat16 bit patterns


@st.composite
def caches(draw: st.DrawFn) -> np.ndarray:
    """A C-contiguous cache [num_blocks, ...] with distinct bytes per block."""
    num_blocks = draw(st.integers(1, 12))
    rest = draw(st.lists(st.integers(0, 4), max_size=2))
    dtype = draw(st.sampled_from(DTYPES))
    size = num_blocks * int(np.prod(rest, dtype=np.int64))
    raw = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).integers(
        0, 256, size * np.dtype(dtype).itemsize, dtype=np.uint8
    )
    return raw.view(dtype).reshape(num_blocks, *rest)


@st.composite
def mappings(draw: st.DrawFn, num_blocks: int) -> object:
    """Valid (src, dst) pairs with distinct destinations, as a list or an integer array."""
    dsts = draw(st.lists(st.integers(0, num_blocks - 1), unique=True, max_size=num_blocks))
    srcs = [draw(st.integers(0, num_blocks - 1)) for _ in dsts]
    pairs = [[s, d] for s, d in zip(srcs, dsts, strict=True)]
    form = draw(st.sampled_from(["list", "int64", "int32", "uint16", "strided", "tuples"]))
    if form == "list":
        return pairs
    if form == "tuples":
        return [tuple(p) for p in pairs]
    if form == "strided":
        return np.repeat(np.array(pairs, dtype=np.int64).reshape(-1, 2), 2, axis=0)[::2]
    return np.array(pairs, dtype=form).reshape(len(pairs), 2)


def _both(cache: np.ndarray, mapping: object) -> tuple[Outcome, Outcome, np.ndarray, np.ndarray]:
    """Runs page_copy on two copies of ``cache``; (rust, python) outcomes and results."""
    rust_cache, python_cache = cache.copy(), cache.copy()
    rust = call_rust(kv_cache_core.page_copy, rust_cache, mapping)
    python = call_python(kv_cache_core.page_copy, python_cache, mapping)
    return rust, python, rust_cache, python_cache


def _same_bytes(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.hasobject:  # bytes would be pointers: compare the objects
        return repr(a.tolist()) == repr(b.tolist())  # repr: NaN equals NaN
    return a.tobytes() == b.tobytes()


@parity_property("page_copy")
@given(data=st.data(), cache=caches())
def page_copy_agrees_with_numpy(data: st.DataObject, cache: np.ndarray) -> None:
    """Both backends copy exactly what numpy's ``cache[dst] = cache[src]`` copies."""
    mapping = data.draw(mappings(cache.shape[0]))
    pairs = np.asarray(mapping, dtype=np.int64).reshape(-1, 2)
    expected = cache.copy()
    expected[pairs[:, 1]] = expected[pairs[:, 0]]
    rust, python, rust_cache, python_cache = _both(cache, mapping)
    same_outcome(rust, python, rel_tol=0)
    assert rust.error is None, rust.describe()
    assert _same_bytes(rust_cache, expected), "Rust differs from numpy fancy indexing"
    assert _same_bytes(python_cache, expected), "Python differs from numpy fancy indexing"


bad_mappings = st.one_of(
    hostile.for_kind("sequence"),
    hostile.for_kind("buffer"),
    st.lists(st.tuples(hostile.for_kind("int"), st.integers(0, 3)), min_size=1, max_size=2),
    st.lists(st.tuples(st.integers(-3, 15), st.integers(-3, 15)), min_size=1, max_size=6),
    st.lists(st.tuples(st.integers(0, 3), st.just(1)), min_size=2, max_size=3),  # duplicate dst
    st.sampled_from(
        [
            [],
            np.zeros((0, 2), dtype=np.int64),
            np.zeros((0, 3), dtype=np.int64),
            np.zeros((2, 3), dtype=np.int64),
            np.zeros(4, dtype=np.int64),
            np.zeros((1, 2), dtype=np.float64),
            np.array([[True, False]]),
            np.zeros((1, 1, 2), dtype=np.int64),
            np.array([[2**63, 0]], dtype=np.uint64),
            [[0, 1], [2]],
            [[0, 1.5]],
            [["0", "1"]],
            [[2**70, 0]],
            None,
            "01",
            5,
        ]
    ),
)


BAD_CACHE_KINDS = ["ok", "list", "object", "0d", "strided", "readonly", "bytearray"]


def _build(base: np.ndarray, kind: str) -> object:
    """A fresh cache of ``kind`` made from a copy of ``base`` (so each backend gets its own)."""
    base = base.copy()
    if kind == "list":
        return base.tolist()
    if kind == "object":
        return base.astype(object)
    if kind == "0d":
        return base.reshape(-1)[:1].reshape(()) if base.size else np.array(0, base.dtype)
    if kind == "strided":
        return np.repeat(base, 2, axis=0)[::2]
    if kind == "readonly":
        base.flags.writeable = False
        return base
    if kind == "bytearray":
        return bytearray(base.tobytes())
    return base


@parity_property("page_copy")
@given(
    cache=caches(),
    data=st.data(),
    which=st.sampled_from(["src", "dst"]),
    offset=st.sampled_from([-1, 0, 1]),
)
def page_copy_refuses_one_end_out_of_range(
    cache: np.ndarray, data: st.DataObject, which: str, offset: int
) -> None:
    """Exactly one end of one pair out of range: IndexError from both, cache untouched.

    A negative end is one numpy would wrap silently; the pair sits among valid ones.
    """
    n = cache.shape[0]
    good = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=2))
    bad_end = -1 - data.draw(st.integers(0, n - 1)) if offset < 0 else n + max(offset, 0)
    inside = data.draw(st.integers(0, n - 1))
    pair = (bad_end, inside) if which == "src" else (inside, bad_end)
    mapping = [*good, pair]
    rust, python, rust_cache, python_cache = _both(cache, mapping)
    same_outcome(rust, python, rel_tol=0)
    assert rust.error is IndexError, rust.describe()
    np.testing.assert_array_equal(rust_cache, cache)
    np.testing.assert_array_equal(python_cache, cache)


@parity_property("page_copy")
@given(base=caches(), kind=st.sampled_from(BAD_CACHE_KINDS), mapping=bad_mappings)
def page_copy_rejects_the_same(base: np.ndarray, kind: str, mapping: object) -> None:
    """Bad caches and mappings: same error class, and nothing written on either backend."""
    rust_cache, python_cache = _build(base, kind), _build(base, kind)
    rust = call_rust(kv_cache_core.page_copy, rust_cache, mapping)
    python = call_python(kv_cache_core.page_copy, python_cache, mapping)
    same_outcome(rust, python, rel_tol=0)
    if isinstance(rust_cache, np.ndarray) and isinstance(python_cache, np.ndarray):
        if rust.error is not None:
            before = _build(base, kind)
            assert isinstance(before, np.ndarray)
            assert _same_bytes(rust_cache, before), "Rust wrote before failing"
            assert _same_bytes(python_cache, before), "Python wrote before failing"
        else:
            assert _same_bytes(rust_cache, python_cache), "the backends copied differently"


# --------------------------------------------------------------------------------------------
# BlockManager

SEQ_IDS = st.integers(0, 4)
#: Arguments that must be refused the same way: wrong type, negative, beyond int64.
BAD_INTS = st.one_of(
    st.sampled_from([-1, -(2**70), 2**63, 2**70, True, 1.0, "1", None, np.int64(-2)]),
    hostile.for_kind("int"),
)


def _summary(manager: Any) -> tuple[int, int, int, int]:
    return (manager.num_blocks, manager.block_size, manager.num_free_blocks, len(manager))


@parity_property("block_manager")
@given(
    num_blocks=st.one_of(st.integers(-2, 40), BAD_INTS, st.just(2**31), st.just(2**31 - 1)),
    block_size=st.one_of(st.integers(-2, 40), BAD_INTS, st.just(np.int32(4))),
)
def block_manager_constructor_agrees(num_blocks: object, block_size: object) -> None:
    """Construction: same error class, or managers with the same size and free count."""
    rust = call_rust(BlockManager, num_blocks, block_size)
    python = call_python(BlockManager, num_blocks, block_size)
    same_outcome(
        Outcome(_summary(rust.value)) if rust.error is None else rust,
        Outcome(_summary(python.value)) if python.error is None else python,
        rel_tol=0,
    )
    if rust.error is None:
        assert type(rust.value).__module__ == "rust_core", "rust_core is not active"


HOW = ["pickle", "pickle", "copy", "deepcopy"]


@st.composite
def hostile_states(draw: st.DrawFn) -> object:
    """States ``__getstate__`` could not have written, near and far from valid ones."""
    ints = st.one_of(st.integers(-2, 30), BAD_INTS, st.just(2**31 - 1), st.just(2**64))
    blocks = st.lists(ints, max_size=4)
    sequence = st.one_of(
        st.tuples(ints, blocks, ints),
        st.tuples(SEQ_IDS, st.lists(st.integers(0, 6), max_size=3), st.integers(0, 12)),
        st.lists(ints, max_size=4),
        st.just("seq"),
    )
    state: dict[str, object] = {
        "next_unused": draw(st.one_of(st.integers(0, 8), ints)),
        "free": draw(st.one_of(st.lists(st.integers(0, 8), max_size=4), blocks, st.just(3))),
        "sequences": draw(st.one_of(st.lists(sequence, max_size=3), st.just(None))),
    }
    shape = draw(st.sampled_from(["dict", "dict", "dict", "extra", "missing", "list", "none"]))
    if shape == "extra":
        state["refs"] = {}
    elif shape == "missing":
        state.pop(draw(st.sampled_from(sorted(state))))
    elif shape == "list":
        return list(state.values())
    elif shape == "none":
        return None
    return state


@parity_state_machine("block_manager")
class BlockManagerMachine(RuleBasedStateMachine):
    """Drives a Rust and a Python BlockManager with the same calls, good and bad.

    After every step each call's outcome (value or exception class) must agree, and so must
    every observable: free count, number of sequences, and block table and token count (or
    KeyError) of every sequence id in play.
    """

    rust: Any
    python: Any

    @initialize(num_blocks=st.integers(1, 24), block_size=st.integers(1, 5))
    def create(self, num_blocks: int, block_size: int) -> None:
        """Both managers, the Rust one by the public constructor, the Python one forced."""
        self.rust = BlockManager(num_blocks, block_size)
        with forced_python():
            self.python = BlockManager(num_blocks, block_size)
        assert type(self.rust).__module__ == "rust_core", "rust_core is not active"
        assert type(self.python) is BlockManager

    def _both(self, method: str, *args: object) -> Any:
        rust = outcome_of(lambda: getattr(self.rust, method)(*args))
        python = outcome_of(lambda: getattr(self.python, method)(*args))
        same_outcome(rust, python, rel_tol=0)
        return rust.value

    @rule(seq_id=SEQ_IDS, prompt_len=st.integers(0, 14))
    def allocate(self, seq_id: int, prompt_len: int) -> None:
        """A prompt for a sequence id that may exist already or not fit."""
        self._both("allocate", seq_id, prompt_len)

    @rule(seq_id=SEQ_IDS, times=st.integers(1, 6))
    def append_token(self, seq_id: int, times: int) -> None:
        """Decode steps: new blocks, copy-on-write, running out."""
        for _ in range(times):
            self._both("append_token", seq_id)

    @rule(parent=SEQ_IDS, child=SEQ_IDS)
    def fork(self, parent: int, child: int) -> None:
        """A fork, of a parent that may not exist into a child that may."""
        self._both("fork", parent, child)

    @rule(parent=SEQ_IDS, child=SEQ_IDS, which=st.booleans())
    def fork_and_append(self, parent: int, child: int, which: bool) -> None:
        """The copy-on-write path: append to either side of a fresh fork."""
        self._both("fork", parent, child)
        self._both("append_token", child if which else parent)

    @rule(seq_id=SEQ_IDS)
    def free(self, seq_id: int) -> None:
        """Freeing, of known and unknown sequences."""
        self._both("free", seq_id)

    @rule(
        method=st.sampled_from(["allocate", "append_token", "fork", "free", "block_table"]),
        good=SEQ_IDS,
        bad=BAD_INTS,
        bad_first=st.booleans(),
    )
    def bad_arguments(self, method: str, good: int, bad: object, bad_first: bool) -> None:
        """Wrong types and out-of-range values in any argument position."""
        if method in ("allocate", "fork"):
            args = (bad, good) if bad_first else (good, bad)
        else:
            args = (bad,)
        self._both(method, *args)

    @rule(
        ops=st.lists(
            st.tuples(
                st.sampled_from([OP_ALLOCATE, OP_APPEND, OP_APPEND, OP_FREE, OP_FORK] * 4 + [7]),
                st.sampled_from([0, 1, 2, 3, 4] * 4 + [-1]),
                st.sampled_from([*range(12)] * 2 + [-1]),
            ),
            max_size=12,
        ),
        dtype=st.sampled_from(["int64", "int32", "uint64", "list", "flat"]),
    )
    def replay(self, ops: list[tuple[int, int, int]], dtype: str) -> None:
        """A batch of operations, valid or not, as an array of several dtypes or a list.

        ``flat``: the same numbers in one dimension, which the shape check refuses (a
        ValueError, never an IndexError from reading a second dimension it lacks).
        """
        if dtype == "list":
            batch: object = ops
        elif dtype == "flat":
            batch = np.array(ops, dtype=np.int64).reshape(-1)
        elif dtype == "uint64":
            batch = np.array(ops, dtype=np.int64).reshape(-1, 3).astype(np.uint64)
        else:
            batch = np.array(ops, dtype=dtype).reshape(-1, 3)
        self._both("replay", batch)

    @rule(protocol=st.integers(0, pickle.HIGHEST_PROTOCOL), how=st.sampled_from(HOW))
    def transplant(self, protocol: int, how: str) -> None:
        """Each manager moves to the other backend, by pickle or copy.

        The machine goes on with the Rust manager rebuilt from the Python one's pickle and
        the reverse, so every later step checks the restored state's behaviour, not just its
        fields.
        """
        rust_state, python_state = self.rust.__getstate__(), self.python.__getstate__()
        assert rust_state == python_state
        if how == "pickle":
            from_python = pickle.dumps(self.python, protocol)
            from_rust = pickle.dumps(self.rust, protocol)
            self.rust = pickle.loads(from_python)
            with forced_python():
                self.python = pickle.loads(from_rust)
        else:
            copier = copy.copy if how == "copy" else copy.deepcopy
            self.rust = copier(self.rust)
            with forced_python():  # a copy is built by the active backend, as a pickle is
                self.python = copier(self.python)
        assert type(self.rust).__module__ == "rust_core"
        assert type(self.python) is BlockManager
        assert self.rust.__getstate__() == rust_state == self.python.__getstate__()

    @rule(
        defect=st.sampled_from(["free twice", "used and free", "lost", "extra block"]),
        which=st.integers(0, 2**16),
    )
    def defective_state(self, defect: str, which: int) -> None:
        """The real state with one defect only a consistency check finds: refused alike.

        Random forged states are almost never one step from valid, so each of the checks
        (a free block listed twice or in use, a handed-out block neither free nor used) gets
        a state that passes every other check.
        """
        state = copy.deepcopy(self.python.__getstate__())
        free, used = state["free"], [b for _, blocks, _ in state["sequences"] for b in blocks]
        if defect == "free twice" and free:
            free.append(free[which % len(free)])
            state["next_unused"] += 1
        elif defect == "used and free" and used:
            free.append(used[which % len(used)])
            state["next_unused"] += 1
        elif defect == "lost" and free:
            free.pop(which % len(free))
        else:
            state["next_unused"] += 1
        self.forged_state(state)
        assert self.rust.__getstate__() != state  # refused, so unchanged

    @rule(state=hostile_states())
    def forged_state(self, state: object) -> None:
        """A forged pickled state: both accept it, or both refuse it alike and stay unchanged."""
        before = self.rust.__getstate__()
        rust = outcome_of(lambda: self.rust.__setstate__(state))
        python = outcome_of(lambda: self.python.__setstate__(state))
        same_outcome(rust, python, rel_tol=0)
        if rust.error is not None:
            assert self.rust.__getstate__() == before
        assert self.rust.__getstate__() == self.python.__getstate__()

    @invariant()
    def observables_agree(self) -> None:
        """Free count, sizes, sequence count, every table and token count."""
        for name in ("num_free_blocks", "num_blocks", "block_size"):
            assert getattr(self.rust, name) == getattr(self.python, name), name
        assert len(self.rust) == len(self.python)
        for seq_id in range(5):
            self._both("block_table", seq_id)
            self._both("num_tokens", seq_id)

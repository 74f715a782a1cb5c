"""Float32 tensors for the tensor hot paths (LoRA, vector search), good and bad."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pyagent.parity.compare import Outcome, call_python, call_rust

F32 = np.float32
EPS32 = float(np.finfo(F32).eps)

#: Float32 values of moderate size: products and sums of a few dozen stay far from overflow.
values32 = st.one_of(
    st.floats(-100, 100, width=32, allow_subnormal=False),
    st.integers(-4, 4).map(float),
)


def matrices(
    rows: int, cols: int, elements: st.SearchStrategy[float] = values32
) -> st.SearchStrategy[np.ndarray]:
    """``[rows, cols]`` float32 arrays, C-ordered, Fortran-ordered or strided views."""
    base = hnp.arrays(F32, (rows, cols), elements=elements)
    return st.one_of(
        base,
        base,
        base.map(np.asfortranarray),
        base.map(lambda a: np.repeat(a, 2, axis=1)[:, ::2]),
    )


def corrupt(array: np.ndarray) -> st.SearchStrategy[object]:
    """``array`` made wrong: a list, another dtype, another rank, NaN/inf inside, read-only."""

    def with_value(value: float) -> np.ndarray:
        bad = np.array(array, dtype=F32, copy=True)
        if bad.size:
            bad.flat[bad.size // 2] = value
        return bad

    def read_only() -> np.ndarray:
        frozen = np.array(array, dtype=F32, copy=True)
        frozen.flags.writeable = False
        return frozen

    return st.sampled_from(
        [
            array.tolist(),
            array.astype(np.float64),
            array.astype(np.float16),
            array.astype(np.int32),
            array.astype(">f4"),
            array[None],
            array.reshape(-1),
            with_value(math.nan),
            with_value(math.inf),
            with_value(-math.inf),
            read_only(),
            None,
        ]
    )


def copy_args(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Fresh copies of every ndarray in ``args`` (flags and layout kept), for in-place calls."""

    def copy(x: Any) -> Any:
        if isinstance(x, np.ndarray):
            fresh = np.empty_like(x)
            fresh[...] = x
            fresh.flags.writeable = x.flags.writeable
            return fresh
        return x

    return tuple(copy(x) for x in args)


def run_both(
    function: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    alias: bool = False,
) -> tuple[Outcome, tuple[Any, ...], Outcome, tuple[Any, ...]]:
    """Each backend on its own copy of the arguments (in-place calls must not share them).

    ``alias``: the second argument is a leading-rows view of the first, kept so in the copies.
    """
    rust_args, python_args = copy_args(args), copy_args(args)
    if alias:
        rows = args[1].shape[0]
        rust_args = (rust_args[0], rust_args[0][:rows], *rust_args[2:])
        python_args = (python_args[0], python_args[0][:rows], *python_args[2:])
    rust = call_rust(function, *rust_args, **kwargs)
    python = call_python(function, *python_args, **kwargs)
    return rust, rust_args, python, python_args


def same_error(rust: Outcome, python: Outcome) -> bool:
    """Asserts that if either raised, both raised the same class; True if they did."""
    if rust.error is not None or python.error is not None:
        assert rust.error is python.error, f"Rust {rust.describe()}\nPython {python.describe()}"
        return True
    return False

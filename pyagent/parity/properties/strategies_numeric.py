"""Numeric inputs shared by the array hot paths: good vectors, and every way to be wrong."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

#: Finite floats of moderate size (sums of many stay far from overflow).
finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)


def vectors(elements: st.SearchStrategy[float] = finite, max_size: int = 40) -> st.SearchStrategy:
    """1-D float data as a list, a tuple, a float64 array, a strided or float32/int array."""
    lists = st.lists(elements, max_size=max_size)
    return st.one_of(
        lists,
        lists.map(tuple),
        lists.map(lambda v: np.array(v, dtype=np.float64)),
        lists.map(lambda v: np.array(v + v, dtype=np.float64)[::2]),
        lists.map(lambda v: np.array([x for x in v if abs(x) < 1e38], dtype=np.float32)),
        st.lists(st.integers(-(2**40), 2**40), max_size=max_size).map(np.array),
    )


#: Inputs that must be rejected: NaN/inf inside, wrong dtype, wrong shape, not data at all.
bad_vectors = st.one_of(
    st.lists(st.sampled_from([math.nan, math.inf, -math.inf, 1.0]), min_size=1, max_size=5),
    st.just([]),
    st.just(np.zeros((2, 2))),
    st.just(np.float64(3.0)),
    st.just([[1.0], [2.0, 3.0]]),
    st.just(["a", "b"]),
    st.just([1.0, None]),
    st.just(np.array([1 + 2j])),
    st.just(np.array([True, False])),
    st.just(None),
    st.just("123"),
    st.just(iter([1.0, 2.0])),
)

#: Scalar parameters: ordinary, boundary and wrong-typed.
parameters = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-5, 5),
    st.sampled_from([0.0, -0.0, 1e-300, True, None, "1.5", np.float32(2.0), np.int64(3)]),
)

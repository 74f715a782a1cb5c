"""AuctionCore parity: calculate_vcg_prices on random value matrices.

Tolerance: none (``rel_tol=0``), and assignments compare exactly. Both backends run the same
shortest-augmenting-path code: the same column scan order, the same comparisons and the same
float operations in the same order (no transcendental functions), so even tied values are
broken identically and welfare and prices agree to the last bit.

Values are drawn as small integers (ties everywhere) or floats, in every container form
(nested lists, float64/int/float32 arrays, Fortran order, strided views), with both more
bidders than slots (often more than ``slots + 1``, where the solve keeps each slot's best)
and fewer. Bad inputs ride along: NaN, infinities, negative or huge values, empty
and non-2-D shapes, ragged lists and non-real dtypes.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from pyagent import auction_core
from pyagent.parity import hostile
from pyagent.parity.compare import call_both, same, same_outcome
from pyagent.parity.registry import parity_property

cell = st.one_of(
    st.integers(min_value=0, max_value=4).map(float),
    st.floats(min_value=0, max_value=1e6),
    # The largest value accepted; -0.0, equal to 0.0 when candidates are ranked.
    st.sampled_from([0.0, -0.0, auction_core.MAX_VALUE]),
)


@st.composite
def matrices(draw: st.DrawFn) -> object:
    """A bidders x slots value matrix in one of its accepted forms."""
    # Up to 12 bidders for up to 6 slots: often more than slots + 1, where only each slot's
    # slots + 1 best are solved on (with ties at that cut-off: small integers).
    bidders = draw(st.integers(min_value=1, max_value=12))
    slots = draw(st.integers(min_value=1, max_value=6))
    rows = draw(
        st.lists(st.lists(cell, min_size=slots, max_size=slots), min_size=bidders, max_size=bidders)
    )
    form = draw(st.sampled_from(["list", "f64", "int", "f32", "fortran", "strided", "transposed"]))
    if form == "list":
        return rows
    array = np.array(rows, dtype=np.float64)
    if form == "int":
        return np.minimum(array, 2.0**53).astype(np.int64)  # MAX_VALUE does not fit int64
    if form == "f32":
        return np.minimum(array, 1e38).astype(np.float32)  # MAX_VALUE does not fit float32
    if form == "fortran":
        return np.asfortranarray(array)
    if form == "strided":
        return np.repeat(array, 2, axis=1)[:, ::2]
    if form == "transposed":
        return np.ascontiguousarray(array.T).T
    return array


bad_matrices = st.sampled_from(
    [
        [[1.0, math.nan]],
        [[math.inf]],
        [[1.0], [-1.0]],
        [[1e200, 1.0]],
        np.zeros((0, 3)),
        np.zeros((3, 0)),
        [],
        [1.0, 2.0],
        np.zeros((2, 2, 2)),
        [[1.0], [2.0, 3.0]],
        [["a"]],
        np.array([[True]]),
        np.array([[1 + 2j]]),
        None,
        3.0,
    ]
)


@parity_property("calculate_vcg_prices")
@given(values=matrices())
# Ties at the candidate cut-off (each slot's slots + 1 best, lower index first), -0.0 == 0.0.
@example(values=np.ones((5, 1)))
@example(values=[[0.0, -0.0], [-0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [-0.0, -0.0]])
@example(values=[[5.0, 1.0], [5.0, 0.0], [0.0, 2.0], [0.0, 9.0], [6.0, 0.0], [1.0, 1.0]])
# Exactly at the size limit (slots * max(bidders, slots + 1) == MAX_CELLS): accepted, and
# quick, since only each slot's slots + 1 best bidders are solved on.
@example(values=np.zeros((auction_core.MAX_CELLS, 1)))
def calculate_vcg_prices_agrees(values: object) -> None:
    """Same assignment, prices and welfare, bit for bit, ties included."""
    rust, python = call_both(auction_core.calculate_vcg_prices, values)
    same_outcome(rust, python, rel_tol=0)
    assert rust.error is None, rust.describe()


@parity_property("calculate_vcg_prices")
@given(values=bad_matrices)
# Just past the size limit, slots * max(bidders, slots + 1) > MAX_CELLS, both ways round: a
# miscounted limit would solve these (all zeros: a few seconds in Python), not refuse them.
@example(values=np.zeros((1, 2048)))
@example(values=np.zeros((2**22 + 1, 1)))
def calculate_vcg_prices_rejects_the_same(values: object) -> None:
    """Bad values, shapes and dtypes: the same error class from both."""
    rust, python = call_both(auction_core.calculate_vcg_prices, values)
    same_outcome(rust, python, rel_tol=0)
    assert rust.error is not None


@parity_property("calculate_vcg_prices")
@given(
    values=st.one_of(
        hostile.for_kind("sequence"),
        hostile.for_kind("buffer"),
        st.lists(hostile.for_kind("sequence"), min_size=1, max_size=3),
        st.lists(
            st.lists(hostile.for_kind("number"), min_size=2, max_size=2), min_size=1, max_size=2
        ),
    )
)
def calculate_vcg_prices_hostile(values: object) -> None:
    """Hostile containers and numbers: the same value or error class from both."""
    same(auction_core.calculate_vcg_prices, values, rel_tol=0)

"""PruningCore parity: calculate_decay over arrays and for one synapse.

Tolerance: rel_tol=1e-12. Both backends compute ``max(w * exp(-ln2 * t / h), floor)`` in the
same order with the platform libm ``exp``, so results are normally bit-identical; the margin
only allows a libm that rounds ``exp`` differently (<= 1 ulp, ~2.2e-16 relative) on another
platform. A real bug (wrong constant, order, floor) is off by far more.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from pyagent import pruning_core
from pyagent.parity import hostile
from pyagent.parity.compare import same
from pyagent.parity.properties.strategies_numeric import bad_vectors, parameters, vectors
from pyagent.parity.registry import parity_property

REL_TOL = 1e-12
ages = st.floats(min_value=0, max_value=1e7)
weights = st.floats(min_value=-10, max_value=10)
#: At the age boundary: zero of either sign is a valid age, anything below zero is not.
edge_ages = st.sampled_from([0.0, -0.0, -1e-300, -1.0])
half_lives = st.one_of(st.floats(min_value=1e-3, max_value=1e6), parameters)
floors = st.one_of(st.floats(min_value=0, max_value=1), parameters)


@parity_property("calculate_decay")
@given(
    data=st.data(),
    n=st.integers(0, 40),
    half_life=half_lives,
    min_weight=st.one_of(st.none(), floors),
)
def calculate_decay_agrees(
    data: st.DataObject, n: int, half_life: object, min_weight: object
) -> None:
    """Same decayed array on equal-length inputs of every container type, or same error."""
    w = data.draw(st.lists(weights, min_size=n, max_size=n))
    a = data.draw(st.lists(st.one_of(ages, ages, edge_ages), min_size=n, max_size=n))
    w_in = data.draw(st.sampled_from([w, tuple(w), np.array(w)]))
    a_in = data.draw(st.sampled_from([a, np.array(a, dtype="float32")]))
    args = (w_in, a_in, half_life) if min_weight is None else (w_in, a_in, half_life, min_weight)
    same(pruning_core.calculate_decay, *args, rel_tol=REL_TOL)


@parity_property("calculate_decay")
@given(
    weights=hostile.mix(st.one_of(vectors(), bad_vectors), "sequence"),
    ages=hostile.mix(
        st.one_of(vectors(st.floats(min_value=-1, max_value=1e6)), bad_vectors), "sequence"
    ),
    half_life=hostile.mix(half_lives, "number"),
)
def calculate_decay_rejects_the_same(weights: object, ages: object, half_life: object) -> None:
    """Bad containers, dtypes, shapes, NaN, negative ages, bad lengths: same error class."""
    same(pruning_core.calculate_decay, weights, ages, half_life, rel_tol=REL_TOL)


@parity_property("calculate_decay")
@given(
    weight=hostile.mix(st.one_of(weights, parameters), "number"),
    age=hostile.mix(st.one_of(ages, parameters), "number"),
    half_life=hostile.mix(half_lives, "number"),
    min_weight=hostile.mix(floors, "number"),
)
def calculate_decay_scalar_agrees(
    weight: object, age: object, half_life: object, min_weight: object
) -> None:
    """The one-synapse form: same float or same error class."""
    same(pruning_core.calculate_decay_scalar, weight, age, half_life, min_weight, rel_tol=REL_TOL)

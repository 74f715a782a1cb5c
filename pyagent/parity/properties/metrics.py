"""MetricsCore parity: rolling_avg and aggregate_metrics.

Tolerance: rel_tol=0 for both. rolling_avg's window sums are exact and rounded once (the
``math.fsum`` rounding), then divided by the count: a unique result whatever the order of
operations. aggregate_metrics is built from correctly rounded sums (the sum, and the sum of
squared deviations about ``sum / n``) and single IEEE operations (no fused multiply-add):
every figure is unique whatever the order or thread split, so any difference is a bug.
"""

from __future__ import annotations

import math
import sys

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from pyagent import metrics_core
from pyagent.parity import hostile
from pyagent.parity.compare import same
from pyagent.parity.properties.strategies_numeric import bad_vectors, finite, vectors
from pyagent.parity.registry import parity_property

windows = st.one_of(
    st.integers(1, 50),
    st.integers(-2, 2),
    st.sampled_from([2**70, -(2**70), True, 1.0, None, "3", np.int64(4)]),
)
#: Values spanning every magnitude, so cancellation between large and small happens.
wide = st.floats(min_value=-1e300, max_value=1e300, allow_nan=False, allow_infinity=False)


@parity_property("rolling_avg")
@given(
    values=hostile.mix(st.one_of(vectors(), vectors(wide), bad_vectors), "sequence"),
    window=hostile.mix(windows, "int"),
)
def rolling_avg_agrees(values: object, window: object) -> None:
    """Bit-identical averages, or the same error class, for any data and window."""
    outcome = same(metrics_core.rolling_avg, values, window, rel_tol=0)
    if outcome.error is None and type(values) is list and type(window) is int:
        size = int(window)
        for i in range(len(values)):
            chunk = values[max(0, i - size + 1) : i + 1]
            assert outcome.value[i] == math.fsum(chunk) / len(chunk)


@parity_property("rolling_avg")
@given(
    values=st.lists(
        st.sampled_from([1e16, -1e16, 1.0, -1.0, 0.5, 1e-16, 3.0, 1e300, -1e300]), max_size=60
    ),
    window=st.integers(1, 8),
)
def rolling_avg_survives_cancellation(values: list[float], window: int) -> None:
    """Huge values entering and leaving the window leave no trace on later averages."""
    same(metrics_core.rolling_avg, values, window, rel_tol=0)


#: The largest finite float and the values around the limits the sums must respect.
BIG = sys.float_info.max
near_overflow = st.sampled_from([BIG, -BIG, BIG / 2, -BIG / 2, BIG / 3, 1e308, 0.5, -1.0, 0.0])


@parity_property("rolling_avg")
@given(values=st.lists(near_overflow, min_size=1, max_size=6), window=st.integers(1, 4))
# At the size limit exactly: max / (min(window, n) + 1) is allowed, more is refused.
@example(values=[BIG / 2], window=1)
@example(values=[BIG / 2, -BIG / 2], window=1)
@example(values=[BIG / 3, BIG / 3], window=2)
def rolling_avg_near_overflow(values: list[float], window: int) -> None:
    """Values at and beyond what a window sum can hold: the same averages or ValueError."""
    same(metrics_core.rolling_avg, values, window, rel_tol=0)


names = st.sampled_from(["cpu", "mem", "latency", "ünï", "\ud800", ""])


@parity_property("aggregate_metrics")
@given(data=st.data(), n=st.integers(0, 60), big=st.booleans())
def aggregate_metrics_agrees(data: st.DataObject, n: int, big: bool) -> None:
    """Identical per-name summaries for every container type and magnitude."""
    labels = data.draw(st.lists(names, min_size=n, max_size=n))
    values = data.draw(
        st.lists(finite if not big else st.floats(-1e150, 1e150), min_size=n, max_size=n)
    )
    shape = data.draw(st.sampled_from(["list", "tuple", "array"]))
    labels_in: object = tuple(labels) if shape == "tuple" else labels
    values_in: object = np.array(values) if shape == "array" else values
    same(metrics_core.aggregate_metrics, labels_in, values_in, rel_tol=0)


@parity_property("aggregate_metrics")
@given(
    labels=st.one_of(
        hostile.for_kind("sequence"),
        st.lists(hostile.mix(names, "string"), max_size=4),
        st.lists(names, max_size=4),
        st.lists(st.one_of(names, st.integers(), st.none(), st.binary()), max_size=4),
        st.just("cpu"),
        st.none(),
        st.integers(),
    ),
    values=hostile.mix(st.one_of(vectors(max_size=4), bad_vectors), "sequence"),
)
def aggregate_metrics_rejects_the_same(labels: object, values: object) -> None:
    """Bad names, bad values, length mismatches: the same error class from both."""
    same(metrics_core.aggregate_metrics, labels, values, rel_tol=0)


@parity_property("aggregate_metrics")
@given(values=st.lists(near_overflow, min_size=1, max_size=8), data=st.data())
# A sum whose partials overflow while the exact total is small (0.5), and one that overflows.
@example(values=[BIG, BIG, -BIG, -BIG, 0.5], data=None)
@example(values=[BIG, BIG], data=None)
def aggregate_metrics_near_overflow(values: list[float], data: st.DataObject | None) -> None:
    """Sums whose partials or totals overflow float64: the same exact figures or infinities."""
    n = len(values)
    labels = ["cpu"] * n if data is None else data.draw(st.lists(names, min_size=n, max_size=n))
    same(metrics_core.aggregate_metrics, labels, values, rel_tol=0)

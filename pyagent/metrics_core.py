"""MetricsCore: metric points in a bounded buffer, summarised per name (Common/Metrics).

Two hot paths:

* :func:`rolling_avg` -- the trailing moving average, exact: each window's sum is the
  correctly rounded sum of its values (what ``math.fsum`` of the window returns), kept as a
  running sum of non-overlapping partials (Shewchuk's algorithm, the one behind
  ``math.fsum``), so it neither drifts like a naive running sum nor costs ``O(window)`` per
  output. Rust and Python compute the same exact sums, hence the same bits.
* :func:`aggregate_metrics` -- count, sum, mean, min, max and population standard deviation
  per metric name: the correctly rounded sum (``math.fsum``), the mean from it, and the
  deviation from the exact sum of squared deviations about that mean (two passes, so no
  catastrophic cancellation from ``E[x^2] - E[x]^2``). Exact sums do not depend on order,
  so rust_core splits them across threads and returns the same bits.

NaN or infinite values, empty input and ``window < 1`` are ValueError on both backends; a
non-real dtype, a non-str name or a non-integer window is TypeError.
"""

from __future__ import annotations

import math
import operator
import sys
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TypedDict

import numpy as np
from numpy.typing import NDArray

from pyagent._builtin import stored
from pyagent._numeric import float_vector, real_number, require_finite, str_list

try:
    import rust_core as rc
except ImportError:
    rc = None  # type: ignore[assignment, unused-ignore]

__all__ = ["MetricPoint", "MetricSummary", "MetricsCore", "aggregate_metrics", "rolling_avg"]


class MetricSummary(TypedDict):
    """Summary of one metric name; ``std`` is the population standard deviation (ddof=0)."""

    count: int
    sum: float
    mean: float
    min: float
    max: float
    std: float


def _window(window: object) -> int:
    if isinstance(window, bool):
        raise TypeError("window must be an integer, not bool")
    try:
        size = operator.index(stored(window))
    except TypeError:
        raise TypeError(f"window must be an integer, not {type(window).__name__}") from None
    if size < 1:
        raise ValueError(f"window must be at least 1, got {size}")
    return size


def _add_exact(partials: list[float], x: float) -> None:
    """Adds ``x`` to the non-overlapping ``partials`` exactly (Shewchuk / ``math.fsum``)."""
    i = 0
    for y in partials:
        if abs(x) < abs(y):
            x, y = y, x
        hi = x + y
        if math.isinf(hi):
            raise ValueError("a window sum overflows float64")
        lo = y - (hi - x)
        if lo:
            partials[i] = lo
            i += 1
        x = hi
    partials[i:] = [x]


def rolling_avg(values: Iterable[float] | NDArray[np.floating], window: int) -> NDArray[np.float64]:
    """Trailing mean over the last ``window`` values, growing until the window is full.

    ``out[i] = fsum(values[max(0, i - window + 1) : i + 1]) / min(i + 1, window)``, so the
    output has the input's length and each entry is the correctly rounded window sum divided
    by the window's count: within an ulp or two of the exact mean, whatever the data.
    """
    if rc is not None and hasattr(rc, "rolling_avg"):
        return rc.rolling_avg(values, window)
    data = float_vector(values, "values")
    size = _window(window)
    if data.size == 0:
        raise ValueError("values must not be empty")
    require_finite(data, "values")
    # Every window sum (and every running sum of window + 1 values) then stays finite.
    if float(np.abs(data).max()) > sys.float_info.max / float(min(size, data.size) + 1):
        raise ValueError("values too large: a window sum could overflow float64")
    items = data.tolist()
    partials: list[float] = []
    out = [0.0] * len(items)
    for i, x in enumerate(items):
        _add_exact(partials, x)
        if i >= size:
            _add_exact(partials, -items[i - size])
        out[i] = math.fsum(partials) / min(i + 1, size)
    return np.array(out, dtype=np.float64)


def _exact_sum(values: list[float]) -> float:
    """The correctly rounded sum (``math.fsum``), ``±inf`` when that rounding overflows.

    ``math.fsum`` raises OverflowError when a partial overflows even if the total does not;
    the exact rational sum then decides, rounded once by ``Fraction.__float__``.
    """
    try:
        return math.fsum(values)
    except OverflowError:
        exact = sum(map(Fraction, values), Fraction(0))
        try:
            return float(exact)
        except OverflowError:
            # float(exact) overflowed, so copysign(inf, exact) would too: the sign decides.
            return math.inf if exact > 0 else -math.inf


def _summary(values: list[float]) -> MetricSummary:
    count = len(values)
    total = _exact_sum(values)
    mean = total / count
    with np.errstate(over="ignore", invalid="ignore"):
        deviations = np.array(values, dtype=np.float64) - mean
        squares = deviations * deviations
    spread = math.inf if np.isinf(squares).any() else _exact_sum(squares.tolist())
    return MetricSummary(
        count=count,
        sum=total,
        mean=mean,
        min=min(values),
        max=max(values),
        std=math.sqrt(spread / count),
    )


def aggregate_metrics(
    names: Sequence[str], values: Iterable[float] | NDArray[np.floating]
) -> dict[str, MetricSummary]:
    """Per metric name: count, sum, mean, min, max and population std of its values.

    ``names[i]`` names ``values[i]``. The result's keys follow each name's first appearance.
    Per name, ``sum`` is the correctly rounded sum (what ``math.fsum`` returns; ``±inf`` if
    it overflows), ``mean = sum / count`` and ``std = sqrt(fsum((x - mean)**2) / count)``
    with each square rounded once (two passes, no cancellation). Every figure is a function
    of the values alone, not of their order, so rust_core may split the work across threads
    and still return identical floats. ``min``/``max`` keep the first of equal extremes.
    """
    if rc is not None and hasattr(rc, "aggregate_metrics"):
        return rc.aggregate_metrics(names, values)
    labels = str_list(names, "names")
    data = float_vector(values, "values")
    if len(labels) != data.size:
        raise ValueError(f"names and values differ in length: {len(labels)} != {data.size}")
    if data.size == 0:
        raise ValueError("values must not be empty")
    require_finite(data, "values")
    groups: dict[str, list[float]] = {}
    for name, x in zip(labels, data.tolist(), strict=True):
        group = groups.get(name)
        if group is None:
            groups[name] = [x]
        else:
            group.append(x)
    return {name: _summary(group) for name, group in groups.items()}


@dataclass(frozen=True)
class MetricPoint:
    """One recorded value of a metric at a time (seconds)."""

    name: str
    value: float
    timestamp: float


class MetricsCore:
    """Records metric points in a bounded buffer (oldest dropped first) and summarises them."""

    def __init__(self, capacity: int = 100_000) -> None:
        if isinstance(capacity, bool) or operator.index(capacity) < 1:
            raise ValueError("capacity must be a positive integer")
        self.capacity = operator.index(capacity)
        self._points: deque[MetricPoint] = deque(maxlen=self.capacity)

    def record(self, name: str, value: float, timestamp: float | None = None) -> None:
        """Appends a point; NaN or infinite values are ValueError, as in the hot paths."""
        if not isinstance(name, str):
            raise TypeError(f"metric names must be str, not {type(name).__name__}")
        number = real_number(value, "value")
        if not math.isfinite(number):
            raise ValueError(f"value must be finite, got {number!r}")
        when = time.time() if timestamp is None else real_number(timestamp, "timestamp")
        self._points.append(MetricPoint(name, number, when))

    def __len__(self) -> int:
        return len(self._points)

    def points(self) -> list[MetricPoint]:
        """The buffered points, oldest first."""
        return list(self._points)

    def summarise(self) -> dict[str, MetricSummary]:
        """:func:`aggregate_metrics` over the buffer; empty dict when nothing is buffered."""
        if not self._points:
            return {}
        return aggregate_metrics([p.name for p in self._points], [p.value for p in self._points])

    def rolling(self, name: str, window: int) -> NDArray[np.float64]:
        """:func:`rolling_avg` of one metric's buffered values, oldest first."""
        values = [p.value for p in self._points if p.name == name]
        if not values:
            raise KeyError(name)
        return rolling_avg(values, window)

"""MetricsCore: metric points in a bounded buffer, summarised per name (Common/Metrics).

Two hot paths:

* :func:`rolling_avg` -- the trailing moving average, exact: each window's sum is the
  correctly rounded sum of its values (what ``math.fsum`` of the window returns), kept as a
  running sum of non-overlapping partials (Shewchuk's algorithm, the one behind
  ``math.fsum``), so it neither drifts like a naive running sum nor costs ``O(window)`` per
  output. Rust and Python compute the same exact sums, hence the same bits.
* :func:`aggregate_metrics` -- count, sum, mean, min, max and population standard deviation
  per metric name in one pass: Welford's update for mean and variance (no catastrophic
  cancellation from ``E[x^2] - E[x]^2``) and a Neumaier-compensated sum.

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


def aggregate_metrics(
    names: Sequence[str], values: Iterable[float] | NDArray[np.floating]
) -> dict[str, MetricSummary]:
    """Per metric name: count, sum, mean, min, max and population std of its values.

    ``names[i]`` names ``values[i]``. The result's keys follow each name's first appearance.
    One pass over the points in input order, the same operations as rust_core in the same
    order, so both backends return identical floats.
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
    # Per name: [count, sum, compensation, mean, m2, min, max]
    state: dict[str, list[float]] = {}
    for name, x in zip(labels, data.tolist(), strict=True):
        s = state.get(name)
        if s is None:
            state[name] = [1, x, 0.0, x, 0.0, x, x]
            continue
        n = s[0] + 1
        s[0] = n
        total = s[1] + x  # Neumaier: keep what the addition rounded away
        s[2] += (s[1] - total) + x if abs(s[1]) >= abs(x) else (x - total) + s[1]
        s[1] = total
        delta = x - s[3]
        s[3] += delta / n
        s[4] += delta * (x - s[3])
        if x < s[5]:
            s[5] = x
        if x > s[6]:
            s[6] = x
    return {
        name: MetricSummary(
            count=int(s[0]),
            sum=s[1] + s[2],
            mean=s[3],
            min=s[5],
            max=s[6],
            std=math.sqrt(s[4] / s[0]),
        )
        for name, s in state.items()
    }


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

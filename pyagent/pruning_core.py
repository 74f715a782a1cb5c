"""PruningCore: synaptic weights per agent that decay with age and get pruned (Logic/Pruning).

A connection's weight halves every ``half_life`` seconds without use and never falls below a
floor (``min_weight``, default 0.05), so a quiet agent fades instead of vanishing at once:

    decayed = max(weight * exp(-ln 2 * age / half_life), min_weight)

:func:`calculate_decay` applies that to millions of synapses at once (the hot path);
:func:`calculate_decay_scalar` is the one-synapse form. Both reject NaN or infinite values,
negative ages, empty input, ``half_life <= 0`` and a negative or non-finite floor with
ValueError, and a non-real dtype or parameter with TypeError (see :mod:`pyagent._numeric`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pyagent._numeric import float_vector, real_number, require_finite, require_finite_number

try:
    import rust_core as rc
except ImportError:
    rc = None  # type: ignore[assignment, unused-ignore]

__all__ = ["DEFAULT_MIN_WEIGHT", "PruningCore", "calculate_decay", "calculate_decay_scalar"]

#: The floor a decayed weight never drops below unless the caller chooses another.
DEFAULT_MIN_WEIGHT = 0.05
_LN2 = math.log(2)  # correctly rounded, equal to Rust's std::f64::consts::LN_2


def _check_parameters(half_life: float, min_weight: float) -> None:
    if not (math.isfinite(half_life) and half_life > 0):
        raise ValueError(f"half_life must be finite and > 0, got {half_life!r}")
    if not (math.isfinite(min_weight) and min_weight >= 0):
        raise ValueError(f"min_weight must be finite and >= 0, got {min_weight!r}")


def _decay(weight: float, age: float, half_life: float, min_weight: float) -> float:
    # One expression shared by both forms, evaluated in the order rust_core evaluates it.
    return max(weight * math.exp(-_LN2 * age / half_life), min_weight)


def calculate_decay(
    weights: Iterable[float] | NDArray[np.floating],
    ages: Iterable[float] | NDArray[np.floating],
    half_life: float,
    min_weight: float = DEFAULT_MIN_WEIGHT,
) -> NDArray[np.float64]:
    """Decayed weights: ``max(weights * exp(-ln 2 * ages / half_life), min_weight)``.

    ``weights`` and ``ages`` (seconds since each synapse last fired) are equal-length
    one-dimensional sequences or arrays; the result is a new float64 array. This is the
    pure-Python reference: one ``math.exp`` per synapse. rust_core evaluates ``exp`` with a
    vectorised polynomial within a few ulps of libm (parity allows 1e-12 relative), which
    is what puts it ahead of numpy's SIMD ``exp``.
    """
    if rc is not None and hasattr(rc, "calculate_decay"):
        return rc.calculate_decay(weights, ages, half_life, min_weight)
    w = float_vector(weights, "weights")
    a = float_vector(ages, "ages")
    hl = real_number(half_life, "half_life")
    floor = real_number(min_weight, "min_weight")
    if w.shape != a.shape:
        raise ValueError(f"weights and ages differ in length: {w.size} != {a.size}")
    if w.size == 0:
        raise ValueError("weights must not be empty")
    _check_parameters(hl, floor)
    require_finite(w, "weights")
    require_finite(a, "ages")
    if (a < 0).any():
        raise ValueError("ages must be >= 0")
    decayed = [_decay(x, t, hl, floor) for x, t in zip(w.tolist(), a.tolist(), strict=True)]
    return np.array(decayed, dtype=np.float64)


def calculate_decay_scalar(
    weight: float, age: float, half_life: float, min_weight: float = DEFAULT_MIN_WEIGHT
) -> float:
    """The decay of one synapse; same formula and errors as :func:`calculate_decay`."""
    if rc is not None and hasattr(rc, "calculate_decay_scalar"):
        return rc.calculate_decay_scalar(weight, age, half_life, min_weight)
    w = real_number(weight, "weight")
    a = real_number(age, "age")
    hl = real_number(half_life, "half_life")
    floor = real_number(min_weight, "min_weight")
    _check_parameters(hl, floor)
    require_finite_number(w, "weight")
    require_finite_number(a, "age")
    if a < 0:
        raise ValueError(f"age must be >= 0, got {a!r}")
    return _decay(w, a, hl, floor)


@dataclass
class _Synapse:
    weight: float
    last_update: float
    refractory_until: float


class PruningCore:
    """Synaptic weights per agent: fire and penalty updates, refractory periods, pruning.

    Each agent's weight is stored as of its last update and decays from then on, so nothing
    has to tick: reading a weight decays it to ``now``. Firing strengthens the synapse (capped
    at ``max_weight``) and starts a refractory period during which further fires are ignored;
    penalties weaken it immediately. :meth:`prune` removes and returns every agent whose
    decayed weight is below a threshold, decaying all of them in one :func:`calculate_decay`
    call. Times are seconds on any monotonic clock (``time.monotonic`` by default).
    """

    def __init__(
        self,
        half_life: float = 3600.0,
        min_weight: float = DEFAULT_MIN_WEIGHT,
        refractory_period: float = 1.0,
        max_weight: float = 1.0,
    ) -> None:
        _check_parameters(
            real_number(half_life, "half_life"), real_number(min_weight, "min_weight")
        )
        if not (math.isfinite(refractory_period) and refractory_period >= 0):
            raise ValueError("refractory_period must be finite and >= 0")
        if not (math.isfinite(max_weight) and max_weight >= min_weight):
            raise ValueError("max_weight must be finite and >= min_weight")
        self.half_life = float(half_life)
        self.min_weight = float(min_weight)
        self.refractory_period = float(refractory_period)
        self.max_weight = float(max_weight)
        self._synapses: dict[str, _Synapse] = {}

    @staticmethod
    def _now(now: float | None) -> float:
        return time.monotonic() if now is None else float(now)

    def _get(self, agent: str, now: float) -> _Synapse:
        synapse = self._synapses.get(agent)
        if synapse is None:
            synapse = _Synapse(self.max_weight, now, now)
            self._synapses[agent] = synapse
        return synapse

    def _decayed(self, synapse: _Synapse, now: float) -> float:
        age = max(now - synapse.last_update, 0.0)
        return calculate_decay_scalar(synapse.weight, age, self.half_life, self.min_weight)

    def add(self, agent: str, weight: float | None = None, now: float | None = None) -> None:
        """Registers ``agent`` with ``weight`` (default ``max_weight``) as of ``now``."""
        t = self._now(now)
        value = self.max_weight if weight is None else real_number(weight, "weight")
        self._synapses[agent] = _Synapse(min(value, self.max_weight), t, t)

    def weight(self, agent: str, now: float | None = None) -> float:
        """The agent's weight decayed to ``now``; KeyError for an unknown agent."""
        return self._decayed(self._synapses[agent], self._now(now))

    def fire(self, agent: str, strength: float = 0.1, now: float | None = None) -> bool:
        """Strengthens the agent's synapse unless it is refractory; True if it fired."""
        t = self._now(now)
        synapse = self._get(agent, t)
        if t < synapse.refractory_until:
            return False
        synapse.weight = min(self._decayed(synapse, t) + strength, self.max_weight)
        synapse.last_update = t
        synapse.refractory_until = t + self.refractory_period
        return True

    def penalize(self, agent: str, amount: float = 0.1, now: float | None = None) -> float:
        """Weakens the agent's synapse by ``amount`` (not below the floor); the new weight."""
        t = self._now(now)
        synapse = self._get(agent, t)
        synapse.weight = max(self._decayed(synapse, t) - amount, self.min_weight)
        synapse.last_update = t
        return synapse.weight

    def prune(self, threshold: float, now: float | None = None) -> list[str]:
        """Removes and returns (sorted) the agents whose decayed weight is below ``threshold``."""
        t = self._now(now)
        if not self._synapses:
            return []
        agents = list(self._synapses)
        weights = [self._synapses[a].weight for a in agents]
        ages = [max(t - self._synapses[a].last_update, 0.0) for a in agents]
        decayed = calculate_decay(weights, ages, self.half_life, self.min_weight)
        pruned = sorted(a for a, w in zip(agents, decayed.tolist(), strict=True) if w < threshold)
        for agent in pruned:
            del self._synapses[agent]
        return pruned

    def __len__(self) -> int:
        return len(self._synapses)

    def __contains__(self, agent: object) -> bool:
        return agent in self._synapses

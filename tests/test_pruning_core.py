"""PruningCore: decay maths and the per-agent synapse bookkeeping, on the selected backend."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pyagent.pruning_core import PruningCore, calculate_decay, calculate_decay_scalar


def test_weight_halves_every_half_life_down_to_the_floor() -> None:
    got = calculate_decay([1.0, 1.0, 1.0, 0.8, 0.3], [0, 10, 20, 1e6, 0], 10.0)
    assert isinstance(got, np.ndarray) and got.dtype == np.float64
    assert got.tolist() == pytest.approx([1.0, 0.5, 0.25, 0.05, 0.3], rel=1e-15)
    assert got[3] == 0.05  # the default floor, exactly


def test_matches_the_formula_on_a_large_numpy_input() -> None:
    rng = np.random.default_rng(4)
    weights = rng.random(200_000)
    ages = rng.random(200_000) * 5000
    got = calculate_decay(weights, ages, 600.0, min_weight=0.01)
    expected = np.maximum(weights * np.exp(-math.log(2) * ages / 600.0), 0.01)
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=0)
    assert calculate_decay_scalar(weights[7], ages[7], 600.0, 0.01) == got[7]


def test_accepts_lists_tuples_ints_float32_and_strided_views() -> None:
    base = np.array([0.9, 0.0, 0.5, 0.0, 0.2, 0.0])
    expected = calculate_decay([0.9, 0.5, 0.2], [1.0, 2.0, 3.0], 2.0)
    for weights in ([0.9, 0.5, 0.2], (0.9, 0.5, 0.2), base[::2]):
        np.testing.assert_array_equal(calculate_decay(weights, (1, 2, 3), 2.0), expected)
    got = calculate_decay(np.array([1, 2, 3]), np.array([0, 0, 0], dtype=np.float32), 1)
    assert got.tolist() == [1.0, 2.0, 3.0]


def test_input_is_not_modified() -> None:
    weights = np.array([1.0, 0.5])
    calculate_decay(weights, [5.0, 5.0], 1.0)
    assert weights.tolist() == [1.0, 0.5]


@pytest.mark.parametrize(
    ("weights", "ages", "half_life", "min_weight", "error"),
    [
        ([1.0], [1.0], 0.0, 0.05, ValueError),
        ([1.0], [1.0], -3.0, 0.05, ValueError),
        ([1.0], [1.0], math.inf, 0.05, ValueError),
        ([1.0], [-1.0], 1.0, 0.05, ValueError),
        ([math.nan], [1.0], 1.0, 0.05, ValueError),
        ([1.0], [math.nan], 1.0, 0.05, ValueError),
        ([1.0], [1.0], 1.0, math.nan, ValueError),
        ([1.0], [1.0], 1.0, -0.5, ValueError),
        ([], [], 1.0, 0.05, ValueError),
        ([1.0, 2.0], [1.0], 1.0, 0.05, ValueError),
        (np.ones((2, 2)), np.ones((2, 2)), 1.0, 0.05, ValueError),
        (["a"], [1.0], 1.0, 0.05, TypeError),
        ([1.0], [1.0], "1", 0.05, TypeError),
        ([1.0], [1.0], True, 0.05, TypeError),
        ([1.0], [1.0], 1.0, None, TypeError),
    ],
)
def test_bad_input_is_rejected(
    weights: object, ages: object, half_life: object, min_weight: object, error: type
) -> None:
    with pytest.raises(error):
        calculate_decay(weights, ages, half_life, min_weight)  # type: ignore[arg-type]


def test_scalar_form_rejects_the_same() -> None:
    assert calculate_decay_scalar(1.0, 0.0, 5.0) == 1.0
    with pytest.raises(ValueError):
        calculate_decay_scalar(1.0, -1.0, 5.0)
    with pytest.raises(ValueError):
        calculate_decay_scalar(1.0, 1.0, 0.0)
    with pytest.raises(TypeError):
        calculate_decay_scalar(None, 1.0, 1.0)  # type: ignore[arg-type]


def test_fire_is_ignored_during_the_refractory_period() -> None:
    core = PruningCore(half_life=100.0, refractory_period=5.0, max_weight=1.0)
    core.add("a", weight=0.5, now=0.0)
    assert core.fire("a", strength=0.2, now=0.0)
    assert core.weight("a", now=0.0) == pytest.approx(0.7)
    assert not core.fire("a", strength=0.2, now=4.9)  # refractory
    assert core.fire("a", strength=0.2, now=5.0)
    assert core.weight("a", now=5.0) == pytest.approx(0.7 * 0.5 ** (5 / 100) + 0.2)
    core.fire("a", strength=5.0, now=100.0)
    assert core.weight("a", now=100.0) == 1.0  # capped at max_weight


def test_penalty_weakens_but_not_below_the_floor() -> None:
    core = PruningCore(half_life=10.0, min_weight=0.1)
    core.add("a", weight=0.6, now=0.0)
    assert core.penalize("a", 0.2, now=10.0) == pytest.approx(0.1)  # 0.3 - 0.2 -> floor
    assert core.weight("a", now=1e9) == 0.1


def test_prune_removes_agents_whose_decayed_weight_is_below_threshold() -> None:
    core = PruningCore(half_life=10.0, min_weight=0.0)
    core.add("fresh", weight=1.0, now=100.0)
    core.add("old", weight=1.0, now=0.0)  # 10 half-lives: ~0.001
    core.add("weak", weight=0.15, now=95.0)  # ~0.106
    assert core.prune(0.2, now=100.0) == ["old", "weak"]
    assert len(core) == 1 and "fresh" in core and "old" not in core
    assert core.prune(0.2, now=100.0) == []
    assert PruningCore().prune(0.5) == []
    with pytest.raises(ValueError):
        PruningCore(half_life=0)

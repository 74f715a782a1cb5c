"""AuctionCore: VCG assignment and prices against brute force and scipy, on the selected
backend; the identical-slot bid-dict form."""

from __future__ import annotations

import copy
import itertools
import math
from typing import Any

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from pyagent import auction_core
from pyagent.auction_core import AuctionCore, calculate_vcg_auction, calculate_vcg_prices
from pyagent.backend import forced_python


def brute_welfare(values: np.ndarray) -> float:
    """Best welfare over every assignment: each slot gets a distinct bidder or none."""
    bidders, slots = values.shape
    best = 0.0
    for choice in itertools.product(range(-1, bidders), repeat=slots):
        taken = [b for b in choice if b >= 0]
        if len(taken) == len(set(taken)):
            best = max(best, sum(values[b, s] for s, b in enumerate(choice) if b >= 0))
    return best


def scipy_vcg(values: np.ndarray) -> tuple[float, dict[int, float]]:
    """Welfare and each winner's price by re-solving without it (the peer's method)."""
    rows, cols = linear_sum_assignment(values, maximize=True)
    welfare = float(values[rows, cols].sum())
    prices = {}
    for bidder, slot in zip(rows.tolist(), cols.tolist(), strict=True):
        rest = np.delete(values, bidder, axis=0)
        r, c = linear_sum_assignment(rest, maximize=True)
        prices[bidder] = float(rest[r, c].sum()) - (welfare - float(values[bidder, slot]))
    return welfare, prices


def check_outcome(values: np.ndarray, outcome: Any) -> None:
    """A valid unit-demand assignment with the brute-force welfare and VCG prices."""
    assignment, prices, welfare = outcome
    bidders, slots = values.shape
    assert assignment.dtype == np.int64 and assignment.shape == (bidders,)
    assert prices.dtype == np.float64 and prices.shape == (bidders,)
    won = assignment[assignment >= 0].tolist()
    assert len(won) == len(set(won)) and all(0 <= s < slots for s in won)
    best = brute_welfare(values)
    assert welfare == pytest.approx(best, abs=1e-9)
    assert welfare == pytest.approx(sum(values[b, s] for b, s in enumerate(assignment) if s >= 0))
    for bidder in range(bidders):
        slot = int(assignment[bidder])
        if slot < 0:
            assert prices[bidder] == 0.0
            continue
        without = brute_welfare(np.delete(values, bidder, axis=0))
        expected = without - (best - values[bidder, slot])
        assert prices[bidder] == pytest.approx(expected, abs=1e-9)
        assert 0.0 <= prices[bidder] <= values[bidder, slot]


@pytest.mark.parametrize("seed", range(40))
def test_matches_brute_force_on_small_instances(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(1, 6)), int(rng.integers(1, 5)))
    values = rng.random(shape) * 10
    if seed % 2:
        values = np.floor(values / 3)  # many ties, many zeros
    check_outcome(values, calculate_vcg_prices(values))


@pytest.mark.parametrize("seed", range(24))
def test_many_more_bidders_than_slots_match_brute_force(seed: int) -> None:
    # More than slots + 1 bidders: the solve runs on each slot's slots + 1 best; values in
    # 0..3 put ties at that boundary in most cases.
    rng = np.random.default_rng(100 + seed)
    shape = (int(rng.integers(5, 10)), int(rng.integers(1, 4)))
    values = np.floor(rng.random(shape) * 4)
    check_outcome(values, calculate_vcg_prices(values))


def test_candidates_are_each_slots_best_lower_index_first_on_ties() -> None:
    assert auction_core._candidates(np.ones((5, 1))).tolist() == [0, 1]  # type: ignore[union-attr]
    assert auction_core._candidates(np.array([[0.0], [-0.0], [0.0], [2.0]])).tolist() == [0, 3]  # type: ignore[union-attr]
    values = np.array([[5, 1], [5, 0], [0, 2], [0, 9], [6, 0], [1, 1]], dtype=np.float64)
    assert auction_core._candidates(values).tolist() == [0, 1, 2, 3, 4]  # type: ignore[union-attr]
    assert auction_core._candidates(np.ones((2, 1))) is None
    assignment, prices, welfare = calculate_vcg_prices(np.ones((5, 1)))
    assert assignment.tolist() == [0, -1, -1, -1, -1]
    assert prices.tolist() == [1.0, 0.0, 0.0, 0.0, 0.0] and welfare == 1.0


def test_position_auction_matches_the_closed_form() -> None:
    # values = bid x CTR: the top bids take the slots in CTR order, and the winner of slot j
    # pays sum over i >= j of bid_(i+1) * (ctr_i - ctr_(i+1)).
    rng = np.random.default_rng(5)
    bids, ctr = rng.lognormal(0, 0.5, 3000), np.sort(rng.random(10))[::-1]
    assignment, prices, welfare = calculate_vcg_prices(bids[:, None] * ctr[None, :])
    top = np.argsort(-bids, kind="stable")[:11]
    ranked = bids[top]
    steps = ranked[1:] * (ctr - np.append(ctr[1:], 0.0))
    assert assignment[top[:10]].tolist() == list(range(10))
    assert (assignment >= 0).sum() == 10
    np.testing.assert_allclose(prices[top[:10]], np.cumsum(steps[::-1])[::-1], atol=1e-12)
    assert welfare == pytest.approx(float((ranked[:10] * ctr).sum()), rel=1e-12)


def test_single_slot_is_a_second_price_auction() -> None:
    assignment, prices, welfare = calculate_vcg_prices([[3.0], [7.0], [5.0]])
    assert assignment.tolist() == [-1, 0, -1]
    assert prices.tolist() == [0.0, 5.0, 0.0]
    assert welfare == 7.0


def test_fewer_bidders_than_slots() -> None:
    values = np.array([[5.0, 1.0, 0.0, 2.0], [4.0, 4.0, 1.0, 0.0]])
    assignment, prices, welfare = calculate_vcg_prices(values)
    assert assignment.tolist() == [0, 1]
    assert welfare == 9.0
    # Without bidder 0, bidder 1 takes slot 0 (4.0 either way): no externality; same for 1.
    assert prices.tolist() == [0.0, 0.0]
    check_outcome(values, (assignment, prices, welfare))


def test_ties_are_broken_the_same_way_every_time() -> None:
    values = np.ones((4, 2))
    first = calculate_vcg_prices(values)
    assert first[2] == 2.0 and (first[0] >= 0).sum() == 2
    assert first[1].tolist() == [1.0 if s >= 0 else 0.0 for s in first[0].tolist()]
    for _ in range(3):
        again = calculate_vcg_prices(values)
        assert again[0].tolist() == first[0].tolist()


@pytest.mark.parametrize(("bidders", "slots"), [(2000, 50), (50, 200), (300, 300)])
def test_welfare_equals_scipy_on_large_instances(bidders: int, slots: int) -> None:
    rng = np.random.default_rng(bidders + slots)
    quality = rng.lognormal(0, 0.5, bidders)
    ctr = np.sort(rng.random(slots))[::-1]
    values = quality[:, None] * ctr[None, :] * (1 + 0.2 * rng.random((bidders, slots))) * 100
    assignment, prices, welfare = calculate_vcg_prices(values)
    rows, cols = linear_sum_assignment(values, maximize=True)
    assert welfare == pytest.approx(float(values[rows, cols].sum()), rel=1e-12)
    won = assignment >= 0
    assert won.sum() == min(bidders, slots)
    got = values[np.nonzero(won)[0], assignment[won]].sum()
    assert got == pytest.approx(welfare, rel=1e-12)
    assert (prices[~won] == 0).all()
    assert (prices[won] >= 0).all() and (prices[won] <= values[won, assignment[won]]).all()


def test_prices_equal_scipy_re_solves() -> None:
    rng = np.random.default_rng(9)
    values = rng.random((120, 15)) * 50
    assignment, prices, welfare = calculate_vcg_prices(values)
    expected_welfare, expected_prices = scipy_vcg(values)
    assert welfare == pytest.approx(expected_welfare, rel=1e-12)
    # Generic floats: one optimal assignment, so the winners are scipy's.
    assert sorted(np.nonzero(assignment >= 0)[0].tolist()) == sorted(expected_prices)
    for bidder, price in expected_prices.items():
        assert prices[bidder] == pytest.approx(price, abs=1e-9)


def test_accepts_lists_ints_float32_and_non_contiguous_arrays() -> None:
    rows = [[1, 4, 2], [3, 3, 0], [0, 5, 1], [2, 2, 2]]
    expected = calculate_vcg_prices(np.array(rows, dtype=np.float64))
    array = np.array(rows, dtype=np.float64)
    for values in (
        rows,
        tuple(map(tuple, rows)),
        np.array(rows),
        np.array(rows, dtype=np.float32),
        np.asfortranarray(array),
        np.repeat(array, 2, axis=1)[:, ::2],
    ):
        got = calculate_vcg_prices(values)
        assert got[0].tolist() == expected[0].tolist()
        assert got[1].tolist() == expected[1].tolist()
        assert got[2] == expected[2]


def test_input_is_not_modified() -> None:
    values = np.array([[1.0, 2.0], [3.0, 1.0]])
    before = values.copy()
    calculate_vcg_prices(values)
    assert (values == before).all()


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ([[1.0, math.nan]], ValueError),
        ([[math.inf]], ValueError),
        ([[1.0], [-0.5]], ValueError),
        ([[1e200, 1.0]], ValueError),
        (np.zeros((0, 3)), ValueError),
        (np.zeros((3, 0)), ValueError),
        ([], ValueError),
        ([1.0, 2.0], ValueError),
        (np.zeros((2, 2, 2)), ValueError),
        ([[1.0], [2.0, 3.0]], ValueError),
        ([["a"]], TypeError),
        (np.array([[True]]), TypeError),
        (np.array([[1 + 1j]]), TypeError),
    ],
)
def test_bad_values_raise(values: object, error: type) -> None:
    with pytest.raises(error):
        calculate_vcg_prices(values)  # type: ignore[arg-type]


@pytest.mark.requires_rust
def test_rust_equals_the_python_reference_bit_for_bit() -> None:
    rng = np.random.default_rng(21)
    for shape in ((400, 30), (30, 45), (200, 200)):
        values = np.floor(rng.random(shape) * 20)  # integer values: ties everywhere
        got = calculate_vcg_prices(values)
        with forced_python():
            expected = auction_core.calculate_vcg_prices(values)
        assert got[0].tolist() == expected[0].tolist()
        assert got[1].tolist() == expected[1].tolist()
        assert got[2] == expected[2]


# calculate_vcg_auction: identical slots, PyAgent's bid dicts.


def test_top_amounts_win_and_pay_the_highest_losing_bid() -> None:
    bids = [{"agent": "a", "amount": 3}, {"agent": "b", "amount": 9}, {"agent": "c", "amount": 5}]
    got = calculate_vcg_auction(bids, 2)
    assert got == [
        {"agent": "a", "amount": 3, "won": False, "price": 0.0},
        {"agent": "b", "amount": 9, "won": True, "price": 3.0},
        {"agent": "c", "amount": 5, "won": True, "price": 3.0},
    ]


def test_equal_amounts_the_earlier_bid_wins() -> None:
    got = calculate_vcg_auction([{"amount": 4}, {"amount": 7}, {"amount": 4}, {"amount": 4}], 2)
    assert [bid["won"] for bid in got] == [True, True, False, False]
    assert [bid["price"] for bid in got] == [4.0, 4.0, 0.0, 0.0]


def test_everyone_wins_for_free_when_slots_suffice() -> None:
    got = calculate_vcg_auction([{"amount": 1.5}, {"amount": 2}], 5)
    assert [(bid["won"], bid["price"]) for bid in got] == [(True, 0.0), (True, 0.0)]
    assert calculate_vcg_auction([], 3) == []
    assert [bid["won"] for bid in calculate_vcg_auction([{"amount": 1}], 0)] == [False]


def test_returns_new_dicts_and_leaves_the_bids_alone() -> None:
    bids = [{"amount": 2.0, "meta": {"k": 1}}, {"amount": 1.0, "price": 99}]
    before = copy.deepcopy(bids)
    got = calculate_vcg_auction(iter(bids), 1)
    assert bids == before
    assert all(new is not old for new, old in zip(got, bids, strict=True))
    assert got[1]["price"] == 0.0 and got[0]["price"] == 1.0


def test_identical_slots_agree_with_the_general_form() -> None:
    rng = np.random.default_rng(2)
    amounts = rng.random(30) * 100
    slots = 7
    got = calculate_vcg_auction([{"amount": float(a)} for a in amounts], slots)
    assignment, prices, _ = calculate_vcg_prices(np.repeat(amounts[:, None], slots, axis=1))
    assert [bid["won"] for bid in got] == (assignment >= 0).tolist()
    assert [bid["price"] for bid in got] == pytest.approx(prices.tolist(), abs=1e-9)


@pytest.mark.parametrize(
    ("bids", "slots", "error"),
    [
        ([{"amount": 1}], -1, ValueError),
        ([{"amount": 1}], 1.0, TypeError),
        ([{"amount": 1}], True, TypeError),
        ([{"bid": 1}], 1, ValueError),
        ([{"amount": -1}], 1, ValueError),
        ([{"amount": math.nan}], 1, ValueError),
        ([{"amount": "1"}], 1, TypeError),
        ([{"amount": True}], 1, TypeError),
        ([("amount", 1)], 1, TypeError),
    ],
)
def test_bad_bids_raise(bids: list[Any], slots: Any, error: type) -> None:
    with pytest.raises(error):
        calculate_vcg_auction(bids, slots)


def test_auction_core_keeps_a_ledger() -> None:
    core = AuctionCore()
    won = core.run(["a", "b", "c"], [[10.0, 4.0], [8.0, 6.0], [1.0, 1.0]])
    assert won == {"a": 0, "b": 1}
    # Without a: b takes slot 0 (8) and c slot 1 (1): 9 - (6) = 3. Without b: a=10, c=1 -> 11-10=1.
    assert core.spent == {"a": 3.0, "b": 1.0}
    core.run(["a", "b", "c"], [[10.0, 4.0], [8.0, 6.0], [1.0, 1.0]])
    assert core.spent == {"a": 6.0, "b": 2.0}
    with pytest.raises(ValueError):
        core.run(["a"], [[1.0], [2.0]])

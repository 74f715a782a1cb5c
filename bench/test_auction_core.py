"""AuctionCore.calculate_vcg_prices: VCG assignment and prices of a 2,000 x 50 slot auction.

Workload (the issue's): 2,000 unit-demand bidders x 50 slots, float64 values shaped like a
position auction: ``quality[bidder] * ctr[slot] * (1 + 0.2 * noise) * 100``, quality
log-normal, slot click rates descending. Bidders compete for the same top slots, so the
assignment is not just every slot's own maximum, and generic floats make it unique.

Peer: scipy, as a user would compute VCG with it: ``linear_sum_assignment(maximize=True)``
for the assignment, then one more ``linear_sum_assignment`` per winner with that bidder's
row deleted for its price. Every result is checked: the same winners and slots as the
Rust answer, welfare within 1e-12 relative and prices within 1e-9 absolute of it; the Rust
answer itself is checked against scipy's welfare at import.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from bench.conftest import compare, rust_vs_peer_only, scaled
from pyagent import auction_core

BIDDERS = scaled(2_000, 500)
SLOTS = 50
rng = np.random.default_rng(20261124)
QUALITY = rng.lognormal(0.0, 0.5, BIDDERS)
CTR = np.sort(rng.random(SLOTS))[::-1]
VALUES = QUALITY[:, None] * CTR[None, :] * (1.0 + 0.2 * rng.random((BIDDERS, SLOTS))) * 100.0


def scipy_vcg() -> tuple[np.ndarray, np.ndarray, float]:
    rows, cols = linear_sum_assignment(VALUES, maximize=True)
    welfare = float(VALUES[rows, cols].sum())
    assignment = np.full(BIDDERS, -1, dtype=np.int64)
    prices = np.zeros(BIDDERS)
    for bidder, slot in zip(rows.tolist(), cols.tolist(), strict=True):
        rest = np.delete(VALUES, bidder, axis=0)
        r, c = linear_sum_assignment(rest, maximize=True)
        value = float(VALUES[bidder, slot])
        prices[bidder] = min(max(float(rest[r, c].sum()) - (welfare - value), 0.0), value)
        assignment[bidder] = slot
    return assignment, prices, welfare


EXPECTED = auction_core.calculate_vcg_prices(VALUES)
_rows, _cols = linear_sum_assignment(VALUES, maximize=True)
assert abs(EXPECTED[2] - VALUES[_rows, _cols].sum()) <= 1e-12 * EXPECTED[2]


def same_outcome(got: Any) -> bool:
    assignment, prices, welfare = got
    return (
        np.array_equal(assignment, EXPECTED[0])
        and bool(np.abs(prices - EXPECTED[1]).max() <= 1e-9)
        and abs(welfare - EXPECTED[2]) <= 1e-12 * EXPECTED[2]
    )


def test_calculate_vcg_prices(benchmark: object, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="calculate_vcg_prices",
        workload=f"{BIDDERS:,} bidders x {SLOTS} slots, position-auction values",
        ours=lambda: auction_core.calculate_vcg_prices(VALUES),
        peer=scipy_vcg,
        check=same_outcome,
    )


# The rank-1 workload: values = bid x CTR (a position auction), 10,000 bids x 10 slots.
# Peer: numpy's closed form (winners are the top bids in CTR order; the winner of slot j pays
# sum_{i >= j} bid_{i+1} (ctr_i - ctr_{i+1})), fed numpy arrays. Checked against the Rust
# answer: the same assignment, prices within 1e-9 absolute and welfare within 1e-12 relative.
RANK1_BIDS = scaled(10_000, 2_000)
RANK1_SLOTS = 10
BIDS = rng.lognormal(0.0, 0.5, RANK1_BIDS)
RANK1_CTR = np.sort(rng.random(RANK1_SLOTS))[::-1]
RANK1_VALUES = BIDS[:, None] * RANK1_CTR[None, :]


def numpy_position_auction() -> tuple[np.ndarray, np.ndarray, float]:
    top = np.argsort(-BIDS, kind="stable")[: RANK1_SLOTS + 1]
    bids = np.append(BIDS[top], 0.0)[: RANK1_SLOTS + 1]
    ctr = np.append(RANK1_CTR, 0.0)
    terms = bids[1:] * (ctr[:-1] - ctr[1:])
    winner_prices = np.cumsum(terms[::-1])[::-1]
    assignment = np.full(RANK1_BIDS, -1, dtype=np.int64)
    prices = np.zeros(RANK1_BIDS)
    assignment[top[:RANK1_SLOTS]] = np.arange(RANK1_SLOTS)
    prices[top[:RANK1_SLOTS]] = winner_prices
    return assignment, prices, float((bids[:RANK1_SLOTS] * RANK1_CTR).sum())


RANK1_EXPECTED = auction_core.calculate_vcg_prices(RANK1_VALUES)


def same_rank1_outcome(got: Any) -> bool:
    assignment, prices, welfare = got
    return (
        np.array_equal(assignment, RANK1_EXPECTED[0])
        and bool(np.abs(prices - RANK1_EXPECTED[1]).max() <= 1e-9)
        and abs(welfare - RANK1_EXPECTED[2]) <= 1e-12 * RANK1_EXPECTED[2]
    )


@rust_vs_peer_only
def test_calculate_vcg_prices_rank1(benchmark: object, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="calculate_vcg_prices",
        workload=f"{RANK1_BIDS:,} bids x {RANK1_SLOTS} slots, values = bid x CTR (rank 1)",
        ours=lambda: auction_core.calculate_vcg_prices(RANK1_VALUES),
        peer=numpy_position_auction,
        check=same_rank1_outcome,
        group_suffix="-rank1",
        peer_name="numpy (closed form)",
    )

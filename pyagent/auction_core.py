"""AuctionCore: Vickrey-Clarke-Groves pricing for slot auctions among agents (Swarm/Auction).

Agents bid for slots (compute, context, tool seats); each wants at most one slot (unit
demand). :func:`calculate_vcg_prices` takes ``values[bidder, slot]`` (what each slot is worth
to each bidder), finds the welfare-maximising assignment, and charges every winner the
externality it imposes on the others::

    price_i = (best welfare of the others without i) - (welfare of the others with i)

so truthful bidding is each bidder's best strategy. :func:`calculate_vcg_auction` is the
special case of identical slots in PyAgent's bid-dict form (winners by amount, every winner
pays the highest losing bid).

**The assignment** is a min-cost assignment with slots as rows and bidders as columns, solved
by shortest augmenting paths with dual potentials (Jonker-Volgenant as in Crouse's
rectangular variant, the algorithm behind ``scipy.optimize.linear_sum_assignment``): one
Dijkstra-like search per slot, O(slots^2 * bidders) in all. Values are non-negative (a bidder
can always decline), so leaving a slot empty is worth 0: when there are fewer than
``slots + 1`` bidders, zero-valued placeholder bidders make up the difference and a slot they
take stays empty. **The prices** reuse the optimum: removing a winner's column keeps the dual
potentials feasible and the rest of the assignment optimal, so the welfare without that
winner is one more augmenting path from the slot it freed, not a new solve (O(slots *
bidders) per winner instead of O(slots^2 * bidders)).

**Candidates.** Only a slot's ``slots + 1`` best bidders can matter: in an optimal assignment
a bidder holding slot ``s`` outside ``s``'s best ``slots`` could swap with one of those best
that holds no slot (the other ``slots - 1`` slots cannot hold them all), at no loss; and one
more per slot keeps this true without any one winner, for its price. So with more than
``slots + 1`` bidders both backends first keep the union of each slot's ``slots + 1`` best
(value descending, the lower index first among equal values: one well-defined set), in
bidder order, and solve on those alone: 10,000 bids for 10 slots become at most 110
columns. Welfare and every price are those of the full problem; only the tie-breaking below
sees the smaller matrix.

**Ties** are broken by the algorithm's fixed order, identical on both backends (the same
float operations in the same order, so the same assignment bit for bit): slots are placed in
index order; each search scans the columns in a fixed order and takes the first column of
strictly smallest reduced path cost, preferring a free column on equal cost. Welfare and
prices do not depend on how ties fall; the assignment does only when two assignments are
equally good.

Bad input is a ValueError from both backends: not two-dimensional, no bidder or no slot,
NaN, infinite, negative or huge values (above ``MAX_VALUE`` = 1e150, so no sum inside the
solver can overflow), or a problem larger than ``MAX_CELLS``; a non-real dtype is a TypeError.

**Size limit.** The solver works on a ``slots x max(bidders, slots + 1)`` cost matrix (the
placeholder columns above), in O(slots^2 * columns) time. With many more slots than bidders
that matrix is far larger than the input: ``values`` of shape (1, 1_000_000) would need a
10^12-cell matrix (8 TB). Both backends refuse a problem whose matrix would exceed
``MAX_CELLS`` = 2**22 cells (32 MiB of float64 in Rust, about 128 MiB of floats in Python)
with a ValueError, before allocating anything of that size.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

try:
    import rust_core as rc
except ImportError:
    rc = None  # type: ignore[assignment, unused-ignore]

__all__ = ["AuctionCore", "calculate_vcg_auction", "calculate_vcg_prices"]

#: Result of :func:`calculate_vcg_prices`: (assignment, prices, welfare).
VCGOutcome = tuple[NDArray[np.int64], NDArray[np.float64], float]

_INF = math.inf
#: Largest accepted value: dual potentials and path costs are sums of at most a few times
#: ``slots`` values, so below this no intermediate result can overflow float64.
MAX_VALUE = 1e150
#: Largest solver matrix, ``slots * max(bidders, slots + 1)`` cells (module docstring).
MAX_CELLS = 1 << 22


def _value_matrix(values: object) -> NDArray[np.float64]:
    """``values`` as a checked 2-D float64 array.

    At least one bidder and one slot, all finite and >= 0: TypeError for a non-real dtype,
    ValueError for the rest.
    """
    array = np.asarray(values)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"values must hold real numbers, not dtype {array.dtype}")
    if array.ndim != 2:
        raise ValueError(f"values must be two-dimensional (bidders x slots), got {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"values must have at least one bidder and one slot, got {array.shape}")
    bidders, slots = array.shape
    if slots * max(bidders, slots + 1) > MAX_CELLS:
        raise ValueError(
            f"values of shape {array.shape} need a {slots} x {max(bidders, slots + 1)} "
            f"solver matrix, above MAX_CELLS = {MAX_CELLS}"
        )
    matrix = array.astype(np.float64, copy=False)
    if not np.isfinite(matrix).all():
        raise ValueError("values must be finite (no NaN or infinity)")
    if (matrix < 0).any():
        raise ValueError("values must be >= 0")
    if (matrix > MAX_VALUE).any():
        raise ValueError(f"values must be <= {MAX_VALUE:g}")
    return matrix


class _Solver:
    """Shortest-augmenting-path assignment of ``rows`` slots to ``cols`` bidder columns.

    ``cost[r][c]`` is minimised (the negated value); every row gets a column. Duals ``u``
    (rows) and ``v`` (columns) keep reduced costs ``cost - u - v`` >= 0, tight on assigned
    pairs, and ``v == 0`` on free columns. rust_core's ``auction`` module is this code.
    """

    def __init__(self, cost: list[list[float]], cols: int) -> None:
        self.cost = cost
        self.rows = len(cost)
        self.cols = cols
        self.u = [0.0] * self.rows
        self.v = [0.0] * cols
        self.col4row = [-1] * self.rows
        self.row4col = [-1] * cols

    def copy(self) -> _Solver:
        other = _Solver.__new__(_Solver)
        other.cost, other.rows, other.cols = self.cost, self.rows, self.cols
        other.u, other.v = self.u[:], self.v[:]
        other.col4row, other.row4col = self.col4row[:], self.row4col[:]
        return other

    def augment(self, start: int, banned: int) -> None:
        """Assigns the free row ``start`` along a shortest augmenting path.

        The path never goes through column ``banned`` (-1 for none); the duals are updated
        so reduced costs stay >= 0 and tight on the assignment.
        """
        cost_rows, u, v, row4col = self.cost, self.u, self.v, self.row4col
        remaining = [c for c in range(self.cols - 1, -1, -1) if c != banned]
        shortest = [_INF] * self.cols
        path = [-1] * self.cols
        scanned_rows: list[int] = []
        scanned_cols: list[int] = []
        min_val = 0.0
        row = start
        sink = -1
        while sink == -1:
            scanned_rows.append(row)
            cost = cost_rows[row]
            base = min_val - u[row]
            lowest = _INF
            found = -1
            for k, col in enumerate(remaining):
                reduced = base + cost[col] - v[col]
                if reduced < shortest[col]:
                    path[col] = row
                    shortest[col] = reduced
                if shortest[col] < lowest or (shortest[col] == lowest and row4col[col] == -1):
                    lowest = shortest[col]
                    found = k
            min_val = lowest
            col = remaining[found]
            scanned_cols.append(col)
            remaining[found] = remaining[-1]
            remaining.pop()
            if row4col[col] == -1:
                sink = col
            else:
                row = row4col[col]
        u[start] += min_val
        for r in scanned_rows[1:]:
            u[r] += min_val - shortest[self.col4row[r]]
        for c in scanned_cols:
            v[c] -= min_val - shortest[c]
        col = sink
        while True:
            r = path[col]
            row4col[col] = r
            col, self.col4row[r] = self.col4row[r], col
            if r == start:
                break


def calculate_vcg_prices(values: Sequence[Sequence[float]] | NDArray[Any]) -> VCGOutcome:
    """Welfare-maximising assignment of slots to unit-demand bidders and their VCG prices.

    ``values[b, s]`` (a 2-D array or nested lists, finite and >= 0) is what slot ``s`` is
    worth to bidder ``b``. Returns ``(assignment, prices, welfare)``: ``assignment[b]`` is the
    slot bidder ``b`` wins or -1, ``prices[b]`` what it pays (0 for a loser), ``welfare`` the
    total value of the assignment. Each price is ``W_-b - (welfare - values[b, slot])``,
    where ``W_-b`` is the best welfare without bidder ``b``, clamped into ``[0, value]``
    against rounding. See the module docstring for the algorithm and the tie-breaking.
    """
    if rc is not None and hasattr(rc, "calculate_vcg_prices"):
        return rc.calculate_vcg_prices(values)
    full = _value_matrix(values)
    chosen = _candidates(full)
    matrix = full if chosen is None else full[chosen]
    bidders, slots = matrix.shape
    placeholders = max(0, slots + 1 - bidders)
    cols = bidders + placeholders
    by_bidder = matrix.tolist()
    # Rows are slots; cost is the negated value; placeholder columns cost 0.
    cost = [[-by_bidder[b][s] for b in range(bidders)] + [0.0] * placeholders for s in range(slots)]
    solver = _Solver(cost, cols)
    for row in range(slots):
        solver.augment(row, -1)
    welfare = _welfare(solver, by_bidder, bidders)
    assignment = [-1] * bidders
    prices = [0.0] * bidders
    for slot, column in enumerate(solver.col4row):
        if column >= bidders:
            continue
        assignment[column] = slot
        value = by_bidder[column][slot]
        without = solver.copy()
        without.row4col[column] = -1
        without.col4row[slot] = -1
        without.augment(slot, column)
        others_without = _welfare(without, by_bidder, bidders)
        price = others_without - (welfare - value)
        prices[column] = min(max(price, 0.0), value)
    if chosen is None:
        return np.array(assignment, dtype=np.int64), np.array(prices, dtype=np.float64), welfare
    full_assignment = np.full(full.shape[0], -1, dtype=np.int64)
    full_prices = np.zeros(full.shape[0], dtype=np.float64)
    full_assignment[chosen] = assignment
    full_prices[chosen] = prices
    return full_assignment, full_prices, welfare


def _candidates(matrix: NDArray[np.float64]) -> NDArray[np.intp] | None:
    """The bidders that can matter, ascending, or None when that is every bidder.

    Each slot's ``slots + 1`` best, value descending, the lower index first (module docstring).
    """
    bidders, slots = matrix.shape
    keep = slots + 1
    if bidders <= keep:
        return None
    # Stable: among equal values the lower index ranks first (-0.0 equals 0.0 here too).
    best = np.argsort(-matrix, axis=0, kind="stable")[:keep]
    return np.unique(best)


def _welfare(solver: _Solver, by_bidder: list[list[float]], bidders: int) -> float:
    """Total value of the solver's assignment, summed in slot order."""
    total = 0.0
    for slot, column in enumerate(solver.col4row):
        if column < bidders:
            total += by_bidder[column][slot]
    return total


def calculate_vcg_auction(bids: Iterable[Mapping[str, Any]], slots: int) -> list[dict[str, Any]]:
    """VCG for ``slots`` identical slots in PyAgent's form of bids.

    ``bids`` holds one dict per bid with an ``"amount"`` (finite, >= 0).
    The ``slots`` highest amounts win (equal amounts: the earlier bid wins); every winner
    pays the highest losing amount (0.0 when every bid wins), which is its VCG externality.
    Returns new dicts, in bid order: a copy of each bid with ``"won"`` (bool) and ``"price"``
    (float; 0.0 for a loser) set. The caller's dicts are not modified. No bids: ``[]``.
    ValueError for a missing amount, a NaN, infinite or negative one, or ``slots`` < 0;
    TypeError for a non-dict bid, a non-real amount or a non-int ``slots``.
    """
    if isinstance(slots, bool) or not isinstance(slots, numbers.Integral):
        raise TypeError(f"slots must be an int, not {type(slots).__name__}")
    if slots < 0:
        raise ValueError(f"slots must be >= 0, got {slots}")
    listed = list(bids)
    amounts: list[float] = []
    for position, bid in enumerate(listed):
        if not isinstance(bid, Mapping):
            raise TypeError(f"bid {position} must be a dict, not {type(bid).__name__}")
        if "amount" not in bid:
            raise ValueError(f"bid {position} has no 'amount'")
        amount = bid["amount"]
        if isinstance(amount, bool) or not isinstance(amount, numbers.Real):
            raise TypeError(
                f"bid {position} amount must be a real number, not {type(amount).__name__}"
            )
        number = float(amount)
        if not (math.isfinite(number) and number >= 0):
            raise ValueError(f"bid {position} amount must be finite and >= 0, got {number!r}")
        amounts.append(number)
    # Highest amount first; equal amounts in bid order (sorted is stable).
    ranking = sorted(range(len(amounts)), key=lambda i: -amounts[i])
    winners = set(ranking[:slots])
    price = amounts[ranking[slots]] if slots < len(ranking) else 0.0
    return [
        {**bid, "won": i in winners, "price": price if i in winners else 0.0}
        for i, bid in enumerate(listed)
    ]


class AuctionCore:
    """Runs slot auctions among agents and keeps the ledger of what each agent paid."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    def run(
        self, agents: Sequence[str], values: Sequence[Sequence[float]] | NDArray[Any]
    ) -> dict[str, int]:
        """Assigns slots by VCG; records each winner's price; ``{agent: slot}`` of winners."""
        if len(agents) != len(values):
            raise ValueError(f"one row of values per agent: {len(values)} != {len(agents)}")
        assignment, prices, _ = calculate_vcg_prices(values)
        won: dict[str, int] = {}
        for agent, slot, price in zip(agents, assignment.tolist(), prices.tolist(), strict=True):
            if slot >= 0:
                won[agent] = slot
                self.spent[agent] = self.spent.get(agent, 0.0) + price
        return won

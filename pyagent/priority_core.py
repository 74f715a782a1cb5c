"""PriorityCore: recursive priority weights across the agent dependency graph (Logic/Priority).

An agent matters as much as the agents that depend on it, weighted by how strongly they do:
that recursive definition is PageRank. :func:`calculate_weights` is weighted PageRank by power
iteration, the same computation as ``networkx.pagerank`` (and equal to it within 1e-9 on the
same graph), on a graph given as plain data:

* ``nodes``: any iterable of hashable values. A node listed twice counts once, at its first
  position; nodes are matched like dict keys (``1``, ``1.0`` and ``True`` are one node).
* ``edges``: an iterable of ``(source, target)`` pairs (tuple or list of length two); rank
  flows from ``source`` to ``target``. An edge naming a node absent from ``nodes`` is a
  ValueError, a malformed edge a TypeError, an unhashable node the TypeError a dict raises.
* ``weights``: ``None`` (every edge weighs 1) or one non-negative finite real per edge, as a
  sequence or numpy array (read in place by the native path). **Parallel edges add up**: two
  edges ``a -> b`` of weights 2 and 3 are one edge of weight 5, as in ``networkx.MultiDiGraph``
  (a ``networkx.DiGraph`` would keep only the last weight added). Self-loops count like any
  edge. A node whose outgoing weights sum to zero is dangling.

Each step (networkx's): ``x' = alpha * (x @ P + sum(x[dangling]) * d) + (1 - alpha) * p``,
where ``P`` is the weight matrix with each row divided by its sum, ``p`` the normalised
personalization (uniform by default) and ``d`` the normalised ``dangling`` distribution
(default ``p``). It starts from the uniform vector and stops once the L1 change of a step is
below ``N * tol``; after ``max_iter`` steps without that, it raises
:class:`PowerIterationFailedConvergence` (a RuntimeError) from both backends.

Bad input is a ValueError from both backends: no nodes, an unknown node in an edge or in a
personalization/dangling dict, NaN, infinite or negative weights or dict values, dict values
summing to zero or to infinity, weights out of one node summing to infinity, ``alpha``
outside [0, 1], ``tol`` not finite and > 0, ``max_iter`` < 1, a weights length other than
the number of edges. A parameter of the wrong type (``bool`` included) is a TypeError.

The result maps every node, in ``nodes`` order, to its weight; the weights sum to 1.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Hashable, Iterable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from pyagent._builtin import stored
from pyagent._numeric import float_vector, real_number

try:
    import rust_core as rc
except ImportError:
    rc = None  # type: ignore[assignment, unused-ignore]

__all__ = ["PowerIterationFailedConvergence", "PriorityCore", "calculate_weights"]

Node = Hashable
Edge = tuple[Node, Node] | Sequence[Node]


class PowerIterationFailedConvergence(RuntimeError):
    """The power iteration did not converge within ``max_iter`` steps.

    Named after networkx's exception of the same meaning; a RuntimeError here. ``args`` is
    ``(message, num_iterations)``; :attr:`num_iterations` is the ``max_iter`` that ran out.
    Both backends raise this very class.
    """

    @property
    def num_iterations(self) -> int:
        """How many steps were made (``max_iter``)."""
        return int(self.args[1]) if len(self.args) > 1 else 0


def _failed(max_iter: int) -> PowerIterationFailedConvergence:
    return PowerIterationFailedConvergence(
        f"power iteration failed to converge within {max_iter} iterations", max_iter
    )


def _check_parameters(alpha: object, max_iter: object, tol: object) -> tuple[float, int, float]:
    a = real_number(alpha, "alpha")
    t = real_number(tol, "tol")
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral):
        raise TypeError(f"max_iter must be an int, not {type(max_iter).__name__}")
    steps = int(max_iter)
    if not (0.0 <= a <= 1.0):
        raise ValueError(f"alpha must be in [0, 1], got {a!r}")
    if not (math.isfinite(t) and t > 0):
        raise ValueError(f"tol must be finite and > 0, got {t!r}")
    if steps < 1:
        raise ValueError(f"max_iter must be >= 1, got {steps!r}")
    return a, steps, t


def _distribution(
    values: object, index: dict[Node, int], count: int, name: str
) -> list[float] | None:
    """A node -> value mapping as a normalised vector over the node indices (None: absent)."""
    if values is None:
        return None
    if not isinstance(values, Mapping):
        raise TypeError(f"{name} must be a dict of node -> value, not {type(values).__name__}")
    vector = [0.0] * count
    for node, value in values.items():
        position = index.get(node)
        if position is None:
            raise ValueError(f"{name} names unknown node {node!r}")
        number = real_number(value, f"{name} value")
        if not (math.isfinite(number) and number >= 0):
            raise ValueError(f"{name} values must be finite and >= 0, got {number!r}")
        vector[position] = number
    total = 0.0
    for number in vector:
        total += number
    if total <= 0:
        raise ValueError(f"{name} values must not all be zero")
    if not math.isfinite(total):
        raise ValueError(f"{name} values must have a finite sum")
    return [number / total for number in vector]


def calculate_weights(
    nodes: Iterable[Node],
    edges: Iterable[Edge],
    weights: Iterable[float] | NDArray[np.floating] | None = None,
    *,
    alpha: float = 0.85,
    personalization: Mapping[Node, float] | None = None,
    max_iter: int = 100,
    tol: float = 1e-6,
    dangling: Mapping[Node, float] | None = None,
) -> dict[Node, float]:
    """Weighted PageRank of every node: ``{node: weight}`` in ``nodes`` order, summing to 1.

    ``alpha`` is the damping factor, ``personalization`` the teleport distribution (any
    non-negative node -> value dict, normalised; missing nodes get 0), ``dangling`` where the
    rank of dangling nodes goes (default: the personalization), ``tol`` and ``max_iter`` the
    stopping rule. See the module docstring for the graph format and every error. This is the
    pure-Python reference: power iteration over in-edge lists.
    """
    if rc is not None and hasattr(rc, "calculate_weights"):
        return rc.calculate_weights(
            nodes,
            edges,
            weights,
            alpha=alpha,
            personalization=personalization,
            max_iter=max_iter,
            tol=tol,
            dangling=dangling,
        )
    a, steps, t = _check_parameters(alpha, max_iter, tol)
    index: dict[Node, int] = {}
    ordered: list[Node] = []
    for node in stored(nodes):  # a list/tuple subclass by its stored items
        if index.get(node) is None:
            index[node] = len(ordered)
            ordered.append(node)
    count = len(ordered)
    sources: list[int] = []
    targets: list[int] = []
    for position, edge in enumerate(stored(edges)):
        edge = stored(edge)
        if not isinstance(edge, (tuple, list)) or len(edge) != 2:
            raise TypeError(
                f"edge {position} must be a (source, target) tuple or list of length 2, "
                f"not {type(edge).__name__}"
            )
        source = index.get(edge[0])
        if source is None:
            raise ValueError(f"edge {position} names unknown node {edge[0]!r}")
        target = index.get(edge[1])
        if target is None:
            raise ValueError(f"edge {position} names unknown node {edge[1]!r}")
        sources.append(source)
        targets.append(target)
    if weights is None:
        w = [1.0] * len(sources)
    else:
        array = float_vector(weights, "weights")
        if array.size != len(sources):
            raise ValueError(
                f"weights must have one value per edge: {array.size} != {len(sources)}"
            )
        w = array.tolist()
        for value in w:
            if not (math.isfinite(value) and value >= 0):
                raise ValueError("weights must be finite and >= 0")
    out_weight = [0.0] * count
    for source, weight in zip(sources, w, strict=True):
        out_weight[source] += weight
    if not all(math.isfinite(total) for total in out_weight):
        raise ValueError("the weights out of each node must have a finite sum")
    if count == 0:
        raise ValueError("nodes must not be empty")
    p = _distribution(personalization, index, count, "personalization")
    d = _distribution(dangling, index, count, "dangling")
    if p is None:
        p = [1.0 / count] * count
    if d is None:
        d = p
    ranks = _power_iteration(count, sources, targets, w, out_weight, a, p, d, steps, t)
    return dict(zip(ordered, ranks, strict=True))


def _power_iteration(
    count: int,
    sources: list[int],
    targets: list[int],
    weights: list[float],
    out_weight: list[float],
    alpha: float,
    p: list[float],
    d: list[float],
    max_iter: int,
    tol: float,
) -> list[float]:
    """The iteration on indices; the same operations in the same order as rust_core's."""
    # In-edges grouped by target (counting sort, stable: edge order within a target).
    starts = [0] * (count + 1)
    for target in targets:
        starts[target + 1] += 1
    for i in range(count):
        starts[i + 1] += starts[i]
    fill = starts[:-1]
    in_source = [0] * len(sources)
    in_share = [0.0] * len(sources)
    for source, target, weight in zip(sources, targets, weights, strict=True):
        slot = fill[target]
        fill[target] = slot + 1
        in_source[slot] = source
        total = out_weight[source]
        # A zero-weight edge out of a dangling node carries nothing (networkx: a zero row).
        in_share[slot] = weight / total if total != 0.0 else 0.0
    dangling_nodes = [i for i in range(count) if out_weight[i] == 0.0]
    teleport = [(1.0 - alpha) * value for value in p]
    x = [1.0 / count] * count
    for _ in range(max_iter):
        lost = 0.0
        for i in dangling_nodes:
            lost += x[i]
        new = [0.0] * count
        err = 0.0
        for j in range(count):
            total = 0.0
            for slot in range(starts[j], starts[j + 1]):
                total += x[in_source[slot]] * in_share[slot]
            value = alpha * (total + lost * d[j]) + teleport[j]
            new[j] = value
            err += abs(value - x[j])
        x = new
        if err < count * tol:
            return x
    raise _failed(max_iter)


class PriorityCore:
    """Priority weights of the agents in a dependency graph, recomputed on demand.

    Holds the graph (agents and weighted dependency edges, parallel edges adding up) and
    computes :func:`calculate_weights` over it when asked; :meth:`top` ranks agents by weight,
    ties by the order they were added.
    """

    def __init__(self, alpha: float = 0.85, tol: float = 1e-6, max_iter: int = 100) -> None:
        self.alpha, self.max_iter, self.tol = _check_parameters(alpha, max_iter, tol)
        self._agents: dict[Node, None] = {}
        self._edges: list[tuple[Node, Node]] = []
        self._weights: list[float] = []

    def add_agent(self, agent: Node) -> None:
        """Registers ``agent`` (again: no effect)."""
        self._agents.setdefault(agent, None)

    def add_dependency(self, source: Node, target: Node, weight: float = 1.0) -> None:
        """Rank flows from ``source`` to ``target``; both are registered if new."""
        value = real_number(weight, "weight")
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"weight must be finite and >= 0, got {value!r}")
        self.add_agent(source)
        self.add_agent(target)
        self._edges.append((source, target))
        self._weights.append(value)

    def weights(self, personalization: Mapping[Node, float] | None = None) -> dict[Node, float]:
        """Every agent's priority weight (see :func:`calculate_weights`)."""
        return calculate_weights(
            list(self._agents),
            self._edges,
            np.array(self._weights, dtype=np.float64),
            alpha=self.alpha,
            personalization=personalization,
            max_iter=self.max_iter,
            tol=self.tol,
        )

    def top(self, k: int, personalization: Mapping[Node, float] | None = None) -> list[Node]:
        """The ``k`` agents of highest weight, ties in the order they were added."""
        ranked = list(self.weights(personalization).items())
        order = sorted(range(len(ranked)), key=lambda i: -ranked[i][1])
        return [ranked[i][0] for i in order[:k]]

    def __len__(self) -> int:
        return len(self._agents)

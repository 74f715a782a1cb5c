"""PriorityCore parity: calculate_weights (weighted PageRank) on random small graphs.

Tolerance: none (``rel_tol=0``). Both backends build the same in-edge lists in edge order and
run the same additions, multiplications and divisions in the same order (rust_core only
splits the per-node gathers across threads, each node's sum unchanged; its sequential sums
are the reference's loops), with no transcendental functions, so results are identical to
the last bit, and so is the iteration at which the L1 stopping test first passes.

Graphs are drawn over a small pool of nodes so duplicate nodes, parallel edges, self-loops,
dangling nodes and zero weights are common; small ``max_iter`` values make the
no-convergence error common too. Bad inputs ride along: unknown nodes, malformed edges,
unhashable nodes, bad weights, parameters and personalization/dangling dicts. Since a bad
part anywhere ends most of those calls early, :func:`valid_graphs` draws calls that are
valid in every part (weights with zeros, dicts that do not sum to 1), so the ranks
themselves are compared on every example; one of them in eight carries a single negative
weight, the one error no later check catches.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from pyagent import priority_core
from pyagent.backend import forced_python
from pyagent.parity import hostile
from pyagent.parity.compare import call_both, same_outcome
from pyagent.parity.properties.strategies_numeric import parameters
from pyagent.parity.registry import parity_property

small = st.integers(min_value=0, max_value=7)
odd_nodes = st.sampled_from([1.0, True, "a", None, ("t", 1), -0.0])
node = st.one_of(small, small, small, odd_nodes)
bad_edge = st.one_of(
    st.tuples(node, node, node),
    st.just("ab"),
    st.none(),
    st.tuples(node, st.just(["unhashable"])),
    st.tuples(st.integers(min_value=100, max_value=102), node),
)
good_weight = st.one_of(st.floats(min_value=0, max_value=1e6), st.sampled_from([0.0, 1.0, 2.0]))
bad_weight = st.sampled_from([-1.0, math.nan, math.inf, 1e308])  # 1e308: sums overflow
alphas = st.one_of(st.floats(min_value=0, max_value=1), st.sampled_from([0.85, 1.0]), parameters)
tols = st.one_of(st.floats(min_value=1e-12, max_value=1e-2), parameters)
max_iters = st.one_of(
    st.integers(min_value=1, max_value=300),
    st.integers(min_value=-2, max_value=3),
    st.sampled_from([True, 2.0, None, np.int64(50), 10**30]),
)


@st.composite
def graphs(draw: st.DrawFn) -> dict[str, Any]:
    """Keyword arguments of one calculate_weights call, mostly valid."""
    nodes = draw(st.lists(node, min_size=0, max_size=10))
    pool = nodes or [0]
    edge = st.tuples(st.sampled_from(pool), st.sampled_from(pool))
    edge_forms = st.one_of(edge, edge, edge, edge.map(list), bad_edge)
    edges = draw(st.one_of(st.lists(edge, max_size=30), st.lists(edge_forms, max_size=12)))
    n = len(edges)
    weights = draw(
        st.one_of(
            st.none(),
            st.lists(good_weight, min_size=n, max_size=n),
            st.lists(good_weight, min_size=n, max_size=n).map(np.array),
            st.lists(st.integers(0, 5), min_size=n, max_size=n).map(np.array),
            st.lists(st.one_of(good_weight, bad_weight), min_size=n, max_size=n),
            st.lists(good_weight, max_size=5),
            st.sampled_from([["x"] * n, np.zeros((n, 1)), 3.0]),
        )
    )
    dist_key = st.one_of(st.sampled_from(pool), node)
    dist_value = st.one_of(good_weight, good_weight, bad_weight, st.sampled_from(["1", True]))
    dists = st.one_of(
        st.none(),
        st.none(),
        st.dictionaries(st.sampled_from(pool), good_weight, max_size=5),
        st.dictionaries(dist_key, dist_value, max_size=4),
        st.sampled_from([[1.0], "ab"]),
    )
    return {
        "nodes": nodes,
        "edges": edges,
        "weights": weights,
        "alpha": draw(alphas),
        "personalization": draw(dists),
        "max_iter": draw(max_iters),
        "tol": draw(tols),
        "dangling": draw(dists),
    }


def _valid_dict(pool: list[Any]) -> st.SearchStrategy[dict[Any, float]]:
    """A node -> value dict over known nodes, values >= 0 with a positive finite sum."""
    return st.dictionaries(st.sampled_from(pool), good_weight, min_size=1, max_size=5).filter(
        lambda values: sum(values.values()) > 0
    )


@st.composite
def valid_graphs(draw: st.DrawFn) -> dict[str, Any]:
    """Keyword arguments of one calculate_weights call valid in every part (mostly).

    Zero weights, parallel edges, self-loops and dangling nodes are common; dicts rarely sum
    to 1, so their normalisation shows. One call in eight has one weight made negative
    (finite, so only the weights check can reject it): a ValueError from both backends.
    """
    nodes = draw(st.lists(node, min_size=1, max_size=8))
    edge = st.tuples(st.sampled_from(nodes), st.sampled_from(nodes))
    edges = draw(st.lists(st.one_of(edge, edge.map(list)), max_size=20))
    n = len(edges)
    values = draw(st.lists(good_weight, min_size=n, max_size=n))
    if n and draw(st.integers(0, 7)) == 0:
        values[draw(st.integers(0, n - 1))] = draw(
            st.sampled_from([-1.0, -5e-324, -1e6]) | st.floats(max_value=-1e-300)
        )
    form = draw(st.sampled_from(["list", "float64", "float32", "strided", "none"]))
    weights: Any
    if form == "list":
        weights = values
    elif form == "float64":
        weights = np.array(values, dtype=np.float64)
    elif form == "float32":
        weights = np.array(values, dtype=np.float32)  # may round to 0.0 or overflow to inf
    elif form == "strided":
        weights = np.repeat(np.array(values, dtype=np.float64), 2)[::2]
    else:
        weights = None
    maybe_dict = st.one_of(st.none(), _valid_dict(nodes))
    return {
        "nodes": nodes,
        "edges": edges,
        "weights": weights,
        "alpha": draw(st.one_of(st.floats(min_value=0, max_value=1), st.just(0.85))),
        "personalization": draw(maybe_dict),
        "max_iter": draw(st.integers(min_value=1, max_value=300)),
        "tol": draw(st.floats(min_value=1e-12, max_value=1e-2)),
        "dangling": draw(maybe_dict),
    }


def _graph(nodes: list[Any], edges: list[Any], **kwargs: Any) -> dict[str, Any]:
    args = dict.fromkeys(["weights", "personalization", "dangling"])
    return {
        "nodes": nodes,
        "edges": edges,
        **args,
        "alpha": 0.85,
        "max_iter": 100,
        "tol": 1e-6,
        **kwargs,
    }


def _raised(call: Any) -> BaseException | None:
    try:
        call()
    except Exception as exc:  # the outcome class is compared by same_outcome first
        return exc
    return None


def _same_failure(args: dict[str, Any]) -> None:
    """No convergence: both raise it with ``(message, max_iter)``, num_iterations the max."""
    rust = _raised(lambda: priority_core.calculate_weights(**args))
    with forced_python():
        python = _raised(lambda: priority_core.calculate_weights(**args))
    assert rust is not None and python is not None
    assert rust.args == python.args, (rust.args, python.args)
    steps = int(args.get("max_iter", 100))
    assert getattr(rust, "num_iterations", None) == steps == python.num_iterations  # type: ignore[attr-defined]


@parity_property("calculate_weights")
@given(args=graphs())
# The stopping test at equality: the first step's L1 change is exactly 0.5 == 2 * tol, which
# does not stop it (err < N * tol); the second's, 0.25, does.
@example(args=_graph([0, 1], [(0, 1)], alpha=1.0, tol=0.25))
# Weights out of one node (or personalization values) whose sum overflows: ValueError.
@example(args=_graph([0, 1], [(0, 1), (0, 1)], weights=[1e308, 1e308]))
@example(args=_graph([0, 1], [(0, 1)], personalization={0: 1e308, 1: 1e308}))
@example(args=_graph([0, 1], [(0, 1)], dangling={0: 1e308, 1: 1e308}))
# Dicts whose values do not sum to 1 are normalised by dividing by their sum (p = v / sum).
@example(args=_graph([0, 1, 2], [(0, 1), (1, 2)], personalization={0: 3.0, 2: 1.0}))
@example(args=_graph([0, 1, 2], [(0, 1), (1, 2)], dangling={1: 0.5, 2: 2.0}))
# A dict naming a node absent from nodes: ValueError (not whatever indexing by None raises).
@example(args=_graph([0, 1], [(0, 1)], personalization={0: 1.0, 5: 1.0}))
@example(args=_graph([0, 1], [(0, 1)], dangling={"x": 1.0}))
# Several out-edges of one node, weights not summing to 1: each carries weight / its sum.
@example(args=_graph([0, 1, 2], [(0, 1), (0, 2), (0, 2)], weights=[3.0, 1.0, 4.0]))
# A weight of exactly 0.0 (or -0.0) is valid, and a zero row makes its node dangling.
@example(args=_graph([0, 1, 2], [(0, 1), (0, 2), (1, 2)], weights=[0.0, 2.0, 1.0]))
@example(args=_graph([0, 1], [(0, 1), (1, 0)], weights=[-0.0, 0.0]))
# A negative weight is a ValueError even when the row still sums to a finite positive value
# (NaN and infinite weights also fail the later finite-sum check; a negative one only this).
@example(args=_graph([0, 1], [(0, 1)], weights=[-1.0]))
@example(args=_graph([0, 1, 2], [(0, 1), (0, 2)], weights=[3.0, -1.0]))
def calculate_weights_agrees(args: dict[str, Any]) -> None:
    """Same weights to the last bit, or the same error class (no convergence included)."""
    _agree(args)


@parity_property("calculate_weights")
@given(args=valid_graphs())
def calculate_weights_agrees_on_valid_graphs(args: dict[str, Any]) -> None:
    """Valid calls: the same ranks to the last bit (or both fail to converge, alike)."""
    _agree(args)


def _agree(args: dict[str, Any]) -> None:
    """Same weights to the last bit, or the same error class (no convergence: same args)."""
    rust, python = call_both(priority_core.calculate_weights, **args)
    same_outcome(rust, python, rel_tol=0)
    if rust.error is None:
        assert list(rust.value) == list(python.value)  # keys in node order, same objects
    elif rust.error is priority_core.PowerIterationFailedConvergence:
        _same_failure(args)


@parity_property("calculate_weights")
@given(alpha=st.sampled_from([1.0, 0.999999]), explicit=st.booleans())
def calculate_weights_default_max_iter(alpha: float, explicit: bool) -> None:
    """A periodic chain never settles without damping: 100 steps (the default) then the error.

    0 <-> 1 <- 2 from the uniform start swings between [2/3, 1/3, 0] and [1/3, 2/3, 0].
    """
    nodes, edges = [0, 1, 2], [(0, 1), (1, 0), (2, 0)]
    kwargs: dict[str, Any] = {"alpha": alpha, **({"max_iter": 100} if explicit else {})}
    rust, python = call_both(priority_core.calculate_weights, nodes, edges, **kwargs)
    same_outcome(rust, python, rel_tol=0)
    assert rust.error is priority_core.PowerIterationFailedConvergence, rust.describe()
    assert rust.message == python.message
    _same_failure({"nodes": nodes, "edges": edges, **kwargs})


@parity_property("calculate_weights")
@given(
    nodes=st.one_of(st.integers(), st.lists(st.just([1]), min_size=1, max_size=2), st.just([])),
    edges=st.one_of(st.integers(), st.just([]), st.just([(0, 0)])),
)
def calculate_weights_rejects_bad_graphs(nodes: object, edges: object) -> None:
    """Non-iterable, unhashable or empty nodes, non-iterable edges: the same error class."""
    rust, python = call_both(priority_core.calculate_weights, nodes, edges)
    same_outcome(rust, python, rel_tol=0)
    assert rust.error is not None


@parity_property("calculate_weights")
@given(
    nodes=hostile.for_kind("any"),
    edges=hostile.mix(st.just([(0, 0)]), "sequence"),
    alpha=hostile.mix(alphas, "float"),
    max_iter=hostile.mix(st.just(100), "int"),
)
def calculate_weights_hostile(
    nodes: object, edges: object, alpha: object, max_iter: object
) -> None:
    """Hostile nodes, edges and parameters: the same weights or the same error class."""
    rust, python = call_both(
        priority_core.calculate_weights, nodes, edges, alpha=alpha, max_iter=max_iter
    )
    same_outcome(rust, python, rel_tol=0)

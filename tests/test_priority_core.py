"""PriorityCore: weighted PageRank equal to networkx.pagerank, on the selected backend."""

from __future__ import annotations

import math
import random
from typing import Any

import networkx as nx
import numpy as np
import pytest

from pyagent import priority_core
from pyagent.backend import forced_python
from pyagent.priority_core import PowerIterationFailedConvergence, PriorityCore, calculate_weights
from tests.test_native_gil import main_thread_runs_during

TOL = 1e-9  # the bound against networkx


def random_graph(
    rng: random.Random, n: int, m: int
) -> tuple[list[int], list[tuple[int, int]], list[float]]:
    nodes = list(range(n))
    edges = [(rng.randrange(n), rng.randrange(n)) for _ in range(m)]
    weights = [rng.choice([0.0, 1.0, rng.random() * 5]) for _ in range(m)]
    return nodes, edges, weights


def networkx_pagerank(
    nodes: list[Any], edges: list[tuple[Any, Any]], weights: list[float], **kwargs: Any
) -> dict[Any, float]:
    # A MultiDiGraph: parallel edges add up, as calculate_weights documents.
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(nodes)
    graph.add_weighted_edges_from((a, b, w) for (a, b), w in zip(edges, weights, strict=True))
    return dict(nx.pagerank(graph, **kwargs))


def assert_close(got: dict[Any, float], expected: dict[Any, float]) -> None:
    assert list(got) == list(expected)
    worst = max(abs(got[k] - expected[k]) for k in expected)
    assert worst <= TOL, worst


@pytest.mark.parametrize("seed", range(12))
def test_equals_networkx_on_random_graphs(seed: int) -> None:
    rng = random.Random(seed)
    nodes, edges, weights = random_graph(rng, rng.randint(1, 80), rng.randint(0, 400))
    kwargs: dict[str, Any] = {"alpha": rng.choice([0.85, 0.5, 0.95, 0.0])}
    if seed % 3 == 1:
        kwargs["personalization"] = {k: rng.random() for k in nodes if rng.random() < 0.6}
        kwargs["personalization"][nodes[0]] = 0.5  # never all zero
    if seed % 4 == 2:
        kwargs["dangling"] = {k: rng.random() + 0.1 for k in nodes if rng.random() < 0.5}
        kwargs["dangling"][nodes[-1]] = 1.0
    if seed % 2:
        kwargs.update(tol=1e-10, max_iter=2000)
    got = calculate_weights(nodes, edges, weights, **kwargs)
    assert_close(got, networkx_pagerank(nodes, edges, weights, **kwargs))
    assert math.fsum(got.values()) == pytest.approx(1.0, abs=1e-12)


def test_equals_networkx_on_a_graph_large_enough_to_run_in_parallel() -> None:
    rng = np.random.default_rng(7)
    n, m = 20_000, 120_000
    src = rng.integers(0, n, m).tolist()
    dst = (n * rng.random(m) ** 2).astype(np.int64).tolist()  # skewed: hubs
    weights = rng.random(m)
    nodes = [f"agent-{i}" for i in range(n)]
    edges = [(nodes[a], nodes[b]) for a, b in zip(src, dst, strict=True)]
    got = calculate_weights(nodes, edges, weights)
    assert_close(got, networkx_pagerank(nodes, edges, weights.tolist()))


def test_unweighted_digraph_matches_networkx_digraph() -> None:
    rng = random.Random(3)
    graph = nx.gnp_random_graph(60, 0.08, seed=3, directed=True)
    nodes = [f"n{i}" for i in rng.sample(range(60), 60)]
    names = {i: nodes[i] for i in range(60)}
    edges = [(names[a], names[b]) for a, b in graph.edges()]
    expected = nx.pagerank(nx.relabel_nodes(graph, names))
    got = calculate_weights(nodes, edges)
    assert list(got) == nodes
    assert max(abs(got[k] - expected[k]) for k in nodes) <= TOL


def test_parallel_edges_add_up_and_self_loops_count() -> None:
    nodes = ["a", "b", "c"]
    split = calculate_weights(nodes, [("a", "b"), ("a", "b"), ("a", "c"), ("b", "b")], [2, 3, 1, 1])
    merged = calculate_weights(nodes, [("a", "b"), ("a", "c"), ("b", "b")], [5, 1, 1])
    assert split == pytest.approx(merged, rel=1e-14)
    # networkx's DiGraph would keep only the last weight: the documented difference.
    assert split["b"] > split["c"]


def test_known_values() -> None:
    # A 3-cycle: every node gets a third, to the last bit of the iteration.
    got = calculate_weights([1, 2, 3], [(1, 2), (2, 3), (3, 1)])
    assert got == pytest.approx({1: 1 / 3, 2: 1 / 3, 3: 1 / 3}, rel=1e-15)
    # Edges only into "hub": it collects most of the rank; the rest share equally.
    got = calculate_weights(["x", "y", "hub"], [("x", "hub"), ("y", "hub")])
    assert got["hub"] > 0.4 and got["x"] == got["y"]


def test_nodes_dedupe_like_dict_keys_and_keep_their_first_position() -> None:
    got = calculate_weights([2, 1, 2.0, True, ("t", 0)], [(1.0, 2), (("t", 0), 1), [2, 1]])
    assert list(got) == [2, 1, ("t", 0)]
    assert all(type(k) is not float and k is not True for k in got)


def test_zero_weight_edges_leave_their_source_dangling() -> None:
    got = calculate_weights(["a", "b"], [("a", "b")], [0.0])
    assert got == pytest.approx({"a": 0.5, "b": 0.5}, rel=1e-15)
    assert_close(got, networkx_pagerank(["a", "b"], [("a", "b")], [0.0]))


def test_alpha_zero_is_the_personalization() -> None:
    got = calculate_weights(["a", "b", "c"], [("a", "b")], alpha=0.0, personalization={"b": 3})
    assert got == {"a": 0.0, "b": 1.0, "c": 0.0}


def test_weights_accept_lists_tuples_ints_and_strided_arrays() -> None:
    edges = [(0, 1), (1, 2), (2, 0), (0, 2)]
    expected = calculate_weights(range(3), edges, [1.0, 2.0, 3.0, 4.0])
    for weights in ((1, 2, 3, 4), np.array([1, 2, 3, 4]), np.repeat([1.0, 2.0, 3.0, 4.0], 2)[::2]):
        assert calculate_weights(range(3), edges, weights) == expected
    assert calculate_weights(range(3), iter(edges), [1, 2, 3, 4]) == expected


def test_no_convergence_raises_from_both_backends() -> None:
    with pytest.raises(PowerIterationFailedConvergence) as info:
        calculate_weights(range(3), [(0, 1), (1, 2), (2, 1)], max_iter=2, tol=1e-12)
    assert isinstance(info.value, RuntimeError)
    assert info.value.num_iterations == 2
    assert "2 iterations" in str(info.value)


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        (([], []), {}, ValueError),
        (([1], [(1, 2)]), {}, ValueError),
        (([1], [(1, 1, 1)]), {}, TypeError),
        (([1], ["ab"]), {}, TypeError),
        (([1], [1]), {}, TypeError),
        (([[1]], []), {}, TypeError),
        (([1], [(1, [1])]), {}, TypeError),
        (([1, 2], [(1, 2)], [-1.0]), {}, ValueError),
        (([1, 2], [(1, 2)], [math.nan]), {}, ValueError),
        (([1, 2], [(1, 2)], [math.inf]), {}, ValueError),
        (([1, 2], [(1, 2)], [1.0, 2.0]), {}, ValueError),
        (([1, 2], [(1, 2), (1, 1)], [1e308, 1e308]), {}, ValueError),
        (([1, 2], [(1, 2)], ["a"]), {}, TypeError),
        (([1, 2], [(1, 2)], [[1.0]]), {}, ValueError),
        (([1], []), {"alpha": 1.5}, ValueError),
        (([1], []), {"alpha": -0.1}, ValueError),
        (([1], []), {"alpha": math.nan}, ValueError),
        (([1], []), {"alpha": "0.8"}, TypeError),
        (([1], []), {"tol": 0.0}, ValueError),
        (([1], []), {"tol": math.inf}, ValueError),
        (([1], []), {"max_iter": 0}, ValueError),
        (([1], []), {"max_iter": True}, TypeError),
        (([1], []), {"max_iter": 10.0}, TypeError),
        (([1], []), {"personalization": {2: 1.0}}, ValueError),
        (([1], []), {"personalization": {1: 0.0}}, ValueError),
        (([1], []), {"personalization": {1: -1.0}}, ValueError),
        (([1], []), {"personalization": {1: math.nan}}, ValueError),
        (([1], []), {"personalization": {1: "1"}}, TypeError),
        (([1], []), {"personalization": [1.0]}, TypeError),
        (([1], []), {"dangling": {2: 1.0}}, ValueError),
        (([1], []), {"dangling": {1: 0}}, ValueError),
        (([1, 2], []), {"personalization": {1: 1e308, 2: 1e308}}, ValueError),
    ],
)
def test_bad_input_raises(args: tuple[Any, ...], kwargs: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        calculate_weights(*args, **kwargs)


def test_numpy_integer_max_iter_is_accepted() -> None:
    assert calculate_weights([1], [], max_iter=np.int64(5)) == {1: 1.0}


def test_priority_core_ranks_agents() -> None:
    core = PriorityCore()
    for name in ("planner", "coder", "tester", "idle"):
        core.add_agent(name)
    core.add_dependency("coder", "planner", 2.0)
    core.add_dependency("tester", "planner")
    core.add_dependency("tester", "coder")
    assert len(core) == 4
    weights = core.weights()
    assert math.fsum(weights.values()) == pytest.approx(1.0, abs=1e-12)
    assert core.top(2) == ["planner", "coder"]
    assert core.top(1, personalization={"idle": 1.0}) == ["idle"]
    with pytest.raises(ValueError):
        core.add_dependency("a", "b", -1.0)


@pytest.mark.requires_rust
def test_rust_equals_the_python_reference_bit_for_bit_on_a_large_graph() -> None:
    rng = np.random.default_rng(11)
    n, m = 30_000, 200_000
    nodes = list(range(n))
    edges = list(zip(rng.integers(0, n, m).tolist(), rng.integers(0, n, m).tolist(), strict=True))
    weights = rng.random(m)
    personalization = {i: 1.0 for i in range(0, n, 7)}
    got = calculate_weights(nodes, edges, weights, personalization=personalization, tol=1e-9)
    with forced_python():
        expected = priority_core.calculate_weights(
            nodes, edges, weights, personalization=personalization, tol=1e-9
        )
    assert got == expected


@pytest.mark.requires_rust
def test_the_iteration_releases_the_gil() -> None:
    rng = np.random.default_rng(5)
    n, m = 2_000, 20_000
    edges = list(zip(rng.integers(0, n, m).tolist(), rng.integers(0, n, m).tolist(), strict=True))
    # With alpha = 1 the rank of n -> n+1 <-> n+2 oscillates forever: 3,000 full iterations.
    edges += [(n, n + 1), (n + 1, n + 2), (n + 2, n + 1)]
    raised = []

    def long_run() -> None:
        try:
            calculate_weights(range(n + 3), edges, alpha=1.0, tol=1e-9, max_iter=3_000)
        except PowerIterationFailedConvergence as exc:
            raised.append(exc)

    assert main_thread_runs_during(long_run) > 1000
    assert len(raised) == 1

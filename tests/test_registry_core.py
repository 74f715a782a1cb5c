"""RegistryCore.topo_sort / detect_cycles behaviour on whichever backend this run selects."""

from __future__ import annotations

import graphlib
import itertools
import random
from collections.abc import Hashable, Sequence

import networkx as nx
import pytest

from pyagent import registry_core
from pyagent.parity.compare import same
from pyagent.registry_core import CycleError, RegistryCore, detect_cycles, topo_sort


def assert_topological(order: list[Hashable], nodes: Sequence[Hashable], edges: list) -> None:
    position = {node: i for i, node in enumerate(order)}
    assert len(order) == len(position) == len(dict.fromkeys(nodes))
    for source, target in edges:
        assert position[source] < position[target], (source, target)


def assert_cycle(cycle: list[Hashable], edges: list) -> None:
    edge_set = set(map(tuple, edges))
    assert len(cycle) >= 2 and cycle[0] == cycle[-1]
    assert len(set(cycle[:-1])) == len(cycle) - 1, "a cycle visits each node once"
    for pair in itertools.pairwise(cycle):
        assert pair in edge_set, pair


def random_graph(rng: random.Random, n: int, m: int, acyclic: bool) -> list[tuple[int, int]]:
    edges = []
    for _ in range(m):
        a, b = rng.randrange(n), rng.randrange(n)
        if acyclic:
            if a == b:
                continue
            a, b = min(a, b), max(a, b)
        edges.append((a, b))
    return edges


# -- topo_sort -----------------------------------------------------------------------------


def test_ties_go_to_the_earliest_listed_node() -> None:
    assert topo_sort(["d", "c", "b", "a"], [("a", "b")]) == ["d", "c", "a", "b"]
    assert topo_sort([3, 0, 2, 1], [(3, 0), (2, 1)]) == [3, 0, 2, 1]
    assert topo_sort([], []) == []


def test_an_order_already_valid_comes_back_unchanged() -> None:
    rng = random.Random(3)
    nodes = list(range(300))
    edges = random_graph(rng, 300, 2000, acyclic=True)
    assert topo_sort(nodes, edges) == nodes


def test_matches_graphlib_on_random_dags() -> None:
    rng = random.Random(11)
    for _ in range(20):
        nodes = [f"n{i}" for i in range(rng.randrange(1, 60))]
        rng.shuffle(nodes)
        edges = [(f"n{a}", f"n{b}") for a, b in random_graph(rng, len(nodes), 150, acyclic=True)]
        order = topo_sort(nodes, edges)
        assert_topological(order, nodes, edges)
        sorter = graphlib.TopologicalSorter({n: [] for n in nodes})
        for source, target in edges:
            sorter.add(target, source)
        assert set(order) == set(sorter.static_order())


def test_nodes_are_matched_like_dict_keys_and_returned_as_given() -> None:
    one = 1.0
    # 1, 1.0 and True are one key; the first listed object is the one returned.
    assert topo_sort([one, 1, True, "x"], [("x", 1)]) == ["x", one]
    assert topo_sort(["a", "b", "a"], [("b", "a")]) == ["b", "a"]
    key = ("tuple", 1)
    assert topo_sort([key, None], [(None, ("tuple", 1))])[1] is key


def test_accepts_any_iterables_and_list_edges() -> None:
    edges = iter([["b", "a"], ("c", "b")])
    assert topo_sort(iter("abc"), edges) == ["c", "b", "a"]
    assert topo_sort(range(3), ((2, 1), (1, 0))) == [2, 1, 0]


def test_a_cycle_raises_a_graphlib_cycle_error_with_evidence() -> None:
    edges = [("a", "b"), ("b", "c"), ("c", "b"), ("c", "d")]
    with pytest.raises(graphlib.CycleError) as caught:
        topo_sort("abcd", edges)
    error = caught.value
    assert type(error) is CycleError
    assert error.args == ("nodes are in a cycle", ["b", "c", "b"])
    assert error.cycle == ["b", "c", "b"]
    with pytest.raises(CycleError) as looped:
        topo_sort(["x", "y"], [("x", "y"), ("y", "y")])
    assert looped.value.cycle == ["y", "y"]


def test_the_reported_cycle_is_real_and_starts_at_its_earliest_node() -> None:
    rng = random.Random(5)
    for _ in range(50):
        n = rng.randrange(2, 40)
        edges = random_graph(rng, n, rng.randrange(n, 4 * n), acyclic=False)
        try:
            order = topo_sort(range(n), edges)
        except CycleError as error:
            assert_cycle(error.cycle, edges)
            assert error.cycle[0] == min(error.cycle)
            with pytest.raises(graphlib.CycleError):
                graphlib.TopologicalSorter(
                    {b: [a for a, t in edges if t == b] for b in range(n)}
                ).prepare()
        else:
            assert_topological(order, range(n), edges)


@pytest.mark.parametrize("function", [topo_sort, detect_cycles])
def test_an_edge_to_an_unknown_node_is_a_key_error(function: object) -> None:
    with pytest.raises(KeyError, match="edge 1 names unknown node 'z'"):
        function(["a", "b"], [("a", "b"), ("b", "z")])  # type: ignore[operator]
    with pytest.raises(KeyError):
        function([], [(1, 2)])  # type: ignore[operator]


@pytest.mark.parametrize("function", [topo_sort, detect_cycles])
@pytest.mark.parametrize(
    ("edges", "error"),
    [
        ([("a", "b", "c")], TypeError),
        ([("a",)], TypeError),
        (["ab"], TypeError),
        ([3], TypeError),
        ([None], TypeError),
        ([("a", ["unhashable"])], TypeError),
        (5, TypeError),
        ([("a", "b"), ("a", "b", "c"), ("a", "zz")], TypeError),  # first bad edge wins
        ([("a", "zz"), ("a", "b", "c")], KeyError),
    ],
)
def test_malformed_input_raises(function: object, edges: object, error: type) -> None:
    with pytest.raises(error):
        function(["a", "b"], edges)  # type: ignore[operator]


@pytest.mark.parametrize("function", [topo_sort, detect_cycles])
def test_unhashable_or_non_iterable_nodes_raise_type_error(function: object) -> None:
    with pytest.raises(TypeError):
        function([["a"]], [])  # type: ignore[operator]
    with pytest.raises(TypeError):
        function(3, [])  # type: ignore[operator]


def test_a_million_node_path_needs_no_recursion() -> None:
    n = 1_000_000
    edges = [(i, i + 1) for i in range(n - 1)]
    order = topo_sort(range(n), edges)
    assert order[0] == 0 and order[-1] == n - 1 and len(order) == n
    assert detect_cycles(range(n), edges) == []
    edges.append((n - 1, 0))
    with pytest.raises(CycleError) as caught:
        topo_sort(range(n), edges)
    assert len(caught.value.cycle) == n + 1
    [(component, cycle)] = detect_cycles(range(n), edges)
    assert len(component) == n and cycle[:3] == [0, 1, 2] and cycle[-1] == 0


# -- detect_cycles -------------------------------------------------------------------------


def test_detect_cycles_reports_components_with_shortest_witnesses() -> None:
    edges = [(0, 1), (1, 2), (2, 0), (0, 2), (2, 3), (4, 4), (6, 5), (5, 6)]
    assert detect_cycles(range(7), edges) == [
        ([0, 1, 2], [0, 2, 0]),
        ([4], [4, 4]),
        ([5, 6], [5, 6, 5]),
    ]
    assert detect_cycles("abc", [("a", "b"), ("b", "c")]) == []
    assert detect_cycles([], []) == []


def test_components_follow_input_order_not_node_values() -> None:
    nodes = ["z", "y", "x", "w"]
    edges = [("x", "w"), ("w", "x"), ("y", "z"), ("z", "y")]
    assert detect_cycles(nodes, edges) == [
        (["z", "y"], ["z", "y", "z"]),
        (["x", "w"], ["x", "w", "x"]),
    ]


def test_detect_cycles_matches_networkx() -> None:
    rng = random.Random(17)
    for _ in range(30):
        n = rng.randrange(1, 80)
        edges = random_graph(rng, n, rng.randrange(0, 3 * n), acyclic=False)
        graph = nx.DiGraph()
        graph.add_nodes_from(range(n))
        graph.add_edges_from(edges)
        expected = sorted(
            sorted(c)
            for c in nx.strongly_connected_components(graph)
            if len(c) > 1 or graph.has_edge(next(iter(c)), next(iter(c)))
        )
        found = detect_cycles(range(n), edges)
        assert [component for component, _ in found] == expected
        for component, cycle in found:
            assert_cycle(cycle, edges)
            assert cycle[0] == component[0] and set(cycle) <= set(component)
            # Shortest through its first node: no shorter cycle through it exists.
            shortest = min(
                (
                    nx.shortest_path_length(graph, w, component[0]) + 1
                    for w in graph.successors(component[0])
                    if nx.has_path(graph, w, component[0])
                ),
            )
            assert len(cycle) - 1 == shortest


# -- RegistryCore --------------------------------------------------------------------------


def test_registry_core_loads_dependencies_first() -> None:
    registry = RegistryCore()
    registry.register("app", depends_on=["db", "cache"])
    registry.register("db")
    registry.register("cache", depends_on=["db"])
    assert len(registry) == 3 and "db" in registry and "nope" not in registry
    assert registry.load_order() == ["db", "cache", "app"]
    assert registry.cycles() == []
    registry.register("db", depends_on=["app"])
    with pytest.raises(CycleError) as caught:
        registry.load_order()
    assert caught.value.cycle[0] == caught.value.cycle[-1]
    [(component, _)] = registry.cycles()
    assert component == ["app", "db", "cache"]
    registry.register("web", depends_on=["missing"])
    with pytest.raises(KeyError):
        registry.load_order()


@pytest.mark.requires_rust
def test_rust_raises_pyagents_own_cycle_error() -> None:
    import rust_core

    assert registry_core.rc is rust_core
    with pytest.raises(CycleError) as caught:
        rust_core.topo_sort([1, 2], [(1, 2), (2, 1)])
    assert type(caught.value) is registry_core.CycleError
    assert caught.value.args == ("nodes are in a cycle", [1, 2, 1])


@pytest.mark.requires_rust
def test_rust_releases_the_gil_for_the_graph_algorithm() -> None:
    import sys
    import threading
    import time

    n = 1_000_000
    nodes = list(range(n))
    edges = [(nodes[i], nodes[i + 1]) for i in range(n - 1)]
    ticks: list[float] = []
    done = threading.Event()

    def other_thread() -> None:
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    interval = sys.getswitchinterval()
    # With a 10 s switch interval a call holding the GIL throughout would starve the other
    # thread; it only runs during the call if the call lets go of the GIL.
    sys.setswitchinterval(10.0)
    thread = threading.Thread(target=other_thread)
    try:
        thread.start()
        time.sleep(0.02)
        start = time.perf_counter()
        detect_cycles(nodes, edges)
        end = time.perf_counter()
    finally:
        done.set()
        thread.join()
        sys.setswitchinterval(interval)
    assert any(start < tick < end for tick in ticks)


@pytest.mark.requires_rust
@pytest.mark.parametrize(
    "nodes",
    [
        [1.0, 2, 3, 2**70, -5],  # 1 equals the float node 1.0; 2**70 does not fit i64
        [True, 2, 3, 2**70, -5],  # 1 equals the bool node True
        [1, 2, 3, 2**70, -5],
    ],
    ids=["float-node", "bool-node", "int-nodes"],
)
def test_endpoints_equal_to_but_not_the_nodes_resolve_as_dict_keys(nodes: list) -> None:
    """Edges holding fresh int objects (read from a file, computed) find the equal node,
    whatever its type, exactly as the reference's dict lookup does."""
    fresh = [int(str(v)) for v in (1, 2, 3, 2**70, -5)]
    edges = [(fresh[0], fresh[1]), (fresh[2], fresh[1]), (fresh[3], fresh[0]), (fresh[4], fresh[3])]
    assert fresh[3] is not nodes[3]  # small ints are cached singletons; 2**70 is not
    order = same(registry_core.topo_sort, nodes, edges)
    assert order.error is None
    assert all(any(got is node for node in nodes) for got in order.value), "not the node objects"
    cycles = same(registry_core.detect_cycles, nodes, [*edges, (fresh[1], int("-5"))])
    assert cycles.error is None and len(cycles.value) == 1

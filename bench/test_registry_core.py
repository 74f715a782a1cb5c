"""RegistryCore.topo_sort and detect_cycles on 100,000 nodes and 500,000 edges.

Nodes are component names ("component-<n>", str), listed in a shuffled order. Workloads:

* topo_sort: a random DAG (each edge goes from the earlier to the later node of a hidden
  random ranking), so the listing order is not already a valid order.
* detect_cycles: a DAG whose edges span at most 50 ranks, plus 2,000 back edges of at most
  20 ranks and 20 self-loops: hundreds of cyclic components (checked below) of up to a few
  dozen nodes, beside a large acyclic remainder, as a registry with some bad loops would be.

Peers get the same labelled input and pay for their own graph construction, as a caller
would: graphlib (TopologicalSorter, static_order), networkx (topological_sort; strongly
connected components with nx.find_cycle for the witness) and rustworkx (topological_sort;
strongly_connected_components only, no witness, which flatters it). Our result must equal the
Python reference's; a peer's must be a valid order or the same set of cyclic components.
"""

from __future__ import annotations

import graphlib
import itertools
import random
from functools import cache
from typing import Any

import networkx as nx
import pytest
import rustworkx as rx

from bench.conftest import compare, rust_vs_peer_only, scaled
from pyagent import registry_core
from pyagent.backend import forced_python

NODES_COUNT = scaled(100_000, 10_000)
EDGES_COUNT = scaled(500_000, 50_000)
BACK_EDGES = 2_000
BACK_SPAN = 20
SELF_LOOPS = 20
SPAN = 50

rng = random.Random(42)
NODES = [f"component-{i}" for i in range(NODES_COUNT)]
RANKED = NODES[:]  # position = hidden rank
rng.shuffle(NODES)


def _dag() -> list[tuple[str, str]]:
    edges = []
    for _ in range(EDGES_COUNT):
        a, b = rng.randrange(NODES_COUNT), rng.randrange(NODES_COUNT - 1)
        b += b >= a
        edges.append((RANKED[min(a, b)], RANKED[max(a, b)]))
    return edges


def _cyclic() -> list[tuple[str, str]]:
    edges = []
    for _ in range(EDGES_COUNT - BACK_EDGES - SELF_LOOPS):
        a = rng.randrange(NODES_COUNT - 1)
        b = min(NODES_COUNT - 1, a + rng.randrange(1, SPAN))
        edges.append((RANKED[a], RANKED[b]))
    for _ in range(BACK_EDGES):
        b = rng.randrange(NODES_COUNT - BACK_SPAN)
        edges.append((RANKED[b + rng.randrange(1, BACK_SPAN)], RANKED[b]))
    for _ in range(SELF_LOOPS):
        node = rng.choice(RANKED)
        edges.append((node, node))
    rng.shuffle(edges)
    return edges


DAG = _dag()
CYCLIC = _cyclic()
TOPO_WORKLOAD = f"{NODES_COUNT:,} str nodes, {EDGES_COUNT:,} edges, random DAG"
CYCLES_WORKLOAD = (
    f"{NODES_COUNT:,} str nodes, {EDGES_COUNT:,} edges, {BACK_EDGES:,} back edges, "
    f"{SELF_LOOPS} self-loops"
)


@cache
def reference_order() -> list[str]:
    with forced_python():
        return registry_core.topo_sort(NODES, DAG)  # type: ignore[return-value]


@cache
def reference_cycles() -> list[tuple[list[str], list[str]]]:
    with forced_python():
        found = registry_core.detect_cycles(NODES, CYCLIC)
    assert len(found) >= 100, "the workload should have many cyclic components"
    return found  # type: ignore[return-value]


def is_topological(order: list[str]) -> bool:
    position = {node: i for i, node in enumerate(order)}
    return len(order) == len(position) == NODES_COUNT and all(
        position[a] < position[b] for a, b in DAG
    )


EDGE_SET = frozenset(CYCLIC)


def same_components(components: list[set[str]]) -> bool:
    return sorted(map(sorted, components)) == sorted(sorted(c) for c, _ in reference_cycles())


def valid_witnesses(found: list[tuple[Any, list[str]]]) -> bool:
    return all(
        cycle[0] == cycle[-1] and all(pair in EDGE_SET for pair in itertools.pairwise(cycle))
        for _, cycle in found
    )


# -- topo_sort -----------------------------------------------------------------------------


def graphlib_topo() -> list[str]:
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for node in NODES:
        sorter.add(node)
    for source, target in DAG:
        sorter.add(target, source)
    return list(sorter.static_order())


def networkx_topo() -> list[str]:
    graph = nx.DiGraph()
    graph.add_nodes_from(NODES)
    graph.add_edges_from(DAG)
    return list(nx.topological_sort(graph))


def rustworkx_topo() -> list[str]:
    graph = rx.PyDiGraph(multigraph=True)
    indices = graph.add_nodes_from(NODES)
    index = dict(zip(NODES, indices, strict=True))
    graph.add_edges_from_no_data([(index[a], index[b]) for a, b in DAG])
    return [graph[i] for i in rx.topological_sort(graph)]


def test_topo_sort(benchmark: object, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="topo_sort",
        workload=TOPO_WORKLOAD,
        ours=lambda: registry_core.topo_sort(NODES, DAG),
        peer=graphlib_topo,
        check=lambda got: (
            got == reference_order() if implementation != "peer" else is_topological(got)
        ),
    )


@rust_vs_peer_only
@pytest.mark.parametrize("peer", [networkx_topo, rustworkx_topo], ids=["networkx", "rustworkx"])
def test_topo_sort_other_peers(benchmark: object, implementation: str, peer: Any) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="topo_sort",
        workload=TOPO_WORKLOAD,
        ours=lambda: registry_core.topo_sort(NODES, DAG),
        peer=peer,
        check=lambda got: (
            got == reference_order() if implementation != "peer" else is_topological(got)
        ),
        group_suffix=":" + peer.__name__.removesuffix("_topo"),
        peer_name=peer.__name__.removesuffix("_topo"),
    )


# -- detect_cycles -------------------------------------------------------------------------


def networkx_cycles() -> list[tuple[set[str], list[str]]]:
    graph = nx.DiGraph()
    graph.add_nodes_from(NODES)
    graph.add_edges_from(CYCLIC)
    found = []
    for component in nx.strongly_connected_components(graph):
        if len(component) > 1 or graph.has_edge(*(next(iter(component)),) * 2):
            edges = nx.find_cycle(graph.subgraph(component))
            found.append((component, [a for a, _ in edges] + [edges[0][0]]))
    return found


def rustworkx_cycles() -> list[set[str]]:
    graph = rx.PyDiGraph(multigraph=True)
    indices = graph.add_nodes_from(NODES)
    index = dict(zip(NODES, indices, strict=True))
    graph.add_edges_from_no_data([(index[a], index[b]) for a, b in CYCLIC])
    return [
        {graph[i] for i in component}
        for component in rx.strongly_connected_components(graph)
        if len(component) > 1 or graph.has_edge(component[0], component[0])
    ]


def test_detect_cycles(benchmark: object, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="detect_cycles",
        workload=CYCLES_WORKLOAD,
        ours=lambda: registry_core.detect_cycles(NODES, CYCLIC),
        peer=networkx_cycles,
        check=lambda got: (
            got == reference_cycles()
            if implementation != "peer"
            else same_components([c for c, _ in got]) and valid_witnesses(got)
        ),
    )


@rust_vs_peer_only
def test_detect_cycles_rustworkx(benchmark: object, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="detect_cycles",
        workload=CYCLES_WORKLOAD,
        ours=lambda: registry_core.detect_cycles(NODES, CYCLIC),
        peer=rustworkx_cycles,
        check=lambda got: (
            got == reference_cycles() if implementation != "peer" else same_components(got)
        ),
        group_suffix=":rustworkx",
        peer_name="rustworkx",
    )

"""RegistryCore parity: topo_sort and detect_cycles, including the cycle each one reports.

Graphs are drawn over a small pool of nodes so cycles, duplicate nodes and duplicate edges
are common. Bad inputs ride along: unknown nodes (KeyError), malformed edges and unhashable
nodes (TypeError), and nodes equal as dict keys but of different types (1, 1.0, True).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from pyagent import registry_core
from pyagent.parity import hostile
from pyagent.parity.compare import call_both, same_outcome
from pyagent.parity.registry import parity_property
from pyagent.registry_core import CycleError

small = st.integers(min_value=0, max_value=7)
odd_nodes = st.sampled_from([1.0, True, "a", None, ("t", 1), -0.0, 0])
node = st.one_of(small, small, small, odd_nodes)
node_lists = st.lists(node, max_size=10)

pair = st.tuples(node, node)
bad_edge = st.one_of(
    st.tuples(node, node, node),
    st.tuples(node),
    st.just("ab"),
    st.integers(),
    st.none(),
    st.tuples(node, st.just(["unhashable"])),
    st.tuples(st.integers(min_value=100, max_value=102), node),
)
edge = st.one_of(pair, pair, pair, pair.map(list), bad_edge)
edge_lists = st.one_of(
    st.lists(pair, max_size=20),
    st.lists(edge, max_size=12),
    st.lists(pair, max_size=20).map(tuple),
)
graphs = st.one_of(
    st.tuples(node_lists, edge_lists),
    # Edges drawn from the listed nodes only, so most graphs are valid and many are cyclic.
    st.lists(small, min_size=1, max_size=10, unique=True).flatmap(
        lambda ns: st.tuples(
            st.just(ns), st.lists(st.tuples(st.sampled_from(ns), st.sampled_from(ns)), max_size=25)
        )
    ),
)


def _agree(function: Callable[..., Any], nodes: object, edges: object) -> Any:
    """Both backends agree on the value or error class, and on the error message.

    The message holds a CycleError's cycle and a KeyError's edge and node.
    """
    rust, python = call_both(function, nodes, edges)
    same_outcome(rust, python)
    assert rust.message == python.message, (rust.describe(), python.describe())
    return rust


@parity_property("topo_sort")
@given(graph=graphs)
def topo_sort_agrees(graph: tuple[list[object], list[object]]) -> None:
    """Same order, or the same error class with the same cycle as evidence."""
    nodes, edges = graph
    outcome = _agree(registry_core.topo_sort, nodes, edges)
    if outcome.error is CycleError:
        assert "nodes are in a cycle" in outcome.message


@parity_property("topo_sort")
@given(nodes=st.one_of(st.integers(), st.lists(st.just([1]), min_size=1, max_size=2)))
def topo_sort_rejects_bad_nodes(nodes: object) -> None:
    """Non-iterable and unhashable nodes: the same TypeError from both."""
    outcome = _agree(registry_core.topo_sort, nodes, [])
    assert outcome.error is TypeError


@parity_property("topo_sort")
@given(nodes=hostile.for_kind("any"), edges=hostile.mix(st.just([]), "sequence"))
def topo_sort_hostile(nodes: object, edges: object) -> None:
    """Hostile nodes and edges: the same order or the same error class."""
    rust, python = call_both(registry_core.topo_sort, nodes, edges)
    same_outcome(rust, python)


@parity_property("detect_cycles")
@given(graph=graphs)
# An edge of three known nodes and one of one: only the length check makes them TypeErrors.
@example(graph=([1, 2], [(1, 2), (2, 1, 2)])).via("edge of length 3")
@example(graph=([1], [[1]])).via("edge of length 1")
def detect_cycles_agrees(graph: tuple[list[object], list[object]]) -> None:
    """Same components in the same order with the same witnesses, or the same error."""
    nodes, edges = graph
    outcome = _agree(registry_core.detect_cycles, nodes, edges)
    if outcome.error is None:
        for component, cycle in outcome.value:
            assert cycle[0] == cycle[-1] == component[0]


@parity_property("detect_cycles")
@given(nodes=st.one_of(st.integers(), st.lists(st.just([1]), min_size=1, max_size=2)))
def detect_cycles_rejects_bad_nodes(nodes: object) -> None:
    """Non-iterable and unhashable nodes: the same TypeError from both."""
    outcome = _agree(registry_core.detect_cycles, nodes, [])
    assert outcome.error is TypeError


@parity_property("detect_cycles")
@given(nodes=hostile.for_kind("any"), edges=hostile.mix(st.just([]), "sequence"))
def detect_cycles_hostile(nodes: object, edges: object) -> None:
    """Hostile nodes and edges: the same components or the same error class."""
    rust, python = call_both(registry_core.detect_cycles, nodes, edges)
    same_outcome(rust, python)

"""RegistryCore: dependency order and cycle reports for PyAgent's component registry.

Hot paths ``topo_sort`` and ``detect_cycles`` (seed: Common/Registry). Both take the graph as
``nodes`` (any iterable of hashable values) and ``edges`` (an iterable of ``(source, target)``
pairs, each a tuple or list of length two, meaning *source comes before target*: a
dependency points at its dependant). The rules, the same on both backends:

* A node listed twice counts once, at its first position. Its position in ``nodes`` is the
  tie-break everywhere, so results never depend on hashing or set order.
* Nodes are matched like dict keys (``1``, ``1.0`` and ``True`` are one node); the node
  objects returned are the ones from ``nodes``.
* An edge naming a node absent from ``nodes`` is a KeyError (never silently dropped); an edge
  that is not a pair is a TypeError; an unhashable node is the TypeError a dict raises.
  ``nodes`` is read first, then ``edges`` in order, so the first bad edge is the one reported.
* Both algorithms are iterative: a path of a million nodes needs no recursion.

The native path maps nodes to indices with a Python dict (so any hashable works, exactly as
here), then runs the graph algorithm on the indices with the GIL released.
"""

from __future__ import annotations

import graphlib
import heapq
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

from pyagent._builtin import stored

try:
    import rust_core as rc
except ImportError:
    rc = None  # type: ignore[assignment, unused-ignore]

__all__ = ["CycleError", "RegistryCore", "detect_cycles", "topo_sort"]

Node = Hashable
Edge = tuple[Node, Node] | Sequence[Node]

CYCLE_MESSAGE = "nodes are in a cycle"


class CycleError(graphlib.CycleError):
    """The graph has a cycle, so it has no topological order.

    A :class:`graphlib.CycleError`, so code written for ``graphlib`` catches it. As there,
    ``args`` is ``(message, cycle)``; ``cycle`` (also :attr:`cycle`) lists the nodes of one
    cycle with its first node repeated at the end, each node an immediate predecessor of the
    next. Both backends raise this very class.
    """

    @property
    def cycle(self) -> list[Node]:
        """The nodes of one cycle, first node repeated last (``args[1]``)."""
        return list(self.args[1]) if len(self.args) > 1 else []


def _index_graph(
    nodes: Iterable[Node], edges: Iterable[Edge]
) -> tuple[list[Node], list[list[int]], list[tuple[int, int]]]:
    """(distinct nodes in first-seen order, successor lists in edge order, edges as indices)."""
    index: dict[Node, int] = {}
    ordered: list[Node] = []
    for node in stored(nodes):  # a list/tuple subclass by its stored items
        if index.get(node) is None:
            index[node] = len(ordered)
            ordered.append(node)
    successors: list[list[int]] = [[] for _ in ordered]
    pairs: list[tuple[int, int]] = []
    for position, edge in enumerate(stored(edges)):
        edge = stored(edge)
        if not isinstance(edge, (tuple, list)) or len(edge) != 2:
            raise TypeError(
                f"edge {position} must be a (source, target) tuple or list of length 2, "
                f"not {type(edge).__name__}"
            )
        ends = []
        for end in edge:
            found = index.get(end)
            if found is None:
                raise KeyError(f"edge {position} names unknown node {end!r}")
            ends.append(found)
        source, target = ends
        successors[source].append(target)
        pairs.append((source, target))
    return ordered, successors, pairs


def _cycle_among(remaining: list[bool], pairs: list[tuple[int, int]]) -> list[int]:
    """One cycle among the ``remaining`` nodes, each of which has a remaining predecessor.

    Walks back from the earliest remaining node, always to its first remaining predecessor
    (in edge order), until a node repeats; the repeated stretch is a cycle. It is returned in
    edge direction, rotated to start at its earliest node, that node repeated at the end.
    """
    predecessors: dict[int, list[int]] = {}
    for source, target in pairs:
        if remaining[source] and remaining[target]:
            predecessors.setdefault(target, []).append(source)
    start = remaining.index(True)
    walk = [start]
    seen = {start: 0}
    while True:
        step = predecessors[walk[-1]][0]
        if step in seen:
            back = walk[seen[step] :]
            break
        seen[step] = len(walk)
        walk.append(step)
    # `back` runs against the edges (each entry's predecessor follows it); reverse it.
    cycle = back[:1] + back[:0:-1]
    first = cycle.index(min(cycle))
    cycle = cycle[first:] + cycle[:first]
    return [*cycle, cycle[0]]


def topo_sort(nodes: Iterable[Node], edges: Iterable[Edge]) -> list[Node]:
    """The nodes in dependency order: every edge's source before its target.

    Kahn's algorithm; among the nodes whose predecessors are all placed, the one listed
    earliest in ``nodes`` goes next. So the order is fully determined by the input, and a
    ``nodes`` list that is already in dependency order comes back unchanged.

    Raises :class:`CycleError` (a ``graphlib.CycleError``) carrying one cycle if there is
    no such order, KeyError for an edge naming an unknown node, TypeError for a malformed
    edge or an unhashable node.
    """
    if rc is not None and hasattr(rc, "topo_sort"):
        return rc.topo_sort(nodes, edges)
    ordered, successors, pairs = _index_graph(nodes, edges)
    indegree = [0] * len(ordered)
    for _, target in pairs:
        indegree[target] += 1
    ready = [i for i, degree in enumerate(indegree) if degree == 0]  # sorted: a valid heap
    placed: list[Node] = []
    while ready:
        node = heapq.heappop(ready)
        placed.append(ordered[node])
        for target in successors[node]:
            indegree[target] -= 1
            if indegree[target] == 0:
                heapq.heappush(ready, target)
    if len(placed) < len(ordered):
        cycle = _cycle_among([degree > 0 for degree in indegree], pairs)
        raise CycleError(CYCLE_MESSAGE, [ordered[i] for i in cycle])
    return placed


def _strong_components(successors: list[list[int]]) -> list[list[int]]:
    """Strongly connected components (Tarjan's algorithm, iterative, no recursion)."""
    count = len(successors)
    unvisited = -1
    number = [unvisited] * count
    lowlink = [0] * count
    on_stack = [False] * count
    stack: list[int] = []
    components: list[list[int]] = []
    counter = 0
    for root in range(count):
        if number[root] != unvisited:
            continue
        # Each frame: (node, position of the next successor to look at).
        frames = [(root, 0)]
        number[root] = lowlink[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        while frames:
            node, position = frames[-1]
            children = successors[node]
            if position < len(children):
                frames[-1] = (node, position + 1)
                child = children[position]
                if number[child] == unvisited:
                    number[child] = lowlink[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack[child] = True
                    frames.append((child, 0))
                elif on_stack[child] and number[child] < lowlink[node]:
                    lowlink[node] = number[child]
                continue
            frames.pop()
            if frames:
                parent = frames[-1][0]
                if lowlink[node] < lowlink[parent]:
                    lowlink[parent] = lowlink[node]
            if lowlink[node] == number[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack[member] = False
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
    return components


def _witness(start: int, members: set[int], successors: list[list[int]]) -> list[int]:
    """The shortest cycle through ``start`` inside its component (breadth-first, edge order)."""
    parent = {start: start}
    queue = [start]
    for node in queue:  # the list grows while it is walked: a FIFO queue
        for child in successors[node]:
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return [*path[::-1], start]
            if child in members and child not in parent:
                parent[child] = node
                queue.append(child)
    raise AssertionError("a cyclic component always has a cycle through each member")


def detect_cycles(
    nodes: Iterable[Node], edges: Iterable[Edge]
) -> list[tuple[list[Node], list[Node]]]:
    """The strongly connected components that contain a cycle, each with one witness cycle.

    Returns ``[(component, cycle), ...]``: a component of two or more nodes, or a single node
    with an edge to itself. ``component`` lists its nodes in ``nodes`` order; ``cycle`` is the
    shortest cycle through the component's earliest node (found breadth-first, successors in
    edge order), that node first and repeated last, as in :class:`CycleError`. Components
    are ordered by their earliest node. An acyclic graph gives ``[]``.

    Raises KeyError for an edge naming an unknown node, TypeError for a malformed edge or an
    unhashable node.
    """
    if rc is not None and hasattr(rc, "detect_cycles"):
        return rc.detect_cycles(nodes, edges)
    ordered, successors, pairs = _index_graph(nodes, edges)
    looped = {source for source, target in pairs if source == target}
    found = []
    for component in _strong_components(successors):
        if len(component) > 1 or component[0] in looped:
            component.sort()
            found.append(component)
    found.sort(key=lambda component: component[0])
    return [
        (
            [ordered[i] for i in component],
            [ordered[i] for i in _witness(component[0], set(component), successors)],
        )
        for component in found
    ]


@dataclass
class RegistryCore:
    """Named components and what each depends on, loaded in dependency order.

    ``register(name, depends_on)`` records a component; :meth:`load_order` lists every
    component after all of its dependencies (registration order breaks ties) and
    :meth:`cycles` reports dependency loops instead of failing on the first.
    """

    _depends_on: dict[Hashable, tuple[Hashable, ...]] = field(default_factory=dict, repr=False)

    def register(self, name: Hashable, depends_on: Iterable[Hashable] = ()) -> None:
        """Records ``name`` and its dependencies (re-registering replaces them)."""
        self._depends_on[name] = tuple(depends_on)

    def _edges(self) -> list[tuple[Hashable, Hashable]]:
        return [(dep, name) for name, deps in self._depends_on.items() for dep in deps]

    def load_order(self) -> list[Hashable]:
        """Every component after its dependencies; CycleError or KeyError (unregistered)."""
        return topo_sort(list(self._depends_on), self._edges())

    def cycles(self) -> list[tuple[list[Hashable], list[Hashable]]]:
        """Dependency loops as :func:`detect_cycles` reports them; empty when there are none."""
        return detect_cycles(list(self._depends_on), self._edges())

    def __len__(self) -> int:
        return len(self._depends_on)

    def __contains__(self, name: object) -> bool:
        return name in self._depends_on

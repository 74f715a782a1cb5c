"""PriorityCore.calculate_weights: weighted PageRank over a large agent dependency graph.

Workload (the issue's): 100,000 agents (str names), 1,000,000 weighted dependency edges given
as a list of (source, target) tuples of those names plus a float64 weight array; sources
uniform, targets skewed towards a few hubs (``n * u**3``), as dependency graphs are; default
parameters (alpha 0.85, tol 1e-6, max_iter 100). Timed: the whole call, from the Python
lists to the ``{agent: weight}`` dict.

Peer: ``networkx.pagerank`` (networkx 3.6 always runs its scipy variant) on a prebuilt
``DiGraph`` whose parallel edges are summed (what calculate_weights does with them); only
the pagerank call is timed, not building the graph. Every result, ours and the peer's, is
checked against the peer's answer within 1e-9 (the issue's bound).
Extra peer: ``rustworkx.pagerank`` on a prebuilt ``PyDiGraph``. It stops on its own
convergence test, so its answer is only checked to be within an L1 distance of
``N * tol`` = 0.1 of networkx's (the scale of the stopping test both use).
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np
import rustworkx as rx

from bench.conftest import compare, rust_vs_peer_only, scaled
from pyagent import priority_core

AGENTS_N = scaled(100_000, 10_000)
EDGES_N = scaled(1_000_000, 100_000)
rng = np.random.default_rng(20261124)
SOURCES = rng.integers(0, AGENTS_N, EDGES_N)
TARGETS = (AGENTS_N * rng.random(EDGES_N) ** 3).astype(np.int64)
WEIGHTS = rng.random(EDGES_N)
AGENTS = [f"agent-{i}" for i in range(AGENTS_N)]
EDGES = [(AGENTS[a], AGENTS[b]) for a, b in zip(SOURCES.tolist(), TARGETS.tolist(), strict=True)]
WORKLOAD = f"{AGENTS_N:,} agents, {EDGES_N:,} weighted edges (hub-skewed targets)"


def _summed() -> dict[tuple[int, int], float]:
    merged: dict[tuple[int, int], float] = {}
    for a, b, w in zip(SOURCES.tolist(), TARGETS.tolist(), WEIGHTS.tolist(), strict=True):
        merged[(a, b)] = merged.get((a, b), 0.0) + w
    return merged


_MERGED = _summed()
NX_GRAPH = nx.DiGraph()
NX_GRAPH.add_nodes_from(range(AGENTS_N))
NX_GRAPH.add_weighted_edges_from((a, b, w) for (a, b), w in _MERGED.items())
RX_GRAPH = rx.PyDiGraph()
RX_GRAPH.add_nodes_from(range(AGENTS_N))
RX_GRAPH.extend_from_weighted_edge_list([(a, b, w) for (a, b), w in _MERGED.items()])
del _MERGED


def networkx_pagerank() -> dict[int, float]:
    return dict(nx.pagerank(NX_GRAPH))


def rustworkx_pagerank() -> Any:
    return rx.pagerank(RX_GRAPH, weight_fn=float)


EXPECTED = np.array([v for _, v in sorted(networkx_pagerank().items())])


def as_array(got: Any) -> np.ndarray:
    if isinstance(got, dict) and got and isinstance(next(iter(got)), str):
        return np.fromiter(got.values(), np.float64, len(got))  # agents in node order
    return np.array([got[i] for i in range(AGENTS_N)])


def same_weights(got: Any) -> bool:
    values = as_array(got)
    return values.shape == EXPECTED.shape and bool(np.abs(values - EXPECTED).max() <= 1e-9)


def near_weights(got: Any) -> bool:
    values = as_array(got)
    return values.shape == EXPECTED.shape and bool(np.abs(values - EXPECTED).sum() <= 0.1)


def ours() -> dict[Any, float]:
    return priority_core.calculate_weights(AGENTS, EDGES, WEIGHTS)


def test_calculate_weights(benchmark: object, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="calculate_weights",
        workload=WORKLOAD,
        ours=ours,
        peer=networkx_pagerank,
        check=same_weights,
    )


@rust_vs_peer_only
def test_calculate_weights_vs_rustworkx(benchmark: object, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="calculate_weights",
        workload=WORKLOAD,
        ours=ours,
        peer=rustworkx_pagerank,
        check=lambda got: same_weights(got) if implementation == "rust" else near_weights(got),
        group_suffix=":rustworkx",
        peer_name="rustworkx",
    )

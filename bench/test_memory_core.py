"""MemoryCore.search_vector: exact top-10 over 100,000 x 384 float32 vectors.

Workload: 100,000 random normal vectors of dimension 384, top 10, metric "dot", for one query
and for a batch of 64 queries. The Python reference is numpy (matrix product, then an exact
tie-breaking selection). Peer: numpy's best form, ``M @ q`` (or ``Q @ M.T``), then
``argpartition`` and a sort of the k candidates. Extra peer: faiss-cpu ``IndexFlatIP``
(exact inner-product search; the vectors are added outside the timing). Every result is
checked against the reference's indices, and its scores within 1e-4 relative.
"""

from __future__ import annotations

from typing import Any

import faiss  # type: ignore[import-untyped]
import numpy as np
import pytest

from bench.conftest import compare, rust_vs_peer_only, scaled
from pyagent.backend import forced_python
from pyagent.memory_core import search_vector

N, DIM, TOP_K = scaled(100_000, 10_000), 384, 10
rng = np.random.default_rng(384)
MATRIX = rng.standard_normal((N, DIM), dtype=np.float32)
QUERIES = {1: rng.standard_normal(DIM, dtype=np.float32)}
QUERIES[64] = rng.standard_normal((64, DIM), dtype=np.float32)
with forced_python():
    EXPECTED = {q: search_vector(QUERIES[q], MATRIX, TOP_K, "dot") for q in QUERIES}


def numpy_top_k(queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = MATRIX @ queries if queries.ndim == 1 else queries @ MATRIX.T
    idx = np.argpartition(-scores, TOP_K - 1, axis=-1)[..., :TOP_K]
    top = np.take_along_axis(scores, idx, axis=-1)
    order = np.argsort(-top, axis=-1, kind="stable")
    return np.take_along_axis(idx, order, axis=-1), np.take_along_axis(top, order, axis=-1)


def _ok(got: tuple[Any, Any], batch: int) -> bool:
    idx, scores = got
    want_idx, want_scores = EXPECTED[batch]
    idx = np.asarray(idx).reshape(want_idx.shape)
    scores = np.asarray(scores).reshape(want_scores.shape)
    return bool(np.array_equal(idx, want_idx)) and bool(
        np.allclose(scores, want_scores, rtol=1e-4, atol=1e-4)
    )


@pytest.mark.parametrize("batch", [1, 64])
def test_search_vector(benchmark: object, implementation: str, batch: int) -> None:
    queries = QUERIES[batch]
    compare(
        benchmark,
        implementation,
        hot_path="search_vector_rust",
        workload=f"{N:,} x {DIM} float32, top {TOP_K}, dot, batch of {batch}",
        ours=lambda: search_vector(queries, MATRIX, TOP_K, "dot"),
        peer=lambda: numpy_top_k(queries),
        check=lambda got: _ok(got, batch),
        group_suffix="" if batch == 1 else "-batch64",
    )


@pytest.fixture(scope="module")
def flat_ip() -> Any:
    index = faiss.IndexFlatIP(DIM)
    index.add(MATRIX)
    return index


@rust_vs_peer_only
@pytest.mark.parametrize("batch", [1, 64])
def test_search_vector_vs_faiss(
    benchmark: object, implementation: str, batch: int, flat_ip: Any
) -> None:
    queries = QUERIES[batch]
    batch2d = queries.reshape(-1, DIM)

    def faiss_search() -> tuple[np.ndarray, np.ndarray]:
        scores, idx = flat_ip.search(batch2d, TOP_K)
        return idx, scores

    compare(
        benchmark,
        implementation,
        hot_path="search_vector_rust",
        workload=f"{N:,} x {DIM} float32, top {TOP_K}, inner product, {batch} queries",
        ours=lambda: search_vector(queries, MATRIX, TOP_K, "dot"),
        peer=faiss_search,
        check=lambda got: _ok(got, batch),
        group_suffix=f"-faiss-q{batch}",
        peer_name="faiss-cpu IndexFlatIP",
    )

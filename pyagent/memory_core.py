"""MemoryCore: exact vector similarity search for agent long-term memory (Common/Memory).

:func:`search_vector` is the hot path: the ``top_k`` rows of ``matrix[n, d]`` most similar to
a query ``[d]`` (or to each query of a batch ``[q, d]``), exactly (no index, no
approximation). Metrics:

* ``"cosine"`` -- ``q . m / (|q| |m|)``, defined as 0 when either vector is zero; highest first;
* ``"dot"`` -- ``q . m``; highest first;
* ``"l2"`` -- the squared Euclidean distance ``|q|^2 + |m|^2 - 2 q . m`` (clamped at 0, as
  faiss's IndexFlatL2 reports it); lowest first.

Ties are broken by the lower row index, so the answer is deterministic. The result is
``(indices, scores)``: int64 and float32 arrays of shape ``[k]`` for one query, ``[q, k]`` for
a batch, with ``k = min(top_k, n)``. Queries and matrix must be finite float32 arrays;
``top_k`` an int >= 1; a score that overflows float32 into NaN is a ValueError.

This module is the reference and it is numpy: one matrix product (BLAS, float32), then an
exact selection (``numpy.partition`` for the k-th best score, then a lexicographic sort of
the candidates by score and index). ``rust_core`` computes the same scores in one pass over
the matrix with per-thread bounded heaps; scores differ from BLAS by float32 summation-order
rounding only (see ``pyagent/parity/properties/memory.py``).

:class:`MemoryCore` keeps an in-memory store of vectors with ids on top of it.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pyagent._tensor import F32Array, f32_array, positive_int, require_finite_f32

try:
    import rust_core as rc
except ImportError:
    rc = None  # type: ignore[assignment, unused-ignore]

__all__ = ["METRICS", "MemoryCore", "search_vector"]

#: The supported metrics; the first two rank highest first, ``l2`` lowest first.
METRICS = ("cosine", "dot", "l2")


def _metric(metric: object) -> str:
    if not isinstance(metric, str):
        raise TypeError(f"metric must be a str, not {type(metric).__name__}")
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    return metric


def _scores(queries: F32Array, matrix: F32Array, metric: str) -> F32Array:
    """The ``[q, n]`` float32 scores of every query against every row.

    Overflow to an infinity is a legitimate (if useless) score; a NaN is caught by the caller.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return _raw_scores(queries, matrix, metric)


def _raw_scores(queries: F32Array, matrix: F32Array, metric: str) -> F32Array:
    dots: F32Array = np.matmul(queries, matrix.T)
    if metric == "dot":
        return dots
    q_sq = np.einsum("ij,ij->i", queries, queries)
    m_sq = np.einsum("ij,ij->i", matrix, matrix)
    if metric == "l2":
        return np.maximum((q_sq[:, None] + m_sq[None, :]) - np.float32(2) * dots, np.float32(0))
    denom = np.sqrt(q_sq)[:, None] * np.sqrt(m_sq)[None, :]
    safe = np.where(denom > 0, denom, np.float32(1))
    return np.where(denom > 0, dots / safe, np.float32(0)).astype(np.float32, copy=False)


def _top_k(key: F32Array, k: int) -> NDArray[np.int64]:
    """Indices of the ``k`` largest ``key`` values, best first, ties by lower index."""
    n = key.shape[0]
    if k < n:
        kth = np.partition(key, n - k)[n - k]
        candidates = np.flatnonzero(key >= kth)
    else:
        candidates = np.arange(n)
    order = np.lexsort((candidates, -key[candidates]))[:k]
    return candidates[order].astype(np.int64, copy=False)


def search_vector(
    query: F32Array, matrix: F32Array, top_k: int, metric: str = "cosine"
) -> tuple[NDArray[np.int64], F32Array]:
    """The ``top_k`` best rows of ``matrix`` for ``query`` (``[d]`` or ``[q, d]``).

    Returns ``(indices, scores)`` best first; see the module docstring for the metrics.
    """
    if rc is not None and hasattr(rc, "search_vector_rust"):
        return rc.search_vector_rust(query, matrix, top_k, metric)
    query = f32_array(query, "query", (1, 2))
    matrix = f32_array(matrix, "matrix", (2,))
    k = positive_int(top_k, "top_k")
    metric = _metric(metric)
    if query.shape[-1] != matrix.shape[1]:
        raise ValueError(
            f"query has dimension {query.shape[-1]}, matrix rows have {matrix.shape[1]}"
        )
    require_finite_f32(query, "query")
    require_finite_f32(matrix, "matrix")
    single = query.ndim == 1
    queries = query[None, :] if single else query
    scores = _scores(queries, matrix, metric)
    if np.isnan(scores).any():
        raise ValueError("a score overflowed float32 (NaN); rescale the vectors")
    k = min(k, matrix.shape[0])
    indices = np.empty((queries.shape[0], k), dtype=np.int64)
    for row, row_scores in enumerate(scores):
        key = -row_scores if metric == "l2" else row_scores
        indices[row] = _top_k(key, k)
    best = np.take_along_axis(scores, indices, axis=1).astype(np.float32, copy=False)
    if single:
        return indices[0], best[0]
    return indices, best


class MemoryCore:
    """An in-memory vector store: vectors of one dimension with hashable ids, searched exactly.

    Rows are kept in insertion order in one growing float32 matrix (capacity doubles), so a
    search is one :func:`search_vector` call over a contiguous view, and ties go to the
    earlier-added vector. Removing compacts the matrix (order preserved).
    """

    def __init__(self, dim: int, metric: str = "cosine") -> None:
        self.dim = positive_int(dim, "dim")
        self.metric = _metric(metric)
        self._matrix: F32Array = np.empty((16, self.dim), dtype=np.float32)
        self._ids: list[Hashable] = []
        self._rows: dict[Hashable, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, item: object) -> bool:
        try:
            return item in self._rows
        except TypeError:  # unhashable
            return False

    @property
    def vectors(self) -> F32Array:
        """A read-only view of the stored vectors, in insertion order."""
        view = self._matrix[: len(self._ids)]
        view.flags.writeable = False
        return view

    @property
    def ids(self) -> list[Hashable]:
        """The stored ids, in insertion order."""
        return list(self._ids)

    def add(self, ids: Iterable[Hashable], vectors: F32Array) -> None:
        """Stores ``vectors[m, dim]`` (finite float32) under ``ids`` (m new, distinct ids).

        ValueError for a duplicate id, a shape mismatch or non-finite values; nothing is
        stored then.
        """
        new_ids = list(ids)
        vectors = f32_array(vectors, "vectors", (2,))
        if vectors.shape != (len(new_ids), self.dim):
            raise ValueError(
                f"vectors must have shape ({len(new_ids)}, {self.dim}), got {vectors.shape}"
            )
        require_finite_f32(vectors, "vectors")
        if len(set(new_ids)) != len(new_ids):
            raise ValueError("ids must be distinct")
        for item in new_ids:
            if item in self._rows:
                raise ValueError(f"id {item!r} is already stored")
        size = len(self._ids)
        needed = size + len(new_ids)
        if needed > self._matrix.shape[0]:
            grown = np.empty((max(needed, 2 * self._matrix.shape[0]), self.dim), np.float32)
            grown[:size] = self._matrix[:size]
            self._matrix = grown
        self._matrix[size:needed] = vectors
        for offset, item in enumerate(new_ids):
            self._rows[item] = size + offset
        self._ids.extend(new_ids)

    def remove(self, ids: Iterable[Hashable]) -> None:
        """Deletes the vectors stored under ``ids``; KeyError (nothing removed) if one is not."""
        gone = list(dict.fromkeys(ids))
        for item in gone:
            if item not in self._rows:
                raise KeyError(item)
        if not gone:
            return
        keep = np.ones(len(self._ids), dtype=bool)
        keep[[self._rows[item] for item in gone]] = False
        kept = np.flatnonzero(keep)
        self._matrix[: kept.size] = self._matrix[kept]
        self._ids = [self._ids[i] for i in kept.tolist()]
        self._rows = {item: row for row, item in enumerate(self._ids)}

    def search(self, query: F32Array, top_k: int) -> Any:
        """The ``top_k`` nearest stored vectors as ``[(id, score), ...]`` best first.

        A batch of queries ``[q, dim]`` gives one such list per query.
        """
        k = positive_int(top_k, "top_k")
        indices, scores = search_vector(query, self.vectors, k, self.metric)
        if indices.ndim == 1:
            pairs = zip(indices.tolist(), scores.tolist(), strict=True)
            return [(self._ids[i], s) for i, s in pairs]
        return [
            [(self._ids[i], s) for i, s in zip(row_i, row_s, strict=True)]
            for row_i, row_s in zip(indices.tolist(), scores.tolist(), strict=True)
        ]

"""MemoryCore parity: search_vector (exact top-k, cosine / dot / squared L2).

Tolerance on scores, per row ``m`` and query ``q`` of dimension ``d``: each backend sums the
``d`` products in float32 in its own order (BLAS for numpy, 8 FMA lanes and a fixed
horizontal sum for rust_core), so each dot product is within ``d * eps * sum |q_j m_j|`` of
the exact one (Higham 3.1) and the two within twice that; ``+ 8 eps`` of slack covers the
remaining roundings (norms, square roots, the division, the L2 combination):

* dot: ``(2 d + 8) * eps * sum_j |q_j m_j|``;
* cosine: ``(2 d + 16) * eps`` absolute (``sum |q_j m_j| <= |q| |m|`` by Cauchy-Schwarz, and
  the two norms add ``d`` roundings each);
* l2: ``(2 d + 8) * eps * (|q|^2 + |m|^2)`` (``|q|^2 + |m|^2 - 2 q.m`` cancels, so the error
  is relative to the squared norms, not to the distance).

The k-th best scores of the two backends then agree position by position within the
tolerance, and each returned index's score is within it of its exact (float64) score. Indices
must be equal wherever the rows' exact scores are separated by more than twice the
tolerance; where they are not, either order is a correct answer. With small integer vectors
(half of the examples), dot and l2 scores are exact in float32 for both backends, so there the
indices, tie-breaking by lower index included, must be identical.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pyagent import memory_core
from pyagent.parity import hostile
from pyagent.parity.compare import call_both
from pyagent.parity.properties.strategies_tensor import EPS32, F32, corrupt, same_error
from pyagent.parity.registry import parity_property

integers32 = st.integers(-4, 4).map(float)
#: No magnitudes below 1e-3 (but 0): squared norms of tiny vectors underflow float32 to 0, where
#: both backends define the cosine as 0 and float64 does not; that is not a parity question.
floats32 = st.floats(-10, 10, width=32, allow_subnormal=False).filter(
    lambda x: x == 0 or abs(x) >= 1e-3
)


def _exact(queries: np.ndarray, matrix: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Float64 scores ``[q, n]`` (higher is better for the key) and the tolerance per score."""
    q, m = queries.astype(np.float64), matrix.astype(np.float64)
    d = m.shape[1]
    dots = q @ m.T
    if metric == "dot":
        return dots, (2 * d + 8) * EPS32 * (np.abs(q) @ np.abs(m).T) + 1e-30
    q_sq, m_sq = (q * q).sum(axis=1), (m * m).sum(axis=1)
    if metric == "l2":
        scores = np.maximum(q_sq[:, None] + m_sq[None, :] - 2 * dots, 0)
        return scores, (2 * d + 8) * EPS32 * (q_sq[:, None] + m_sq[None, :]) + 1e-30
    denom = np.sqrt(q_sq)[:, None] * np.sqrt(m_sq)[None, :]
    scores = np.where(denom > 0, dots / np.where(denom > 0, denom, 1), 0)
    return scores, np.full_like(scores, (2 * d + 16) * EPS32)


@st.composite
def search_cases(draw: st.DrawFn) -> tuple[tuple[Any, ...], bool]:
    """Queries (one or a batch), a matrix with repeated rows, top_k, metric; or one bad."""
    n, d = draw(st.integers(0, 40)), draw(st.integers(0, 10))
    integer = draw(st.booleans())
    elements = integers32 if integer else floats32
    distinct = draw(hnp.arrays(F32, (max(1, n // 3), d), elements=elements))
    rows = draw(st.lists(st.integers(0, distinct.shape[0] - 1), min_size=n, max_size=n))
    matrix = distinct[rows] if n else np.zeros((0, d), F32)
    if draw(st.booleans()):
        matrix = np.asfortranarray(matrix)
    batch = draw(st.one_of(st.none(), st.integers(1, 4)))
    shape = (d,) if batch is None else (batch, d)
    query = draw(hnp.arrays(F32, shape, elements=elements))
    top_k: Any = draw(st.integers(1, n + 3))
    metric: Any = draw(st.sampled_from(["cosine", "dot", "l2"]))
    args: list[Any] = [query, matrix, top_k, metric]
    which = draw(st.integers(0, 7))
    if which == 0:
        args[0] = draw(corrupt(query))
    elif which == 1:
        args[1] = draw(corrupt(matrix))
    elif which == 2:
        args[2] = draw(st.sampled_from([0, -1, 2.5, True, None, "3", np.int64(2)]))
    elif which == 3:
        args[3] = draw(st.sampled_from(["cos", "L2", "", None, 2, "l2\udcff"]))
    elif which == 5:
        # A hostile value for one argument, of that argument's kind.
        slot = draw(st.integers(0, 3))
        args[slot] = draw(hostile.for_kind(("buffer", "buffer", "int", "string")[slot]))
    elif which == 4 and d:
        args[0] = query[..., :-1]
    return tuple(args), integer


def _surrogate_metric_case() -> tuple[tuple[Any, ...], bool]:
    return (np.zeros(7, F32), np.zeros((3, 7), F32), 1, "\ud800"), False


@parity_property("search_vector_rust")
@given(case=search_cases())
# A metric with a lone surrogate names no metric: ValueError, not UnicodeEncodeError (CI).
@example(case=_surrogate_metric_case())
def search_vector_agrees(case: tuple[tuple[Any, ...], bool]) -> None:
    """Same top-k (indices and scores, within the stated tolerance) or same error class."""
    args, integer = case
    rust, python = call_both(memory_core.search_vector, *args)
    if same_error(rust, python):
        return
    query, matrix, _, metric = args
    (ri, rs), (pi, ps) = rust.value, python.value
    assert ri.dtype == pi.dtype == np.int64 and rs.dtype == ps.dtype == F32
    assert ri.shape == pi.shape == rs.shape == ps.shape
    queries = query[None] if query.ndim == 1 else query
    exact, tol = _exact(queries, matrix, metric)
    exact_ties = integer and metric != "cosine"
    for row, (r_idx, p_idx, r_sc, p_sc) in enumerate(
        zip(
            ri.reshape(len(queries), -1),
            pi.reshape(len(queries), -1),
            rs.reshape(len(queries), -1),
            ps.reshape(len(queries), -1),
            strict=True,
        )
    ):
        assert len(set(r_idx.tolist())) == len(r_idx), r_idx
        if exact_ties:
            assert r_idx.tolist() == p_idx.tolist(), (r_idx, p_idx)
            assert r_sc.tolist() == p_sc.tolist(), (r_sc, p_sc)
            continue
        limit = float(tol[row].max()) if tol.shape[1] else 0.0
        assert np.all(np.abs(r_sc.astype(np.float64) - p_sc) <= limit), (r_sc, p_sc, limit)
        assert np.all(np.abs(r_sc - exact[row, r_idx]) <= tol[row, r_idx]), (r_sc, exact[row])
        for a, b in zip(r_idx.tolist(), p_idx.tolist(), strict=True):
            if a != b:
                assert abs(exact[row, a] - exact[row, b]) <= 2 * limit, (r_idx, p_idx)

"""MemoryCore: exact top-k vector search and the in-memory store, on the selected backend."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pyagent.memory_core import MemoryCore, search_vector

F32 = np.float32


def brute_force(q: np.ndarray, m: np.ndarray, k: int, metric: str) -> list[int]:
    q64, m64 = q.astype(np.float64), m.astype(np.float64)
    if metric == "dot":
        key = m64 @ q64
    elif metric == "l2":
        key = -((m64 - q64) ** 2).sum(axis=1)
    else:
        norms = np.linalg.norm(m64, axis=1) * np.linalg.norm(q64)
        key = np.where(norms > 0, (m64 @ q64) / np.where(norms > 0, norms, 1), 0)
    return sorted(range(len(m)), key=lambda i: (-key[i], i))[:k]


def test_small_example_for_each_metric() -> None:
    m = np.array([[1, 0], [0, 2], [3, 0], [0, 0], [-1, -1]], dtype=F32)
    q = np.array([1, 0], dtype=F32)
    idx, scores = search_vector(q, m, 3, "dot")
    assert idx.dtype == np.int64 and scores.dtype == F32
    assert idx.tolist() == [2, 0, 1] and scores.tolist() == [3, 1, 0]
    idx, scores = search_vector(q, m, 3, "cosine")
    assert idx.tolist() == [0, 2, 1] and scores.tolist() == [1, 1, 0]  # ties: lower index
    idx, scores = search_vector(q, m, 2, "l2")
    assert idx.tolist() == [0, 3] and scores.tolist() == [0, 1]


def test_zero_vectors_have_cosine_zero() -> None:
    m = np.array([[0, 0], [1, 1]], dtype=F32)
    idx, scores = search_vector(np.zeros(2, F32), m, 2)
    assert idx.tolist() == [0, 1] and scores.tolist() == [0, 0]
    idx, scores = search_vector(np.array([-1, -1], F32), m, 2)
    assert idx.tolist() == [0, 1] and scores[0] == 0 and scores[1] == pytest.approx(-1)


@pytest.mark.parametrize("metric", ["cosine", "dot", "l2"])
def test_batch_agrees_with_brute_force(metric: str) -> None:
    rng = np.random.default_rng(11)
    m = rng.integers(-3, 4, size=(700, 9)).astype(F32)  # small integers: many exact ties
    queries = rng.integers(-3, 4, size=(6, 9)).astype(F32)
    idx, scores = search_vector(queries, m, 12, metric)
    assert idx.shape == scores.shape == (6, 12)
    for row in range(6):
        if metric == "cosine":  # norms round: compare scores, not tie order
            want = brute_force(queries[row], m, 12, metric)
            got_keys = scores[row]
            assert np.all(np.diff(got_keys) <= 1e-6)
            q64 = queries[row].astype(np.float64)
            exact = [(m[i] @ q64) / (np.linalg.norm(m[i]) * np.linalg.norm(q64) or 1) for i in want]
            np.testing.assert_allclose(got_keys, exact, atol=1e-6)
        else:
            assert idx[row].tolist() == brute_force(queries[row], m, 12, metric)
        single_idx, single_scores = search_vector(queries[row], m, 12, metric)
        assert single_idx.tolist() == idx[row].tolist()
        np.testing.assert_array_equal(single_scores, scores[row])


def test_top_k_larger_than_the_matrix_and_empty_matrix() -> None:
    m = np.eye(3, dtype=F32)
    idx, _ = search_vector(np.array([0, 1, 0], F32), m, 10, "dot")
    assert idx.tolist() == [1, 0, 2]
    idx, scores = search_vector(np.ones((2, 3), F32), np.zeros((0, 3), F32), 5)
    assert idx.shape == scores.shape == (2, 0)


def test_strided_and_fortran_inputs_give_the_same_answer() -> None:
    rng = np.random.default_rng(2)
    m = rng.standard_normal((50, 8), dtype=F32)
    q = rng.standard_normal((3, 8), dtype=F32)
    want = search_vector(q, m, 5, "dot")
    wide = np.zeros((50, 16), F32)
    wide[:, ::2] = m
    for layout in (wide[:, ::2], np.asfortranarray(m)):
        got = search_vector(q, layout, 5, "dot")
        assert got[0].tolist() == want[0].tolist()
        np.testing.assert_allclose(got[1], want[1], rtol=1e-5)


@pytest.mark.parametrize(
    ("query", "matrix", "top_k", "metric", "error"),
    [
        ([1.0, 0.0], np.eye(2, dtype=F32), 1, "dot", TypeError),
        (np.ones(2), np.eye(2, dtype=F32), 1, "dot", ValueError),
        (np.ones(2, F32), np.eye(2), 1, "dot", ValueError),
        (np.ones((1, 1, 2), F32), np.eye(2, dtype=F32), 1, "dot", ValueError),
        (np.ones(2, F32), np.ones(2, F32), 1, "dot", ValueError),
        (np.ones(3, F32), np.eye(2, dtype=F32), 1, "dot", ValueError),
        (np.ones(2, F32), np.eye(2, dtype=F32), 0, "dot", ValueError),
        (np.ones(2, F32), np.eye(2, dtype=F32), 1.0, "dot", TypeError),
        (np.ones(2, F32), np.eye(2, dtype=F32), True, "dot", TypeError),
        (np.ones(2, F32), np.eye(2, dtype=F32), 1, "euclid", ValueError),
        (np.ones(2, F32), np.eye(2, dtype=F32), 1, None, TypeError),
        (np.array([math.nan, 0], F32), np.eye(2, dtype=F32), 1, "dot", ValueError),
        (np.ones(2, F32), np.array([[1, 0], [0, math.inf]], F32), 1, "dot", ValueError),
        (np.ones(2, F32), np.array([[1, 0], [math.nan, 0]], F32), 1, "cosine", ValueError),
        (np.full(2, 3e38, F32), np.full((1, 2), 3e38, F32), 1, "l2", ValueError),
    ],
)
def test_bad_input_raises(
    query: object, matrix: object, top_k: object, metric: object, error: type[Exception]
) -> None:
    with pytest.raises(error):
        search_vector(query, matrix, top_k, metric)  # type: ignore[arg-type]


@pytest.mark.parametrize("metric", ["euclid", "Cosine", "a\ud800b", "\udcff", ""])
def test_an_unknown_metric_is_named_as_python_quotes_it(metric: str) -> None:
    # A lone surrogate has no UTF-8 form: it names no metric, so it is the same ValueError
    # (Rust once raised UnicodeEncodeError reading it), quoted as repr() quotes it.
    with pytest.raises(ValueError) as info:
        search_vector(np.ones(2, F32), np.eye(2, dtype=F32), 1, metric)
    assert str(info.value) == f"metric must be one of cosine, dot, l2, got {metric!r}"


def test_store_add_search_remove() -> None:
    store = MemoryCore(dim=3, metric="cosine")
    store.add(["a", "b"], np.array([[1, 0, 0], [0, 1, 0]], F32))
    store.add([7], np.array([[1, 1, 0]], F32))
    assert len(store) == 3 and "b" in store and 7 in store and [] not in store
    hits = store.search(np.array([1, 0.1, 0], F32), 2)
    assert [h[0] for h in hits] == ["a", 7]
    assert hits[0][1] == pytest.approx(1 / math.sqrt(1.01))
    store.remove(["a"])
    assert store.ids == ["b", 7] and store.vectors.shape == (2, 3)
    batch = store.search(np.array([[1, 0, 0], [0, 1, 0]], F32), 5)
    assert [[h[0] for h in row] for row in batch] == [[7, "b"], ["b", 7]]


def test_store_grows_and_rejects_bad_input_atomically() -> None:
    store = MemoryCore(dim=2, metric="dot")
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((100, 2), dtype=F32)
    store.add(range(100), vectors)
    assert store.search(vectors[42] * 1000, 1)[0][0] == int(np.argmax(vectors @ vectors[42]))
    with pytest.raises(ValueError):
        store.add([5], np.ones((1, 2), F32))  # duplicate id
    with pytest.raises(ValueError):
        store.add(["x", "x"], np.ones((2, 2), F32))
    with pytest.raises(ValueError):
        store.add(["y"], np.ones((1, 3), F32))
    with pytest.raises(ValueError):
        store.add(["z"], np.array([[math.nan, 1]], F32))
    with pytest.raises(KeyError):
        store.remove([1, "missing"])
    assert len(store) == 100 and 1 in store
    store.remove(range(0, 100, 2))
    assert store.ids == list(range(1, 100, 2))
    np.testing.assert_array_equal(store.vectors, vectors[1::2])
    with pytest.raises(ValueError):
        store.vectors[0, 0] = 1.0
    with pytest.raises(ValueError):
        MemoryCore(2, metric="manhattan")

"""LoRACore.merge_weights and apply_adapter at LLM size.

Workload: a 4096 x 4096 float32 weight, a rank-16 adapter (A [16, 4096], B [4096, 16]),
scaling 2.0. The Python reference is numpy (``delta = B @ A; delta *= s; base += delta``).
Peer: numpy's best form, with every buffer preallocated outside the timing:
``np.multiply(B, s, out=Bs); np.matmul(Bs, A, out=tmp); np.add(base, tmp, out=base)``, which
still writes and re-reads a full 64 MiB ``out x in`` temporary; rust_core's fused kernel
reads and writes the weight once and allocates nothing that size (see
tests/test_lora_core.py for the peak-RSS check).

In place, each call adds the delta again, so each benchmark counts its calls and checks the
weight against ``base + calls * delta`` (tolerance grows with the number of additions).
apply_adapter: x [128, 4096]; peer ``np.matmul(x, A.T, out=h); h *= s; np.matmul(h, B.T,
out=y)`` with preallocated ``h``, ``y``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.conftest import compare, scaled
from pyagent import lora_core

OUT = IN = scaled(4096, 1024)
RANK = 16
SCALE = 2.0
BATCH = 128
rng = np.random.default_rng(20261124)
BASE = rng.standard_normal((OUT, IN), dtype=np.float32)
A = (rng.standard_normal((RANK, IN), dtype=np.float32) * 0.01).astype(np.float32)
B = (rng.standard_normal((OUT, RANK), dtype=np.float32) * 0.01).astype(np.float32)
DELTA = np.float32(SCALE) * (B @ A)
X = rng.standard_normal((BATCH, IN), dtype=np.float32)
X_DELTA = (np.float32(SCALE) * (X @ A.T)) @ B.T
WORKLOAD = f"{OUT} x {IN} float32 weight, rank {RANK}"


def _merged_ok(got: Any, base: np.ndarray, calls: int) -> bool:
    if got is not base or calls < 1:
        return False
    expected = BASE + np.float32(calls) * DELTA
    tolerance = 1e-5 * calls * (np.abs(BASE) + calls * np.abs(DELTA)) + 1e-6
    return bool(np.all(np.abs(base - expected) <= tolerance))


def test_merge_weights_inplace(benchmark: object, implementation: str) -> None:
    base = BASE.copy()
    calls = [0]
    tmp = np.empty_like(BASE)
    scaled_b = np.empty_like(B)

    def ours() -> np.ndarray:
        calls[0] += 1
        return lora_core.merge_weights(base, A, B, SCALE, inplace=True)

    def numpy_best() -> np.ndarray:
        calls[0] += 1
        np.multiply(B, np.float32(SCALE), out=scaled_b)
        np.matmul(scaled_b, A, out=tmp)
        np.add(base, tmp, out=base)
        return base

    compare(
        benchmark,
        implementation,
        hot_path="merge_weights",
        workload=WORKLOAD + ", in place",
        ours=ours,
        peer=numpy_best,
        check=lambda got: _merged_ok(got, base, calls[0]),
    )


def test_merge_weights_new_array(benchmark: object, implementation: str) -> None:
    scaled_b = np.empty_like(B)

    def numpy_best() -> np.ndarray:
        np.multiply(B, np.float32(SCALE), out=scaled_b)
        out = np.matmul(scaled_b, A)
        out += BASE
        return out

    compare(
        benchmark,
        implementation,
        hot_path="merge_weights",
        workload=WORKLOAD + ", into a new array",
        ours=lambda: lora_core.merge_weights(BASE, A, B, SCALE),
        peer=numpy_best,
        check=lambda got: bool(np.allclose(got, BASE + DELTA, rtol=1e-5, atol=1e-5)),
        group_suffix="-new-array",
    )


def test_apply_adapter(benchmark: object, implementation: str) -> None:
    hidden = np.empty((BATCH, RANK), dtype=np.float32)
    out = np.empty((BATCH, OUT), dtype=np.float32)

    def numpy_best() -> np.ndarray:
        np.matmul(X, A.T, out=hidden)
        np.multiply(hidden, np.float32(SCALE), out=hidden)
        np.matmul(hidden, B.T, out=out)
        return out

    compare(
        benchmark,
        implementation,
        hot_path="apply_adapter",
        workload=f"x [{BATCH}, {IN}], rank {RANK}, out {OUT}, float32",
        ours=lambda: lora_core.apply_adapter(X, A, B, SCALE),
        peer=numpy_best,
        check=lambda got: bool(np.allclose(got, X_DELTA, rtol=1e-4, atol=1e-6)),
    )

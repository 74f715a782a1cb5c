"""InferenceCore.apply_lora: several adapters merged into a model's named weights, in place.

Workload: two 4096 x 4096 float32 projections (q_proj, v_proj), two rank-16 adapters on each
(alpha 32, one of them rsLoRA), plus an untouched entry. The Python reference is numpy, one
BLAS product and one add per adapter. Peer: numpy's best form, per adapter
``np.matmul(s * B, A, out=tmp); w += tmp`` with ``tmp`` preallocated. rust_core stacks each
module's adapters into one rank-32 pair and merges them in one fused pass over the weight.
Each call adds the deltas again; the check compares with ``w0 + calls * delta``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.conftest import compare, scaled
from pyagent.inference_core import LoRAAdapter, apply_lora, lora_scale

SIZE, RANK, ALPHA = scaled(4096, 1024), 16, 32.0
rng = np.random.default_rng(7)
WEIGHTS = {
    name: rng.standard_normal((SIZE, SIZE), dtype=np.float32) for name in ("q_proj", "v_proj")
}
ADAPTERS = [
    LoRAAdapter(
        module,
        (rng.standard_normal((RANK, SIZE), dtype=np.float32) * 0.01).astype(np.float32),
        (rng.standard_normal((SIZE, RANK), dtype=np.float32) * 0.01).astype(np.float32),
        ALPHA,
        RANK,
        use_rslora,
    )
    for module in ("q_proj", "v_proj")
    for use_rslora in (False, True)
]
DELTAS = {name: np.zeros((SIZE, SIZE), dtype=np.float32) for name in WEIGHTS}
for ad in ADAPTERS:
    DELTAS[ad.module] += np.float32(lora_scale(ad.alpha, ad.rank, ad.use_rslora)) * (
        ad.lora_b @ ad.lora_a
    )


def test_apply_lora_inplace(benchmark: object, implementation: str) -> None:
    weights: dict[str, Any] = {name: w.copy() for name, w in WEIGHTS.items()}
    weights["norm"] = np.ones(SIZE, dtype=np.float32)
    calls = [0]
    tmp = np.empty((SIZE, SIZE), dtype=np.float32)

    def ours() -> dict[str, Any]:
        calls[0] += 1
        return apply_lora(weights, ADAPTERS, inplace=True)

    def numpy_best() -> dict[str, Any]:
        calls[0] += 1
        for ad in ADAPTERS:
            s = np.float32(lora_scale(ad.alpha, ad.rank, ad.use_rslora))
            np.matmul(ad.lora_b * s, ad.lora_a, out=tmp)
            weights[ad.module] += tmp
        return dict(weights)

    def check(got: dict[str, Any]) -> bool:
        n = calls[0]
        ok = n > 0 and got["norm"] is weights["norm"]
        for name, w0 in WEIGHTS.items():
            tol = 1e-5 * n * (np.abs(w0) + n * np.abs(DELTAS[name])) + 1e-6
            ok = ok and got[name] is weights[name]
            ok = ok and bool(np.all(np.abs(got[name] - (w0 + np.float32(n) * DELTAS[name])) <= tol))
        return ok

    compare(
        benchmark,
        implementation,
        hot_path="apply_lora_rust",
        workload=f"2 x {SIZE} x {SIZE} float32 weights, 2 rank-{RANK} adapters each, in place",
        ours=ours,
        peer=numpy_best,
        check=check,
    )

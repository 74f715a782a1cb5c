"""LoRACore: merging low-rank adapters into weights and the adapter forward pass (LoRA).

A LoRA adapter of rank ``r`` for a weight ``W[out, in]`` is a pair ``A[r, in]``,
``B[out, r]`` with a scale ``s`` (``alpha / r``, or ``alpha / sqrt(r)`` for rsLoRA). Two
hot paths:

* :func:`merge_weights` -- ``W + s * (B @ A)``: folding the adapter into the weight so
  inference pays nothing for it. Memory-bound at real sizes (4096 x 4096, rank 16): numpy
  materialises ``B @ A`` as a full ``out x in`` temporary, ``rust_core`` fuses the rank-r
  product into the add (each output row is ``W[i] + sum_k (s * B[i, k]) * A[k]``), so it
  reads and writes ``W`` once and allocates nothing of that size, and writes in place when
  asked.
* :func:`apply_adapter` -- ``s * (x @ A.T) @ B.T``: the adapter's contribution to a batch of
  activations without merging (two thin products, never ``B @ A``).

All tensors are float32 ``numpy.ndarray`` objects (see :mod:`pyagent._tensor` for the
checks and the exception classes). ``A``, ``B``, ``x`` and the scale must be finite; the
base weight is not scanned: a NaN already in it stays NaN, as with numpy, and checking it
would double the memory traffic of a memory-bound merge.

This module is the reference implementation and it is numpy: the products are BLAS calls,
which is the clearest correct form. Results of the two backends differ only by rounding
(summation order and fused multiply-add); see ``pyagent/parity/properties/lora.py`` for the bound.
"""

from __future__ import annotations

import math

import numpy as np

from pyagent._numeric import real_number
from pyagent._tensor import (
    F32Array,
    f32_array,
    f32_scale,
    require_bool,
    require_finite_f32,
    require_writable_disjoint,
)

try:
    import rust_core as rc
except ImportError:
    rc = None  # type: ignore[assignment, unused-ignore]

__all__ = ["LoRACore", "apply_adapter", "merge_weights"]


def _check_factors(lora_a: F32Array, lora_b: F32Array, rows: int, cols: int) -> None:
    """ValueError unless ``A[r, cols]`` and ``B[rows, r]`` fit a ``rows x cols`` weight."""
    if lora_a.shape[1] != cols:
        raise ValueError(f"lora_a has {lora_a.shape[1]} columns, expected {cols}")
    if lora_b.shape[0] != rows:
        raise ValueError(f"lora_b has {lora_b.shape[0]} rows, expected {rows}")
    if lora_b.shape[1] != lora_a.shape[0]:
        raise ValueError(
            f"rank mismatch: lora_b has {lora_b.shape[1]} columns, lora_a {lora_a.shape[0]} rows"
        )


def merge_weights(
    base: F32Array,
    lora_a: F32Array,
    lora_b: F32Array,
    scaling: float,
    *,
    inplace: bool = False,
) -> F32Array:
    """``base + scaling * (lora_b @ lora_a)`` for ``base[out, in]``, ``A[r, in]``, ``B[out, r]``.

    Returns a new float32 array, or ``base`` itself updated in place when ``inplace`` is
    True. Everything is validated before anything is written: shapes, dtypes, finite ``A``,
    ``B`` and ``scaling`` (which must also fit float32), and for ``inplace`` a writeable
    ``base`` that shares no memory with ``A`` or ``B``.
    """
    if rc is not None and hasattr(rc, "merge_weights"):
        return rc.merge_weights(base, lora_a, lora_b, scaling, inplace=inplace)
    base = f32_array(base, "base", (2,))
    lora_a = f32_array(lora_a, "lora_a", (2,))
    lora_b = f32_array(lora_b, "lora_b", (2,))
    scale_value = real_number(scaling, "scaling")
    inplace = require_bool(inplace, "inplace")
    _check_factors(lora_a, lora_b, base.shape[0], base.shape[1])
    scale = f32_scale(scale_value, "scaling")
    require_finite_f32(lora_a, "lora_a")
    require_finite_f32(lora_b, "lora_b")
    if inplace:
        require_writable_disjoint(base, "base", {"lora_a": lora_a, "lora_b": lora_b})
    delta = np.matmul(lora_b, lora_a)
    delta *= scale
    if inplace:
        base += delta
        return base
    return base + delta


def apply_adapter(x: F32Array, lora_a: F32Array, lora_b: F32Array, scaling: float) -> F32Array:
    """The LoRA forward delta ``scaling * (x @ lora_a.T) @ lora_b.T`` for ``x[batch, in]``.

    ``A[r, in]``, ``B[out, r]``; returns a new float32 ``[batch, out]`` array. The rank-r
    intermediate ``x @ A.T`` is the only temporary, so the cost is ``batch * r * (in + out)``
    multiply-adds instead of the ``out * in`` a merged weight would need per call.
    """
    if rc is not None and hasattr(rc, "apply_adapter"):
        return rc.apply_adapter(x, lora_a, lora_b, scaling)
    x = f32_array(x, "x", (2,))
    lora_a = f32_array(lora_a, "lora_a", (2,))
    lora_b = f32_array(lora_b, "lora_b", (2,))
    scale_value = real_number(scaling, "scaling")
    _check_factors(lora_a, lora_b, lora_b.shape[0], x.shape[1])
    scale = f32_scale(scale_value, "scaling")
    require_finite_f32(x, "x")
    require_finite_f32(lora_a, "lora_a")
    require_finite_f32(lora_b, "lora_b")
    hidden = np.matmul(x, lora_a.T)
    hidden *= scale
    return np.matmul(hidden, lora_b.T)


class LoRACore:
    """One adapter ``(A, B, alpha, rank)`` with its scale, merged into or applied beside W.

    ``scale`` is ``alpha / rank``, or ``alpha / sqrt(rank)`` with ``use_rslora`` (rank-
    stabilised LoRA), computed in float64 and rounded once to float32, as both backends do.
    """

    def __init__(
        self,
        lora_a: F32Array,
        lora_b: F32Array,
        alpha: float,
        *,
        use_rslora: bool = False,
    ) -> None:
        self.lora_a = f32_array(lora_a, "lora_a", (2,))
        self.lora_b = f32_array(lora_b, "lora_b", (2,))
        rank = self.lora_a.shape[0]
        if rank < 1 or self.lora_b.shape[1] != rank:
            raise ValueError(f"lora_a {self.lora_a.shape} and lora_b {self.lora_b.shape} differ")
        alpha_value = real_number(alpha, "alpha")
        self.rank = rank
        self.scale = float(alpha_value / (math.sqrt(rank) if use_rslora else rank))

    def merge(self, base: F32Array, *, inplace: bool = False) -> F32Array:
        """:func:`merge_weights` of this adapter into ``base``."""
        return merge_weights(base, self.lora_a, self.lora_b, self.scale, inplace=inplace)

    def unmerge(self, base: F32Array, *, inplace: bool = False) -> F32Array:
        """Subtracts this adapter again (exact up to float32 rounding)."""
        return merge_weights(base, self.lora_a, self.lora_b, -self.scale, inplace=inplace)

    def forward_delta(self, x: F32Array) -> F32Array:
        """:func:`apply_adapter` of this adapter to ``x[batch, in]``."""
        return apply_adapter(x, self.lora_a, self.lora_b, self.scale)

"""InferenceCore: dynamic LoRA adapter merging into a model's named weights (Common/Inference).

:func:`apply_lora` takes a model's weights as a dict ``name -> W[out, in]`` and a sequence of
:class:`LoRAAdapter` (module name, ``A[r, in]``, ``B[out, r]``, ``alpha``, ``rank``) and
returns the weights with every adapter merged: ``W + scale * (B @ A)`` with
``scale = alpha / rank``, or ``alpha / sqrt(rank)`` for rsLoRA. Adapters on the same module
add up in order; modules no adapter names are passed through untouched (the same array
objects, not copies, whatever their dtype).

Everything is validated before anything is merged, so a bad adapter anywhere leaves every
weight as it was: an adapter naming a module that is not in ``weights`` is a KeyError;
shape, dtype and rank errors, non-finite ``A``/``B``/``alpha`` and a scale overflowing
float32 are ValueError; wrong types are TypeError (see :mod:`pyagent._tensor`). With
``inplace=True`` the targeted weights are updated in place (each must be writeable and must
not share memory with another targeted weight or any adapter factor).

This is the numpy reference (one BLAS product per adapter). ``rust_core`` stacks all the
adapters of a module into one rank ``sum(r)`` factor pair and merges them in one fused pass
over the weight (see :mod:`pyagent.lora_core`), so it differs only by float32 rounding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pyagent._numeric import real_number
from pyagent._tensor import (
    F32Array,
    f32_array,
    f32_scale,
    positive_int,
    require_bool,
    require_finite_f32,
)

try:
    import rust_core as rc
except ImportError:
    rc = None  # type: ignore[assignment, unused-ignore]

__all__ = ["LoRAAdapter", "apply_lora", "lora_scale"]


@dataclass(frozen=True)
class LoRAAdapter:
    """One module's LoRA factors. Any object with these attributes is accepted."""

    module: str
    lora_a: F32Array
    lora_b: F32Array
    alpha: float
    rank: int
    use_rslora: bool = False


def lora_scale(alpha: float, rank: int, use_rslora: bool = False) -> float:
    """``alpha / rank``, or ``alpha / sqrt(rank)`` (rsLoRA), in float64 as both backends do."""
    return alpha / math.sqrt(rank) if use_rslora else alpha / rank


@dataclass
class _Checked:
    module: str
    lora_a: F32Array
    lora_b: F32Array
    scale: np.float32


def _check_adapter(adapter: Any, weights: dict[Any, Any]) -> _Checked:
    module = adapter.module
    if not isinstance(module, str):
        raise TypeError(f"adapter module must be a str, not {type(module).__name__}")
    if module not in weights:
        raise KeyError(module)
    weight = f32_array(weights[module], f"weights[{module!r}]", (2,))
    lora_a = f32_array(adapter.lora_a, "lora_a", (2,))
    lora_b = f32_array(adapter.lora_b, "lora_b", (2,))
    alpha = real_number(adapter.alpha, "alpha")
    rank = positive_int(adapter.rank, "rank")
    use_rslora = require_bool(adapter.use_rslora, "use_rslora")
    if lora_a.shape[0] != rank:
        raise ValueError(f"{module}: rank is {rank} but lora_a has {lora_a.shape[0]} rows")
    out_dim, in_dim = weight.shape
    if lora_a.shape[1] != in_dim or lora_b.shape != (out_dim, rank):
        raise ValueError(
            f"{module}: weight {weight.shape} does not fit lora_a {lora_a.shape} "
            f"and lora_b {lora_b.shape}"
        )
    if not math.isfinite(alpha):
        raise ValueError(f"alpha must be finite, got {alpha!r}")
    scale = f32_scale(lora_scale(alpha, rank, use_rslora), "scale")
    require_finite_f32(lora_a, "lora_a")
    require_finite_f32(lora_b, "lora_b")
    return _Checked(module, lora_a, lora_b, scale)


def _check_inplace(weights: dict[Any, Any], checked: list[_Checked]) -> None:
    modules = list(dict.fromkeys(c.module for c in checked))
    factors = [f for c in checked for f in (c.lora_a, c.lora_b)]
    for i, module in enumerate(modules):
        weight = weights[module]
        if not weight.flags.writeable:
            raise ValueError(f"weights[{module!r}] is read-only; pass inplace=False")
        others = [weights[m] for m in modules[i + 1 :]] + factors
        if any(np.may_share_memory(weight, other) for other in others):
            raise ValueError(f"weights[{module!r}] shares memory with another merged array")


def apply_lora(
    weights: dict[Any, Any],
    adapters: Sequence[LoRAAdapter],
    *,
    inplace: bool = False,
) -> dict[Any, Any]:
    """``weights`` with every adapter merged in: a new dict, keys in the same order.

    A targeted weight is a new float32 array (or the same array updated, with ``inplace``);
    every other entry is the very object passed in.
    """
    if rc is not None and hasattr(rc, "apply_lora_rust"):
        return rc.apply_lora_rust(weights, adapters, inplace=inplace)
    if not isinstance(weights, dict):
        raise TypeError(f"weights must be a dict, not {type(weights).__name__}")
    if not isinstance(adapters, (list, tuple)):
        raise TypeError(f"adapters must be a list or tuple, not {type(adapters).__name__}")
    inplace = require_bool(inplace, "inplace")
    checked = [_check_adapter(adapter, weights) for adapter in adapters]
    if inplace:
        _check_inplace(weights, checked)
    merged = dict(weights)
    fresh: set[str] = set()
    for item in checked:
        delta = np.matmul(item.lora_b, item.lora_a)
        delta *= item.scale
        if inplace or item.module in fresh:
            merged[item.module] += delta
        else:
            merged[item.module] = weights[item.module] + delta
            fresh.add(item.module)
    return merged

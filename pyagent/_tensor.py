"""Input checks shared by the tensor hot paths (LoRA merging, adapters, vector search).

Tensors cross into ``rust_core`` as numpy arrays read in place, never as lists, so these
hot paths accept float32 ``numpy.ndarray`` objects only. ``rust_core`` makes these exact
checks in the same order, so both backends raise the same class on the same bad input:

* not a ``numpy.ndarray`` (a list, a scalar, None): TypeError;
* an ndarray of another dtype (float64, float16, int, non-native byte order): ValueError;
* the wrong number of dimensions or inconsistent shapes: ValueError;
* a scalar parameter that is not a real number (``bool`` included): TypeError;
* NaN or infinity where it would poison the result, a scale that overflows float32:
  ValueError;
* an in-place target that is read-only or overlaps an input: ValueError, nothing written.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pyagent._numeric import real_number

__all__ = [
    "F32Array",
    "f32_array",
    "f32_scale",
    "finite_real",
    "positive_int",
    "require_bool",
    "require_finite_f32",
    "require_writable_disjoint",
]

F32Array = NDArray[np.float32]

_F32_MAX = float(np.finfo(np.float32).max)


def f32_array(value: object, name: str, ndims: tuple[int, ...]) -> F32Array:
    """``value`` itself, if it is a float32 ndarray with one of ``ndims`` dimensions."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, not {type(value).__name__}")
    if value.dtype != np.dtype(np.float32):
        raise ValueError(f"{name} must have dtype float32, not {value.dtype}")
    if value.ndim not in ndims:
        wanted = " or ".join(f"{n}-D" for n in ndims)
        raise ValueError(f"{name} must be {wanted}, got shape {value.shape}")
    return value


def finite_real(value: object, name: str) -> float:
    """``value`` as a float; TypeError unless a real number, ValueError unless finite."""
    number = real_number(value, name)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {number!r}")
    return number


def f32_scale(value: float, name: str) -> np.float32:
    """A finite float as float32 (round to nearest); ValueError if it overflows float32."""
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    with np.errstate(over="ignore"):
        scale = np.float32(value)
    if not np.isfinite(scale):
        raise ValueError(f"{name} overflows float32 (|{name}| > {_F32_MAX:g}): {value!r}")
    return scale


def positive_int(value: object, name: str) -> int:
    """``value`` as an int >= 1; TypeError for a non-integer (or bool), ValueError if < 1."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not bool")
    try:
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}") from None
    if number < 1:
        raise ValueError(f"{name} must be at least 1, got {number}")
    return number


def require_bool(value: object, name: str) -> bool:
    """``value`` if it is a bool; TypeError otherwise (no truthiness of arbitrary objects)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, not {type(value).__name__}")
    return value


def require_finite_f32(array: F32Array, name: str) -> None:
    """ValueError if ``array`` holds NaN or an infinity."""
    if array.size and not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite (no NaN or infinity)")


def require_writable_disjoint(target: F32Array, name: str, inputs: dict[str, Any]) -> None:
    """ValueError unless ``target`` is writeable and its memory bounds miss every input's.

    The overlap test is ``numpy.may_share_memory`` (address bounds): an in-place write that
    could change an input while it is still being read is refused before anything is written.
    """
    if not target.flags.writeable:
        raise ValueError(f"{name} is read-only; pass inplace=False or a writeable array")
    for other_name, other in inputs.items():
        if np.may_share_memory(target, other):
            raise ValueError(f"{name} shares memory with {other_name}; cannot merge in place")

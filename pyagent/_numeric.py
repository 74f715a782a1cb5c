"""Input checks shared by the numeric cores (pruning, metrics, telemetry).

Every numeric hot path accepts sequences or numpy arrays and rejects bad input the same way on
both backends; ``rust_core`` performs these exact steps (the same ``numpy.asarray`` call, the
same dtype and shape tests, in the same order), so each bad input raises the same class:

* not convertible by ``numpy.asarray`` (a ragged list): whatever numpy raises (ValueError);
* a dtype that is not a real number (strings, objects, complex, bool): TypeError;
* not one-dimensional: ValueError;
* a parameter that is not a real number (``bool`` included): TypeError;
* NaN, empty input, out-of-range parameters: ValueError (checked by each hot path).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from numpy.typing import NDArray

from pyagent._builtin import stored

__all__ = [
    "float_vector",
    "real_number",
    "require_finite",
    "require_finite_number",
    "str_list",
]

#: numpy dtype kinds accepted as real numbers: signed, unsigned integers and floats.
REAL_KINDS = "iuf"


def float_vector(values: object, name: str) -> NDArray[np.float64]:
    """``values`` as a one-dimensional float64 array (no copy when it already is one).

    Raises TypeError for a non-real dtype and ValueError for any other shape; emptiness and
    NaN are left to the caller, which knows whether they are acceptable.
    """
    array = np.asarray(values)
    if array.dtype.kind not in REAL_KINDS:
        raise TypeError(f"{name} must hold real numbers, not dtype {array.dtype}")
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array.astype(np.float64, copy=False)


def real_number(value: object, name: str) -> float:
    """``value`` as a float; TypeError unless it is a real number (``bool`` is not one)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, not {type(value).__name__}")
    # A float subclass by its stored value, as rust_core reads it (docs/limits.md).
    return float.__float__(value) if isinstance(value, float) else float(value)


def require_finite(array: NDArray[np.float64], name: str) -> None:
    """ValueError if ``array`` holds NaN or an infinity."""
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite (no NaN or infinity)")


def require_finite_number(value: float, name: str) -> None:
    """ValueError if ``value`` is NaN or infinite."""
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")


def str_list(names: object, name: str) -> list[str]:
    """``list(names)``; TypeError for a bare str, a non-iterable or any item that is not str."""
    if isinstance(names, str):
        raise TypeError(f"{name} must be a sequence of str, not a single str")
    try:
        items = iter(stored(names))  # a list/tuple subclass by its stored items
    except TypeError:
        raise TypeError(f"{name} must be a sequence of str, not {type(names).__name__}") from None
    listed = []
    for item in items:  # each item checked as it comes, before the iterator goes on
        if not isinstance(item, str):
            raise TypeError(f"{name} must hold str, not {type(item).__name__}")
        listed.append(item)
    return listed

"""Running one call through both backends and comparing what comes back."""

from __future__ import annotations

import math
import pickle
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyagent.backend import forced_python

__all__ = [
    "FLOAT_REL_TOL",
    "Outcome",
    "call_both",
    "call_python",
    "call_rust",
    "outcome_of",
    "same",
    "same_outcome",
]

#: Default relative tolerance for floats. Rust and Python may sum in different orders (SIMD
#: lanes, pairwise or parallel reduction), each step rounding once; 1e-9 is far above that
#: rounding for the sizes we test and far below any real bug. Properties that need exact
#: floats pass ``rel_tol=0``.
FLOAT_REL_TOL = 1e-9


@dataclass(frozen=True)
class Outcome:
    """What one call did: returned ``value`` or raised an exception of ``error`` class."""

    value: Any = None
    error: type[BaseException] | None = None
    message: str = ""

    def describe(self) -> str:
        """A one-line account for failure messages."""
        if self.error is not None:
            return f"raised {self.error.__name__}: {self.message}"
        return f"returned {self.value!r:.300}"


def outcome_of(call: Callable[[], Any]) -> Outcome:
    """Runs ``call``; its result or the class of what it raised.

    Only Exception subclasses are caught: a Rust panic arrives as PanicException, a
    BaseException, and must fail the run loudly rather than count as an outcome.
    """
    try:
        return Outcome(value=call())
    except Exception as exc:
        return Outcome(error=type(exc), message=str(exc))


def _rust_is_active(function: Callable[..., Any]) -> None:
    module = sys.modules.get(getattr(function, "__module__", ""), None)
    if module is None or getattr(module, "rc", None) is None:
        raise AssertionError(
            f"{getattr(function, '__qualname__', function)}: rust_core is not active in its "
            "module, so parity would compare Python with itself; run with the extension built "
            "(nox -s parity)"
        )


def call_rust(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Outcome:
    """Outcome of ``function`` on its Rust path; fails if rust_core is not active there."""
    _rust_is_active(function)
    return outcome_of(lambda: function(*args, **kwargs))


def call_python(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Outcome:
    """Outcome of the same public ``function`` with every hook forced to Python."""
    with forced_python():
        return outcome_of(lambda: function(*args, **kwargs))


def call_both(function: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Outcome, Outcome]:
    """(Rust outcome, Python outcome) of ``function(*args, **kwargs)``.

    Arguments are shared, so pass concrete values (lists, not generators) that a call does
    not consume.
    """
    return call_rust(function, *args, **kwargs), call_python(function, *args, **kwargs)


def _ndarray_equal(a: Any, b: Any, rel_tol: float) -> bool:
    """Equal dtype and shape, and every element equal as :func:`_equal` compares floats."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind not in "fc":
        return bool((a == b).all())
    if a.dtype.kind == "c":
        return _equal(a.tolist(), b.tolist(), rel_tol)
    # Real floats in bulk, as _equal compares them one by one (NaN equals NaN; math.isclose
    # with abs_tol 0, so an infinity is close only to itself): a 4-million-element result
    # took seconds element by element.
    numpy = sys.modules["numpy"]
    x, y = a.astype(numpy.float64), b.astype(numpy.float64)
    nan_x, nan_y = numpy.isnan(x), numpy.isnan(y)
    if not numpy.array_equal(nan_x, nan_y):
        return False
    same = (x == y) | nan_x
    if rel_tol == 0:
        return bool(same.all())
    with numpy.errstate(over="ignore", invalid="ignore"):
        finite = numpy.isfinite(x) & numpy.isfinite(y)
        near = numpy.abs(x - y) <= rel_tol * numpy.maximum(numpy.abs(x), numpy.abs(y))
    return bool((same | (finite & near)).all())


def _equal(a: Any, b: Any, rel_tol: float) -> bool:
    # numpy is only looked up when it is already imported: comparing plain values never
    # pulls it in, and an ndarray can only exist once it has been.
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(a, numpy.ndarray) and isinstance(b, numpy.ndarray):
        return _ndarray_equal(a, b, rel_tol)
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b if rel_tol == 0 else math.isclose(a, b, rel_tol=rel_tol, abs_tol=0.0)
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y, rel_tol) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        if a.keys() == b.keys():
            return all(_equal(a[k], b[k], rel_tol) for k in a)
        # Keys that equal nothing, not even themselves (NaN: YAML's `.nan: 1`): the same
        # entries in the same order, each key compared as a value.
        return len(a) == len(b) and all(
            _equal(ka, kb, rel_tol) and _equal(va, vb, rel_tol)
            for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True)
        )
    return bool(a == b)


def same_outcome(rust: Outcome, python: Outcome, *, rel_tol: float = FLOAT_REL_TOL) -> None:
    """Asserts two outcomes agree: equal values or the same exception class.

    Values compare exactly but for the float tolerance; types must match, so ``1`` and
    ``True`` differ.
    """
    if rust.error is not None or python.error is not None:
        assert rust.error is python.error, f"Rust {rust.describe()}\nPython {python.describe()}"
        return
    assert _equal(rust.value, python.value, rel_tol), (
        f"Rust {rust.describe()}\nPython {python.describe()}"
    )
    _crosses_backends(rust.value, python.value, rel_tol)


def _crosses_backends(rust_value: Any, python_value: Any, rel_tol: float) -> None:
    """Asserts each backend's result survives a pickle loaded on the other backend.

    Worker processes of a pool or a cluster may run the other backend (or lack rust_core),
    so what a hot path returns must load there as an equal value.
    """
    from_rust = pickle.dumps(rust_value, pickle.HIGHEST_PROTOCOL)
    with forced_python():
        loaded_in_python = pickle.loads(from_rust)
    assert _equal(loaded_in_python, python_value, rel_tol), (
        f"the Rust result pickled and loaded without rust_core differs: {loaded_in_python!r:.300}"
    )
    with forced_python():
        from_python = pickle.dumps(python_value, pickle.HIGHEST_PROTOCOL)
    loaded_in_rust = pickle.loads(from_python)
    assert _equal(loaded_in_rust, rust_value, rel_tol), (
        f"the Python result pickled and loaded with rust_core differs: {loaded_in_rust!r:.300}"
    )


def same(
    function: Callable[..., Any], *args: Any, rel_tol: float = FLOAT_REL_TOL, **kwargs: Any
) -> Outcome:
    """Asserts both backends agree on ``function(*args, **kwargs)``; returns the outcome."""
    rust, python = call_both(function, *args, **kwargs)
    same_outcome(rust, python, rel_tol=rel_tol)
    return rust

"""LoRACore and InferenceCore parity: merge_weights, apply_adapter, apply_lora_rust.

Tolerance, per element, from the standard float32 error bound of a dot product: a sum of
``n`` products computed in float32 (any order, with or without fused multiply-add) is within
``n * eps`` of the exact value relative to ``sum |products|`` (Higham, *Accuracy and Stability
of Numerical Algorithms*, 3.1). numpy sums ``B @ A`` in BLAS order and then scales and adds;
rust_core folds the scale into ``B`` and accumulates the rank-r sum with FMA onto the base
value. Each is therefore within ``(r + 3) * eps * bound`` of the exact merge, where
``bound = |W| + |s| * (|B| @ |A|)`` (the 3 covers the scale, the add and the final rounding),
and the two backends within twice that: ``2 * (r + 3) * eps * bound`` (+ a few float32
subnormals absolute). For several adapters on one module the ranks add up and each
sequential add of the reference rounds once more: ``2 * (sum r + 2 * adapters + 3)``.
For the adapter delta the sums have ``in`` and then ``r`` terms:
``2 * (in + r + 3) * eps * |s| * (|x| @ |A|^T) @ |B|^T``. A real bug (a wrong row, a missing
term, the wrong scale) is off by the size of a term, far above this.

Outcomes are compared per backend on separate copies of the arguments (in-place calls
mutate them): the same exception class, or results within the bound; for ``inplace`` the
result must be the very array passed in, and on error no argument may have changed. The base
weight is not checked for NaN (see pyagent.lora_core): a NaN or infinity in it must come out
unchanged from both backends.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from pyagent import inference_core, lora_core
from pyagent._numeric import real_number
from pyagent._tensor import positive_int
from pyagent.parity import hostile
from pyagent.parity.compare import call_python, call_rust
from pyagent.parity.properties.strategies_tensor import (
    EPS32,
    F32,
    corrupt,
    matrices,
    run_both,
    same_error,
)
from pyagent.parity.registry import parity_property

TINY = 8 * float(np.finfo(F32).smallest_subnormal)

scalings = st.one_of(
    st.floats(-4, 4, allow_nan=False),
    st.sampled_from([0.0, -0.0, 0.5, 1e-3, 1e39, math.nan, math.inf, True, None, "1", 2]),
)


def _close(got: Any, want: Any, bound: np.ndarray, factor: float) -> None:
    assert isinstance(got, np.ndarray) and isinstance(want, np.ndarray)
    assert got.dtype == want.dtype == F32 and got.shape == want.shape, (got, want)
    # A NaN or infinity already in the (unchecked) base weight passes through unchanged.
    finite = np.isfinite(want)
    assert np.array_equal(got[~finite], want[~finite], equal_nan=True), (got, want)
    diff = np.abs(got[finite].astype(np.float64) - want[finite].astype(np.float64))
    limit = factor * EPS32 * bound[finite] + TINY
    assert np.all(diff <= limit), f"max excess {np.max(diff - limit)}\nRust {got}\nPython {want}"


def _unchanged(before: tuple[Any, ...], after: tuple[Any, ...]) -> None:
    for b, a in zip(before, after, strict=True):
        if isinstance(b, np.ndarray) and b.dtype.kind == "f":
            np.testing.assert_array_equal(a, b)


@st.composite
def merge_cases(draw: st.DrawFn) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """merge_weights arguments: mostly valid, else one argument corrupted or misfitting."""
    out, inner, rank = draw(st.integers(0, 9)), draw(st.integers(0, 40)), draw(st.integers(0, 6))
    base = draw(matrices(out, inner))
    a = draw(matrices(rank, inner))
    b = draw(matrices(out, rank))
    scaling = draw(scalings)
    inplace = draw(st.sampled_from([False, True, True, 0, None]))
    args: list[Any] = [base, a, b, scaling]
    which = draw(st.integers(0, 6))
    if which < 3:  # one argument corrupted
        args[which] = draw(corrupt(args[which]))
    elif which == 3:  # one dimension that does not fit, the others right (each check alone)
        # 1 most often: a single row or column broadcasts in numpy if a check were missing.
        wrong = st.one_of(st.just(1), st.integers(0, max(out, inner, rank) + 1))
        dim = draw(st.sampled_from(["a_cols", "b_rows", "a_rows", "b_cols"]))
        if dim == "a_cols":  # 1 column broadcasts over the base if unchecked
            args[1] = draw(matrices(rank, draw(wrong.filter(lambda n: n != inner))))
        elif dim == "b_rows":  # 1 row broadcasts over the base if unchecked
            args[2] = draw(matrices(draw(wrong.filter(lambda n: n != out)), rank))
        elif dim == "a_rows":
            args[1] = draw(matrices(draw(wrong.filter(lambda n: n != rank)), inner))
        else:
            args[2] = draw(matrices(out, draw(wrong.filter(lambda n: n != rank))))
    alias = which == 4 and out > rank and inner > 0  # lora_a becomes a view of base
    return tuple(args), {"inplace": inplace, "alias": alias}


def _ones(rows: int, cols: int) -> np.ndarray:
    return np.ones((rows, cols), dtype=F32)


@parity_property("merge_weights")
@given(case=merge_cases())
# One factor dimension off by broadcastable 1 (A one column, B one row): a ValueError, never
# a broadcast merge; and each check alone, the rank of A or of B.
@example(case=((_ones(3, 4), _ones(2, 1), _ones(3, 2), 1.0), {"inplace": False, "alias": False}))
@example(case=((_ones(3, 4), _ones(2, 4), _ones(1, 2), 1.0), {"inplace": True, "alias": False}))
@example(case=((_ones(3, 4), _ones(1, 4), _ones(3, 2), 1.0), {"inplace": False, "alias": False}))
@example(case=((_ones(3, 4), _ones(2, 4), _ones(3, 1), 1.0), {"inplace": False, "alias": False}))
def merge_weights_agrees(case: tuple[tuple[Any, ...], dict[str, Any]]) -> None:
    """Same merged weight within the float32 bound (in place or not), or same error class."""
    args, options = case
    kwargs = {"inplace": options["inplace"]}
    if options["alias"]:
        args = (args[0], args[0][: args[1].shape[0]], *args[2:])
    rust, rust_args, python, python_args = run_both(
        lora_core.merge_weights, args, kwargs, alias=options["alias"]
    )
    if same_error(rust, python):
        _unchanged(args, rust_args)
        _unchanged(args, python_args)
        return
    base, a, b, scaling = python_args
    s = abs(float(np.float32(real_number(scaling, "scaling"))))
    bound = np.abs(base.astype(np.float64)) + s * (np.abs(b.astype(np.float64)) @ np.abs(a))
    _close(rust.value, python.value, bound, 2 * (a.shape[0] + 3))
    if kwargs["inplace"] is True:
        assert rust.value is rust_args[0] and python.value is python_args[0]
        _close(rust_args[0], python_args[0], bound, 2 * (a.shape[0] + 3))


@st.composite
def adapter_cases(draw: st.DrawFn) -> tuple[Any, ...]:
    """apply_adapter arguments: mostly valid, else one argument corrupted or misfitting."""
    batch, inner = draw(st.integers(0, 6)), draw(st.integers(0, 40))
    out, rank = draw(st.integers(0, 9)), draw(st.integers(0, 6))
    args: list[Any] = [
        draw(matrices(batch, inner)),
        draw(matrices(rank, inner)),
        draw(matrices(out, rank)),
        draw(scalings),
    ]
    which = draw(st.integers(0, 4))
    if which < 3:
        args[which] = draw(corrupt(args[which]))
    elif which == 3:  # one dimension that does not fit: A's columns, or the rank of A or B
        wrong = st.one_of(st.just(1), st.integers(0, max(inner, rank) + 1))
        dim = draw(st.sampled_from(["a_cols", "a_rows", "b_cols"]))
        if dim == "a_cols":
            args[1] = draw(matrices(rank, draw(wrong.filter(lambda n: n != inner))))
        elif dim == "a_rows":
            args[1] = draw(matrices(draw(wrong.filter(lambda n: n != rank)), inner))
        else:
            args[2] = draw(matrices(out, draw(wrong.filter(lambda n: n != rank))))
    return tuple(args)


@parity_property("apply_adapter")
@given(args=adapter_cases())
def apply_adapter_agrees(args: tuple[Any, ...]) -> None:
    """Same forward delta within the float32 bound, or same error class."""
    rust, _, python, _ = run_both(lora_core.apply_adapter, args, {})
    if same_error(rust, python):
        return
    x, a, b, scaling = args
    s = abs(float(np.float32(real_number(scaling, "scaling"))))
    bound = s * (np.abs(x.astype(np.float64)) @ np.abs(a).T) @ np.abs(b).T
    _close(rust.value, python.value, bound, 2 * (x.shape[1] + a.shape[0] + 3))


@st.composite
def lora_cases(draw: st.DrawFn) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A small model, up to four adapters (some with one bad field), aliases, inplace."""
    inner = draw(st.integers(1, 24))
    # Module names are dict keys, never encoded: one with a lone surrogate (no UTF-8 form) is
    # as good a name as any, and errors about it must not become UnicodeEncodeError.
    names = [("q", "v"), ("q\ud800", "v"), ("\udcff", "e\u0301"), ("", "\x00")]
    q, v = draw(st.sampled_from(names))
    shapes = {q: draw(st.integers(1, 8)), v: draw(st.integers(1, 8))}
    weights: dict[Any, Any] = {name: draw(matrices(rows, inner)) for name, rows in shapes.items()}
    weights["bias"] = np.arange(3.0)
    adapters = []
    for _ in range(draw(st.integers(0, 4))):
        module = draw(st.sampled_from([q, v, q]))
        rank = draw(st.integers(1, 4))
        fields: dict[str, Any] = {
            "module": module,
            "lora_a": draw(matrices(rank, inner)),
            "lora_b": draw(matrices(shapes[module], rank)),
            "alpha": draw(st.floats(-16, 16, allow_nan=False)),
            "rank": rank,
            "use_rslora": draw(st.booleans()),
        }
        if draw(st.integers(0, 5)) == 0:  # one field made wrong
            key = draw(st.sampled_from(sorted(fields)))
            fields[key] = draw(
                {
                    "module": st.sampled_from(["k", "bias", 3, None]),
                    "lora_a": corrupt(fields["lora_a"]),
                    "lora_b": corrupt(fields["lora_b"]),
                    "alpha": st.one_of(
                        st.sampled_from([math.nan, math.inf, "1", None, 1e300]),
                        hostile.for_kind("number"),
                    ),
                    "rank": st.one_of(
                        st.sampled_from([0, -1, rank + 1, 2.0, True, None]),
                        hostile.for_kind("int"),
                    ),
                    "use_rslora": st.sampled_from([1, None, "yes"]),
                }[key]
            )
        adapters.append(inference_core.LoRAAdapter(**fields))
    if draw(st.integers(0, 6)) == 0:  # two names for one array
        weights[v] = weights[q]
    container = draw(st.sampled_from([list, tuple]))
    inplace = draw(st.sampled_from([False, True, 1]))
    return (weights, container(adapters)), {"inplace": inplace}


def _scale(adapter: Any) -> float:
    """|scale| of an adapter both backends accepted, read as they read it.

    Through the same conversions (an int subclass's ``__float__``, ``__index__``), not the
    fields' own arithmetic: ``LyingInt(0) / 3`` is 0, but the backends take ``float()`` of it,
    0.5, and merge with 1/6 (a bound of 0 there failed a correct result in CI).
    """
    alpha = real_number(adapter.alpha, "alpha")
    rank = positive_int(adapter.rank, "rank")
    return abs(inference_core.lora_scale(alpha, rank, adapter.use_rslora))


def _dict_copy(weights: dict[Any, Any]) -> dict[Any, Any]:
    def copy(x: Any) -> Any:
        if isinstance(x, np.ndarray):
            fresh = np.empty_like(x)
            fresh[...] = x
            fresh.flags.writeable = x.flags.writeable
            return fresh
        return x

    copies: dict[int, Any] = {}
    return {k: copies.setdefault(id(v), copy(v)) for k, v in weights.items()}


def _lying_alpha_case() -> tuple[tuple[Any, ...], dict[str, Any]]:
    lora_a = np.zeros((3, 2), F32)
    lora_a[2, 1] = 57
    lora_b = np.zeros((2, 3), F32)
    lora_b[1, 2] = 5
    adapter = inference_core.LoRAAdapter(
        module="q",
        lora_a=lora_a,
        lora_b=lora_b,
        alpha=hostile.LyingInt(0),
        rank=3,
        use_rslora=False,
    )
    return ({"q": np.zeros((2, 2), F32)}, [adapter]), {"inplace": False}


@parity_property("apply_lora_rust")
@given(case=lora_cases())
# alpha an int whose __float__ lies: both backends merge with float(alpha) / rank = 1/6.
@example(case=_lying_alpha_case())
def apply_lora_agrees(case: tuple[tuple[Any, ...], dict[str, Any]]) -> None:
    """Same merged dict (targets within the bound, the rest the very same objects) or error."""
    (weights, adapters), kwargs = case
    rust_w, python_w = _dict_copy(weights), _dict_copy(weights)
    rust = call_rust(inference_core.apply_lora, rust_w, adapters, **kwargs)
    python = call_python(inference_core.apply_lora, python_w, adapters, **kwargs)
    if same_error(rust, python):
        for key, value in weights.items():
            np.testing.assert_array_equal(rust_w[key], value)
            np.testing.assert_array_equal(python_w[key], value)
        return
    assert list(rust.value) == list(python.value) == list(weights)
    for key in weights:
        targets = [ad for ad in adapters if ad.module == key]
        if not targets:
            assert rust.value[key] is rust_w[key] and python.value[key] is python_w[key]
            continue
        bound = np.abs(weights[key].astype(np.float64))
        for ad in targets:
            bound = bound + _scale(ad) * (np.abs(ad.lora_b.astype(np.float64)) @ np.abs(ad.lora_a))
        factor = 2 * (sum(ad.lora_a.shape[0] for ad in targets) + 2 * len(targets) + 3)
        _close(rust.value[key], python.value[key], bound, factor)
        if kwargs["inplace"] is True:
            assert rust.value[key] is rust_w[key] and python.value[key] is python_w[key]


@parity_property("apply_lora_rust")
@given(
    inplace=st.sampled_from([False, True, 1]),
    alias=st.sampled_from(["none", "weights", "factor"]),
    readonly=st.booleans(),
    second=st.one_of(st.sampled_from(["q", "v", "k"]), hostile.for_kind("short_string")),
    module_kind=st.sampled_from(["str", "int", "none", "bytes"]),
)
# Two targets that are one array, merged in place (each must see the other as shared).
@example(inplace=True, alias="weights", readonly=False, second="v", module_kind="str")
@example(inplace=True, alias="none", readonly=True, second="v", module_kind="str")
@example(inplace=False, alias="none", readonly=True, second="v", module_kind="str")
def apply_lora_inplace_checks_agree(
    inplace: object, alias: str, readonly: bool, second: object, module_kind: str
) -> None:
    """The in-place rules and module names, on every example: same outcome from both.

    Read-only targets, targets sharing memory, adapters naming a module by a non-str
    (TypeError, not KeyError); drawn every time, not as a rare corruption of a valid case.
    """
    q = np.arange(12, dtype=F32).reshape(4, 3)
    v = q if alias == "weights" else np.arange(12, 24, dtype=F32).reshape(4, 3)
    lora_a = np.ones((2, 3), F32)
    if alias == "factor":
        lora_a = q[:2]  # a factor that is a view of a target
    if readonly:
        q.flags.writeable = False
    weights = {"q": q, "v": v, "k": np.zeros((4, 3), F32)}
    first_module: object = {"str": "q", "int": 3, "none": None, "bytes": b"q"}[module_kind]
    adapters = [
        inference_core.LoRAAdapter(
            module=module,
            lora_a=lora_a,
            lora_b=np.ones((4, 2), F32),
            alpha=2.0,
            rank=2,
            use_rslora=False,
        )
        for module in (first_module, second)
    ]
    rust_w, python_w = _dict_copy(weights), _dict_copy(weights)
    rust = call_rust(inference_core.apply_lora, rust_w, adapters, inplace=inplace)
    python = call_python(inference_core.apply_lora, python_w, adapters, inplace=inplace)
    if same_error(rust, python):
        return
    assert list(rust.value) == list(python.value)
    for key in rust.value:
        np.testing.assert_array_equal(rust.value[key], python.value[key])
        assert (rust.value[key] is rust_w[key]) == (python.value[key] is python_w[key])

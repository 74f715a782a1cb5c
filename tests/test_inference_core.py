"""InferenceCore.apply_lora: several adapters merged into named weights, on the selected backend."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pyagent.inference_core import LoRAAdapter, apply_lora, lora_scale

F32 = np.float32


def model(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "q_proj": rng.standard_normal((16, 12), dtype=F32),
        "v_proj": rng.standard_normal((8, 12), dtype=F32),
        "bias": np.arange(3, dtype=np.float64),
    }


def adapter(
    module: str, out: int, inner: int, rank: int, alpha: float, seed: int, **kw: object
) -> LoRAAdapter:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((rank, inner), dtype=F32)
    b = rng.standard_normal((out, rank), dtype=F32)
    return LoRAAdapter(module, a, b, alpha, rank, **kw)  # type: ignore[arg-type]


def expected(weights: dict[str, np.ndarray], adapters: list[LoRAAdapter]) -> dict[str, np.ndarray]:
    out = {k: v.astype(np.float64) for k, v in weights.items()}
    for ad in adapters:
        s = lora_scale(ad.alpha, ad.rank, ad.use_rslora)
        out[ad.module] = out[ad.module] + s * (ad.lora_b.astype(np.float64) @ ad.lora_a)
    return out


def test_adapters_add_up_per_module_and_untouched_entries_pass_through() -> None:
    weights = model()
    adapters = [
        adapter("q_proj", 16, 12, 4, 8.0, 1),
        adapter("q_proj", 16, 12, 2, 1.0, 2, use_rslora=True),
        adapter("v_proj", 8, 12, 3, 6.0, 3),
    ]
    before = {k: v.copy() for k, v in weights.items()}
    merged = apply_lora(weights, adapters)
    assert list(merged) == ["q_proj", "v_proj", "bias"]
    assert merged["bias"] is weights["bias"]
    want = expected(weights, adapters)
    for name in ("q_proj", "v_proj"):
        assert merged[name] is not weights[name] and merged[name].dtype == F32
        np.testing.assert_allclose(merged[name], want[name], rtol=1e-5, atol=1e-4)
        np.testing.assert_array_equal(weights[name], before[name])


def test_a_module_name_that_is_not_utf8_is_still_a_name() -> None:
    # Module names are dict keys, never encoded: a lone surrogate in one is merged like any
    # other name, and errors spell it as Python does (Rust once failed encoding it).
    name = "q\ud800proj"
    weights = {name: np.zeros((16, 12), F32)}
    ad = adapter(name, 16, 12, 4, 8.0, 1)
    merged = apply_lora(weights, [ad])
    np.testing.assert_allclose(merged[name], expected(weights, [ad])[name], rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError) as info:
        apply_lora(weights, [LoRAAdapter(name, ad.lora_a, ad.lora_b, 8.0, 3)])
    assert str(info.value) == f"{name}: rank is 3 but lora_a has 4 rows"
    with pytest.raises(TypeError) as info:
        apply_lora({name: weights[name].tolist()}, [ad])
    assert str(info.value).startswith(f"weights[{name!r}] must be")


def test_inplace_merges_into_the_given_arrays() -> None:
    weights = model(4)
    adapters = [adapter("v_proj", 8, 12, 2, 4.0, 5), adapter("v_proj", 8, 12, 2, -4.0, 5)]
    original = weights["v_proj"].copy()
    merged = apply_lora(weights, adapters, inplace=True)
    assert merged["v_proj"] is weights["v_proj"]
    np.testing.assert_allclose(weights["v_proj"], original, atol=1e-4)  # +s BA then -s BA
    assert merged is not weights


def test_no_adapters_is_a_shallow_copy() -> None:
    weights = model()
    merged = apply_lora(weights, ())
    assert merged == weights and merged is not weights


def test_rslora_scale() -> None:
    assert lora_scale(16.0, 4) == 4.0
    assert lora_scale(16.0, 4, use_rslora=True) == 8.0
    assert lora_scale(1.0, 3, True) == 1.0 / math.sqrt(3)


def bad_cases() -> list[tuple[object, object, dict[str, object], type[Exception]]]:
    w = model()
    good = adapter("q_proj", 16, 12, 4, 8.0, 1)
    nan_b = good.lora_b.copy()
    nan_b[0, 0] = np.nan
    readonly = model()
    readonly["q_proj"].flags.writeable = False
    shared = model()
    shared["v_proj"] = shared["q_proj"][:8]

    def variant(**changes: object) -> LoRAAdapter:
        fields = {
            "module": good.module,
            "lora_a": good.lora_a,
            "lora_b": good.lora_b,
            "alpha": good.alpha,
            "rank": good.rank,
            "use_rslora": False,
        }
        fields.update(changes)
        return LoRAAdapter(**fields)  # type: ignore[arg-type]

    return [
        (list(w.items()), [good], {}, TypeError),
        (w, good, {}, TypeError),
        (w, [good], {"inplace": "yes"}, TypeError),
        (w, [variant(module="k_proj")], {}, KeyError),
        (w, [variant(module=3)], {}, TypeError),
        (w, [variant(module="bias")], {}, ValueError),
        (w, [variant(lora_a=good.lora_a.tolist())], {}, TypeError),
        (w, [variant(lora_b=good.lora_b.astype(np.float64))], {}, ValueError),
        (w, [variant(alpha="8")], {}, TypeError),
        (w, [variant(alpha=math.inf)], {}, ValueError),
        (w, [variant(rank=4.0)], {}, TypeError),
        (w, [variant(rank=True)], {}, TypeError),
        (w, [variant(rank=0)], {}, ValueError),
        (w, [variant(rank=3)], {}, ValueError),
        (w, [variant(use_rslora=1)], {}, TypeError),
        (w, [variant(lora_a=good.lora_a[:, :11])], {}, ValueError),
        (w, [variant(lora_b=nan_b)], {}, ValueError),
        (w, [variant(alpha=1e300)], {}, ValueError),
        (w, [good, variant(module="nope")], {"inplace": True}, KeyError),
        (readonly, [good], {"inplace": True}, ValueError),
        (shared, [good, adapter("v_proj", 8, 12, 1, 1.0, 9)], {"inplace": True}, ValueError),
        (w, [variant(lora_a=w["q_proj"][:4])], {"inplace": True}, ValueError),
    ]


@pytest.mark.parametrize(("weights", "adapters", "kwargs", "error"), bad_cases())
def test_bad_input_raises_and_changes_nothing(
    weights: object, adapters: object, kwargs: dict[str, object], error: type[Exception]
) -> None:
    snapshot = {k: v.copy() for k, v in weights.items()} if isinstance(weights, dict) else None
    with pytest.raises(error):
        apply_lora(weights, adapters, **kwargs)  # type: ignore[arg-type]
    if snapshot is not None:
        assert isinstance(weights, dict)
        for k, v in snapshot.items():
            np.testing.assert_array_equal(weights[k], v)


def test_missing_attribute_is_attribute_error() -> None:
    with pytest.raises(AttributeError):
        apply_lora(model(), [object()])

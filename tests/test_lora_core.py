"""LoRACore: merge_weights and apply_adapter, on the selected backend."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pyagent.lora_core import LoRACore, apply_adapter, merge_weights
from tests.conftest import run_python

F32 = np.float32


def factors(out: int, inner: int, rank: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((out, inner), dtype=F32)
    a = rng.standard_normal((rank, inner), dtype=F32)
    b = rng.standard_normal((out, rank), dtype=F32)
    return base, a, b


def exact_merge(base: np.ndarray, a: np.ndarray, b: np.ndarray, s: float) -> np.ndarray:
    return base.astype(np.float64) + s * (b.astype(np.float64) @ a.astype(np.float64))


def test_merge_is_base_plus_scaled_product() -> None:
    base = np.array([[1, 2, 3], [4, 5, 6]], dtype=F32)
    a = np.array([[1, 0, -1]], dtype=F32)
    b = np.array([[2], [0.5]], dtype=F32)
    got = merge_weights(base, a, b, 2.0)
    assert got.dtype == F32 and got is not base
    np.testing.assert_array_equal(got, [[5, 2, -1], [5, 5, 5]])
    np.testing.assert_array_equal(base, [[1, 2, 3], [4, 5, 6]])


@pytest.mark.parametrize(("out", "inner", "rank"), [(1, 1, 1), (67, 131, 16), (300, 520, 8)])
def test_merge_matches_float64_within_rounding(out: int, inner: int, rank: int) -> None:
    base, a, b = factors(out, inner, rank)
    want = exact_merge(base, a, b, 0.125)
    bound = np.abs(base) + 0.125 * (np.abs(b) @ np.abs(a))
    for got in (merge_weights(base, a, b, 0.125), merge_weights(base.copy(), a, b, 0.125)):
        assert np.all(np.abs(got - want) <= 4 * (rank + 2) * np.finfo(F32).eps * bound + 1e-30)


def test_inplace_updates_the_array_itself_and_views() -> None:
    base, a, b = factors(40, 50, 4, seed=1)
    expected = merge_weights(base, a, b, -0.5)
    same = base.copy()
    assert merge_weights(same, a, b, -0.5, inplace=True) is same
    np.testing.assert_allclose(same, expected, rtol=1e-5, atol=1e-5)
    big = np.zeros((40, 100), dtype=F32)
    big[:, ::2] = base
    view = big[:, ::2]
    assert merge_weights(view, a, b, -0.5, inplace=True) is view
    np.testing.assert_allclose(big[:, ::2], expected, rtol=1e-5, atol=1e-5)
    assert not big[:, 1::2].any()
    fortran = np.asfortranarray(base)
    merge_weights(fortran, a, b, -0.5, inplace=True)
    np.testing.assert_allclose(fortran, expected, rtol=1e-5, atol=1e-5)


def test_rank_zero_and_empty_shapes() -> None:
    base = np.ones((3, 4), dtype=F32)
    got = merge_weights(base, np.zeros((0, 4), F32), np.zeros((3, 0), F32), 1.0)
    np.testing.assert_array_equal(got, base)
    empty = merge_weights(np.zeros((0, 4), F32), np.ones((2, 4), F32), np.ones((0, 2), F32), 1.0)
    assert empty.shape == (0, 4)


def bad_merges() -> list[tuple[tuple[object, ...], dict[str, object], type[Exception]]]:
    base, a, b = factors(4, 6, 2)
    nan_a = a.copy()
    nan_a[1, 3] = np.nan
    inf_b = b.copy()
    inf_b[0, 0] = np.inf
    readonly = base.copy()
    readonly.flags.writeable = False
    return [
        ((base.tolist(), a, b, 1.0), {}, TypeError),
        ((base, a.astype(np.float64), b, 1.0), {}, ValueError),
        ((base.astype(np.float16), a, b, 1.0), {}, ValueError),
        ((base[0], a, b, 1.0), {}, ValueError),
        ((base, a[None], b, 1.0), {}, ValueError),
        ((base, a[:, :5], b, 1.0), {}, ValueError),
        ((base, a, b[:3], 1.0), {}, ValueError),
        ((base, a[:1], b, 1.0), {}, ValueError),
        ((base, a, b, "1"), {}, TypeError),
        ((base, a, b, True), {}, TypeError),
        ((base, a, b, math.nan), {}, ValueError),
        ((base, a, b, math.inf), {}, ValueError),
        ((base, a, b, 1e39), {}, ValueError),
        ((base, nan_a, b, 1.0), {"inplace": True}, ValueError),
        ((base, a, inf_b, 1.0), {"inplace": True}, ValueError),
        ((base, a, b, 1.0), {"inplace": 1}, TypeError),
        ((readonly, a, b, 1.0), {"inplace": True}, ValueError),
    ]


@pytest.mark.parametrize(("args", "kwargs", "error"), bad_merges())
def test_bad_merges_raise_and_write_nothing(
    args: tuple[object, ...], kwargs: dict[str, object], error: type[Exception]
) -> None:
    before = [x.copy() if isinstance(x, np.ndarray) else x for x in args]
    with pytest.raises(error):
        merge_weights(*args, **kwargs)  # type: ignore[arg-type]
    for x, y in zip(args, before, strict=True):
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y)


def test_inplace_refuses_overlapping_factors() -> None:
    block = np.arange(36, dtype=F32).reshape(6, 6)
    before = block.copy()
    with pytest.raises(ValueError, match="shares memory"):
        merge_weights(block[:, :3], block[:1, :3], np.ones((6, 1), F32), 1.0, inplace=True)
    np.testing.assert_array_equal(block, before)
    got = merge_weights(block[:, :3], block[:1, :3], np.ones((6, 1), F32), 1.0)
    np.testing.assert_array_equal(got, before[:, :3] + before[:1, :3])


def test_adapter_delta_is_the_two_thin_products() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((9, 33), dtype=F32)
    _, a, b = factors(17, 33, 5, seed=4)
    got = apply_adapter(x, a, b, 0.25)
    assert got.shape == (9, 17) and got.dtype == F32
    want = 0.25 * (x.astype(np.float64) @ a.T.astype(np.float64)) @ b.T.astype(np.float64)
    bound = 0.25 * (np.abs(x) @ np.abs(a).T) @ np.abs(b).T
    assert np.all(np.abs(got - want) <= 4 * (33 + 5 + 2) * np.finfo(F32).eps * bound + 1e-30)


def test_merged_weight_equals_base_output_plus_adapter_delta() -> None:
    base, a, b = factors(24, 40, 4, seed=5)
    x = np.random.default_rng(6).standard_normal((3, 40), dtype=F32)
    merged = merge_weights(base, a, b, 0.5)
    np.testing.assert_allclose(x @ merged.T, x @ base.T + apply_adapter(x, a, b, 0.5), atol=1e-3)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (([[1.0]], np.ones((1, 1), F32), np.ones((1, 1), F32), 1.0), TypeError),
        ((np.ones((2, 3), F32), np.ones((1, 4), F32), np.ones((2, 1), F32), 1.0), ValueError),
        ((np.ones(3, F32), np.ones((1, 3), F32), np.ones((2, 1), F32), 1.0), ValueError),
        ((np.full((1, 1), np.nan, F32), np.ones((1, 1), F32), np.ones((1, 1), F32), 1), ValueError),
        ((np.ones((1, 1), F32), np.ones((1, 1), F32), np.ones((1, 1), F32), None), TypeError),
    ],
)
def test_bad_adapters_raise(args: tuple[object, ...], error: type[Exception]) -> None:
    with pytest.raises(error):
        apply_adapter(*args)  # type: ignore[arg-type]


def test_lora_core_scale_merge_and_unmerge() -> None:
    base, a, b = factors(10, 12, 4, seed=7)
    core = LoRACore(a, b, alpha=8.0)
    assert core.scale == 2.0 and LoRACore(a, b, 8.0, use_rslora=True).scale == 4.0
    merged = core.merge(base)
    np.testing.assert_allclose(core.unmerge(merged), base, atol=1e-4)
    x = np.ones((2, 12), F32)
    np.testing.assert_allclose(core.forward_delta(x), apply_adapter(x, a, b, 2.0))
    with pytest.raises(ValueError):
        LoRACore(a, b[:, :3], 1.0)


PEAK_SCRIPT = """
import numpy as np
from pyagent.lora_core import merge_weights
def peak_mib():
    # VmHWM, this process's own peak RSS (ru_maxrss would start at the parent's RSS).
    with open("/proc/self/status") as status:
        line = next(x for x in status if x.startswith("VmHWM:"))
    return int(line.split()[1]) // 1024
rng = np.random.default_rng(0)
base = rng.standard_normal((4096, 4096), dtype=np.float32)
a = rng.standard_normal((16, 4096), dtype=np.float32)
b = rng.standard_normal((4096, 16), dtype=np.float32)
before = peak_mib()
merge_weights(base, a, b, 0.5, inplace=True)
merged = peak_mib()
calibration = np.ones((4096, 4096), dtype=np.float32)  # a 64 MiB array, touched
print(merged - before, peak_mib() - merged)
"""


@pytest.mark.requires_rust
def test_rust_inplace_merge_allocates_no_out_by_in_temporary() -> None:
    """Peak RSS of a 4096 x 4096 in-place merge; numpy's form grows by a 64 MiB temporary.

    The same process then allocates 64 MiB, to show the measurement would have seen one.
    """
    rust = run_python(PEAK_SCRIPT, env={"PYAGENT_BACKEND": "rust"}, timeout=300)
    assert rust.returncode == 0, rust.stderr
    merge_mib, calibration_mib = (int(v) for v in rust.stdout.split()[-2:])
    assert calibration_mib >= 60, f"peak RSS did not see a 64 MiB array ({calibration_mib})"
    assert merge_mib < 8, f"Rust in-place merge grew peak RSS by {merge_mib} MiB"

"""Typed contract of the rust_core extension: the native hot paths of the PyAgent cores.

Each function mirrors the pyagent function that dispatches to it (same parameters, same
exceptions); pyagent's docstrings are the reference documentation.
"""

from collections.abc import Hashable, Iterable, Mapping, Sequence
from os import PathLike
from typing import Any, TypedDict

import numpy as np
from numpy.typing import NDArray
from typing_extensions import Buffer

_Floats = Iterable[float] | NDArray[np.floating[Any]] | NDArray[np.integer[Any]]

__version__: str

def generate_hash(data: Buffer | str, algorithm: str = "sha256") -> str: ...
def generate_hash_batch(items: Iterable[Buffer | str], algorithm: str = "sha256") -> list[str]: ...
def verify_integrity(data: Buffer | str, expected: str, algorithm: str = "sha256") -> bool: ...
def verify_integrity_batch(
    items: Iterable[Buffer | str], expected: Iterable[str], algorithm: str = "sha256"
) -> list[bool]: ...
def sharding_index(key: str, shard_count: int) -> int: ...
def sharding_index_batch(keys: Iterable[str], shard_count: int) -> list[int]: ...
def save_atomic(path: str | PathLike[str], data: Buffer | str | Any) -> None: ...
def topo_sort(
    nodes: Iterable[Hashable], edges: Iterable[tuple[Hashable, Hashable] | Sequence[Hashable]]
) -> list[Any]: ...
def detect_cycles(
    nodes: Iterable[Hashable], edges: Iterable[tuple[Hashable, Hashable] | Sequence[Hashable]]
) -> list[tuple[list[Any], list[Any]]]: ...
def apply_template(template: str, variables: Mapping[str, object], strict: bool = False) -> str: ...
def apply_template_batch(
    template: str, variables_list: Iterable[Mapping[str, object]], strict: bool = False
) -> list[str]: ...
def calculate_decay(
    weights: _Floats, ages: _Floats, half_life: float, min_weight: float = 0.05
) -> NDArray[np.float64]: ...
def calculate_decay_scalar(
    weight: float, age: float, half_life: float, min_weight: float = 0.05
) -> float: ...
def rolling_avg(values: _Floats, window: int) -> NDArray[np.float64]: ...

class MetricSummary(TypedDict):
    count: int
    sum: float
    mean: float
    min: float
    max: float
    std: float

def aggregate_metrics(names: Iterable[str], values: _Floats) -> dict[str, MetricSummary]: ...
def percentiles(values: _Floats, qs: _Floats) -> NDArray[np.float64]: ...

class Rollups(TypedDict):
    name: list[str | None]
    bucket_start: NDArray[np.float64]
    count: NDArray[np.int64]
    sum: NDArray[np.float64]
    min: NDArray[np.float64]
    max: NDArray[np.float64]
    mean: NDArray[np.float64]

def calculate_rollups(
    timestamps: _Floats,
    values: _Floats,
    bucket_seconds: float,
    names: Iterable[str] | None = None,
) -> Rollups: ...

# LoRA merging, adapters and vector search (issue 3): float32 ndarrays only.
def merge_weights(
    base: NDArray[np.float32],
    lora_a: NDArray[np.float32],
    lora_b: NDArray[np.float32],
    scaling: float,
    *,
    inplace: bool = False,
) -> NDArray[np.float32]: ...
def apply_adapter(
    x: NDArray[np.float32],
    lora_a: NDArray[np.float32],
    lora_b: NDArray[np.float32],
    scaling: float,
) -> NDArray[np.float32]: ...
def apply_lora_rust(
    weights: dict[Any, Any], adapters: Sequence[Any], *, inplace: bool = False
) -> dict[Any, Any]: ...
def search_vector_rust(
    query: NDArray[np.float32], matrix: NDArray[np.float32], top_k: int, metric: str = "cosine"
) -> tuple[NDArray[np.int64], NDArray[np.float32]]: ...

"""Typed contract of the rust_core extension: the native hot paths of the PyAgent cores.

Each function mirrors the pyagent function that dispatches to it (same parameters, same
exceptions); pyagent's docstrings are the reference documentation.
"""

import sys
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from os import PathLike
from typing import Any, TypedDict, final

import numpy as np
from numpy.typing import NDArray

if sys.version_info >= (3, 12):
    from collections.abc import Buffer
else:
    from typing_extensions import Buffer

from pyagent.analysis_core import ComplexityReport

_Floats = Iterable[float] | NDArray[np.floating[Any]] | NDArray[np.integer[Any]]

__version__: str
#: The hostile-input limits, by the pyagent constant each equals ("module:NAME").
LIMITS: dict[str, int]

# What `from rust_core import *` gives (PyO3 writes the runtime list; stubtest compares).
__all__ = [
    "Connection",
    "Listener",
    "SchemaValidator",
    "Tokenizer",
    "__version__",
    "LIMITS",
    "_parse",
    "aggregate_metrics",
    "apply_adapter",
    "apply_lora_rust",
    "apply_template",
    "apply_template_batch",
    "binary_transport",
    "block_manager",
    "bulk_hash_files",
    "calculate_complexity_batch",
    "calculate_complexity_rust",
    "calculate_decay",
    "calculate_decay_scalar",
    "calculate_rollups",
    "calculate_vcg_prices",
    "calculate_weights",
    "compile_schema",
    "count_tokens_rust",
    "detect_cycles",
    "discover_files",
    "establish_native_rust",
    "find_literal_rust",
    "generate_hash",
    "generate_hash_batch",
    "json_schema_validate",
    "load_config",
    "merge_weights",
    "page_copy",
    "percentiles",
    "rolling_avg",
    "save_atomic",
    "search_vector_rust",
    "sharding_index",
    "sharding_index_batch",
    "topo_sort",
    "validate_content_rust",
    "verify_integrity",
    "verify_integrity_batch",
]

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

class _MetricSummary(TypedDict):
    count: int
    sum: float
    mean: float
    min: float
    max: float
    std: float

def aggregate_metrics(names: Iterable[str], values: _Floats) -> dict[str, _MetricSummary]: ...
def percentiles(values: _Floats, qs: _Floats) -> NDArray[np.float64]: ...

class _Rollups(TypedDict):
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
) -> _Rollups: ...

# AnalysisCore (pyagent.analysis_core): radon-compatible cyclomatic complexity.
def calculate_complexity_rust(source: str | bytes) -> ComplexityReport: ...
def calculate_complexity_batch(sources: Sequence[str | bytes]) -> list[ComplexityReport]: ...
def page_copy(
    cache: NDArray[Any], mapping: Sequence[Sequence[int]] | NDArray[np.integer[Any]]
) -> None: ...

# The native class (Python-visible name ``BlockManager``) with the API of
# pyagent.kv_cache_core.BlockManager. Typed as a factory returning Any: pyagent's
# BlockManager.__new__ hands its instances out as pyagent BlockManagers.
block_manager: Callable[[int, int], Any]

# patterns defaults to ("*",); `...` because the runtime signature cannot show a tuple.
def discover_files(
    root: str | PathLike[str], patterns: Iterable[str] = ..., ignore: Iterable[str] = ()
) -> list[str]: ...
def bulk_hash_files(
    paths: Iterable[str | PathLike[str]], algorithm: str = "sha256"
) -> list[tuple[str, str | None, str | None]]: ...

# ConnectivityCore.binary_transport: the `rust_core.binary_transport` submodule.
class _FrameDecoder:
    def __init__(self, max_frame_size: int = 67108864) -> None: ...
    def feed(self, data: Buffer) -> list[tuple[int, Any]]: ...
    def finish(self) -> None: ...
    @property
    def pending(self) -> int: ...
    @property
    def max_frame_size(self) -> int: ...

class _BinaryTransport:
    # Any: pyagent.connectivity_core.FrameDecoder.__new__ returns it as its own type.
    FrameDecoder: Any
    @staticmethod
    def encode_frame(
        obj: Any, stream_id: int = 0, *, compress_threshold: int = 1024, level: int = 3
    ) -> bytes: ...
    @staticmethod
    def encode_frames(
        messages: Iterable[tuple[int, Any]], *, compress_threshold: int = 1024, level: int = 3
    ) -> bytes: ...

binary_transport: _BinaryTransport

# ConnectivityCore.establish_native_rust. Constructors return Any: pyagent's hooks return the
# Rust objects as pyagent's own Connection and Listener, which they mirror.
@final
class Connection:
    def send(self, stream_id: int, obj: Any) -> None: ...
    def recv(self, timeout: float | None = None) -> tuple[int, Any]: ...
    def recv_stream(self, stream_id: int, timeout: float | None = None) -> Any: ...
    def ping(self, timeout: float | None = 5.0) -> float: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def __enter__(self) -> Connection: ...
    def __exit__(self, *args: object) -> bool: ...

def establish_native_rust(host: str, port: int, timeout: float | None = 10.0) -> Any: ...

class _Listener:
    @property
    def port(self) -> int: ...
    @property
    def host(self) -> str: ...
    def accept(self, timeout: float | None = None) -> Any: ...
    def close(self) -> None: ...
    def __enter__(self) -> _Listener: ...
    def __exit__(self, *args: object) -> bool: ...

Listener: Any

def _parse(data: str | Buffer, fmt: str) -> Any: ...
def load_config(
    source: str | PathLike[str] | Iterable[str | PathLike[str]],
    fmt: str | None = None,
    progress: Callable[[str, int, int], object] | None = None,
) -> Any: ...

# SearchCore (issue 6)
def find_literal_rust(
    needle: str,
    root: str | PathLike[str],
    *,
    glob: str = "*",
    ignore_case: bool = False,
    max_count: int | None = None,
) -> list[tuple[str, int, int, str]]: ...

# InferenceCore tokenizer (issue 6). The class is exported as ``Tokenizer``; typed Any, as
# pyagent.tokenizer_core.Tokenizer.__new__ hands its instances out as its own type.
class _Tokenizer:
    def __init__(
        self,
        ranks: Mapping[bytes, int],
        pattern: str,
        special_tokens: Mapping[str, int] | None = None,
    ) -> None: ...
    def encode(
        self,
        text: str,
        *,
        allowed_special: Iterable[str] | str = ...,
        disallowed_special: Iterable[str] | str = "all",
    ) -> list[int]: ...
    def encode_ordinary(self, text: str) -> list[int]: ...
    def encode_batch(
        self,
        texts: Sequence[str],
        *,
        allowed_special: Iterable[str] | str = ...,
        disallowed_special: Iterable[str] | str = "all",
    ) -> list[list[int]]: ...
    def decode(self, tokens: Sequence[int]) -> str: ...
    def decode_bytes(self, tokens: Sequence[int]) -> bytes: ...
    @property
    def n_vocab(self) -> int: ...
    def _pieces(self, text: str) -> list[str]: ...
    @property
    def _split_engine(self) -> str: ...

Tokenizer: Any

def count_tokens_rust(
    tokenizer: Any,
    text: str | Sequence[str],
    *,
    allowed_special: Iterable[str] | str = ...,
    disallowed_special: Iterable[str] | str = "all",
) -> int | list[int]: ...
def calculate_weights(
    nodes: Iterable[Hashable],
    edges: Iterable[tuple[Hashable, Hashable] | Sequence[Hashable]],
    weights: _Floats | None = None,
    *,
    alpha: float = 0.85,
    personalization: Mapping[Hashable, float] | None = None,
    max_iter: int = 100,
    tol: float = 1e-6,
    dangling: Mapping[Hashable, float] | None = None,
) -> dict[Any, float]: ...
def calculate_vcg_prices(
    values: Sequence[Sequence[float]] | NDArray[Any],
) -> tuple[NDArray[np.int64], NDArray[np.float64], float]: ...

# ValidationCore: json_schema_validate (records and SchemaError come from pyagent.validation_core)
@final
class SchemaValidator:
    @property
    def schema(self) -> Any: ...
    @property
    def draft(self) -> str: ...
    def validate(self, instance: Any) -> tuple[bool, list[Any]]: ...
    def is_valid(self, instance: Any) -> bool: ...
    def validate_many(self, instances: Iterable[Any]) -> list[tuple[bool, list[Any]]]: ...
    def is_valid_many(self, instances: Iterable[Any]) -> list[bool]: ...

# Any: pyagent.validation_core.compile_schema returns this class or its own SchemaValidator.
# registry: URI -> schema documents a $ref may reach; retrieve(uri) returns any other one.
def compile_schema(
    schema: Any,
    *,
    registry: Mapping[str, Any] | None = None,
    retrieve: Callable[[str], Any] | None = None,
    format: str | None = None,
) -> Any: ...
def json_schema_validate(
    instance: Any,
    schema: Any,
    *,
    registry: Mapping[str, Any] | None = None,
    retrieve: Callable[[str], Any] | None = None,
    format: str | None = None,
) -> tuple[bool, list[Any]]: ...

# ValidationCore: validate_content (records are pyagent.validation_core.Finding)
def validate_content_rust(
    contents: Iterable[str | Buffer],
    rules: Iterable[Sequence[str]],
    *,
    paths: Iterable[str] | None = None,
) -> list[Any]: ...

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

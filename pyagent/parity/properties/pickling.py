"""Objects that cross process boundaries: a pickle written by one backend loads on the other.

Worker processes of a pool or a cluster may run without rust_core (or with
``PYAGENT_BACKEND=python``), so every object a hot path hands out must pickle to a
backend-neutral constructor and behave the same once loaded. The block manager and the
frame decoder, whose state changes call by call, are checked inside their own properties
(kv_cache, connectivity); this module covers the immutable ones, the tokenizer and the
compiled schema, whose pickles hold their construction arguments.
"""

from __future__ import annotations

import copy
import pickle
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from pyagent import tokenizer_core, validation_core
from pyagent.backend import forced_python
from pyagent.parity.properties.tokenizer import patterns, texts, tokenizer
from pyagent.parity.properties.validation import documents, json_values
from pyagent.parity.registry import parity_property

HOW = st.sampled_from(["pickle", "pickle", "copy", "deepcopy"])
PROTOCOLS = st.integers(0, pickle.HIGHEST_PROTOCOL)


def _to_python(obj: Any, how: str, protocol: int) -> Any:
    """``obj`` (a Rust object) moved to the pure-Python backend."""
    data = pickle.dumps(obj, protocol) if how == "pickle" else None
    with forced_python():
        if data is not None:
            return pickle.loads(data)
        return copy.copy(obj) if how == "copy" else copy.deepcopy(obj)


def _to_rust(obj: Any, how: str, protocol: int) -> Any:
    """``obj`` (a pure-Python object) moved to the Rust backend."""
    if how == "pickle":
        with forced_python():
            data = pickle.dumps(obj, protocol)
        return pickle.loads(data)
    return copy.copy(obj) if how == "copy" else copy.deepcopy(obj)


@parity_property("count_tokens_rust")
@given(pattern=patterns, text=texts, how=HOW, protocol=PROTOCOLS)
def tokenizer_moves_between_backends(pattern: str, text: str, how: str, protocol: int) -> None:
    """A tokenizer pickled or copied on one backend encodes alike on the other.

    Special tokens included, and decoding too.
    """
    native = tokenizer(pattern)
    with forced_python():
        reference = tokenizer(pattern)
    assert type(native).__module__ == "rust_core", "rust_core is not active"
    assert type(reference) is tokenizer_core.Tokenizer
    moved_python = _to_python(native, how, protocol)
    moved_rust = _to_rust(reference, how, protocol)
    assert type(moved_python) is tokenizer_core.Tokenizer
    assert type(moved_rust) is type(native)
    expected = native.encode(text, allowed_special="all")
    with forced_python():
        assert moved_python.encode(text, allowed_special="all") == expected
        assert moved_python.decode_bytes(expected) == native.decode_bytes(expected)
    assert moved_rust.encode(text, allowed_special="all") == expected
    assert moved_rust.n_vocab == native.n_vocab == moved_python.n_vocab


@parity_property("json_schema_validate")
@given(
    schema=documents(),
    instances=st.lists(json_values, max_size=6),
    how=HOW,
    protocol=PROTOCOLS,
)
def compiled_schema_moves_between_backends(
    schema: Any, instances: list[Any], how: str, protocol: int
) -> None:
    """A compiled schema pickled or copied on one backend validates alike on the other.

    Same verdicts, same issues.
    """
    try:
        native = validation_core.compile_schema(schema)
    except (validation_core.SchemaError, TypeError, ValueError):
        return  # refusals are compared by the validation properties
    with forced_python():
        reference = validation_core.compile_schema(schema)
    moved_python = _to_python(native, how, protocol)
    moved_rust = _to_rust(reference, how, protocol)
    assert isinstance(moved_python, validation_core.SchemaValidator)
    assert type(moved_rust) is type(native)
    assert moved_python.schema == schema == moved_rust.schema
    assert moved_python.draft == native.draft == moved_rust.draft
    with forced_python():
        verdicts = moved_python.is_valid_many(instances)
    assert verdicts == reference.is_valid_many(instances) == moved_rust.is_valid_many(instances)
    assert moved_rust.validate_many(instances) == native.validate_many(instances)

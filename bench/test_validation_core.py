"""ValidationCore.json_schema_validate: one compiled schema, many small instances.

Workload: 100,000 small JSON objects (a user record: 7 properties, nested array and object,
a ``$ref``), about 1 in 10 invalid in one of several ways, against one Draft 2020-12 schema.
Groups: ``json_schema_validate`` times ``compile_schema(schema).is_valid_many(instances)`` for
the Python reference, Rust and jsonschema on the first 10,000 instances (the pure-Python
validators take about a minute per round at 100,000; per instance the cost is the same);
``-vs-fastjsonschema`` and ``-vs-jsonschema-rs`` time Rust and that peer on all 100,000;
``-with-errors`` times ``validate_many`` (the error records) against jsonschema's
``iter_errors`` on the first 10,000. Peers, each with its schema compiled once
outside the timing: ``jsonschema`` (the manifest's peer, Draft202012Validator.is_valid per
instance), ``fastjsonschema`` (generated Python code; it stops at the first error) and
``jsonschema-rs`` (the same Rust engine as rust_core, as a Python package: the ratio shows
what our binding costs: both read Python objects in place). Every result is checked against
the known validity of each instance.
"""

from __future__ import annotations

import random
from typing import Any

import fastjsonschema
import jsonschema
import jsonschema_rs
import pytest

from bench.conftest import compare, rust_vs_peer_only, scaled
from pyagent import validation_core

N = scaled(100_000, 10_000)
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$defs": {"tag": {"type": "string", "minLength": 1, "maxLength": 16}},
    "type": "object",
    "properties": {
        "id": {"type": "integer", "minimum": 0},
        "name": {"type": "string", "minLength": 1, "maxLength": 64},
        "email": {"type": "string", "pattern": "^[^@]+@[^@]+$"},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "active": {"type": "boolean"},
        "tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}, "maxItems": 5},
        "address": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
            "required": ["city"],
        },
    },
    "required": ["id", "name", "email"],
    "additionalProperties": False,
}


def _make(rng: random.Random, i: int) -> tuple[dict[str, Any], bool]:
    obj: dict[str, Any] = {
        "id": i,
        "name": f"user{i}",
        "email": f"user{i}@example.com",
        "score": rng.random(),
        "active": rng.random() < 0.5,
        "tags": [f"t{rng.randrange(100)}" for _ in range(rng.randrange(4))],
        "address": {"city": "Paris", "zip": f"{rng.randrange(10**5):05d}"},
    }
    if rng.random() >= 0.1:
        return obj, True
    fault = rng.randrange(5)
    if fault == 0:
        obj["id"] = -1
    elif fault == 1:
        del obj["email"]
    elif fault == 2:
        obj["tags"] = ["x", ""]
    elif fault == 3:
        obj["extra"] = True
    else:
        obj["address"] = {"zip": "1"}
    return obj, False


_rng = random.Random(20261124)
INSTANCES, EXPECTED = map(list, zip(*(_make(_rng, i) for i in range(N)), strict=True))
WORKLOAD = f"{N:,} small objects (7 properties, ~10% invalid), one Draft 2020-12 schema"
SMALL_N = scaled(10_000, 2_000)
SMALL, SMALL_EXPECTED = INSTANCES[:SMALL_N], EXPECTED[:SMALL_N]
SMALL_WORKLOAD = WORKLOAD.replace(f"{N:,}", f"{SMALL_N:,}")


def _jsonschema_peer() -> Any:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    return lambda: [validator.is_valid(x) for x in SMALL]


def _fastjsonschema_peer() -> Any:
    validate = fastjsonschema.compile(SCHEMA)

    def run() -> list[bool]:
        out = []
        for x in INSTANCES:
            try:
                validate(x)
                out.append(True)
            except fastjsonschema.JsonSchemaValueException:
                out.append(False)
        return out

    return run


def _jsonschema_rs_peer() -> Any:
    validator = jsonschema_rs.validator_for(SCHEMA)
    return lambda: [validator.is_valid(x) for x in INSTANCES]


def test_json_schema_is_valid_many(benchmark: object, implementation: str) -> None:
    validator_box: dict[str, Any] = {}

    def ours() -> list[bool]:
        # Compiled once per implementation (outside the timing for Rust: the first call
        # builds it; a compile takes well under a millisecond either way).
        if "v" not in validator_box:
            validator_box["v"] = validation_core.compile_schema(SCHEMA)
        return validator_box["v"].is_valid_many(SMALL)

    compare(
        benchmark,
        implementation,
        hot_path="json_schema_validate",
        workload=SMALL_WORKLOAD,
        ours=ours,
        peer=_jsonschema_peer(),
        check=lambda got: got == SMALL_EXPECTED,
    )


@pytest.mark.parametrize(
    ("peer_name", "make_peer"),
    [("fastjsonschema", _fastjsonschema_peer), ("jsonschema-rs", _jsonschema_rs_peer)],
)
@rust_vs_peer_only
def test_json_schema_is_valid_many_vs_other_peers(
    benchmark: object, implementation: str, peer_name: str, make_peer: Any
) -> None:
    validator = validation_core.compile_schema(SCHEMA)
    compare(
        benchmark,
        implementation,
        hot_path="json_schema_validate",
        workload=WORKLOAD,
        ours=lambda: validator.is_valid_many(INSTANCES),
        peer=make_peer(),
        check=lambda got: got == EXPECTED,
        group_suffix=f"-vs-{peer_name}",
        peer_name=peer_name,
    )


@rust_vs_peer_only
def test_json_schema_validate_many(benchmark: object, implementation: str) -> None:
    """With the error records, Rust vs jsonschema's iter_errors (the Python reference is
    jsonschema plus record building, timed in the main group; here it would add minutes)."""

    def ours() -> list[tuple[bool, list[Any]]]:
        return validation_core.compile_schema(SCHEMA).validate_many(SMALL)

    def peer() -> list[tuple[bool, list[Any]]]:
        validator = jsonschema.Draft202012Validator(SCHEMA)
        out: list[tuple[bool, list[Any]]] = []
        for x in SMALL:
            errors = list(validator.iter_errors(x))
            out.append((not errors, errors))
        return out

    compare(
        benchmark,
        implementation,
        hot_path="json_schema_validate",
        workload=SMALL_WORKLOAD + ", with error records",
        ours=ours,
        peer=peer,
        check=lambda got: (
            [valid for valid, _ in got] == SMALL_EXPECTED
            and all(valid == (not errors) for valid, errors in got)
        ),
        group_suffix="-with-errors",
    )

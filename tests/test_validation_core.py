"""ValidationCore: JSON Schema validation on the selected backend (the suite runner is
tests/test_json_schema_suite.py)."""

from __future__ import annotations

import pytest

from pyagent.validation_core import (
    DRAFT7_URI,
    DRAFT202012_URI,
    MAX_DEPTH,
    SchemaError,
    SchemaIssue,
    compile_schema,
    json_schema_validate,
)

D7 = DRAFT7_URI + "#"

PERSON = {
    "$defs": {"name": {"type": "string", "minLength": 1}},
    "type": "object",
    "properties": {
        "name": {"$ref": "#/$defs/name"},
        "age": {"type": "integer", "minimum": 0},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name"],
    "unevaluatedProperties": False,
}


def locations(result: tuple[bool, list[SchemaIssue]]) -> set[str]:
    return {issue.instance_path for issue in result[1]}


def test_valid_instance_has_no_errors() -> None:
    assert json_schema_validate({"name": "Ada", "age": 36, "tags": ["x"]}, PERSON) == (True, [])


def test_errors_are_records_with_json_pointers() -> None:
    valid, errors = json_schema_validate(
        {"name": "", "age": -1, "tags": ["ok", 3], "extra": 1}, PERSON
    )
    assert valid is False
    assert all(isinstance(e, SchemaIssue) and e.message for e in errors)
    assert {e.instance_path for e in errors} == {"/name", "/age", "/tags/1", ""}
    by_location = {e.instance_path: e.schema_path for e in errors}
    assert by_location["/age"] == "/properties/age/minimum"
    assert by_location["/tags/1"] == "/properties/tags/items/type"
    assert by_location["/name"].endswith("/minLength")
    assert by_location[""].endswith("unevaluatedProperties")


def test_pointer_escaping_and_false_subschemas() -> None:
    schema = {"properties": {"a/b": False, "c~d": {"type": "string"}}}
    assert locations(json_schema_validate({"a/b": 1, "c~d": 2}, schema)) == {"/a~1b", "/c~0d"}
    false_items = {"prefixItems": [{}], "items": False}
    assert locations(json_schema_validate([1, 2, 3], false_items)) == {"/1", "/2"}
    valid, errors = json_schema_validate({"a/b": 1}, schema)
    assert not valid and "False schema" in errors[0].message


def test_combinators_and_conditionals() -> None:
    schema = {
        "anyOf": [{"type": "string"}, {"type": "integer"}],
        "not": {"const": 13},
        "if": {"type": "integer"},
        "then": {"multipleOf": 2},
    }
    assert json_schema_validate("x", schema)[0]
    assert json_schema_validate(4, schema)[0]
    assert not json_schema_validate(13, schema)[0]
    assert not json_schema_validate(3, schema)[0]
    assert not json_schema_validate(None, schema)[0]
    assert json_schema_validate(1, {"oneOf": [{"minimum": 0}, {"maximum": 5}]})[0] is False


def test_unevaluated_items_and_dynamic_ref() -> None:
    items = {"prefixItems": [{}], "unevaluatedItems": False}
    assert json_schema_validate([1], items) == (True, [])
    assert locations(json_schema_validate([1, "a"], items)) == {""}
    tree = {
        "$dynamicAnchor": "node",
        "type": "object",
        "properties": {"kids": {"type": "array", "items": {"$dynamicRef": "#node"}}},
    }
    assert json_schema_validate({"kids": [{"kids": []}]}, tree)[0]
    assert locations(json_schema_validate({"kids": [{"kids": [3]}]}, tree)) == {"/kids/0/kids/0"}


def test_draft7_is_selected_by_schema_keyword() -> None:
    tuple_items = {"$schema": D7, "items": [{"type": "string"}], "additionalItems": False}
    assert json_schema_validate(["a"], tuple_items)[0]
    assert locations(json_schema_validate([1, 2], tuple_items)) == {"", "/0"}
    # The same keywords mean something else in 2020-12 (items as an array is invalid there).
    with pytest.raises(SchemaError):
        json_schema_validate(["a"], {k: v for k, v in tuple_items.items() if k != "$schema"})
    assert compile_schema(tuple_items).draft == DRAFT7_URI
    assert compile_schema({}).draft == DRAFT202012_URI
    assert compile_schema({"$schema": DRAFT202012_URI + "#"}).draft == DRAFT202012_URI


def test_format_and_content_are_annotations() -> None:
    assert json_schema_validate("not an email", {"format": "email"})[0]
    assert json_schema_validate("%%", {"$schema": D7, "contentEncoding": "base64"})[0]


def test_integers_and_floats_compare_as_json_numbers() -> None:
    assert json_schema_validate(1.0, {"type": "integer"})[0]
    assert json_schema_validate([1, 1.0], {"uniqueItems": True})[0] is False
    assert json_schema_validate(True, {"enum": [1]})[0] is False
    assert json_schema_validate(2**64 - 1, {"type": "integer", "minimum": 2**63})[0]


def test_compiled_validator_for_many_instances() -> None:
    validator = compile_schema({"type": "object", "required": ["id"]})
    instances = [{"id": i} if i % 3 else {"name": i} for i in range(1000)]
    expected = [i % 3 != 0 for i in range(1000)]
    assert validator.is_valid_many(instances) == expected
    assert [validator.is_valid(x) for x in instances[:10]] == expected[:10]
    many = validator.validate_many(instances)
    assert [valid for valid, _ in many] == expected
    assert all(valid == (not errors) for valid, errors in many)
    assert validator.validate({"name": 1}) == many[0]
    assert validator.validate_many([]) == [] and validator.is_valid_many(iter([])) == []


@pytest.mark.parametrize(
    "schema",
    [
        {"type": 5},
        {"minimum": "x"},
        {"required": "a"},
        {"$schema": "http://json-schema.org/draft-03/schema#"},
        {"$schema": 7},
        {"$ref": "#/$defs/missing"},
        {"$ref": "http://localhost:1234/integer.json"},
        {"$ref": "other.json"},
        {"properties": {"a": {"$ref": "#nowhere"}}},
        3,
        "schema",
        None,
    ],
)
def test_unusable_schemas_raise_schema_error(schema: object) -> None:
    with pytest.raises(SchemaError) as info:
        compile_schema(schema)
    assert isinstance(info.value, ValueError)
    with pytest.raises(SchemaError):
        json_schema_validate({}, schema)


def test_bundled_meta_schemas_resolve_offline() -> None:
    meta = {"$ref": DRAFT202012_URI}
    assert json_schema_validate({"type": "string"}, meta)[0]
    assert not json_schema_validate({"type": 5}, meta)[0]


def _nested(depth: int) -> object:
    value: object = 0
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("instance", "error"),
    [
        ((1, 2), TypeError),
        ({1: "a"}, TypeError),
        ({"a": {2.5: 1}}, TypeError),
        ({1, 2}, TypeError),
        (b"bytes", TypeError),
        (object(), TypeError),
        (2**64, ValueError),
        (-(2**63) - 1, ValueError),
        (float("nan"), ValueError),
        ([float("inf")], ValueError),
        ("lone \udc80", UnicodeEncodeError),
        ({"\udc80": 1}, UnicodeEncodeError),
        (_nested(MAX_DEPTH + 1), ValueError),
        ([{"a": (1,)}, 2**70], TypeError),  # the first bad value in order decides
        ([2**70, {"a": (1,)}], ValueError),
    ],
)
def test_non_json_values_are_rejected(instance: object, error: type) -> None:
    validator = compile_schema({})
    with pytest.raises(error):
        validator.validate(instance)
    with pytest.raises(error):
        validator.is_valid_many([1, instance])
    with pytest.raises(error):
        json_schema_validate(instance, {})
    with pytest.raises(error):
        compile_schema({"const": instance})


def test_deepest_accepted_nesting() -> None:
    assert json_schema_validate(_nested(MAX_DEPTH - 1), {})[0]

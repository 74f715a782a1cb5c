"""ValidationCore: JSON Schema validation on the selected backend (the suite runner is
tests/test_json_schema_suite.py)."""

from __future__ import annotations

import pytest

from pyagent.validation_core import (
    ASSERTED_FORMATS,
    DEFAULT_DRAFT,
    DRAFT4_URI,
    DRAFT6_URI,
    DRAFT7_URI,
    DRAFT201909_URI,
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


class _Dict(dict):  # type: ignore[type-arg]
    pass


class _Str(str):
    pass


class _Int(int):
    pass


def _subclassed(value: object) -> object:
    """The same JSON value built from subclasses (rust_core converts these, and reads plain
    built-in objects in place: both must give the same answers)."""
    if isinstance(value, dict):
        return _Dict({_Str(k): _subclassed(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_subclassed(v) for v in value]
    if isinstance(value, str):
        return _Str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return _Int(value)
    return value


def test_in_place_and_converted_instances_agree() -> None:
    schema = {
        "type": "object",
        "propertyNames": {"maxLength": 3},
        "properties": {
            "s": {"type": "string", "minLength": 2, "maxLength": 2},
            "n": {"type": "integer", "maximum": 2**64 - 1, "minimum": -(2**63)},
            "f": {"type": "number", "multipleOf": 0.5},
            "u": {"type": "array", "uniqueItems": True},
            "c": {"enum": [{"a": [1, "é"]}, 2.0, None, True]},
        },
        "additionalProperties": False,
    }
    instances = [
        {"s": "é😀"},
        {"s": "é😀!"},
        {"n": 2**64 - 1},
        {"n": -(2**63)},
        {"n": 2.0},
        {"n": 2.5},
        {"f": 1.5},
        {"f": 1.25},
        {"u": [1, 1.0]},
        {"u": [{"a": 1}, {"a": 2}, "x"]},
        {"c": {"a": [1, "é"]}},
        {"c": 2},
        {"c": False},
        {"c": None},
        {"long": 1},
        {"é": 1},
    ]
    expected = [True, False, True, True, True, False, True, False, False, True]
    expected += [True, True, False, True, False, False]
    validator = compile_schema(schema)
    assert validator.is_valid_many(instances) == expected
    assert validator.is_valid_many([_subclassed(x) for x in instances]) == expected
    assert [validator.is_valid(_subclassed(x)) for x in instances] == expected
    assert [valid for valid, _ in validator.validate_many(instances)] == expected


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


# --- Drafts, registries, the pattern dialect and format assertion (issue 19) ----------------

D4 = "http://json-schema.org/draft-04/schema#"
D6 = "http://json-schema.org/draft-06/schema#"
D2019 = "https://json-schema.org/draft/2019-09/schema"


@pytest.mark.parametrize(
    ("draft", "uri"),
    [(D4, DRAFT4_URI), (D6, DRAFT6_URI), (D7, DRAFT7_URI), (D2019, DRAFT201909_URI)],
)
def test_every_draft_is_chosen_by_schema(draft: str, uri: str) -> None:
    validator = compile_schema(
        {"$schema": draft, "maximum": 3, "exclusiveMaximum": True}
        if draft == D4
        else {"$schema": draft, "exclusiveMaximum": 3}
    )
    assert validator.draft == uri
    assert validator.is_valid(2) and not validator.is_valid(3)
    assert compile_schema({"maximum": 3}).draft == DEFAULT_DRAFT == DRAFT202012_URI


def test_registry_and_retrieve() -> None:
    registry = {"http://example.com/name.json": {"type": "string", "minLength": 1}}
    schema = {"properties": {"name": {"$ref": "http://example.com/name.json"}}}
    assert json_schema_validate({"name": "x"}, schema, registry=registry)[0]
    assert not json_schema_validate({"name": ""}, schema, registry=registry)[0]
    with pytest.raises(SchemaError):
        compile_schema(schema)  # nothing registered, nothing fetched
    asked: list[str] = []

    def retrieve(uri: str) -> object:
        asked.append(uri)
        return {"type": "integer"}

    twice = {"anyOf": [{"$ref": "http://example.com/int.json"}] * 2}
    validator = compile_schema(twice, retrieve=retrieve)
    assert validator.is_valid(3) and not validator.is_valid("3")
    assert asked == ["http://example.com/int.json"]  # once, at compile time

    def broken(uri: str) -> object:
        raise OSError(f"no {uri}")

    with pytest.raises(SchemaError):
        compile_schema({"$ref": "http://example.com/int.json"}, retrieve=broken)
    with pytest.raises(SchemaError):
        compile_schema({"$ref": "http://example.com/x.json"}, retrieve=lambda uri: {1, 2})
    with pytest.raises(ValueError):
        compile_schema({}, registry={"relative.json": {}})
    with pytest.raises(TypeError):
        compile_schema({}, registry=[("http://example.com/a", {})])
    with pytest.raises(TypeError):
        compile_schema({}, retrieve="not callable")


def test_registered_meta_schema_picks_its_draft() -> None:
    meta = {"http://example.com/meta": {"$schema": D7}}
    validator = compile_schema({"$schema": "http://example.com/meta#"}, registry=meta)
    assert validator.draft == DRAFT7_URI


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        (r"^\p{Letter}+$", "Émile", True),
        (r"^\p{Letter}+$", "a1", False),
        (r"^\d+$", "١٢", False),  # ECMA: \d is ASCII
        (r"^\s$", "\u3000", True),  # ECMA: \s is Unicode white space
        (r"^.$", "\r", False),
        (r"^[^]$", "\n", True),
        ("^(a+)+$", "a" * 40 + "!", False),  # linear on both backends
        (r"^\u{1F600}\x41$", "😀A", True),
        ("^(?<n>ab){2}$", "abab", True),
    ],
)
def test_pattern_dialect(pattern: str, text: str, matches: bool) -> None:
    assert json_schema_validate(text, {"pattern": pattern})[0] is matches
    props = {"patternProperties": {pattern: True}, "additionalProperties": False}
    assert json_schema_validate({text: 1}, props)[0] is matches


@pytest.mark.parametrize(
    "pattern",
    ["a{1000}{1000}", "(a{1000}){1000}", "(?=a)", r"(a)\1", r"\bx", "(?i)a", r"\p{Greek}", "{"],
)
def test_patterns_outside_the_dialect_are_schema_errors(pattern: str) -> None:
    with pytest.raises(SchemaError):
        compile_schema({"pattern": pattern})
    with pytest.raises(SchemaError):
        compile_schema({"patternProperties": {pattern: {}}})
    # data keywords are not schemas: their "pattern" is no pattern
    assert compile_schema({"const": {"pattern": pattern}}).is_valid({"pattern": pattern})


def test_format_assertion_is_opt_in_with_one_set() -> None:
    assert ASSERTED_FORMATS == ("date", "ipv4", "ipv6", "regex", "uuid")
    bad = {"date": "2024-02-30", "ipv4": "1.2.3", "ipv6": "::g", "regex": "(", "uuid": "x"}
    good = {
        "date": "2024-02-29",
        "ipv4": "10.0.0.1",
        "ipv6": "::1",
        "regex": "^a+$",
        "uuid": "2eb8aa08-aa98-11ea-b4aa-73b441d16380",
    }
    for name in ASSERTED_FORMATS:
        assert json_schema_validate(bad[name], {"format": name})[0]
        assert not json_schema_validate(bad[name], {"format": name}, format="assert")[0]
        assert json_schema_validate(good[name], {"format": name}, format="assert")[0]
    assert json_schema_validate("no email", {"format": "email"}, format="assert")[0]
    with pytest.raises(ValueError):
        compile_schema({}, format="strict")


DRAFT7 = "http://json-schema.org/draft-07/schema#"


@pytest.mark.parametrize(
    ("schema", "valid", "invalid"),
    [
        ({"allOf": [{"$ref": "#"}]}, [1, "a", {}], []),
        ({"allOf": [{"$ref": "#"}], "type": "string"}, ["a"], [1]),
        ({"$schema": DRAFT7, "anyOf": [{"$ref": "#"}], "minimum": 2}, [3, "a"], [1]),
        (
            {
                "$defs": {"a": {"$ref": "#/$defs/b", "minimum": 5}, "b": {"$ref": "#/$defs/a"}},
                "$ref": "#/$defs/a",
            },
            [7],
            [1],
        ),
    ],
)
def test_reference_cycles_without_progress_pass_where_they_close(
    schema: dict, valid: list, invalid: list
) -> None:
    for instance in valid:
        assert json_schema_validate(instance, schema)[0] is True, instance
    for instance in invalid:
        assert json_schema_validate(instance, schema)[0] is False, instance


def test_a_root_declaring_its_draft_keeps_the_re2_dialect_when_reentered() -> None:
    # Re-entering a root with `$schema` through `$ref` once switched to the library's stock
    # class (Python `re`): `\d` then matched Arabic-Indic digits, which RE2 and Rust do not.
    schema = {
        "$schema": DRAFT7,
        "properties": {"n": {"pattern": "^\\d+$"}, "again": {"$ref": "#"}},
    }
    assert json_schema_validate({"again": {"n": "\u0661\u0662"}}, schema)[0] is False
    assert json_schema_validate({"again": {"n": "12"}}, schema)[0] is True


def test_registered_draft7_document_with_an_array_dependency() -> None:
    document = {
        "$schema": DRAFT7,
        "dependencies": {"a": {}, "b": []},
        "definitions": {"q": {"$id": "#foo", "type": "integer"}},
    }
    schema = {"$schema": DRAFT7, "$ref": "http://x.test/a.json#foo"}
    registry = {"http://x.test/a.json": document}
    assert json_schema_validate(3, schema, registry=registry)[0] is True
    assert json_schema_validate("3", schema, registry=registry)[0] is False


DRAFT4 = "http://json-schema.org/draft-04/schema#"
DRAFT2019 = "https://json-schema.org/draft/2019-09/schema"


@pytest.mark.parametrize("draft", [DRAFT2019, DRAFT202012_URI])
@pytest.mark.parametrize(
    ("keyword", "evaluates", "valid", "invalid"),
    [
        ("unevaluatedProperties", {"properties": {"a": {}}}, [{}, {"a": 1}, 3], [{"b": 1}]),
        ("unevaluatedItems", {"prefixItems": [{}]}, [[], [1], "x"], [[1, 2]]),
    ],
)
def test_unevaluated_beside_a_self_reference_gathers_without_recursing(
    draft: str, keyword: str, evaluates: dict, valid: list, invalid: list
) -> None:
    # The reference's evaluated-keys walk followed `allOf: [{$ref: "#"}]` until
    # RecursionError; the cycle adds nothing, so only what the schema itself evaluates counts.
    if draft == DRAFT2019 and keyword == "unevaluatedItems":
        evaluates = {"items": [{}]}  # 2019-09's tuple form
    for where in ("root", "registered"):
        document = {"$schema": draft, **evaluates, keyword: False}
        if where == "root":
            schema, registry = {**document, "allOf": [{"$ref": "#"}]}, None
        else:
            uri = "http://x.test/self.json"
            schema = {"anyOf": [{"$ref": uri}]}
            registry = {uri: {**document, "allOf": [{"$ref": uri}]}}
        for instance in valid:
            assert json_schema_validate(instance, schema, registry=registry)[0], (where, instance)
        for instance in invalid:
            valid_, issues = json_schema_validate(instance, schema, registry=registry)
            assert not valid_ and issues, (where, instance)


@pytest.mark.parametrize("how", ["registry", "retrieve"])
@pytest.mark.parametrize(
    "document",
    [
        {"$schema": DRAFT4, "items": False},  # booleans are schemas only from Draft 6
        {"$schema": DRAFT4, "properties": {"a": True}},
        {"type": "no such type"},  # checked against the root's draft
        {"$schema": DRAFT7, "minimum": "1"},
    ],
)
def test_a_reached_document_is_checked_against_its_meta_schema(how: str, document: dict) -> None:
    uri = "http://x.test/doc.json"
    documents = {uri: document}
    where = {"registry": documents} if how == "registry" else {"retrieve": documents.get}
    with pytest.raises(SchemaError):
        compile_schema({"anyOf": [{"$ref": uri}]}, **where)
    # A document that is registered but never reached is not checked.
    if how == "registry":
        assert json_schema_validate(1, {"type": "integer"}, registry=where["registry"])[0]


@pytest.mark.parametrize("pointer", ["", "#/$defs/x"])
def test_a_document_without_schema_is_read_in_the_roots_draft_whoever_refers_to_it(
    pointer: str,
) -> None:
    # Reached from a Draft 4 document, a.json is still 2020-12 (the root's draft), so its
    # unevaluatedProperties applies; the reference used to keep the referrer's Draft 4.
    rule = {"properties": {"k": {}}, "unevaluatedProperties": False}
    a = {"$defs": {"x": rule}} if pointer else rule
    b = {"$schema": DRAFT4, "allOf": [{"$ref": "http://x.test/a.json" + pointer}]}
    registry = {"http://x.test/a.json": a, "http://x.test/b.json": b}
    schema = {"anyOf": [{"$ref": "http://x.test/b.json"}]}
    assert json_schema_validate({"k": 1}, schema, registry=registry)[0]
    assert not json_schema_validate({"other": 1}, schema, registry=registry)[0]
    # Declared, the document keeps its own draft: Draft 4 has no unevaluatedProperties.
    registry["http://x.test/a.json"] = {"$schema": DRAFT4, **a}
    assert json_schema_validate({"other": 1}, schema, registry=registry)[0]

"""ValidationCore parity: json_schema_validate and compiled schemas.

Schemas are drawn from a grammar of Draft 2020-12 and Draft 7 keywords (assertions,
applicators, ``$ref``/``$defs``, combinators, ``unevaluated*``, boolean subschemas) and
instances from small JSON values that sit on the keywords' edges. The backends must agree on
validity for every instance and on the *set* of instance locations in the error list (the
two engines word messages differently and may repeat a location), or raise the same class.
``pattern`` uses expressions that mean the same in Python's ``re`` and ECMA 262. Bad inputs
ride along: non-JSON values (tuples, sets, non-str keys), integers beyond 64 bits, NaN,
invalid schemas, unknown ``$schema``, unresolvable and remote ``$ref``.
"""

from __future__ import annotations

from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from pyagent import validation_core
from pyagent.parity import hostile
from pyagent.parity.compare import call_both
from pyagent.parity.registry import parity_property

D7 = "http://json-schema.org/draft-07/schema#"
D2020 = "https://json-schema.org/draft/2020-12/schema"
names = st.sampled_from(["a", "b", "c", "x~1", "a/b"])
small_strings = st.text(alphabet="abxy09 ", max_size=4)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.5, 1.0, -2.5, 2**63 - 1, -(2**63), 2**64 - 1]),
    small_strings,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(names, inner, max_size=4)),
    max_leaves=12,
)
#: Patterns of the shared dialect and outside it (refused alike: SchemaError from both).
patterns = st.one_of(
    st.sampled_from(["^a", "b$", "[0-9]+", "^x.*y$", "a|b", "^$", "9{2}"]),
    st.lists(
        st.sampled_from(
            [
                "a",
                "b",
                ".",
                r"\d",
                r"\w",
                r"\s",
                r"\S",
                "[ab]",
                "[^a]",
                r"\p{L}",
                r"\p{Letter}",
                r"\P{Nd}",
                "(a|b)",
                "(?:x)",
                "(?<g>y)",
                "^",
                "$",
                r"\u0061",
                r"\x62",
                "[]",
                "[^]",
                # outside the dialect
                r"\b",
                "(?=a)",
                r"(a)\1",
                r"\p{Greek}",
                "{",
                "]",
                "(?i)",
                "(",
            ]
        ).flatmap(
            lambda atom: st.sampled_from(["", "", "*", "+?", "{2}", "{1,3}", "{2}{3}"]).map(
                lambda q: atom + q
            )
        ),
        min_size=1,
        max_size=4,
    ).map("".join),
)
types = st.sampled_from(["null", "boolean", "integer", "number", "string", "array", "object"])


def assertion() -> st.SearchStrategy[dict[str, Any]]:
    """One assertion keyword (type, bounds, pattern, enum, const, required, ...)."""
    return st.one_of(
        st.builds(
            lambda t: {"type": t},
            st.one_of(types, st.lists(types, min_size=1, max_size=2, unique=True)),
        ),
        st.builds(lambda n: {"minimum": n}, st.integers(-2, 2)),
        st.builds(lambda n: {"exclusiveMaximum": n}, st.integers(-2, 2)),
        st.builds(lambda n: {"multipleOf": n}, st.sampled_from([1, 2, 0.5])),
        st.builds(lambda n: {"maxLength": n}, st.integers(0, 3)),
        st.builds(lambda p: {"pattern": p}, patterns),
        st.builds(lambda v: {"enum": v}, st.lists(json_scalars, max_size=3)),
        st.builds(lambda v: {"const": v}, json_values),
        st.builds(lambda r: {"required": r}, st.lists(names, max_size=2, unique=True)),
        st.builds(lambda n: {"minItems": n}, st.integers(0, 2)),
        st.builds(lambda n: {"maxProperties": n}, st.integers(0, 2)),
        st.just({"uniqueItems": True}),
        st.just({"format": "email"}),
    )


def schemas(draft7: bool) -> st.SearchStrategy[Any]:
    """Nested schemas of one draft's applicators over assertions and boolean schemas."""

    def extend(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        common = [
            st.builds(lambda p: {"properties": p}, st.dictionaries(names, inner, max_size=2)),
            st.builds(lambda s: {"additionalProperties": s}, inner),
            st.builds(lambda s: {"patternProperties": {"^a": s}}, inner),
            st.builds(lambda s: {"items": s}, inner),
            st.builds(lambda s: {"contains": s}, inner),
            st.builds(
                lambda k, v: {k: v},
                st.sampled_from(["allOf", "anyOf", "oneOf"]),
                st.lists(inner, min_size=1, max_size=3),
            ),
            st.builds(lambda s: {"not": s}, inner),
            st.builds(lambda a, b, c: {"if": a, "then": b, "else": c}, inner, inner, inner),
            st.builds(lambda s: {"propertyNames": s}, inner),
            st.just({"$ref": "#"}).map(lambda r: {"properties": {"a": r}}),
            st.builds(
                lambda a, b: {**a, **b},
                inner.filter(lambda s: isinstance(s, dict)),
                inner.filter(lambda s: isinstance(s, dict)),
            ),
        ]
        if draft7:
            specific = [
                st.builds(
                    lambda p, a: {"items": p, "additionalItems": a},
                    st.lists(inner, max_size=2),
                    inner,
                ),
                st.builds(
                    lambda d: {"dependencies": d},
                    st.dictionaries(
                        names,
                        st.one_of(inner, st.lists(names, max_size=2, unique=True)),
                        max_size=2,
                    ),
                ),
            ]
        else:
            specific = [
                st.builds(
                    lambda p, a: {"prefixItems": p, "items": a},
                    st.lists(inner, min_size=1, max_size=2),
                    inner,
                ),
                st.builds(
                    lambda s, p: {"properties": p, "unevaluatedProperties": s},
                    inner,
                    st.dictionaries(names, inner, max_size=2),
                ),
                st.builds(
                    lambda s, p: {"prefixItems": p, "unevaluatedItems": s},
                    inner,
                    st.lists(inner, min_size=1, max_size=2),
                ),
                st.builds(
                    lambda d: {"dependentSchemas": d}, st.dictionaries(names, inner, max_size=2)
                ),
                st.builds(
                    lambda s, n: {"contains": s, "minContains": n, "maxContains": n + 1},
                    inner,
                    st.integers(0, 2),
                ),
            ]
        return st.one_of(*common, *specific)

    return st.recursive(st.one_of(st.booleans(), assertion()), extend, max_leaves=6)


D4 = "http://json-schema.org/draft-04/schema#"
D6 = "http://json-schema.org/draft-06/schema#"
D2019 = "https://json-schema.org/draft/2019-09/schema"
#: The drafts whose keyword grammar is Draft 7's (array `items`, `dependencies`) or 2020-12's;
#: 4 and 6 use the Draft 7 grammar (their boolean subschemas: Draft 6 has them, Draft 4 does
#: not, and both backends refuse them alike there), 2019-09 the 2020-12 one bar `prefixItems`.
LEGACY_DRAFTS = [D4, D6, D7]
MODERN_DRAFTS = [D2019, D2020]


@st.composite
def documents(draw: st.DrawFn) -> Any:
    """A root schema of any of the five drafts, sometimes with $defs/definitions and $ref."""
    draft7 = draw(st.booleans())
    body = draw(schemas(draft7))
    if draw(st.booleans()):
        defs = "definitions" if draft7 else "$defs"
        body = {
            defs: {"d": body},
            "properties": {"a": {"$ref": f"#/{defs}/d"}},
            "items": {"$ref": f"#/{defs}/d"},
        }
    if isinstance(body, dict) and (draft7 or draw(st.booleans())):
        draft = draw(st.sampled_from(LEGACY_DRAFTS if draft7 else MODERN_DRAFTS))
        body = {"$schema": draft, **body}
    return body


bad_instances = st.one_of(
    st.just((1, 2)),
    st.just({1: "a"}),
    st.just({"a": {2.5: 1}}),
    st.just({1, 2}),
    st.just(2**64),
    st.just(-(2**63) - 1),
    st.just(float("nan")),
    st.just([float("inf")]),
    st.just(b"bytes"),
    st.just("lone \udc80 surrogate"),
    st.just(object()),
)
bad_schemas = st.one_of(
    st.just({"type": 5}),
    st.just({"minimum": "x"}),
    st.just({"$schema": "http://json-schema.org/draft-03/schema#"}),
    st.just({"$schema": 7}),
    st.just({"$ref": "#/$defs/missing"}),
    st.just({"$ref": "http://localhost:1234/a.json"}),
    st.just({"$ref": "other.json"}),
    st.just(3),
    st.just("schema"),
    st.just(None),
    st.just({"required": "a"}),
    st.just((1,)),
    st.just({"enum": [float("nan")]}),
    st.just({"properties": {"a": {"$dynamicRef": "#missing"}}}),
)


def _locations(value: Any) -> tuple[bool, frozenset[str]]:
    """Validity and the set of instance locations, ``unevaluated*`` errors aside.

    jsonschema (Python) counts a property as evaluated by ``additionalProperties`` only when
    its value is valid there, while ``properties`` counts it either way; the Rust engine
    counts both either way. So when an instance already fails inside ``additionalProperties``
    the reference adds an ``unevaluatedProperties`` error the Rust engine does not: validity is
    the same, one extra location. Those errors are left out of the comparison (validity still
    covers them: an instance failing only ``unevaluated*`` is invalid in both).
    """
    valid, issues = value
    assert valid == (not issues)
    for issue in issues:
        assert isinstance(issue, validation_core.SchemaIssue)
        assert issue.message
    return valid, frozenset(
        issue.instance_path
        for issue in issues
        if not issue.schema_path.rsplit("/", 1)[-1].startswith("unevaluated")
    )


def _agree(function: Any, *args: Any, **kwargs: Any) -> None:
    rust, python = call_both(function, *args, **kwargs)
    if rust.error is not None or python.error is not None:
        assert rust.error is python.error, f"rust {rust.describe()}; python {python.describe()}"
        return
    assert _locations(rust.value) == _locations(python.value), (rust.value, python.value, args)


@parity_property("json_schema_validate")
@given(schema=documents(), instances=st.lists(json_values, min_size=1, max_size=6))
# A `false` in a Draft 7 items array fails at its item (normalised), not at the array.
@example(schema={"$schema": D7, "items": [False, {"type": "integer"}]}, instances=[[1, 2], [1], []])
def json_schema_validate_agrees(schema: Any, instances: list[Any]) -> None:
    """Same validity and instance locations for every instance, or the same error class."""
    for instance in instances:
        _agree(validation_core.json_schema_validate, instance, schema)


@parity_property("json_schema_validate")
@given(schema=documents(), instances=st.lists(json_values, max_size=8))
# Reference cycles that never move into the instance pass where they close (the reference
# recursed until RecursionError), also when the root declares its draft: re-entering it
# through `$ref` kept the library's stock class, without RE2 or the cycle guard.
@example(schema={"allOf": [{"$ref": "#"}]}, instances=[1, "a", {"a": [1]}])
@example(
    schema={"$schema": "http://json-schema.org/draft-07/schema#", "anyOf": [{"$ref": "#"}]},
    instances=[1, None],
)
@example(
    schema={
        "$defs": {"a": {"$ref": "#/$defs/b", "minimum": 5}, "b": {"$ref": "#/$defs/a"}},
        "$ref": "#/$defs/a",
    },
    instances=[1, 7],
)
def compiled_schema_agrees(schema: Any, instances: list[Any]) -> None:
    """The compiled form: validate, is_valid and the batch forms agree across backends."""
    rust, python = call_both(validation_core.compile_schema, schema)
    assert rust.error is python.error, f"rust {rust.describe()}; python {python.describe()}"
    if rust.error is not None:
        return
    native, reference = rust.value, python.value
    assert not isinstance(native, validation_core.SchemaValidator)  # really the Rust class
    assert native.is_valid_many(instances) == reference.is_valid_many(instances)
    assert [native.is_valid(i) for i in instances] == reference.is_valid_many(instances)
    got = [_locations(result) for result in native.validate_many(instances)]
    assert got == [_locations(result) for result in reference.validate_many(instances)]


@parity_property("json_schema_validate")
@given(
    schema=hostile.mix(st.one_of(documents(), bad_schemas), "mapping"),
    instance=st.one_of(json_values, bad_instances, hostile.for_kind("any")),
    format=st.sampled_from(["annotate", "assert", "Assert", "", "bogus"]),
)
def bad_input_is_rejected_alike(schema: Any, instance: Any, format: str) -> None:
    """Bad schemas, instances and format modes: the same class from both backends.

    Invalid schemas (SchemaError), non-JSON values (TypeError/ValueError), an unknown
    ``format`` mode (ValueError).
    """
    _agree(validation_core.json_schema_validate, instance, schema, format=format)


bad_registry_keys = st.one_of(
    st.integers(-1, 1),
    st.binary(max_size=3),
    st.none(),
    st.sampled_from(["a.json", "relative/a.json", "http://example.com/\ud800", "urn:x"]),
)


@parity_property("json_schema_validate")
@given(
    registry=st.one_of(
        st.sampled_from([[], [("http://example.com/a.json", {})], "http://example.com", 3]),
        st.dictionaries(
            bad_registry_keys, st.one_of(st.just({}), st.just({1, 2})), min_size=1, max_size=2
        ),
    ),
    retrieve=st.sampled_from([None, 3, "callable"]),
)
# An int key: only the key check makes it a TypeError (str methods fail otherwise).
@example(registry={1: {}}, retrieve=None).via("registry key that is not a str")
def bad_registries_are_rejected_alike(registry: Any, retrieve: Any) -> None:
    """Bad ``registry`` / ``retrieve`` arguments: the same class from both, as documented.

    Not a mapping, a key that is not a str, or a non-callable ``retrieve``: TypeError; a key
    that is not an absolute URI: ValueError. Keys are checked in order, so the first bad one
    decides; a lone surrogate is a UnicodeEncodeError (a ValueError) from both.
    """
    retrieve = dict.get if retrieve == "callable" else retrieve
    rust, python = call_both(
        validation_core.json_schema_validate, 1, {}, registry=registry, retrieve=retrieve
    )
    assert rust.error is python.error, (rust.describe(), python.describe())
    if not isinstance(registry, dict) or not isinstance(next(iter(registry)), str):
        assert rust.error is TypeError, rust.describe()
    elif not str.startswith(next(iter(registry)), ("http:", "urn:")):
        assert rust.error is ValueError, rust.describe()


# --- registries: $ref to documents the caller registers or retrieves ----------------------

REMOTE = "http://example.com/"
remote_names = st.sampled_from(["a.json", "b.json", "missing.json", "sub/c.json"])


@st.composite
def registries(draw: st.DrawFn) -> tuple[Any, dict[str, Any]]:
    """A schema reaching registered documents (which may reach each other) and the registry."""
    docs: dict[str, Any] = {}
    for name in ("a.json", "b.json", "sub/c.json"):
        if draw(st.booleans()):
            body = draw(documents())
            if isinstance(body, dict) and draw(st.booleans()):
                # Documents may reach each other in a cycle, themselves included: a cycle
                # that never moves into the instance passes where it closes, in both engines.
                target = draw(st.sampled_from(["a.json", "b.json", "sub/c.json", "missing.json"]))
                body = {**body, "allOf": [{"$ref": REMOTE + target}]}
            docs[REMOTE + name] = body
    refs = draw(st.lists(remote_names, min_size=1, max_size=2))
    schema = {"anyOf": [{"$ref": REMOTE + name} for name in refs]}
    return schema, docs


class RetrieveFailed(Exception):
    """What the test's retrieve callable raises for an unknown document."""


_DRAFT4 = "http://json-schema.org/draft-04/schema#"
_DRAFT7 = "http://json-schema.org/draft-07/schema#"


@parity_property("json_schema_validate")
@given(
    data=registries(),
    instances=st.lists(json_values, min_size=1, max_size=4),
    how=st.sampled_from(["registry", "retrieve", "empty registry"]),
)
# A registered Draft 7 document whose `dependencies` holds a schema then an array: the
# reference's id lookup raised AttributeError on the array (Rust: valid).
@example(
    data=(
        {"$schema": _DRAFT7, "$ref": REMOTE + "a.json#foo"},
        {
            REMOTE + "a.json": {
                "$schema": _DRAFT7,
                "dependencies": {"a": {}, "b": []},
                "definitions": {"q": {"$id": "#foo", "type": "integer"}},
            }
        },
    ),
    instances=[{"b": 1}, 3],
    how="registry",
).via("regression: Draft 7 dependencies array in a registered document")
# A cycle through two documents that never moves into the instance.
@example(
    data=(
        {"anyOf": [{"$ref": REMOTE + "a.json"}]},
        {
            REMOTE + "a.json": {"allOf": [{"$ref": REMOTE + "b.json"}], "type": "integer"},
            REMOTE + "b.json": {"$schema": _DRAFT7, "allOf": [{"$ref": REMOTE + "a.json"}]},
        },
    ),
    instances=[1, "x"],
    how="retrieve",
).via("regression: reference cycle across documents (RecursionError in the reference)")
# A reached Draft 4 document with a boolean subschema, which its meta-schema refuses: the
# reference failed in the Draft 4 `items` code (TypeError), Rust validated.
@example(
    data=(
        {"anyOf": [{"$ref": REMOTE + "a.json"}]},
        {REMOTE + "a.json": {"$schema": _DRAFT4, "items": False}},
    ),
    instances=[[]],
    how="registry",
).via("regression: boolean subschema in a registered Draft 4 document")
# A document reaching itself beside `unevaluatedProperties`: the reference's evaluated-keys
# walk followed the cycle until RecursionError, Rust validated.
@example(
    data=(
        {"anyOf": [{"$ref": REMOTE + "a.json"}]},
        {
            REMOTE + "a.json": {
                "properties": {},
                "unevaluatedProperties": {"uniqueItems": True},
                "allOf": [{"$ref": REMOTE + "a.json"}],
            }
        },
    ),
    instances=[{}],
    how="registry",
).via("regression: unevaluatedProperties beside a self-reference")
# A Draft 4 document referring to one without `$schema`: that one is read in the root's
# draft (2020-12) by both; the reference kept the referrer's Draft 4 and ignored
# unevaluatedProperties there (valid), Rust did not (invalid).
@example(
    data=(
        {"anyOf": [{"$ref": REMOTE + "b.json"}]},
        {
            REMOTE + "a.json": {"properties": {}, "unevaluatedProperties": False},
            REMOTE + "b.json": {
                "$schema": _DRAFT4,
                "minimum": 0,
                "allOf": [{"$ref": REMOTE + "a.json"}],
            },
        },
    ),
    instances=[{"a": None}],
    how="registry",
).via("regression: a document without $schema reached from another draft's document")
def registry_resolves_alike(
    data: tuple[Any, dict[str, Any]], instances: list[Any], how: str
) -> None:
    """Registered documents: the same validity and locations, or SchemaError from both.

    They come as a mapping, or from a retrieve callable that raises for unknown ones.
    """
    schema, docs = data

    def retrieve(uri: str) -> Any:
        if uri in docs:
            return docs[uri]
        raise RetrieveFailed(uri)

    kwargs = {
        "registry": {"registry": docs},
        "retrieve": {"retrieve": retrieve},
        "empty registry": {"registry": {}},
    }[how]
    for instance in instances:
        rust, python = call_both(validation_core.json_schema_validate, instance, schema, **kwargs)
        if rust.error is not None or python.error is not None:
            assert rust.error is python.error, (rust.describe(), python.describe())
            return
        assert _locations(rust.value) == _locations(python.value), (schema, docs, instance)


@parity_property("json_schema_validate")
@given(
    pattern=patterns,
    texts=st.lists(st.text(alphabet="ab xy1\n\u00e9\u3000\U0001f600", max_size=6), max_size=5),
)
def patterns_agree(pattern: str, texts: list[str]) -> None:
    """One dialect: a pattern is refused by both (SchemaError) or matches the same strings.

    Refused when the schema is compiled, whatever the instance (``null`` reaches no pattern);
    a property *name* is no pattern and is never refused.
    """
    for schema in (
        {"pattern": pattern},
        {"patternProperties": {pattern: False}},
        {"properties": {pattern: {}}},
    ):
        _agree(validation_core.json_schema_validate, None, schema)
        for text in texts:
            instance = text if "pattern" in schema else {text: 1}
            _agree(validation_core.json_schema_validate, instance, schema)


#: Near misses of each asserted format: valid examples with characters dropped, swapped for
#: look-alikes or added.
_FORMAT_EXAMPLES = {
    "date": ["2024-02-29", "1999-12-31", "2023-02-29", "2024-13-01"],
    "ipv4": ["10.0.0.1", "255.255.255.255", "01.2.3.4", "1.2.3"],
    "ipv6": ["::1", "fe80::1", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8", "fe80::1%eth0"],
    "regex": ["^a+$", "[a-", r"\p{L}", "(?=a)"],
    "uuid": ["2eb8aa08-aa98-11ea-b4aa-73b441d16380", "2EB8AA08-AA98-11EA-B4AA-73B441D16380"],
}


@st.composite
def format_texts(draw: st.DrawFn) -> tuple[str, str]:
    """(format name, text): an example of the format, maybe edited into a near miss."""
    name = draw(st.sampled_from(sorted(_FORMAT_EXAMPLES)))
    text = draw(st.sampled_from(_FORMAT_EXAMPLES[name]))
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(text)))
        edit = draw(st.sampled_from(["drop", "put", "insert"]))
        char = draw(st.sampled_from(list("0:.-1aZ g٣\n%")))
        if edit == "drop":
            text = text[:at] + text[at + 1 :]
        elif edit == "put":
            text = text[:at] + char + text[at + 1 :]
        else:
            text = text[:at] + char + text[at:]
    return name, text


@parity_property("json_schema_validate")
@given(case=format_texts(), draft=st.sampled_from([D4, D6, D7, D2019, D2020]))
def asserted_formats_agree(case: tuple[str, str], draft: str) -> None:
    """format="assert": the same verdict on every asserted format, from both backends."""
    name, text = case
    schema = {"$schema": draft, "format": name}
    _agree(validation_core.json_schema_validate, text, schema, format="assert")
    _agree(validation_core.json_schema_validate, text, schema)


# --- validate_content ---------------------------------------------------------------------

#: Atoms of the shared subset: every escape kind (controls, ``\xHH``, punctuation, class and
#: assertion escapes), classes with ranges between escapes, ``\s``/``\S`` inside classes
#: (spelled out for RE2), ``-`` first or last, named and flag groups.
_valid_atoms = st.sampled_from(
    [
        "a",
        "b",
        "ab",
        ".",
        r"\d",
        r"\w",
        r"\s",
        r"\S",
        r"\W",
        r"\D",
        r"\t",
        r"\n",
        r"\v",
        r"\f",
        r"\r",
        "[ab]",
        "[^a]",
        "[a-c]",
        r"[\d_]",
        r"[\s]",
        r"[^\s]",
        r"[\S]",
        r"[a\s-]",
        r"[^\S\n]",
        r"[\t-\r]",
        r"[\n-a]",
        r"[\x00-\x1f]",
        r"[a-\x7f]",
        "[-a]",
        "[a-]",
        "[]a]",
        "[^]a]",
        "[]-a]",
        "[^]-a]",
        "[!-,]",
        r"[^\d\D]",
        r"[^\x00-\xff]",
        "a{0}b",
        r"[\]]",
        r"[\[]",
        r"[\--/]",
        r"\.",
        r"\-",
        r"\x00",
        r"\xff",
        r"\x0B",
        "(a|b)",
        "(?:ab|a)",
        "(?i:a)",
        "(?s:.)",
        "(?is:a.)",
        "(?i:a+)",
        "(?s:.*b)",
        "(?P<g>b)",
        "(?P<_x1>a)",
        "-",
        " ",
        "\n",
        r"\b",
        r"\B",
        "^",
        r"\A",
        "&",
        "~",
        # nested counted repetitions at and around RE2's product limit of 1000
        "(a{10}){100}",
        "((a{2}){20}){25}",
        "(a{0}){1000}",
        "(a{1,10}){100}",
        "(a{10,}){100}",
        "(a|b{10}){100}",
        "(a{2}(b{500}))",
        "(?:a{501})",
        r"(\d{10}[a-c]{100})",
    ]
)
#: Constructs outside the subset, each a ValueError on both backends; a pattern holds at
#: most one, among valid atoms, so each is the only reason it can be refused.
_invalid_atoms = st.sampled_from(
    [
        r"(a)\1",
        "(?=a)",
        "(?<=a)",
        "(?>a)",
        r"\Z",
        r"\z",
        r"\pL",
        r"\q",
        r"\e",
        r"\0",
        r"\<",
        r"\x4",
        r"\xg0",
        "\\",
        "[[:a:]]",
        "[a[]",
        "[[]",
        r"[a-\[]",
        "[a&&b]",
        "[&&]",
        "[a~~b]",
        "[a--b]",
        "[a-b-c]",
        "[ab-c-]",
        "[-a-]x]",
        r"[\d-z]",
        "[z-a]",
        r"[\r-\t]",
        "[a",
        "[",
        "é",
        "{",
        "}",
        "]",
        "a{01}",
        "a{1,02}",
        "a{00}",
        "[!--]",
        "[!--a]",
        r"([^\d\D])*",
        r"[^\x00-\xff]*",
        "a{3,2}",
        "a{1001}",
        "a{,2}",
        "a{x}",
        "a**",
        "*a",
        "(?x)",
        "(?im:a)",
        "(?ii)",
        "(?P<1x>a)",
        "(?P<>a)",
        "(?P<a-b>a)",
        "(?P<g",
        "(?P<g>a)(?P<g>b)",
        "(",
        ")",
        "$",
        r"\u0041",
        "a?",
        "(a|)",
        "b{0}",
        "(a{10}){101}",
        "((a{2}){20}){26}",
        "(a{2}(b{501})){2}",
        "(a{1,10}){101}",
        "(?:a{501}){2}",
    ]
)
_quantifiers = st.one_of(
    st.sampled_from(
        ["", "", "", "*", "+", "?", "{2}", "{1,3}", "{2,}", "*?", "+?", "{0,1}?", "{1000}"]
    ),
    # any brace body: leading zeros, missing or extra commas, counts past the limit
    st.text(alphabet="0123,", min_size=1, max_size=4).map(lambda body: "{" + body + "}"),
)
#: What a class may hold: literals that sit at range edges (``]`` ``^`` ``-`` ``!`` ``,``),
#: set-operation halves (``&`` ``~`` ``-``), escapes and class escapes. Drawn freely, so a
#: class may be a range from a leading ``]``, end on ``--`` or hold nothing but ``\d\D``.
_class_items = st.sampled_from(
    [
        *("a", "b", "z", "A", "0", "9", "-", "]", "^", "!", ",", "`", "_", "&", "~", " "),
        *(r"\d", r"\D", r"\s", r"\S", r"\w", r"\-", r"\]", r"\x00", r"\xff", r"\n", r"\t"),
    ]
)
_classes = st.builds(
    lambda negated, items: "[" + negated + "".join(items) + "]",
    st.sampled_from(["", "^"]),
    st.lists(_class_items, max_size=5),
)


@st.composite
def _content_pattern(draw: st.DrawFn) -> str:
    """Valid atoms, each maybe quantified, and sometimes one construct outside the subset."""
    atoms = st.one_of(_valid_atoms, _classes)
    parts = draw(st.lists(st.tuples(atoms, _quantifiers).map("".join), max_size=4))
    if not parts or draw(st.integers(0, 2)) == 0:
        parts.insert(draw(st.integers(0, len(parts))), draw(_invalid_atoms))
    return "".join(parts)


content_patterns = st.one_of(
    _content_pattern(),
    st.sampled_from([rule.pattern for rule in validation_core.DEFAULT_RULES]),
).flatmap(
    lambda p: st.sampled_from(
        [p, p, "(?i)" + p, "(?m)" + p + "$", "(?m)" + p + "$" + p, "(?ms)" + p, "(?s)" + p]
    )
)
content_globs = st.sampled_from(["*", "*.py", "a*", "?", "*/x?", "[ab]", ""])
content_rules = st.lists(
    st.tuples(
        st.sampled_from(["r1", "r2", "r3"]),
        content_patterns,
        st.sampled_from(["low", "high"]),
        content_globs,
    ),
    min_size=1,
    max_size=4,
)
content_texts = st.text(alphabet="abzAB_ -.\n\t\r\x0b\x0c19é\x00&~]^!,`{}", max_size=40)
content_items = st.one_of(content_texts, content_texts.map(str.encode), st.binary(max_size=20))
content_paths = st.sampled_from(["x.py", "a/b.py", "ab", "q/x1", "", "a"])


@parity_property("validate_content_rust")
@given(
    contents=st.lists(content_items, max_size=6),
    rules=content_rules,
    data=st.data(),
)
def validate_content_agrees(contents: list[Any], rules: list[Any], data: st.DataObject) -> None:
    """Same findings (rule, content, byte span, severity) in the same order, or same error."""
    paths = data.draw(
        st.one_of(
            st.none(), st.lists(content_paths, min_size=len(contents), max_size=len(contents))
        )
    )
    rust, python = call_both(validation_core.validate_content, contents, rules, paths=paths)
    assert rust.error is python.error, f"rust {rust.describe()}; python {python.describe()}"
    assert rust.value == python.value


#: Every byte once, then runs of the literals the regression examples are about.
_all_bytes = [bytes(range(256)), b"a{01}b{1,02}c{00}", b"-]^_`ab!,", b"aa\nb \t\x0b"]


@parity_property("validate_content_rust")
@given(rules=content_rules)
# Regressions (RE2 and the regex crate read these differently; fixed so both agree):
# a count with a leading zero was literal text for RE2 and a{1} for Rust (now refused);
@example(rules=[("r", "a{01}", "s", "*")])
@example(rules=[("r", "b{1,02}", "s", "*")])
# '--' right after a range start: RE2 the range '!'-'-', Rust '!' minus nothing (refused);
@example(rules=[("r", "[!--]", "s", "*")])
# a class's leading ']' starting a range: RE2 the range ']'-'a', Rust ']', '-', 'a';
@example(rules=[("r", "[]-a]", "s", "*")])
@example(rules=[("r", "[^]-a]", "s", "*")])
# a never-matching class under a star matches empty: Rust accepted it (now refused).
@example(rules=[("r", r"([^\d\D])*", "s", "*")])
@example(rules=[("r", r"[^\x00-\xff]*", "s", "*")])
# The scanner's edges: the weight of an escape in nested counts, '$' mid-pattern, repeated
# flags, '\s' inside a class after two items (spelled out for RE2 as a class body).
@example(rules=[("r", r"\d{1000}", "s", "*"), ("q", r"(\x61{10}){100}", "s", "*")])
@example(rules=[("r", "(?m)a$]", "s", "*")])
@example(rules=[("r", "(?m)a$b*", "s", "*")])
@example(rules=[("r", "(?ii)a", "s", "*")])
@example(rules=[("r", "(?ss:a)", "s", "*")])
@example(rules=[("r", "(?i:a+)", "s", "*"), ("q", "(?s:]a)", "s", "*")])
# Negated classes of one item, or of a leading ']' or '-' (the scanner's step past '^').
@example(rules=[("r", "[^a]", "s", "*")])
@example(rules=[("r", "[^]]", "s", "*")])
@example(rules=[("r", "[^-]", "s", "*")])
# Quantifiers after an \xHH escape and after a class (a class weighs 1 in nested counts),
# an unterminated group name, empty-matching patterns, \s (spelled out for RE2).
@example(rules=[("r", r"\x61{2}", "s", "*"), ("q", "[ab]{1000}", "s", "*")])
@example(rules=[("r", "(?P<g", "s", "*")])
@example(rules=[("r", "a?", "s", "*")])
@example(rules=[("r", r"\s", "s", "*"), ("q", r"x\S", "s", "*")])
# In the scanner's subset but refused by the reference's parser (a repeated group name).
@example(rules=[("r", "(?P<g>a)(?P<g>b)", "s", "*")])
@example(rules=[("r", r"[ab\s]", "s", "*"), ("q", r"[^ab\S]", "s", "*")])
def validate_content_reads_patterns_alike(rules: list[Any]) -> None:
    """Every byte and the edge literals: the same findings for any pattern, or same error."""
    rust, python = call_both(validation_core.validate_content, _all_bytes, rules)
    assert rust.error is python.error, f"rust {rust.describe()}; python {python.describe()}"
    assert rust.value == python.value


@parity_property("validate_content_rust")
@given(
    contents=st.lists(
        st.one_of(
            content_items,
            st.just(3),
            st.just("\udc80"),
            st.just(None),
            hostile.for_kind("string"),
            hostile.for_kind("buffer"),
        ),
        max_size=3,
    ),
    rules=st.one_of(
        content_rules,
        st.just("rules"),
        st.just([("r", "a", "s")]),
        st.just([("r", "a", 1, "*")]),
        st.just([["r", "a", "s", "*"]]),
        st.just([("r", "a", "s", "\udc80")]),
        st.just([("r", "a\udc80", "s", "*")]),
        hostile.for_kind("sequence"),
    ),
    paths=st.one_of(
        st.none(),
        st.just("x"),
        st.just([1]),
        st.just(["a", "b", "c", "d"]),
        hostile.for_kind("sequence"),
    ),
)
# A pattern inside the subset whose compiled program exceeds both engines' 64 MiB limit.
@example(contents=["a"], rules=[("r", r"\w{1000}" * 2000, "s", "*")], paths=None)
# A buffer that is not C-contiguous: BufferError from both, never its bytes read out.
@example(contents=[memoryview(b"abcdef")[::2]], rules=[("r", "a", "s", "*")], paths=None)
def validate_content_rejects_the_same(contents: list[Any], rules: Any, paths: Any) -> None:
    """Bad rules, contents and paths: the same error class from both backends."""
    rust, python = call_both(validation_core.validate_content, contents, rules, paths=paths)
    assert rust.error is python.error, f"rust {rust.describe()}; python {python.describe()}"
    assert rust.value == python.value

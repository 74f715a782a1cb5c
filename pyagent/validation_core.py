"""ValidationCore: JSON Schema validation of structured model output (Common/Validation).

Hot path ``json_schema_validate`` (seed: Common/Validation), with a compiled form,
:func:`compile_schema`, for validating many instances against one schema.

Engines (well-kept validators on both sides, not our own):

* Python reference: the ``jsonschema`` library (Draft 2020-12 and Draft 7 validators) with the
  ``referencing`` registry of the official meta-schemas;
* Rust: the ``jsonschema`` crate (``rust_core``), the same engine as the ``jsonschema-rs``
  Python package.

Contract, the same on both backends:

* Draft: chosen by the schema's top-level ``$schema``: Draft 2020-12
  (``https://json-schema.org/draft/2020-12/schema``) or Draft 7
  (``http://json-schema.org/draft-07/schema``), with or without a trailing ``#``; Draft
  2020-12 when absent. Any other ``$schema`` (or a non-string one) is a :class:`SchemaError`.
* The schema must be valid against its draft's meta-schema, and every ``$ref`` /
  ``$dynamicRef`` must resolve inside the schema or to a bundled meta-schema: nothing is ever
  fetched (no network, no files), so a remote reference is a :class:`SchemaError` when the
  schema is compiled, from both backends.
* ``format`` is an annotation, never asserted (the default of both drafts without the
  format-assertion vocabulary), so both engines agree whatever their format checkers know;
  so are ``contentEncoding`` and ``contentMediaType``. Draft 2020-12 also applies Draft 7's
  ``dependencies`` keyword (the Rust engine keeps it for compatibility).
* Instances and schemas are JSON values as Python builds them: ``dict`` with ``str`` keys,
  ``list``, ``str``, ``int``, ``float``, ``bool``, ``None``. Anything else (a tuple, a set,
  a non-str key) is a TypeError; an integer outside [-2**63, 2**64) or a NaN or infinite float
  is a ValueError (the Rust engine stores numbers as 64-bit), as is nesting deeper than
  :data:`MAX_DEPTH`. Checked depth first, in order, so the first bad value decides the class.
* Result: ``(valid, errors)``. ``errors`` lists :class:`SchemaIssue` records, each with the
  failing instance location and the schema keyword location as JSON pointers (RFC 6901,
  ``""`` for the root) and a message. The two engines word messages differently and may
  list the same location more than once, so parity is defined on validity (always equal) and
  on the *set* of instance locations.

One quirk of the Python library is normalised so the locations agree: it reports a ``false``
subschema's failure at the parent's location (``{"properties": {"a": false}}`` fails at
``""`` instead of ``"/a"``), and ``items: false`` at the array instead of each extra item.
The reference compiles such ``false`` subschemas as the equivalent ``{"not": {}}`` (marked
with a ``$comment``) and reports them as "False schema does not allow ...".

Where the engines still differ (documented, not hidden): jsonschema counts a property as
evaluated by ``additionalProperties`` only when it is valid there, so an instance that already
fails inside ``additionalProperties`` also gets an ``unevaluatedProperties`` error from the
reference and not from Rust (same validity, one more location; the parity property leaves
``unevaluated*`` locations out for this reason). And ``pattern`` and
``patternProperties`` use Python's ``re`` in the reference and an ECMA 262 dialect in Rust,
so exotic regex syntax (Unicode classes, lookbehind) may match differently; the official
test suite's ``optional/ecmascript-regex`` cases show where (see
``tests/test_json_schema_suite.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from jsonschema import Draft7Validator, Draft202012Validator, validators
from jsonschema import exceptions as _js_exceptions
from jsonschema_specifications import REGISTRY as _META_SCHEMAS
from referencing import Resource, Specification
from referencing import exceptions as _ref_exceptions
from referencing.jsonschema import DRAFT7, DRAFT202012

try:
    import rust_core as rc
except ImportError:
    rc = None  # type: ignore[assignment, unused-ignore]

__all__ = [
    "DRAFT7_URI",
    "DRAFT202012_URI",
    "MAX_DEPTH",
    "SchemaError",
    "SchemaIssue",
    "SchemaValidator",
    "compile_schema",
    "json_schema_validate",
]

DRAFT202012_URI = "https://json-schema.org/draft/2020-12/schema"
DRAFT7_URI = "http://json-schema.org/draft-07/schema"
#: Deepest nesting of arrays and objects accepted in a schema or an instance (the root
#: container is depth 1): well inside both engines' recursion limits.
MAX_DEPTH = 128
_I64_MIN = -(2**63)
_U64_END = 2**64
_FALSE_MARK = "pyagent:false-schema"
_FALSE_SCHEMA = {"not": {}, "$comment": _FALSE_MARK}


#: Draft 2020-12 plus the Draft 7 ``dependencies`` keyword, which the Rust engine keeps in
#: 2020-12 for compatibility (the suite's optional ``dependencies-compatibility`` cases).
_Draft202012 = validators.extend(
    Draft202012Validator, {"dependencies": Draft7Validator.VALIDATORS["dependencies"]}
)


class SchemaError(ValueError):
    """The schema is not usable: invalid, unknown ``$schema``, or an unresolvable ``$ref``."""


class SchemaIssue(NamedTuple):
    """One validation failure: where in the instance, which schema keyword, and why."""

    instance_path: str
    schema_path: str
    message: str


def _pointer(parts: Iterable[object]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _check_json(value: object, what: str, depth: int = 0) -> None:
    """TypeError/ValueError for anything that is not a JSON value (see the module docs).

    Depth first, in order (an object's key before its value), as the Rust conversion reads
    it, so the first bad value decides the exception class on both backends.
    """
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        value.encode()  # UnicodeEncodeError for a lone surrogate, as Rust's UTF-8 view raises
        return
    if isinstance(value, int):
        if not _I64_MIN <= value < _U64_END:
            raise ValueError(f"{what}: integer {value} does not fit in 64 bits")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{what}: {value!r} is not a JSON number")
    elif isinstance(value, (list, dict)):
        if depth >= MAX_DEPTH:
            raise ValueError(f"{what} nests deeper than {MAX_DEPTH} levels")
        if isinstance(value, list):
            for child in value:
                _check_json(child, what, depth + 1)
        else:
            for key, child in value.items():
                if not isinstance(key, str):
                    raise TypeError(f"{what}: object keys must be str, not {type(key).__name__}")
                key.encode()
                _check_json(child, what, depth + 1)
    else:
        raise TypeError(f"{what}: {type(value).__name__} is not a JSON type")


def _draft_of(schema: object) -> str:
    if not isinstance(schema, dict) or "$schema" not in schema:
        return DRAFT202012_URI
    uri = schema["$schema"]
    if isinstance(uri, str):
        bare = uri[:-1] if uri.endswith("#") else uri
        if bare in (DRAFT202012_URI, DRAFT7_URI):
            return bare
    raise SchemaError(f"unsupported $schema {uri!r}: Draft 2020-12 or Draft 7 only")


# Keywords whose value is one subschema, a list of them, or a name -> subschema map, per draft,
# where a `false` subschema is rewritten (see the module docs). Not additionalProperties,
# additionalItems or unevaluated*: the library already reports those at the container.
_ONE = {"not", "if", "then", "else", "contains", "propertyNames", "items"}
_LIST = {"allOf", "anyOf", "oneOf", "prefixItems"}
_MAP = {"properties", "patternProperties", "dependentSchemas", "$defs", "definitions"}
_KEEP_FALSE = {
    "additionalProperties",
    "additionalItems",
    "unevaluatedProperties",
    "unevaluatedItems",
}


def _normalise(schema: Any, draft7: bool) -> Any:
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _ONE and not (draft7 and key == "items" and isinstance(value, list)):
            out[key] = _FALSE_SCHEMA if value is False else _normalise(value, draft7)
        elif (key in _LIST or (draft7 and key == "items")) and isinstance(value, list):
            out[key] = [_FALSE_SCHEMA if v is False else _normalise(v, draft7) for v in value]
        elif (key in _MAP or key == "dependencies") and isinstance(value, dict):
            out[key] = {
                k: _FALSE_SCHEMA if v is False else _normalise(v, draft7) for k, v in value.items()
            }
        elif key in _KEEP_FALSE:
            out[key] = _normalise(value, draft7)
        else:
            out[key] = value
    return out


def _check_refs(schema: Any, specification: Specification[Any]) -> None:
    """SchemaError unless every $ref/$dynamicRef resolves offline, as Rust checks at build."""
    root: Resource[Any] = specification.create_resource(schema)
    registry = _META_SCHEMAS.with_resource(root.id() or "", root)
    resolver = registry.resolver(base_uri=root.id() or "")
    pending = [(resolver, root)]
    while pending:
        current, resource = pending.pop()
        contents = resource.contents
        if isinstance(contents, dict):
            for keyword in ("$ref", "$dynamicRef"):
                ref = contents.get(keyword)
                if isinstance(ref, str):
                    try:
                        current.lookup(ref)
                    except (_ref_exceptions.Unresolvable, _ref_exceptions.NoSuchResource) as e:
                        raise SchemaError(f"{keyword} {ref!r} does not resolve offline") from e
        for sub in resource.subresources():
            # referencing yields Draft 7's array-valued `dependencies` too: not schemas.
            if isinstance(sub.contents, (dict, bool)):
                pending.append((current.in_subresource(sub), sub))


def _issue(error: _js_exceptions.ValidationError) -> SchemaIssue:
    schema_path = list(error.absolute_schema_path)
    message = error.message
    if isinstance(error.schema, dict) and error.schema.get("$comment") == _FALSE_MARK:
        schema_path = schema_path[:-1]  # the `not` of the rewritten `false`
        message = f"False schema does not allow {error.instance!r}"
    return SchemaIssue(_pointer(error.absolute_path), _pointer(schema_path), message)


class SchemaValidator:
    """One compiled schema: validate any number of instances against it.

    Built by :func:`compile_schema`, which checks the schema once (draft, meta-schema,
    references); each ``validate`` call then only checks the instance.
    """

    def __init__(self, schema: Any) -> None:
        _check_json(schema, "schema")
        draft = _draft_of(schema)
        cls = Draft7Validator if draft == DRAFT7_URI else _Draft202012
        try:
            cls.check_schema(schema)
        except _js_exceptions.SchemaError as e:
            raise SchemaError(f"invalid schema: {e.message}") from e
        _check_refs(schema, DRAFT7 if draft == DRAFT7_URI else DRAFT202012)
        self.schema = schema
        self.draft = draft
        self._validator = cls(_normalise(schema, draft == DRAFT7_URI), registry=_META_SCHEMAS)

    def _errors(self, instance: object) -> Iterator[_js_exceptions.ValidationError]:
        try:
            yield from self._validator.iter_errors(instance)
        except _ref_exceptions.Unresolvable as e:  # defensive: _check_refs resolved them all
            raise SchemaError(str(e)) from e

    def validate(self, instance: object) -> tuple[bool, list[SchemaIssue]]:
        """``(valid, errors)`` for one instance; TypeError/ValueError for a non-JSON one."""
        _check_json(instance, "instance")
        issues = [_issue(error) for error in self._errors(instance)]
        return not issues, issues

    def is_valid(self, instance: object) -> bool:
        """True when the instance is valid; stops at the first error."""
        _check_json(instance, "instance")
        return next(self._errors(instance), None) is None

    def validate_many(self, instances: Iterable[object]) -> list[tuple[bool, list[SchemaIssue]]]:
        """:meth:`validate` for each instance, in order."""
        return [self.validate(instance) for instance in instances]

    def is_valid_many(self, instances: Iterable[object]) -> list[bool]:
        """:meth:`is_valid` for each instance, in order."""
        return [self.is_valid(instance) for instance in instances]


def compile_schema(schema: Any) -> SchemaValidator:
    """A validator for ``schema``, checked once; SchemaError if it is not usable."""
    if rc is not None and hasattr(rc, "compile_schema"):
        return rc.compile_schema(schema)
    return SchemaValidator(schema)


def json_schema_validate(instance: Any, schema: Any) -> tuple[bool, list[SchemaIssue]]:
    """``(valid, errors)`` for ``instance`` against ``schema``; see the module docs."""
    if rc is not None and hasattr(rc, "json_schema_validate"):
        return rc.json_schema_validate(instance, schema)
    return SchemaValidator(schema).validate(instance)

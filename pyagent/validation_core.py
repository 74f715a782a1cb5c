r"""ValidationCore: JSON Schema validation and content rules (Common/Validation).

Hot paths (seed: Common/Validation): ``json_schema_validate``, with a compiled form,
:func:`compile_schema`, for validating many instances against one schema; and
``validate_content_rust`` (:func:`validate_content`), regex rules for leaked secrets and
other content checks over many strings (see "Content rules" below).

JSON Schema
-----------

Engines (well-kept validators on both sides, not our own):

* Python reference: the ``jsonschema`` library (its Draft 4, 6, 7, 2019-09 and 2020-12
  validators) with a ``referencing`` registry of the official meta-schemas and the caller's
  documents, its regex matching moved onto RE2 (``google-re2``);
* Rust: the ``jsonschema`` crate (``rust_core``), the same engine as the ``jsonschema-rs``
  Python package, with the ``regex`` crate for patterns.

Contract, the same on both backends:

* Draft: chosen by the schema's top-level ``$schema``, one of :data:`DRAFTS` (Draft 4, 6, 7,
  2019-09, 2020-12, with or without a trailing ``#``), or the URI of a *registered*
  meta-schema whose own ``$schema`` is one of them (its ``$vocabulary`` is not honoured: all
  of the draft's vocabularies apply). :data:`DEFAULT_DRAFT` (2020-12) when absent. Anything
  else is a :class:`SchemaError`.
* The schema must be valid against its draft's meta-schema (the copies the Rust engine
  bundles: Draft 4's lets ``enum`` be empty or repeat values), every ``pattern`` and
  ``patternProperties`` name must be in the shared regex dialect, and every ``$ref`` /
  ``$dynamicRef`` / ``$recursiveRef`` must resolve, else :class:`SchemaError` when the schema
  is compiled.
* References resolve inside the schema, to a bundled meta-schema, to a document in
  ``registry=`` (a mapping from absolute URI to schema), or to what ``retrieve=`` (a callable
  taking the URI) returns for any other document reached. Nothing is ever fetched from the
  network or the file system unless that callable does it. Documents are read in the root's
  draft unless they declare their own ``$schema``; their references and patterns are checked
  like the root's, and each document reached must be valid against the meta-schema of the
  draft it is read in (Draft 4's admits no boolean subschemas), else :class:`SchemaError`.
  A document registered but never reached is not checked. Both backends call ``retrieve``
  at compile time, for documents reached (transitively) from the root; whatever it raises,
  or a non-JSON value it returns, is a :class:`SchemaError`. A registry key that is not an
  absolute URI (``scheme:...``) is a ValueError, a non-str key or a non-mapping registry a
  TypeError, as is a non-callable ``retrieve``.
* Patterns: one dialect, a subset of ECMA 262 that a linear-time engine runs (RE2 here, the
  ``regex`` crate in Rust), checked and rewritten by the same scanner on both sides; see
  :mod:`pyagent.schema_patterns` for what is accepted (ECMA's ``\d \w \s .``, general
  category ``\p{..}``, counted repetition up to 1000, a size limit) and refused
  (lookaround, backreferences, word boundaries, scripts). Every pattern is found by the same
  walk (every keyword but ``enum``, ``const``, ``default`` and ``examples``), so a pattern in
  an unused subschema is checked too. Matching time is linear in the text on both sides.
* ``format``: an annotation by default (``format="annotate"``). With ``format="assert"`` the
  formats in :data:`ASSERTED_FORMATS` (``date``, ``ipv4``, ``ipv6``, ``regex``, ``uuid``:
  those whose checks agree between the engines on the official suite) are asserted; every
  other format stays an annotation on both sides. ``regex`` means the shared dialect.
  ``contentEncoding`` and ``contentMediaType`` are always annotations. Drafts 2019-09 and
  2020-12 also apply Draft 7's ``dependencies`` keyword (the Rust engine keeps it for
  compatibility).
* Instances and schemas are JSON values as Python builds them: ``dict`` with ``str`` keys,
  ``list``, ``str``, ``int``, ``float``, ``bool``, ``None``. Anything else (a tuple, a set,
  a non-str key) is a TypeError; an integer outside [-2**63, 2**64) or a NaN or infinite float
  is a ValueError (the Rust engine stores numbers as 64-bit), as is nesting deeper than
  :data:`MAX_DEPTH`. Checked depth first, in order, so the first bad value decides the class.
  Registered and retrieved documents are checked the same way.
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
``unevaluated*`` locations out for this reason). A reference cycle that never moves into the
instance (``{"allOf": [{"$ref": "#"}]}``, or documents referring to each other) passes where
it closes, in both engines: the same reference met again for the same instance, while it is
being followed, adds no assertion; the walk that gathers what ``unevaluated*`` may skip
stops at such a cycle the same way (it adds nothing). A cycle that negates itself
(``{"not": {"$ref": "#"}}``, the schema "I am invalid") has no meaning; the two engines
answer it differently (Rust False, the reference True) and the parity properties do not
generate one.
The official test suite, all five drafts with its ``remotes/`` registered, runs in
``tests/test_json_schema_suite.py``; the tests either backend fails are listed, with the
reason, in ``tests/data/json_schema_suite_known_failures.json``.

Content rules
-------------
:func:`validate_content` applies rules ``(name, pattern, severity, glob)`` to many contents
and returns :class:`Finding` records ``(rule, index, start, end, severity)``. Engines: RE2
(``google-re2``, bytes read as Latin-1) in the reference and the Rust ``regex`` crate, both
linear in the text whatever the pattern (``(a|aa)+b`` over 30,000 ``a`` takes
milliseconds). In Rust a ``RegexSet`` tells which rules match a content at all, then each
matching rule's regex finds the spans; contents are scanned in parallel without the GIL.
Both match bytes: a str content is matched as its UTF-8 encoding and spans are byte offsets.

The pattern language is the subset on which the two engines agree, checked by the same small
scanner on both sides before compiling, so a pattern outside it is a ValueError from both:

* ASCII only (``\xHH`` for other bytes); ASCII semantics: ``\d \w \s \b`` and ``(?i)``
  are ASCII, ``.`` is any byte except newline (any byte with ``s``);
* literals, ``.``, classes ``[...]``/``[^...]`` with ranges and ``\d \w \s`` (``[``
  inside a class must be escaped; ``&&``, ``--``, ``~~`` are set operations in Rust and
  rejected, also where ``--`` would end a range as in ``[!--]``; ``-`` literal only first
  or last; a leading ``]`` is literal and may start a range, ``[]-a]`` being ``]`` to
  ``a`` on both sides); escapes ``\t \n \v \f \r \xHH``
  and escaped punctuation (not ``\<``/``\>``, word boundaries in Rust);
* groups ``(...)``, ``(?:...)``, ``(?P<name>...)``, scoped flags ``(?i:...)``/``(?s:...)``,
  and one leading global ``(?ims)``;
* quantifiers ``* + ? {n} {n,} {n,m}`` (counts up to 1000, without leading zeros: RE2
  reads ``a{01}`` as literal text), lazy with a trailing ``?``;
  ``{`` must start a quantifier and ``}``/``]`` must be escaped outside a class;
* anchors ``^``, ``\A``, ``\b``, ``\B``, and ``$`` only under a leading ``(?m)``: without
  it, ``re``'s ``$`` also matches before a final newline and Rust's does not;
* rejected: backreferences, lookahead/lookbehind, atomic groups, possessive quantifiers,
  conditionals, comments, other flags (``x``, ``u``, ``a``, ``L``, ``U``), ``\Z``/``\z``,
  Unicode classes (``\p``), POSIX classes, and any pattern that can match the empty string
  (an empty span is no finding), ``([^\d\D])*`` too (a class that matches nothing, starred).

Nested counted repetitions may multiply to at most 1000 (``((a{10}){10}){10}``; RE2's own
limit, enforced by the shared scanner). A pattern whose compiled program still exceeds an
engine's size limit (64 MiB on both sides, far beyond any secret rule) is a ValueError.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import importlib
import math
import re
import threading
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple
from urllib.parse import urljoin

import attrs
import re2
from jsonschema import (
    Draft4Validator,
    Draft6Validator,
    Draft7Validator,
    Draft201909Validator,
    Draft202012Validator,
    FormatChecker,
    validators,
)
from jsonschema import _keywords as _js_keywords
from jsonschema import _legacy_keywords as _js_legacy
from jsonschema import _utils as _js_utils
from jsonschema import exceptions as _js_exceptions
from jsonschema.protocols import Validator as _ValidatorProtocol
from jsonschema_specifications import REGISTRY as _META_SCHEMAS
from referencing import Registry, Resource, Specification
from referencing import exceptions as _ref_exceptions
from referencing.jsonschema import DRAFT4, DRAFT6, DRAFT7, DRAFT201909, DRAFT202012

from pyagent import schema_patterns

try:
    import rust_core as rc
except ImportError:
    rc = None  # type: ignore[assignment, unused-ignore]

__all__ = [
    "ASSERTED_FORMATS",
    "DEFAULT_DRAFT",
    "DEFAULT_RULES",
    "DRAFT4_URI",
    "DRAFT6_URI",
    "DRAFT7_URI",
    "DRAFT201909_URI",
    "DRAFT202012_URI",
    "DRAFTS",
    "MAX_DEPTH",
    "SchemaError",
    "SchemaIssue",
    "ContentRule",
    "Finding",
    "SchemaValidator",
    "compile_schema",
    "json_schema_validate",
    "validate_content",
]

DRAFT4_URI = "http://json-schema.org/draft-04/schema"
DRAFT6_URI = "http://json-schema.org/draft-06/schema"
DRAFT7_URI = "http://json-schema.org/draft-07/schema"
DRAFT201909_URI = "https://json-schema.org/draft/2019-09/schema"
DRAFT202012_URI = "https://json-schema.org/draft/2020-12/schema"
#: The meta-schema URIs accepted in ``$schema`` (with or without a trailing ``#``).
DRAFTS = (DRAFT4_URI, DRAFT6_URI, DRAFT7_URI, DRAFT201909_URI, DRAFT202012_URI)
#: The draft of a schema without ``$schema``.
DEFAULT_DRAFT = DRAFT202012_URI
#: The formats asserted with ``format="assert"``; any other format stays an annotation.
ASSERTED_FORMATS = ("date", "ipv4", "ipv6", "regex", "uuid")
#: Deepest nesting of arrays and objects accepted in a schema or an instance (the root
#: container is depth 1): well inside both engines' recursion limits.
MAX_DEPTH = 128
_I64_MIN = -(2**63)
_U64_END = 2**64
_FALSE_MARK = "pyagent:false-schema"
_FALSE_SCHEMA = {"not": {}, "$comment": _FALSE_MARK}
_ABSOLUTE_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


class SchemaError(ValueError):
    """The schema is not usable.

    It is invalid, has an unknown ``$schema``, an unresolvable ``$ref``, a ``pattern`` outside
    the shared dialect, or a ``retrieve`` callable failed.
    """


class SchemaIssue(NamedTuple):
    """One validation failure: where in the instance, which schema keyword, and why."""

    instance_path: str
    schema_path: str
    message: str


# --- Patterns: RE2 behind the library's own keyword code ------------------------------------

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
_RE2_OPTIONS.max_mem = 64 << 20


@functools.lru_cache(maxsize=4096)
def _schema_regex(pattern: str) -> Any:
    """RE2 for a schema pattern in the shared dialect (see pyagent.schema_patterns)."""
    try:
        return re2.compile(schema_patterns.translate(pattern), _RE2_OPTIONS)
    except (ValueError, re2.error) as e:
        raise SchemaError(f"invalid pattern: {e}") from e


class _Re2Search:
    """Stands in for the ``re`` module inside the library's pattern-matching functions."""

    @staticmethod
    def search(pattern: str, text: str) -> Any:
        return _schema_regex(pattern).search(text)


def _on_re2(function: Any, **replace: Any) -> Any:
    """A copy of a library function that matches with RE2 (its globals' ``re`` swapped).

    The library's keyword code stays the engine; only the regex engine under ``pattern``,
    ``patternProperties``, ``additionalProperties`` and ``unevaluatedProperties`` changes, so
    matching is linear-time and the dialect is the one rust_core uses.
    """
    namespace = {**function.__globals__, "re": _Re2Search, **replace}
    copy = types.FunctionType(
        function.__code__, namespace, function.__name__, function.__defaults__
    )
    namespace[function.__name__] = copy  # recursive helpers call the copy
    return copy


class _PairsOnStack(threading.local):
    """The (schema object, instance object) pairs a recursive walk is inside, per thread.

    A JSON instance cannot contain itself, so the same pair met again on the stack is a cycle
    that made no progress into the instance.
    """

    def __init__(self) -> None:
        self.pairs: set[tuple[int, int]] = set()

    @contextlib.contextmanager
    def entering(self, schema: Any, instance: Any) -> Iterator[bool]:
        """True, with the pair held until the block ends; False if it is already held."""
        key = (id(schema), id(instance))
        if key in self.pairs:
            yield False
            return
        self.pairs.add(key)
        try:
            yield True
        finally:
            self.pairs.discard(key)


#: The pairs whose evaluated keys or indexes are being gathered.
_GATHERING = _PairsOnStack()


def _gathers_without_cycles(finder: Any) -> Any:
    """A copy of one of the library's ``find_evaluated_*`` helpers that stops at a cycle.

    They follow ``$ref`` (and kin) with no guard, so a document that reaches itself through
    ``allOf`` beside an ``unevaluated*`` keyword recursed until RecursionError. The same
    (schema object, instance object) pair met again on the stack is a cycle that made no
    progress into the instance: it can evaluate nothing the outer walk of that pair does not,
    so it adds nothing, as a reference already being followed passes in the Rust engine.
    """
    copy = _on_re2(finder)

    def guarded(validator: Any, instance: Any, schema: Any) -> Any:
        with _GATHERING.entering(schema, instance) as first:
            return copy(validator, instance, schema) if first else []

    copy.__globals__[finder.__name__] = guarded  # its recursive calls come back through here
    return guarded


_evaluated_keys = _gathers_without_cycles(_js_utils.find_evaluated_property_keys_by_schema)
_evaluated_keys_2019 = _gathers_without_cycles(_js_legacy.find_evaluated_property_keys_by_schema)
_evaluated_items = _gathers_without_cycles(_js_utils.find_evaluated_item_indexes_by_schema)
_evaluated_items_2019 = _gathers_without_cycles(_js_legacy.find_evaluated_item_indexes_by_schema)
_RE2_KEYWORDS = {
    "pattern": _on_re2(_js_keywords.pattern),
    "patternProperties": _on_re2(_js_keywords.patternProperties),
    "additionalProperties": _on_re2(
        _js_keywords.additionalProperties,
        find_additional_properties=_on_re2(_js_utils.find_additional_properties),
    ),
}


#: The pairs whose reference is being followed.
_FOLLOWING = _PairsOnStack()


def _stops_reference_cycles(keyword: Any) -> Any:
    """``keyword`` (``$ref`` and kin), made to stop where a cycle never moves into the instance.

    ``{"allOf": [{"$ref": "#"}]}`` applies the root to the same instance again and again: the
    library recurses until RecursionError. The Rust engine (jsonschema-rs) treats a reference
    it is already following for the same instance as passing, which the spec allows (such a
    cycle can add no assertion), so the reference does the same. A JSON instance cannot
    contain itself, so the same (schema object, instance object) pair met again on the stack
    is exactly a cycle that made no progress into the instance.
    """

    def guarded(validator: Any, ref: Any, instance: Any, schema: Any) -> Iterator[Any]:
        with _FOLLOWING.entering(schema, instance) as first:
            if first:
                yield from keyword(validator, ref, instance, schema)

    return guarded


def _resource_draft(resolver: Any) -> str | None:
    """The draft of the document (or ``$id`` resource) ``resolver`` is based in, if known."""
    try:
        resource = resolver._registry[resolver._base_uri]
    except (_ref_exceptions.NoSuchResource, KeyError, AttributeError):
        return None
    return _DRAFT_OF_SPECIFICATION.get(resource._specification.name)


def _evolve(self: Any, **changes: Any) -> Any:
    """The library's ``evolve``, choosing among *our* draft classes by where the schema lives.

    A subschema declaring ``$schema`` (a root reached again through ``$ref``, a registered
    document) gets that draft's class: the library's own would pick its stock class, which
    would drop the RE2 keywords and the cycle guard there. A schema reached in another
    document gets that document's draft (its own ``$schema``, else the root's), as the Rust
    engine reads it: the library kept the referrer's, so a registered Draft 4 document's
    ``$ref`` to a document without ``$schema`` ignored 2020-12's ``unevaluatedProperties``
    there. An unknown ``$schema`` keeps the current class, as the library does.
    """
    schema = changes.setdefault("schema", self.schema)
    cls = self.__class__
    declared = _known_draft(schema.get("$schema")) if isinstance(schema, dict) else None
    resolver = changes.get("_resolver")
    if (
        declared is None
        and resolver is not None
        and resolver is not self._resolver
        and resolver._base_uri != self._resolver._base_uri
    ):
        declared = _resource_draft(resolver)
    new_class = _VALIDATORS.get(declared, cls) if declared else cls
    for field in attrs.fields(cls):
        if field.init and field.alias not in changes:
            changes[field.alias] = getattr(self, field.name)
    return new_class(**changes)


def _draft_class(base: Any, extra: Mapping[str, Any]) -> Any:
    references = {
        name: _stops_reference_cycles(base.VALIDATORS[name])
        for name in ("$ref", "$dynamicRef", "$recursiveRef")
        if name in base.VALIDATORS
    }
    cls = validators.extend(base, {**_RE2_KEYWORDS, **references, **extra})
    cls.evolve = _evolve
    return cls


#: Drafts 2019-09 and 2020-12 also apply Draft 7's ``dependencies`` keyword, which the Rust engine
#: keeps there for compatibility (the suite's optional ``dependencies-compatibility`` cases).
_VALIDATORS: dict[str, Any] = {
    DRAFT4_URI: _draft_class(Draft4Validator, {}),
    DRAFT6_URI: _draft_class(Draft6Validator, {}),
    DRAFT7_URI: _draft_class(Draft7Validator, {}),
    DRAFT201909_URI: _draft_class(
        Draft201909Validator,
        {
            "dependencies": Draft7Validator.VALIDATORS["dependencies"],
            "unevaluatedProperties": _on_re2(
                _js_legacy.unevaluatedProperties_draft2019,
                find_evaluated_property_keys_by_schema=_evaluated_keys_2019,
            ),
            "unevaluatedItems": _on_re2(
                _js_legacy.unevaluatedItems_draft2019,
                find_evaluated_item_indexes_by_schema=_evaluated_items_2019,
            ),
        },
    ),
    DRAFT202012_URI: _draft_class(
        Draft202012Validator,
        {
            "dependencies": Draft7Validator.VALIDATORS["dependencies"],
            "unevaluatedProperties": _on_re2(
                _js_keywords.unevaluatedProperties,
                find_evaluated_property_keys_by_schema=_evaluated_keys,
            ),
            "unevaluatedItems": _on_re2(
                _js_keywords.unevaluatedItems,
                find_evaluated_item_indexes_by_schema=_evaluated_items,
            ),
        },
    ),
}


def _only_on_objects(specification: Specification[Any]) -> Specification[Any]:
    """``specification`` whose `id`, anchor and subresource lookups skip non-object contents.

    referencing's lookups fail (AttributeError) on an array-valued ``dependencies`` entry
    (``{"dependencies": {"a": {}, "b": []}}``: Draft 6/7 walk every value once the first is a
    schema) and, in Draft 4, on a boolean subschema, either of which a registered document may
    hold when an `id` is searched for across the registry. Those have no id, anchor or
    subschema, as the Rust engine reads them.
    """

    def id_of(contents: Any) -> str | None:
        return specification.id_of(contents) if isinstance(contents, dict) else None

    # Called with the tolerant specification, so the anchors' resources are tolerant too.
    anchors_of = specification._anchors_in

    def anchors_in(spec: Specification[Any], contents: Any) -> Iterable[Any]:
        return anchors_of(spec, contents) if isinstance(contents, dict) else []

    def subresources_of(contents: Any) -> Iterable[Any]:
        if not isinstance(contents, dict):
            return []
        return [c for c in specification.subresources_of(contents) if isinstance(c, dict | bool)]

    return attrs.evolve(  # type: ignore[misc]
        specification, id_of=id_of, anchors_in=anchors_in, subresources_of=subresources_of
    )


_SPECIFICATIONS: dict[str, Specification[Any]] = {
    DRAFT4_URI: _only_on_objects(DRAFT4),
    DRAFT6_URI: _only_on_objects(DRAFT6),
    DRAFT7_URI: _only_on_objects(DRAFT7),
    DRAFT201909_URI: _only_on_objects(DRAFT201909),
    DRAFT202012_URI: _only_on_objects(DRAFT202012),
}
_DRAFT_OF_SPECIFICATION = {spec.name: draft for draft, spec in _SPECIFICATIONS.items()}
#: Drafts whose ``items`` may be an array of per-position schemas.
_TUPLE_ITEMS = frozenset({DRAFT4_URI, DRAFT6_URI, DRAFT7_URI, DRAFT201909_URI})


def _check_regex_format(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    try:
        schema_patterns.translate(instance)
    except ValueError:
        return False
    return True


_UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


def _check_uuid_format(instance: object) -> bool:
    # RFC 9562's hyphenated form only; the library's check lets uuid.UUID read more.
    return not isinstance(instance, str) or _UUID.fullmatch(instance) is not None


def _format_checker() -> FormatChecker:
    """The checks for :data:`ASSERTED_FORMATS`, in every draft, as the Rust engine's.

    The library's for ``date``, ``ipv4`` and ``ipv6``; ``regex`` is the shared dialect and
    ``uuid`` the strictly hyphenated form.
    """
    checker = FormatChecker([name for name in ASSERTED_FORMATS if name not in ("regex", "uuid")])
    checker.checks("regex")(_check_regex_format)
    checker.checks("uuid")(_check_uuid_format)
    return checker


_FORMAT_CHECKER = _format_checker()


def _meta_schema(draft: str) -> dict[str, Any]:
    """The draft's meta-schema as the Rust engine bundles it.

    Its Draft 4 copy lets ``enum`` be empty or repeat values, and its Draft 7 copy types
    ``writeOnly`` as a boolean; the reference follows so both accept the same schemas.
    """
    meta: dict[str, Any] = dict(_META_SCHEMAS.contents(draft))
    properties = dict(meta["properties"])
    if draft == DRAFT4_URI:
        properties["enum"] = {"type": "array"}
    if draft == DRAFT7_URI:
        properties["writeOnly"] = {"type": "boolean", "default": False}
    meta["properties"] = properties
    return meta


#: Meta-schema validators. They check no formats (the meta-schemas' ``format: regex`` is the
#: pattern walk's job, in the shared dialect), as the Rust engine.
_META_VALIDATORS: dict[str, Any] = {
    draft: validators.validator_for(_META_SCHEMAS.contents(draft))(
        _meta_schema(draft), format_checker=FormatChecker(())
    )
    for draft in DRAFTS
}


def _pointer(parts: Iterable[object]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _check_json(value: object, what: str, depth: int = 0) -> Any:
    """``value`` as plain JSON (builtin types only); TypeError/ValueError if it is not JSON.

    Depth first, in order (an object's key before its value), as the Rust conversion reads
    it, so the first bad value decides the exception class on both backends. Subclasses of
    list, dict, str, int and float are read by their stored contents, as the Rust conversion
    reads them (their overridden ``__iter__``, ``items``, ``get``... are never called), and
    returned as the builtin type (docs/limits.md, "Hostile arguments").
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        value = str.__str__(value)
        value.encode()  # UnicodeEncodeError for a lone surrogate, as Rust's UTF-8 view raises
        return value
    if isinstance(value, int):
        value = int.__int__(value)
        if not _I64_MIN <= value < _U64_END:
            raise ValueError(f"{what}: integer {value} does not fit in 64 bits")
        return value
    if isinstance(value, float):
        value = float.__float__(value)
        if not math.isfinite(value):
            raise ValueError(f"{what}: {value!r} is not a JSON number")
        return value
    if isinstance(value, (list, dict)):
        if depth >= MAX_DEPTH:
            raise ValueError(f"{what} nests deeper than {MAX_DEPTH} levels")
        if isinstance(value, list):
            return [_check_json(child, what, depth + 1) for child in list.__iter__(value)]
        plain = {}
        for key, child in dict.items(value):
            if not isinstance(key, str):
                raise TypeError(f"{what}: object keys must be str, not {type(key).__name__}")
            key = str.__str__(key)
            key.encode()
            plain[key] = _check_json(child, what, depth + 1)
        return plain
    raise TypeError(f"{what}: {type(value).__name__} is not a JSON type")


def _known_draft(uri: object) -> str | None:
    if isinstance(uri, str):
        bare = uri[:-1] if uri.endswith("#") else uri
        if bare in DRAFTS:
            return bare
    return None


def _draft_of(schema: object, documents: Mapping[str, Any]) -> str:
    """The draft named by ``$schema``, directly or through a registered meta-schema."""
    if not isinstance(schema, dict) or "$schema" not in schema:
        return DEFAULT_DRAFT
    uri = schema["$schema"]
    draft = _known_draft(uri)
    if draft is None and isinstance(uri, str):
        meta = documents.get(uri[:-1] if uri.endswith("#") else uri)
        if isinstance(meta, dict):
            draft = _known_draft(meta.get("$schema"))
    if draft is None:
        raise SchemaError(
            f"unsupported $schema {uri!r}: one of {', '.join(DRAFTS)}, or a registered "
            "meta-schema whose own $schema is one of them"
        )
    return draft


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


def _normalise(schema: Any, tuple_items: bool) -> Any:
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _ONE and not (tuple_items and key == "items" and isinstance(value, list)):
            out[key] = _FALSE_SCHEMA if value is False else _normalise(value, tuple_items)
        elif (key in _LIST or (tuple_items and key == "items")) and isinstance(value, list):
            out[key] = [_FALSE_SCHEMA if v is False else _normalise(v, tuple_items) for v in value]
        elif (key in _MAP or key == "dependencies") and isinstance(value, dict):
            out[key] = {
                k: _FALSE_SCHEMA if v is False else _normalise(v, tuple_items)
                for k, v in value.items()
            }
        elif key in _KEEP_FALSE:
            out[key] = _normalise(value, tuple_items)
        else:
            out[key] = value
    return out


#: Keywords whose value is data, never a schema: the pattern walk does not enter them.
_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples"})
#: Keywords whose value maps names to schemas (the names are not keywords).
_SCHEMA_MAPS = frozenset(
    {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies"}
)


def _schema_patterns(schema: Any) -> Iterator[str]:
    """Every ``pattern`` and ``patternProperties`` name where a schema may sit.

    Everything but data keywords is walked (an unknown keyword's object may be reached by a
    ``$ref``), the same walk as rust_core's, so both refuse the same schemas.
    """
    pending = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(reversed(node))
            continue
        if not isinstance(node, dict):
            continue
        children: list[Any] = []
        for key, value in node.items():
            if key in _DATA_KEYWORDS:
                continue
            if key == "pattern" and isinstance(value, str):
                yield value
            elif key in _SCHEMA_MAPS and isinstance(value, dict):
                if key == "patternProperties":
                    yield from value
                children.extend(value.values())
            else:
                children.append(value)
        pending.extend(reversed(children))


def _check_patterns(schema: Any) -> None:
    for pattern in _schema_patterns(schema):
        _schema_regex(pattern)


def _resource(contents: Any, default: Specification[Any]) -> Resource[Any]:
    """A document as a resource of the draft it declares (our Draft 4 too), else ``default``."""
    declared = _known_draft(contents.get("$schema")) if isinstance(contents, dict) else None
    return (_SPECIFICATIONS[declared] if declared else default).create_resource(contents)


def _document_registry(
    documents: Mapping[str, Any],
    retrieve: Callable[[str], Any] | None,
    specification: Specification[Any],
) -> Registry[Any]:
    """The official meta-schemas, the user's documents and the user's retrieve callable."""

    def resource(contents: Any) -> Resource[Any]:
        return _resource(contents, specification)

    # Once per URI: the walk at compile time and the library's own lookups when validating
    # meet the same documents, and the caller's function is called once for each, as in Rust.
    @functools.cache
    def retrieve_checked(uri: str) -> Resource[Any]:
        if retrieve is None:
            raise LookupError(f"{uri} is not registered and no retrieve callable was given")
        contents = retrieve(uri)
        _check_json(contents, "retrieved schema")
        return resource(contents)

    registry: Registry[Any] = Registry(retrieve=retrieve_checked)  # type: ignore[call-arg]
    registry = registry.combine(_META_SCHEMAS)
    return registry.with_resources((uri, resource(doc)) for uri, doc in documents.items())


def _registered(registry: Mapping[str, Any] | None) -> dict[str, Any]:
    """The user's documents by URI (trailing ``#`` dropped), type-checked like schemas."""
    if registry is None:
        return {}
    if not isinstance(registry, Mapping):
        raise TypeError("registry must be a mapping of URI -> schema")
    out: dict[str, Any] = {}
    for uri, document in registry.items():
        if not isinstance(uri, str):
            raise TypeError(f"registry keys must be str, not {type(uri).__name__}")
        uri.encode()
        if not _ABSOLUTE_URI.match(uri):
            raise ValueError(f"registry key {uri!r} is not an absolute URI")
        _check_json(document, "registered schema")
        out[uri[:-1] if uri.endswith("#") else uri] = document
    return out


def _check_against_meta(document: Any, draft: str) -> None:
    """SchemaError unless ``document`` is valid against the meta-schema of the draft it declares.

    ``draft`` (the root's) when it declares none we know. The library checks only the root;
    a reached Draft 4 document holding ``"items": false`` then failed inside the Draft 4
    keyword code (TypeError) where the Rust engine validated. Both now refuse it.
    """
    declared = _known_draft(document.get("$schema")) if isinstance(document, dict) else None
    error = _js_exceptions.best_match(_META_VALIDATORS[declared or draft].iter_errors(document))
    if error is not None:
        raise SchemaError(f"a referenced document is not a valid schema: {error.message}")


def _check_refs(schema: Any, draft: str, registry: Registry[Any]) -> None:
    """SchemaError unless every reference resolves, as rust_core checks when it builds.

    That is in this document and in every document reached, whose meta-schema and patterns
    are checked too.
    """
    specification = _SPECIFICATIONS[draft]
    root: Resource[Any] = specification.create_resource(schema)
    root_uri = root.id() or ""
    registry = registry.with_resource(root_uri, root)
    pending = [(registry.resolver(base_uri=root_uri), root)]
    documents = {root_uri.partition("#")[0]}
    while pending:
        current, resource = pending.pop()
        contents = resource.contents
        if isinstance(contents, dict):
            for keyword in ("$ref", "$dynamicRef", "$recursiveRef"):
                ref = contents.get(keyword)
                if not isinstance(ref, str):
                    continue
                try:
                    resolved = current.lookup(ref)
                    document = urljoin(current._base_uri, ref).partition("#")[0]
                    if document in documents:
                        continue
                    documents.add(document)
                    # The resolver of the lookup holds what it retrieved: no second call.
                    reached = resolved.resolver.lookup(document)
                except (_ref_exceptions.Unresolvable, _ref_exceptions.NoSuchResource) as e:
                    # A lookup wraps a failed retrieval (Unretrievable, itself wrapping what
                    # the caller's function raised) in Unresolvable: name the caller's error.
                    failed = e.__cause__
                    why = "does not resolve"
                    if isinstance(failed, _ref_exceptions.Unretrievable):
                        why = f"could not be retrieved: {failed.__cause__ or failed}"
                    raise SchemaError(f"{keyword} {ref!r} {why}") from e
                _check_against_meta(reached.contents, draft)
                _check_patterns(reached.contents)
                pending.append((reached.resolver, _resource(reached.contents, specification)))
        for sub in resource.subresources():
            # Only objects hold references (referencing also yields Draft 7's array-valued
            # `dependencies`, and Draft 4's `id` lookup fails on booleans).
            if isinstance(sub.contents, dict):
                pending.append((current.in_subresource(sub), sub))


def _issue(error: _js_exceptions.ValidationError) -> SchemaIssue:
    schema_path = list(error.absolute_schema_path)
    message = error.message
    if isinstance(error.schema, dict) and error.schema.get("$comment") == _FALSE_MARK:
        schema_path = schema_path[:-1]  # the `not` of the rewritten `false`
        message = f"False schema does not allow {error.instance!r}"
    return SchemaIssue(_pointer(error.absolute_path), _pointer(schema_path), message)


def _format_mode(format: str | None) -> bool:
    if format is None:  # as rust_core's omitted keyword
        return False
    if format not in ("annotate", "assert"):
        raise ValueError(f"format must be 'annotate' or 'assert', not {format!r}")
    return format == "assert"


class SchemaValidator:
    """One compiled schema: validate any number of instances against it.

    Built by :func:`compile_schema`, which checks the schema once (draft, meta-schema,
    patterns, references); each ``validate`` call then only checks the instance. See
    :func:`compile_schema` for the keyword arguments.

    Immutable, so one validator may serve any number of threads (the Rust one validates
    without the GIL). A pickle holds the schema and the keyword arguments and loads through
    :func:`compile_schema` on either backend (compiled again there; a ``retrieve`` callable
    must itself pickle); copy and deepcopy do the same.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        """``(_restore_validator, (schema, keywords))``: backend-neutral, as the Rust one's."""
        return (_restore_validator, (self.schema, dict(self._keywords)))

    def __init__(
        self,
        schema: Any,
        *,
        registry: Mapping[str, Any] | None = None,
        retrieve: Callable[[str], Any] | None = None,
        format: str = "annotate",
    ) -> None:
        schema = _check_json(schema, "schema")
        documents = _registered(registry)
        if retrieve is not None and not callable(retrieve):
            raise TypeError("retrieve must be a callable taking a URI")
        assert_formats = _format_mode(format)
        draft = _draft_of(schema, documents)
        cls = _VALIDATORS[draft]
        error = _js_exceptions.best_match(_META_VALIDATORS[draft].iter_errors(schema))
        if error is not None:
            raise SchemaError(f"invalid schema: {error.message}")
        _check_patterns(schema)
        specification = _SPECIFICATIONS[draft]
        resolving = _document_registry(documents, retrieve, specification)
        _check_refs(schema, draft, resolving)
        self.schema = schema
        self.draft = draft
        self._keywords = {"registry": registry, "retrieve": retrieve, "format": format}
        self._validator: _ValidatorProtocol = cls(
            _normalise(schema, draft in _TUPLE_ITEMS),
            registry=resolving,
            format_checker=_FORMAT_CHECKER if assert_formats else None,
        )

    def _errors(self, instance: object) -> Iterator[_js_exceptions.ValidationError]:
        try:
            yield from self._validator.iter_errors(instance)
        except _ref_exceptions.Unresolvable as e:  # defensive: _check_refs resolved them all
            raise SchemaError(str(e)) from e

    def validate(self, instance: object) -> tuple[bool, list[SchemaIssue]]:
        """``(valid, errors)`` for one instance; TypeError/ValueError for a non-JSON one."""
        instance = _check_json(instance, "instance")
        issues = [_issue(error) for error in self._errors(instance)]
        return not issues, issues

    def is_valid(self, instance: object) -> bool:
        """True when the instance is valid; stops at the first error."""
        instance = _check_json(instance, "instance")
        return next(self._errors(instance), None) is None

    def validate_many(self, instances: Iterable[object]) -> list[tuple[bool, list[SchemaIssue]]]:
        """:meth:`validate` for each instance, in order."""
        return [self.validate(instance) for instance in instances]

    def is_valid_many(self, instances: Iterable[object]) -> list[bool]:
        """:meth:`is_valid` for each instance, in order."""
        return [self.is_valid(instance) for instance in instances]


def compile_schema(
    schema: Any,
    *,
    registry: Mapping[str, Any] | None = None,
    retrieve: Callable[[str], Any] | None = None,
    format: str = "annotate",
) -> SchemaValidator:
    """A validator for ``schema``, checked once; SchemaError if it is not usable.

    ``registry`` maps absolute URIs to the schema documents a ``$ref`` may reach;
    ``retrieve(uri)`` is called (at compile time) for any other document a reference
    reaches and returns it, or raises (a SchemaError follows). Nothing else is ever fetched.
    ``format="assert"`` asserts the :data:`ASSERTED_FORMATS`; the default ``"annotate"``
    asserts none. See the module docs.
    """
    if rc is not None and hasattr(rc, "compile_schema"):
        return rc.compile_schema(schema, registry=registry, retrieve=retrieve, format=format)
    return SchemaValidator(schema, registry=registry, retrieve=retrieve, format=format)


def _restore_validator(schema: Any, keywords: dict[str, Any]) -> SchemaValidator:
    """Where a pickled validator loads: :func:`compile_schema` on this process's backend."""
    return compile_schema(schema, **keywords)


def json_schema_validate(
    instance: Any,
    schema: Any,
    *,
    registry: Mapping[str, Any] | None = None,
    retrieve: Callable[[str], Any] | None = None,
    format: str = "annotate",
) -> tuple[bool, list[SchemaIssue]]:
    """``(valid, errors)`` for ``instance`` against ``schema``; see :func:`compile_schema`."""
    if rc is not None and hasattr(rc, "json_schema_validate"):
        return rc.json_schema_validate(
            instance, schema, registry=registry, retrieve=retrieve, format=format
        )
    return SchemaValidator(schema, registry=registry, retrieve=retrieve, format=format).validate(
        instance
    )


# --- Content rules: validate_content ------------------------------------------------------
#
# The regex subset both engines agree on. Python's ``re`` (bytes patterns) and Rust's
# ``regex`` crate (``regex::bytes`` with Unicode off) are both leftmost-first, so on this
# subset they return the same matches; the subset is checked by one small scanner, written
# the same way in both languages (``_check_pattern`` here, ``content::check_pattern`` in
# rust_core), before either engine compiles the pattern.

#: The stdlib's regex parser, for the minimum match width (``getwidth``); private but stable.
_sre_parser: Any = importlib.import_module("re._parser")
_ESCAPE_CLASSES = frozenset("dDwWsS")
_ESCAPE_ASSERTIONS = frozenset("bBA")
_ESCAPE_CONTROLS = {"t": 9, "n": 10, "v": 11, "f": 12, "r": 13}
_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;=?@[\\]^_`{|}~")  # ASCII punctuation minus < >
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_MAX_REPEAT = 1000


class _Scanner(schema_patterns.PatternCursor):
    """One pass over a pattern; ValueError at the first construct outside the subset."""

    def escape(self, in_class: bool) -> int | None:
        r"""Reads ``\x``; the byte it stands for, or None for a class/assertion escape."""
        self.i += 1  # the backslash
        c = self.peek()
        if not c:
            raise self.fail("trailing backslash")
        self.i += 1
        if c in _ESCAPE_CLASSES:
            return None
        if c in _ESCAPE_ASSERTIONS and not in_class:
            return None
        if c in _ESCAPE_CONTROLS:
            return _ESCAPE_CONTROLS[c]
        if c == "x":
            digits = self.p[self.i : self.i + 2]
            if len(digits) != 2 or not set(digits) <= _HEX_DIGITS:
                raise self.fail("\\x needs exactly two hex digits")
            self.i += 2
            return int(digits, 16)
        if c in _PUNCTUATION:
            return ord(c)
        raise self.fail(f"unsupported escape \\{c}")

    def char_class(self) -> None:
        self.i += 1  # [
        if self.peek() == "^":
            self.i += 1
        first = True
        while True:
            c = self.peek()
            if not c:
                raise self.fail("unterminated character class")
            if c == "]" and not first:
                self.i += 1
                return
            if c == "[":
                raise self.fail("'[' inside a class must be escaped")
            if c in "&~-" and self.peek(1) == c:
                raise self.fail(f"'{c}{c}' inside a class (a set operation in Rust)")
            if c == "-" and not first and self.peek(1) != "]":
                raise self.fail("'-' inside a class must come first or last")
            low = self.escape(True) if c == "\\" else self.literal()
            first = False
            if self.peek() == "-" and self.peek(1) == "-":
                # ``[!--]``: RE2 reads the range ``!``-``-``, Rust ``!`` minus nothing.
                raise self.fail("'--' inside a class (a set operation in Rust)")
            if self.peek() == "-" and self.peek(1) not in ("]", ""):
                if low is None:
                    raise self.fail("a class escape cannot start a range")
                self.i += 1
                c = self.peek()
                if c == "[":
                    raise self.fail("'[' inside a class must be escaped")
                high = self.escape(True) if c == "\\" else self.literal()
                if high is None or high < low:
                    raise self.fail("invalid range")
                if self.peek() == "-" and self.peek(1) != "]":
                    raise self.fail("'-' inside a class must come first or last")

    def literal(self) -> int:
        c = self.p[self.i]
        self.i += 1
        return ord(c)

    def repeat(self) -> int:
        """``{n}``, ``{n,}`` or ``{n,m}`` (n <= m <= 1000), at self.i (on the brace).

        Returns the count RE2 weighs nested repetitions by: m, or n when unbounded.
        """
        end = self.p.find("}", self.i)
        body = self.p[self.i + 1 : end] if end > 0 else ""
        low, comma, high = body.partition(",")
        if not (low.isdigit() and (high.isdigit() or not high)) or not low.isascii():
            raise self.fail("'{' must start a counted repetition {n}, {n,} or {n,m}")
        if any(len(count) > 1 and count[0] == "0" for count in (low, high)):
            # RE2 reads ``a{01}`` as the literal text, Rust as ``a{1}``.
            raise self.fail("repetition counts have no leading zeros")
        if int(low) > _MAX_REPEAT or (high and int(high) > _MAX_REPEAT):
            raise self.fail(f"repetition counts are limited to {_MAX_REPEAT}")
        if high and int(high) < int(low):
            raise self.fail("repetition {n,m} needs n <= m")
        del comma
        self.i = end + 1
        return int(high) if high else int(low)

    def group_open(self, at_start: bool) -> bool:
        """Reads a group opener; True if it was the global flags group ``(?ims)``."""
        self.i += 1  # (
        if self.peek() != "?":
            return False
        self.i += 1
        c = self.peek()
        if c == ":":
            self.i += 1
            return False
        if c == "P" and self.peek(1) == "<":
            end = self.p.find(">", self.i)
            name = self.p[self.i + 2 : end] if end > 0 else ""
            if not (name.isidentifier() and name.isascii()):
                raise self.fail("group names are ASCII identifiers")
            self.i = end + 1
            return False
        j = self.i
        while self.peek() in ("i", "m", "s") and self.peek():
            self.i += 1
        flags = self.p[j : self.i]
        if flags and len(set(flags)) == len(flags):
            if self.peek() == ")" and at_start:
                self.i += 1
                return True
            if self.peek() == ":" and "m" not in flags:
                self.i += 1
                return False
        raise self.fail(
            "only (?:...), (?P<name>...), (?is:...) and a leading (?ims) are supported "
            "(no lookaround, backreferences, atomic groups, conditionals or other flags)"
        )

    def check(self) -> None:
        multiline = False
        depth = 0
        quantifiable = False
        # Largest product of nested counted repetitions per open group (RE2 refuses more
        # than _MAX_REPEAT, so both backends do), and that of the last atom.
        products = [1]
        last = 1
        while self.i < len(self.p):
            c = self.peek()
            if c == "\\":
                quantifiable = self.escape(False) is not None or self.p[self.i - 1] in "dDwWsS"
                last = 1
            elif c == "[":
                self.char_class()
                quantifiable = True
                last = 1
            elif c == "(":
                if self.group_open(self.i == 0):
                    multiline = "m" in self.p[: self.i]
                    quantifiable = False
                    continue
                depth += 1
                products.append(1)
                quantifiable = False
            elif c == ")":
                if depth == 0:
                    raise self.fail("unbalanced ')'")
                depth -= 1
                self.i += 1
                last = products.pop()
                products[-1] = max(products[-1], last)
                quantifiable = True
                continue
            elif c in "*+?{":
                if not quantifiable:
                    raise self.fail("a quantifier must follow a character, class or group")
                if c == "{":
                    count = self.repeat()
                    last *= max(count, 1)
                    if last > _MAX_REPEAT:
                        raise self.fail(
                            f"nested counted repetitions multiply to more than {_MAX_REPEAT}"
                        )
                    products[-1] = max(products[-1], last)
                else:
                    self.i += 1
                if self.peek() == "?":
                    self.i += 1
                quantifiable = False
            elif c == "$":
                if not multiline:
                    raise self.fail("'$' needs a leading (?m) (its meaning differs otherwise)")
                self.i += 1
                quantifiable = False
            elif c in "^|":
                self.i += 1
                quantifiable = False
            elif c in "]}":
                raise self.fail(f"'{c}' must be escaped")
            else:
                self.i += 1
                quantifiable = True
                last = 1
        if depth:
            raise self.fail("unbalanced '('")


#: RE2 reads bytes as Latin-1 here: ``.`` is any byte but newline, and classes, ``\w \d \b``
#: and ``(?i)`` are ASCII, as in the Rust engine. Its ``\s`` lacks ``\v``, so ``\s``/``\S``
#: are spelled out (:func:`_re2_bytes_pattern`).
_CONTENT_RE2 = re2.Options()
_CONTENT_RE2.encoding = re2.Options.Encoding.LATIN1
_CONTENT_RE2.log_errors = False
_CONTENT_RE2.max_mem = 64 << 20
_RE2_SPACE = {
    (False, "s"): r"[\t\n\x0b\x0c\r ]",
    (False, "S"): r"[^\t\n\x0b\x0c\r ]",
    (True, "s"): r"\t\n\x0b\x0c\r ",
    (True, "S"): r"\x00-\x08\x0e-\x1f\x21-\xff",
}


def _re2_bytes_pattern(pattern: str) -> bytes:
    r"""A checked pattern for RE2, ``\s``/``\S`` spelled as the ASCII set Rust and ``re`` use."""
    out: list[str] = []
    i = 0
    in_class = first = False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            escaped = pattern[i + 1]
            out.append(_RE2_SPACE.get((in_class, escaped), pattern[i : i + 2]))
            i += 2
            first = False
            continue
        if in_class:
            in_class = not (c == "]" and not first)
            first = False
        elif c == "[":
            in_class = first = True
            if pattern[i + 1 : i + 2] == "^":
                out.append("[^")
                i += 2
                continue
        out.append(c)
        i += 1
    return "".join(out).encode("ascii")


def _check_pattern(pattern: str) -> Any:
    """The compiled RE2 pattern (linear time), or ValueError outside the shared subset."""
    if not pattern:
        raise ValueError("pattern must not be empty")
    if not pattern.isascii():
        raise ValueError(f"pattern {pattern!r}: patterns are ASCII (use \\xHH for bytes)")
    _Scanner(pattern).check()
    source = pattern.encode("ascii")
    try:
        width = _sre_parser.parse(source).getwidth()[0]
    except re.error as e:
        raise ValueError(f"pattern {pattern!r}: {e}") from e
    if width == 0:
        raise ValueError(f"pattern {pattern!r} can match the empty string")
    try:
        return re2.compile(_re2_bytes_pattern(pattern), _CONTENT_RE2)
    except re2.error as e:
        raise ValueError(f"pattern {pattern!r}: {e}") from e


def _check_glob(glob: str) -> str:
    glob.encode()  # UnicodeEncodeError for a lone surrogate, as in Rust
    if "[" in glob or "]" in glob:
        raise ValueError(f"glob {glob!r}: only '*' and '?' wildcards are supported")
    return glob


class ContentRule(NamedTuple):
    """Findings of ``pattern`` are reported as ``name``/``severity`` where ``glob`` matches."""

    name: str
    pattern: str
    severity: str
    glob: str = "*"


class Finding(NamedTuple):
    """One match: the rule's name, the content's index, the byte span, the rule's severity."""

    rule: str
    content_index: int
    start: int
    end: int
    severity: str


#: Leaked-secret rules shipped by default (ASCII patterns in the shared subset). Token
#: shapes follow the issuers' documented formats; the bearer rule needs an Authorization
#: header and a 20+ character token so prose ("the bearer of bad news") never matches.
DEFAULT_RULES: tuple[ContentRule, ...] = (
    ContentRule(
        "private-key",
        r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----",
        "critical",
    ),
    ContentRule("aws-access-key-id", r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b", "critical"),
    ContentRule("github-token", r"\bgh[pousr]_[A-Za-z0-9]{36}\b", "high"),
    ContentRule(
        "github-fine-grained-token", r"\bgithub_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}\b", "high"
    ),
    ContentRule("slack-token", r"\bxox[abposr]-[0-9]{8,13}-[0-9A-Za-z-]{8,64}", "high"),
    ContentRule(
        "slack-webhook",
        r"https://hooks\.slack\.com/services/T[A-Z0-9]{8,10}/B[A-Z0-9]{8,10}/[A-Za-z0-9]{24}",
        "high",
    ),
    ContentRule("google-api-key", r"\bAIza[0-9A-Za-z_-]{35}", "high"),
    ContentRule(
        "bearer-token",
        r"(?i)\bauthorization[ \t]*[:=][ \t]*[\"']?bearer[ \t]+[A-Za-z0-9._~+/-]{20,}=*",
        "medium",
    ),
    ContentRule(
        "jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}", "medium"
    ),
)


def _rules(rules: Iterable[object]) -> list[ContentRule]:
    """Rules as ContentRule, after type checks on every rule (TypeError), in order."""
    if isinstance(rules, (str, bytes)):
        raise TypeError("rules must be an iterable of (name, pattern, severity, glob)")
    out = []
    for rule in rules:
        if not isinstance(rule, (tuple, list)) or len(rule) != 4:
            raise TypeError(f"a rule must be a (name, pattern, severity, glob) tuple: {rule!r}")
        if not all(isinstance(field, str) for field in rule):
            raise TypeError(f"rule fields must be str: {rule!r}")
        out.append(ContentRule(*rule))
    return out


def _content_bytes(content: object) -> bytes:
    if isinstance(content, str):
        return content.encode()
    try:
        view = memoryview(content)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"contents must be str or bytes-like, not {type(content).__name__}"
        ) from None
    if not view.c_contiguous:
        raise BufferError("contents must be C-contiguous buffers")
    return view.tobytes()


def validate_content(
    contents: Iterable[str | bytes],
    rules: Iterable[ContentRule | tuple[str, str, str, str]] = DEFAULT_RULES,
    *,
    paths: Iterable[str] | None = None,
) -> list[Finding]:
    """Every match of every rule in every content, as :class:`Finding` records.

    ``contents`` are str (matched as their UTF-8 encoding) or bytes-like; spans are byte
    offsets. With ``paths`` (one per content) a rule applies only where its glob matches the
    whole path (``*`` any run of characters including ``/``, ``?`` one character); without,
    every rule applies everywhere. Each rule reports its non-overlapping leftmost-first
    matches; findings are ordered by content index, then start, then rule order.

    Patterns must be in the subset both engines agree on (see the module docs): anything
    else, an empty-matching pattern or a glob with brackets is a ValueError; a rule that is
    not four str fields is a TypeError.
    """
    if rc is not None and hasattr(rc, "validate_content_rust"):
        return rc.validate_content_rust(contents, rules, paths=paths)
    checked = _rules(rules)
    compiled = [(_check_pattern(rule.pattern), _check_glob(rule.glob)) for rule in checked]
    data = [_content_bytes(content) for content in contents]
    path_list: list[str] | None = None
    if paths is not None:
        if isinstance(paths, (str, bytes)):
            raise TypeError("paths must be an iterable of str, one per content")
        path_list = []
        for path in paths:
            if not isinstance(path, str):
                raise TypeError(f"paths must be str, not {type(path).__name__}")
            path.encode()
            path_list.append(path)
        if len(path_list) != len(data):
            raise ValueError(f"{len(path_list)} paths for {len(data)} contents")
    findings: list[Finding] = []
    for index, blob in enumerate(data):
        found: list[tuple[int, int, int]] = []
        for order, (regex, glob) in enumerate(compiled):
            if path_list is not None and not fnmatch.fnmatchcase(path_list[index], glob):
                continue
            found.extend((m.start(), order, m.end()) for m in regex.finditer(blob))
        found.sort()
        findings.extend(
            Finding(checked[o].name, index, start, end, checked[o].severity)
            for start, o, end in found
        )
    return findings

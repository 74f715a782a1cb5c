r"""ValidationCore: JSON Schema validation and content rules (Common/Validation).

Hot paths (seed: Common/Validation): ``json_schema_validate``, with a compiled form,
:func:`compile_schema`, for validating many instances against one schema; and
``validate_content_rust`` (:func:`validate_content`), regex rules for leaked secrets and
other content checks over many strings (see "Content rules" below).

JSON Schema
-----------

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

Content rules
-------------
:func:`validate_content` applies rules ``(name, pattern, severity, glob)`` to many contents
and returns :class:`Finding` records ``(rule, index, start, end, severity)``. Engines: Python's
``re`` and the Rust ``regex`` crate (a ``RegexSet`` tells which rules match a content at all,
then each matching rule's regex finds the spans; contents are scanned in parallel without the
GIL). Both match bytes: a str content is matched as its UTF-8 encoding and spans are byte
offsets.

The pattern language is the subset on which the two engines agree, checked by the same small
scanner on both sides before compiling, so a pattern outside it is a ValueError from both:

* ASCII only (``\xHH`` for other bytes); ASCII semantics: ``\d \w \s \b`` and ``(?i)``
  are ASCII, ``.`` is any byte except newline (any byte with ``s``);
* literals, ``.``, classes ``[...]``/``[^...]`` with ranges and ``\d \w \s`` (``[``
  inside a class must be escaped; ``&&``, ``--``, ``~~`` are set operations in Rust and
  rejected; ``-`` literal only first or last); escapes ``\t \n \v \f \r \xHH``
  and escaped punctuation (not ``\<``/``\>``, word boundaries in Rust);
* groups ``(...)``, ``(?:...)``, ``(?P<name>...)``, scoped flags ``(?i:...)``/``(?s:...)``,
  and one leading global ``(?ims)``;
* quantifiers ``* + ? {n} {n,} {n,m}`` (counts up to 1000), lazy with a trailing ``?``;
  ``{`` must start a quantifier and ``}``/``]`` must be escaped outside a class;
* anchors ``^``, ``\A``, ``\b``, ``\B``, and ``$`` only under a leading ``(?m)``: without
  it, ``re``'s ``$`` also matches before a final newline and Rust's does not;
* rejected: backreferences, lookahead/lookbehind, atomic groups, possessive quantifiers,
  conditionals, comments, other flags (``x``, ``u``, ``a``, ``L``, ``U``), ``\Z``/``\z``,
  Unicode classes (``\p``), POSIX classes, and any pattern that can match the empty string
  (an empty span is no finding).

A pattern whose compiled program exceeds the Rust engine's size limit (64 MiB, far beyond
any secret rule) is a ValueError from Rust only.
"""

from __future__ import annotations

import fnmatch
import importlib
import math
import re
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
    "DEFAULT_RULES",
    "DRAFT7_URI",
    "DRAFT202012_URI",
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

    Immutable, so one validator may serve any number of threads (the Rust one validates
    without the GIL). A pickle holds the schema and names :func:`compile_schema`, so it
    loads on either backend (compiled again there); copy and deepcopy do the same.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        """``(compile_schema, (schema,))``: backend-neutral, as the Rust validator's."""
        return (compile_schema, (self.schema,))

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


class _Scanner:
    """One pass over a pattern; ValueError at the first construct outside the subset."""

    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0

    def fail(self, why: str) -> ValueError:
        return ValueError(f"pattern {self.p!r}: {why} at offset {self.i}")

    def peek(self, ahead: int = 0) -> str:
        j = self.i + ahead
        return self.p[j] if j < len(self.p) else ""

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

    def repeat(self) -> None:
        """``{n}``, ``{n,}`` or ``{n,m}`` (n <= m <= 1000), at self.i (on the brace)."""
        end = self.p.find("}", self.i)
        body = self.p[self.i + 1 : end] if end > 0 else ""
        low, comma, high = body.partition(",")
        if not (low.isdigit() and (high.isdigit() or not high)) or not low.isascii():
            raise self.fail("'{' must start a counted repetition {n}, {n,} or {n,m}")
        if int(low) > _MAX_REPEAT or (high and int(high) > _MAX_REPEAT):
            raise self.fail(f"repetition counts are limited to {_MAX_REPEAT}")
        if high and int(high) < int(low):
            raise self.fail("repetition {n,m} needs n <= m")
        del comma
        self.i = end + 1

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
        while self.i < len(self.p):
            c = self.peek()
            if c == "\\":
                quantifiable = self.escape(False) is not None or self.p[self.i - 1] in "dDwWsS"
            elif c == "[":
                self.char_class()
                quantifiable = True
            elif c == "(":
                if self.group_open(self.i == 0):
                    multiline = "m" in self.p[: self.i]
                    quantifiable = False
                    continue
                depth += 1
                quantifiable = False
            elif c == ")":
                if depth == 0:
                    raise self.fail("unbalanced ')'")
                depth -= 1
                self.i += 1
                quantifiable = True
            elif c in "*+?{":
                if not quantifiable:
                    raise self.fail("a quantifier must follow a character, class or group")
                if c == "{":
                    self.repeat()
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
        if depth:
            raise self.fail("unbalanced '('")


def _check_pattern(pattern: str) -> re.Pattern[bytes]:
    """The compiled bytes pattern, or ValueError outside the shared subset."""
    if not pattern:
        raise ValueError("pattern must not be empty")
    if not pattern.isascii():
        raise ValueError(f"pattern {pattern!r}: patterns are ASCII (use \\xHH for bytes)")
    _Scanner(pattern).check()
    source = pattern.encode("ascii")
    try:
        compiled = re.compile(source)
    except re.error as e:
        raise ValueError(f"pattern {pattern!r}: {e}") from e
    if _sre_parser.parse(source).getwidth()[0] == 0:
        raise ValueError(f"pattern {pattern!r} can match the empty string")
    return compiled


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

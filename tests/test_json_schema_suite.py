"""The official JSON Schema Test Suite against both json_schema_validate backends.

Data: ``tests/data/json-schema-test-suite`` (a copy of json-schema-org/JSON-Schema-Test-Suite,
see its SOURCE and LICENSE files), drafts 4, 6, 7, 2019-09 and 2020-12: every file under
``tests/<draft>`` including ``optional/``, except ``optional/format/`` (format assertion is
opt-in: see ``test_validation_formats.py``). Each case's schema gets its draft's ``$schema`` when
it has none, as the suite's README suggests for implementations that default to another draft.
The suite's ``remotes/`` folder (served at ``http://localhost:1234/`` by the suite's own runner)
is handed to both backends through the ``registry=`` keyword: nothing is fetched.

Each backend (the pure-Python ``SchemaValidator`` and ``rust_core.compile_schema``) must give
the expected validity for every test except the ones listed, by id and with a reason, in
``tests/data/json_schema_suite_known_failures.json``; the list is exact, so a newly passing
test fails this module until it is removed from the list. On the *required* tests (everything
but ``optional/``) each backend must pass at least as many per draft as the Python
``jsonschema`` library itself, run here the same way (its validator for the draft, the same
remotes in a ``referencing`` registry). The counts are written to
``build/status/json-schema-suite.json``.

Regenerate the known-failure list after an engine upgrade (then review every reason):
``python -m tests.test_json_schema_suite --write-known-failures``.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import specification_with

from pyagent.validation_core import ASSERTED_FORMATS, SchemaValidator

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data" / "json-schema-test-suite"
SUITE = DATA / "tests"
REMOTES = DATA / "remotes"
REMOTE_BASE = "http://localhost:1234/"
KNOWN = Path(__file__).resolve().parent / "data" / "json_schema_suite_known_failures.json"
STATUS = ROOT / "build" / "status" / "json-schema-suite.json"
DRAFTS = {
    "draft4": "http://json-schema.org/draft-04/schema#",
    "draft6": "http://json-schema.org/draft-06/schema#",
    "draft7": "http://json-schema.org/draft-07/schema#",
    "draft2019-09": "https://json-schema.org/draft/2019-09/schema",
    "draft2020-12": "https://json-schema.org/draft/2020-12/schema",
}

Compile = Callable[..., Any]


@functools.cache
def remotes() -> dict[str, Any]:
    """The suite's remotes folder as URI -> document, as its test server would serve it."""
    return {
        REMOTE_BASE + path.relative_to(REMOTES).as_posix(): json.loads(path.read_text("utf-8"))
        for path in sorted(REMOTES.rglob("*.json"))
    }


def suite_tests(draft: str) -> Iterator[tuple[str, Any, Any, bool]]:
    """(test id, schema, instance, expected validity) for every test of one draft."""
    for path in sorted((SUITE / draft).rglob("*.json")):
        rel = path.relative_to(SUITE / draft).as_posix()
        if rel.startswith("optional/format/"):
            continue
        for case in json.loads(path.read_text(encoding="utf-8")):
            schema = case["schema"]
            if isinstance(schema, dict) and "$schema" not in schema:
                schema = {"$schema": DRAFTS[draft], **schema}
            for test in case["tests"]:
                test_id = f"{draft}/{rel}::{case['description']}::{test['description']}"
                yield test_id, schema, test["data"], test["valid"]


def required(test_id: str) -> bool:
    """True for the suite's required tests (not under ``optional/``)."""
    return "/optional/" not in test_id


def run(compile_schema: Compile, draft: str) -> tuple[int, dict[str, str]]:
    """(number of tests, {failed test id: what happened}) for one backend and draft."""
    total = 0
    failures: dict[str, str] = {}
    compiled: dict[str, Any] = {}
    for test_id, schema, instance, expected in suite_tests(draft):
        total += 1
        assert test_id not in failures, f"duplicate test id {test_id}"
        key = json.dumps(schema, sort_keys=True)
        if key not in compiled:
            try:
                compiled[key] = compile_schema(schema, registry=remotes())
            except Exception as e:
                compiled[key] = e
        validator = compiled[key]
        if isinstance(validator, Exception):
            failures[test_id] = f"compile: {type(validator).__name__}"
            continue
        try:
            valid = validator.is_valid(instance)
            full, issues = validator.validate(instance)
        except Exception as e:
            failures[test_id] = f"validate: {type(e).__name__}"
            continue
        assert valid == full and full == (not issues), test_id
        if valid != expected:
            failures[test_id] = f"expected valid={expected}"
    return total, failures


_LIBRARY_CLASSES = {
    "draft4": jsonschema.Draft4Validator,
    "draft6": jsonschema.Draft6Validator,
    "draft7": jsonschema.Draft7Validator,
    "draft2019-09": jsonschema.Draft201909Validator,
    "draft2020-12": jsonschema.Draft202012Validator,
}


@functools.cache
def library_passes(draft: str) -> int:
    """How many required tests the ``jsonschema`` library itself passes, remotes registered."""
    cls = _LIBRARY_CLASSES[draft]
    specification = specification_with(DRAFTS[draft])
    registry: Registry[Any] = Registry().with_resources(
        (uri, Resource.from_contents(doc, default_specification=specification))
        for uri, doc in remotes().items()
    )
    passed = 0
    for test_id, schema, instance, expected in suite_tests(draft):
        if not required(test_id):
            continue
        try:
            library = jsonschema.validators.validator_for(schema, default=cls)
            valid = library(schema, registry=registry).is_valid(instance)
        except Exception:
            continue
        passed += valid == expected
    return passed


def _backends() -> dict[str, Compile]:
    backends: dict[str, Compile] = {"python": SchemaValidator}
    try:
        import rust_core
    except ImportError:
        return backends
    if hasattr(rust_core, "compile_schema"):
        backends["rust"] = rust_core.compile_schema
    return backends


def _known() -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = json.loads(KNOWN.read_text(encoding="utf-8"))
    return data


def _record(backend: str, draft: str, total: int, failures: dict[str, str]) -> None:
    STATUS.parent.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {}
    if STATUS.exists():
        report = json.loads(STATUS.read_text(encoding="utf-8"))
    ids = [test_id for test_id, *_ in suite_tests(draft)]
    required_ids = [t for t in ids if required(t)]
    report.setdefault(backend, {})[draft] = {
        "tests": total,
        "passed": total - len(failures),
        "required_tests": len(required_ids),
        "required_passed": sum(1 for t in required_ids if t not in failures),
        "jsonschema_required_passed": library_passes(draft),
        "known_failures": len(failures),
    }
    STATUS.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")


@pytest.mark.parametrize("draft", list(DRAFTS))
@pytest.mark.parametrize(
    "backend", ["python", pytest.param("rust", marks=pytest.mark.requires_rust)]
)
def test_suite_passes_except_the_listed_failures(backend: str, draft: str) -> None:
    compile_schema = _backends().get(backend)
    if compile_schema is None:
        pytest.fail("rust_core.compile_schema is missing; build rust_core")
    total, failures = run(compile_schema, draft)
    known = {k: v for k, v in _known()[backend].items() if k.startswith(draft + "/")}
    unexpected = sorted(set(failures) - set(known))
    now_passing = sorted(set(known) - set(failures))
    assert not unexpected, f"{backend} fails tests not in the known list: {unexpected[:20]}"
    assert not now_passing, f"{backend} now passes listed tests, remove them: {now_passing[:20]}"
    _record(backend, draft, total, failures)
    required_ids = [t for t, *_ in suite_tests(draft) if required(t)]
    passed = sum(1 for t in required_ids if t not in failures)
    assert passed >= library_passes(draft), (
        f"{backend} {draft}: {passed} required tests pass, jsonschema passes "
        f"{library_passes(draft)}"
    )


@pytest.mark.parametrize("draft", list(DRAFTS))
@pytest.mark.parametrize(
    "backend", ["python", pytest.param("rust", marks=pytest.mark.requires_rust)]
)
def test_asserted_formats_pass_the_suite(backend: str, draft: str) -> None:
    """format="assert": every ``optional/format`` test of the asserted formats passes."""
    compile_schema = _backends()[backend]
    checked = 0
    for name in ASSERTED_FORMATS:
        path = SUITE / draft / "optional" / "format" / f"{name}.json"
        if not path.exists():  # the format is younger than the draft
            continue
        for case in json.loads(path.read_text(encoding="utf-8")):
            schema = case["schema"]
            if isinstance(schema, dict) and "$schema" not in schema:
                schema = {"$schema": DRAFTS[draft], **schema}
            validator = compile_schema(schema, format="assert")
            for test in case["tests"]:
                checked += 1
                assert validator.is_valid(test["data"]) is test["valid"], (name, test)
    assert checked >= 50


def test_every_known_failure_has_a_reason_and_exists() -> None:
    ids = {test_id for draft in DRAFTS for test_id, *_ in suite_tests(draft)}
    for backend, entries in _known().items():
        assert backend in ("python", "rust")
        for test_id, reason in entries.items():
            assert test_id in ids, test_id
            assert len(reason) > 20, test_id


def _reason(test_id: str, backend: str, what: str) -> str:
    """The documented reason for a failure, by the part of the suite it comes from."""
    _, rest = test_id.split("/", 1)
    if "bignum" in rest:
        return f"integers outside 64 bits are a ValueError by design (got {what})"
    if "optional/content.json" in rest:
        return (
            f"contentEncoding/contentMediaType are annotations only in both backends (got {what})"
        )
    if "ecmascript-regex" in rest and "SchemaError" in what:
        return (
            "the pattern is outside the shared linear-time dialect (word boundaries, scripts "
            "and other \\p properties, ...: see pyagent.schema_patterns), refused alike "
            f"(got {what})"
        )
    if "format-assertion" in rest:
        return (
            "a custom meta-schema's $vocabulary (format-assertion) is not honoured: formats are "
            f"asserted only with format='assert', in both backends (got {what})"
        )
    if rest.startswith("vocabulary.json"):
        return (
            "a custom meta-schema's $vocabulary is not honoured (its $schema picks the draft, "
            f"all vocabularies apply), as in the jsonschema library (got {what})"
        )
    if backend == "python" and "unevaluatedProperties" in rest:
        return (
            "jsonschema's 2019-09 unevaluatedProperties does not count properties evaluated by "
            f"an adjacent additionalProperties; the library itself fails it (got {what})"
        )
    return f"UNEXPLAINED: {what}"


def write_known_failures() -> None:
    """Regenerates the known-failure list from the current engines (review the reasons!)."""
    out: dict[str, dict[str, str]] = {}
    for backend, compile_schema in _backends().items():
        out[backend] = {}
        for draft in sorted(DRAFTS):
            _, failures = run(compile_schema, draft)
            for test_id, what in sorted(failures.items()):
                out[backend][test_id] = _reason(test_id, backend, what)
    KNOWN.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write-known-failures"]:
        write_known_failures()
    else:
        sys.exit("usage: python -m tests.test_json_schema_suite --write-known-failures")

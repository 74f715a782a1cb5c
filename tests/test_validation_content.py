"""ValidationCore.validate_content: content rules and the default leaked-secret rules."""

from __future__ import annotations

import string

import pytest

from pyagent.validation_core import (
    DEFAULT_RULES,
    ContentRule,
    Finding,
    validate_content,
)

ALNUM = string.ascii_letters + string.digits


def token(n: int, alphabet: str = ALNUM, offset: int = 0) -> str:
    return "".join(alphabet[(i * 7 + offset) % len(alphabet)] for i in range(n))


# Built here, not written out, so no real-looking secret sits in the repository as text.
SAMPLES = {
    "private-key": ["-----BEGIN RSA PRIVATE KEY-----", "-----BEGIN OPENSSH PRIVATE KEY-----"],
    "aws-access-key-id": ["AKIA" + token(16, string.ascii_uppercase + string.digits)],
    "github-token": ["ghp_" + token(36), "gho_" + token(36, offset=3)],
    "github-fine-grained-token": ["github_pat_" + token(22) + "_" + token(59, offset=5)],
    "slack-token": ["xoxb-123456789012-" + token(24)],
    "slack-webhook": [
        "https://hooks.slack.com/services/T"
        + token(8, string.ascii_uppercase)
        + "/B"
        + token(8, string.ascii_uppercase)
        + "/"
        + token(24)
    ],
    "google-api-key": ["AIza" + token(35, ALNUM + "_-")],
    "bearer-token": ["Authorization: Bearer " + token(32), "authorization='bearer " + token(24)],
    "jwt": ["eyJ" + token(20) + ".eyJ" + token(30) + "." + token(43)],
}
NEAR_MISSES = {
    "private-key": ["-----BEGIN PUBLIC KEY-----", "-----BEGIN RSA PRIVATE KEY", "PRIVATE KEY"],
    "aws-access-key-id": [
        "AKIA" + token(15, string.ascii_uppercase),  # one short
        "AKIA" + token(16, string.ascii_lowercase),  # lower case
        "XAKIA" + token(16, string.ascii_uppercase),  # inside a word
    ],
    "github-token": ["ghp_" + token(35), "ghx_" + token(36), "ghp_" + token(37)],
    "github-fine-grained-token": ["github_pat_" + token(22) + "_" + token(58)],
    "slack-token": ["xoxb-12345-" + token(24), "xoxz-123456789012-" + token(24)],
    "slack-webhook": ["https://hooks.slack.com/services/" + token(24)],
    "google-api-key": ["AIza" + token(34), "Aiza" + token(35)],
    "bearer-token": [
        "the bearer of bad news " + token(30),
        "Authorization: Bearer short",
        "Authorization: Basic " + token(32),
    ],
    "jwt": ["eyJ" + token(20) + ".abc." + token(43), "eyJhbGci.eyJzdWIi"],
}


def test_default_rules_are_well_formed() -> None:
    names = [rule.name for rule in DEFAULT_RULES]
    assert len(set(names)) == len(names) and set(names) == set(SAMPLES) == set(NEAR_MISSES)
    assert all(isinstance(rule, ContentRule) for rule in DEFAULT_RULES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_default_rule_hits_its_samples(name: str) -> None:
    for sample in SAMPLES[name]:
        text = f"config = {{\n  key: {sample}\n}}\n"
        found = [f for f in validate_content([text]) if f.rule == name]
        assert len(found) == 1, (name, sample, found)
        start = text.index(sample)
        assert found[0].start == start
        assert text.encode()[found[0].start : found[0].end].decode() in sample


@pytest.mark.parametrize("name", sorted(NEAR_MISSES))
def test_each_default_rule_misses_near_misses(name: str) -> None:
    for sample in NEAR_MISSES[name]:
        assert [f for f in validate_content([f"x {sample} y"]) if f.rule == name] == [], sample


def test_findings_are_ordered_by_content_start_and_rule() -> None:
    rules = [ContentRule("ab", "ab", "low"), ContentRule("a", "a", "high")]
    got = validate_content(["xaba", b"ab", "", "zzz"], rules)
    assert got == [
        Finding("ab", 0, 1, 3, "low"),
        Finding("a", 0, 1, 2, "high"),
        Finding("a", 0, 3, 4, "high"),
        Finding("ab", 1, 0, 2, "low"),
        Finding("a", 1, 0, 1, "high"),
    ]
    assert all(isinstance(f, Finding) for f in got)


def test_spans_are_utf8_byte_offsets() -> None:
    got = validate_content(["héllo wörld key", bytearray(b"\xff\xfekey")], [("k", "key", "s", "*")])
    assert [(f.content_index, f.start, f.end) for f in got] == [(0, 14, 17), (1, 2, 5)]
    # ASCII semantics: \w does not match é's bytes; `.` matches any single byte.
    assert [(f.start, f.end) for f in validate_content(["é ab"], [("w", r"\w+", "s", "*")])] == [
        (3, 5)
    ]
    assert len(validate_content(["xéy"], [("d", "x..y", "s", "*")])) == 1


def test_globs_select_contents_by_path() -> None:
    rules = [("py", "secret", "high", "*.py"), ("any", "secret", "low", "*")]
    got = validate_content(
        ["secret", "secret", "secret"], rules, paths=["a/b.py", "b.txt", "src/x?.py"]
    )
    assert [(f.rule, f.content_index) for f in got] == [
        ("py", 0),
        ("any", 0),
        ("any", 1),
        ("py", 2),
        ("any", 2),
    ]
    one_char = validate_content(["k", "k"], [("q", "k", "s", "x?")], paths=["xy", "xyz"])
    assert [f.content_index for f in one_char] == [0]


def test_flags_lazy_and_multiline() -> None:
    def spans(pattern: str, text: str) -> list[tuple[int, int]]:
        return [(f.start, f.end) for f in validate_content([text], [("r", pattern, "s", "*")])]

    assert spans(r"(?i)token", "TOKEN Token") == [(0, 5), (6, 11)]
    assert spans(r"a+?", "aaa") == [(0, 1), (1, 2), (2, 3)]
    assert spans(r"(?m)^k$", "k\nk\n") == [(0, 1), (2, 3)]
    assert spans(r"(?s)a.b", "a\nb") == [(0, 3)]
    assert spans(r"a.b", "a\nb") == []


def test_a_leading_bracket_can_start_a_range() -> None:
    """``[]-a]`` is the range ``]``-``a`` (as RE2 reads it), not ``]``, ``-`` and ``a``."""

    def spans(pattern: str, text: str) -> list[tuple[int, int]]:
        return [(f.start, f.end) for f in validate_content([text], [("r", pattern, "s", "*")])]

    assert spans("[]-a]", "-]^_`ab") == [(1, 2), (2, 3), (3, 4), (4, 5), (5, 6)]
    assert spans("[^]-a]", "-]^_`ab") == [(0, 1), (6, 7)]
    assert spans(r"a[^\d\D]*", "aa") == [(0, 1), (1, 2)]


@pytest.mark.parametrize(
    "pattern",
    [
        r"(a)\1",
        r"a(?=b)",
        r"a(?!b)",
        r"(?<=a)b",
        r"(?<!a)b",
        r"(?>a)",
        r"a*+",
        r"a++",
        r"(?(1)a|b)",
        r"(?P<n>a)(?P=n)",
        r"a$",
        r"a\Z",
        r"a\z",
        r"\pL",
        r"[[:alpha:]]",
        r"[a&&b]",
        r"[a--b]",
        r"a{,3}",
        r"a{",
        r"a}",
        r"a]",
        r"\<a",
        r"a(?i)b",
        r"(?x)a",
        r"(?u)a",
        r"(?<n>a)",
        r"\u0041",
        r"a*",
        r"\b",
        r"a|",
        r"a{2000}",
        "é",
        "",
        r"(a",
        r"a)",
        r"[z-a]",
        r"(?P<n>a)(?P<n>b)",
        "lone \udc80",
        # RE2 reads a leading-zero count as literal text, Rust as a count.
        r"a{01}",
        r"a{1,02}",
        # '--' after a range start: a range in RE2, a set difference in Rust.
        r"[!--]",
        r"[!--a]",
        # A never-matching class under a star still matches the empty string.
        r"([^\d\D])*",
        r"[^\x00-\xff]*",
    ],
)
def test_patterns_outside_the_shared_subset_are_value_errors(pattern: str) -> None:
    with pytest.raises(ValueError):
        validate_content(["abc"], [("r", pattern, "s", "*")])


@pytest.mark.parametrize(
    ("contents", "rules", "paths", "error"),
    [
        (["a"], [("r", "a", "s")], None, TypeError),
        (["a"], [("r", b"a", "s", "*")], None, TypeError),
        (["a"], "rules", None, TypeError),
        (["a"], [None], None, TypeError),
        ([1], [("r", "a", "s", "*")], None, TypeError),
        (["\udc80"], [("r", "a", "s", "*")], None, UnicodeEncodeError),
        (["a"], [("r", "a", "s", "[ab]")], None, ValueError),
        (["a"], [("r", "a", "s", "*")], ["x", "y"], ValueError),
        (["a"], [("r", "a", "s", "*")], "x", TypeError),
        (["a"], [("r", "a", "s", "*")], [1], TypeError),
        # Every rule's types are checked before any pattern.
        (["a"], [("r", "(?=a)", "s", "*"), ("r", 1, "s", "*")], None, TypeError),
    ],
)
def test_bad_input_is_rejected(contents: object, rules: object, paths: object, error: type) -> None:
    with pytest.raises(error):
        validate_content(contents, rules, paths=paths)  # type: ignore[arg-type]


def test_large_batch_matches_per_content_calls() -> None:
    texts = [
        f"line {i} " + ("ghp_" + token(36, offset=i) if i % 97 == 0 else "x" * 40)
        for i in range(3000)
    ]
    batch = validate_content(texts)
    assert [f.content_index for f in batch] == list(range(0, 3000, 97))
    single = [f._replace(content_index=i) for i in (0, 97) for f in validate_content([texts[i]])]
    assert batch[:2] == single


def test_backtracking_patterns_run_in_linear_time() -> None:
    """Issue 17: (a|aa)+b over 30,000 a's took > 20 s on Python's re; RE2/regex are linear."""
    rules = [("r", "(a|aa)+b", "high", "*")]
    assert validate_content(["a" * 30000 + "!"], rules) == []
    found = validate_content(["a" * 30000 + "b"], rules)
    assert [(f.start, f.end) for f in found] == [(0, 30001)]


@pytest.mark.parametrize("pattern", ["(a{1000}){2}", "((a{10}){10}){11}", "(?:[a-z]{100}b){11}"])
def test_nested_counted_repetitions_are_bounded(pattern: str) -> None:
    """RE2 refuses nested counts multiplying past 1000; the shared scanner does on both."""
    with pytest.raises(ValueError, match="nested counted repetitions"):
        validate_content(["x"], [("r", pattern, "high", "*")])
    assert validate_content(["a" * 1000], [("r", "((a{10}){10}){10}", "high", "*")])

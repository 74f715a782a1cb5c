"""TemplateCore.apply_template behaviour on whichever backend this run selects."""

from __future__ import annotations

import string
from collections import OrderedDict, defaultdict
from collections.abc import Iterator, Mapping

import jinja2
import pytest

from pyagent import template_core
from pyagent.template_core import PLACEHOLDER, TemplateCore, apply_template, apply_template_batch


def test_both_placeholder_forms_with_space_inside_braces() -> None:
    text = "{{name}} / {{ name }} / {{\t name\n }} / [name] / [ name] / {{ na me }}"
    assert apply_template(text, {"name": "Ann"}) == (
        "Ann / Ann / Ann / Ann / [ name] / {{ na me }}"
    )


def test_values_are_strd_and_never_rescanned() -> None:
    variables = {"a": "{{ b }} [b]", "b": "NO", "n": 3, "x": None, "f": 0.5}
    assert apply_template("[a]|{{n}}|[x]|{{ f }}", variables) == "{{ b }} [b]|3|None|0.5"


def test_missing_names_stay_as_written_unless_strict() -> None:
    text = "Hi {{  who  }}, [what]? [here]"
    assert apply_template(text, {"here": "yes"}) == "Hi {{  who  }}, [what]? yes"
    with pytest.raises(KeyError) as caught:
        apply_template(text, {"here": "yes"}, strict=True)
    assert caught.value.args == ("who",)  # the first missing one, left to right
    assert apply_template("[a]", {"a": 1}, strict=True) == "1"


def test_leftmost_non_overlapping_matches_like_re() -> None:
    variables = {"a": "A"}
    assert apply_template("{{{a}}}", variables) == "{A}"
    assert apply_template("[[a]]", variables) == "[A]"
    assert apply_template("{{ [a] }}", variables) == "{{ A }}"
    assert apply_template("[a][a]{{a}}{{a}}", variables) == "AAAA"


def test_names_are_ascii_identifiers() -> None:
    variables = {"_x9": 1, "é": 2, "9a": 3, "a-b": 4}
    assert apply_template("[_x9] [é] [9a] [a-b] {{ é }}", variables) == "1 [é] [9a] [a-b] {{ é }}"


def test_text_is_kept_exactly_including_non_ascii_and_surrogates() -> None:
    text = "ünï 🌍 \ud800 [a] {{ a }}\udfff"
    assert apply_template(text, {"a": "\udc80✓"}) == "ünï 🌍 \ud800 \udc80✓ \udc80✓\udfff"
    assert apply_template("", {}) == ""
    assert apply_template("no placeholders", {"a": 1}) == "no placeholders"


def test_agrees_with_re_sub_on_the_documented_pattern() -> None:
    text = "x {{a}} [b] {{ c }} [d] {{e}} [[a]] {{{b}}}"
    variables = {"a": 1, "b": "two", "e": "[a]"}

    def substitute(match: object) -> str:
        name = match.group(1) or match.group(2)  # type: ignore[attr-defined]
        return str(variables[name]) if name in variables else match.group(0)  # type: ignore[attr-defined]

    assert apply_template(text, variables) == PLACEHOLDER.sub(substitute, text)


def test_mapping_semantics() -> None:
    class Lookup(Mapping[str, object]):
        def __getitem__(self, key: str) -> object:
            if key == "a":
                return "A"
            raise KeyError(key)

        def __iter__(self) -> Iterator[str]:
            return iter(["a"])

        def __len__(self) -> int:
            return 1

    assert apply_template("[a][b]", Lookup()) == "A[b]"
    assert apply_template("[a][b]", OrderedDict(a=1)) == "1[b]"
    # "in" decides presence: a defaultdict does not invent a value for a missing name.
    defaults: defaultdict[str, str] = defaultdict(lambda: "X", a="A")
    assert apply_template("[a][b]", defaults) == "A[b]"
    assert "b" not in defaults


@pytest.mark.parametrize(
    ("template", "variables", "error"),
    [
        (b"[a]", {}, TypeError),
        (None, {}, TypeError),
        ("[a]", [("a", 1)], TypeError),
        ("[a]", None, TypeError),
        ("no placeholders", "not a mapping", TypeError),
    ],
)
def test_bad_input_raises(template: object, variables: object, error: type) -> None:
    with pytest.raises(error):
        apply_template(template, variables)  # type: ignore[arg-type]
    with pytest.raises(error):
        apply_template_batch(template, [variables])  # type: ignore[arg-type, list-item]


def test_a_failing_str_propagates() -> None:
    class Bad:
        def __str__(self) -> str:
            raise ValueError("no str")

    with pytest.raises(ValueError, match="no str"):
        apply_template("[a]", {"a": Bad()})


def test_batch_renders_each_mapping_in_order() -> None:
    rows = [{"n": i, "who": f"agent-{i}"} for i in range(1000)]
    got = apply_template_batch("{{ who }} #[n] [missing]", rows)
    assert got == [f"agent-{i} #{i} [missing]" for i in range(1000)]
    assert apply_template_batch("[a]", iter([{"a": 1}, {"a": 2}])) == ["1", "2"]
    assert apply_template_batch("[a]", []) == []
    with pytest.raises(KeyError):
        apply_template_batch("[a]", [{"a": 1}, {}], strict=True)
    with pytest.raises(TypeError):
        apply_template_batch("[a]", 5)  # type: ignore[arg-type]


def test_matches_jinja2_and_string_template_where_the_grammars_meet() -> None:
    variables = {"agent": "coder", "task": "fix bug 7", "n": 3}
    ours = apply_template("Agent {{ agent }} does {{task}} x{{ n }}.", variables)
    assert ours == jinja2.Template("Agent {{ agent }} does {{task}} x{{ n }}.").render(variables)
    assert ours == string.Template("Agent $agent does ${task} x$n.").substitute(variables)


def test_many_templates_overflow_the_compile_cache_safely() -> None:
    for i in range(600):
        assert apply_template(f"{i}:[a]", {"a": i}) == f"{i}:{i}"


def test_template_core_keeps_named_templates() -> None:
    core = TemplateCore()
    core.register("greet", "Hello {{ name }}[suffix]")
    core.register("bye", "Bye [name]")
    assert core.names == ["greet", "bye"] and len(core) == 2 and "greet" in core
    assert core.render("greet", {"name": "Ann"}) == "Hello Ann[suffix]"
    assert core.render_batch("bye", [{"name": "A"}, {"name": "B"}]) == ["Bye A", "Bye B"]
    assert core.template("bye") == "Bye [name]"
    strict = TemplateCore(strict=True)
    strict.register("greet", core.template("greet"))
    with pytest.raises(KeyError):
        strict.render("greet", {"name": "Ann"})
    with pytest.raises(KeyError):
        core.render("absent", {})
    with pytest.raises(TypeError):
        core.register("bad", 3)  # type: ignore[arg-type]


@pytest.mark.requires_rust
def test_rust_serves_both_functions() -> None:
    import rust_core

    assert template_core.rc is rust_core
    assert rust_core.apply_template("[a]", {"a": 1}) == "1"
    assert rust_core.apply_template_batch("[a]", [{"a": 1}], True) == ["1"]

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


def test_values_of_every_width_widen_the_result() -> None:
    # Each result is stored at the narrowest width its widest character needs (PEP 393);
    # equal text must compare equal whatever the template's and values' widths were.
    widths = {"ascii": "a", "latin1": "é", "ucs2": "✓", "ucs4": "🌍", "surrogate": "\udc80"}
    templates = ["[v]", "x [v] y", "é [v] ü", "✓ {{ v }} ✓", "🌍 [v] 🌍", "[v][w]"]
    for template in templates:
        for value in widths.values():
            for other in widths.values():
                got = apply_template(template, {"v": value, "w": other})
                want = template.replace("{{ v }}", value).replace("[v]", value)
                want = want.replace("[w]", other)
                assert got == want, (template, value, other)
                assert got.isascii() == want.isascii()
                assert max(map(ord, got), default=0) == max(map(ord, want), default=0)
                assert hash(got) == hash(want)
    assert apply_template_batch("[a]·[b]", [{"a": "x", "b": "🌍"}, {"a": "é", "b": 1}]) == [
        "x·🌍",
        "é·1",
    ]


def test_empty_values_and_results() -> None:
    assert apply_template("[a]", {"a": ""}) == ""
    assert apply_template("[a]{{b}}", {"a": "", "b": ""}) == ""
    assert apply_template_batch("[a]", [{"a": ""}, {"a": "x"}]) == ["", "x"]


def test_str_subclasses_and_non_str_values_go_through_str() -> None:
    class Shout(str):
        def __str__(self) -> str:
            return self.upper()

    class Plain(str):
        pass

    class Weird:
        def __str__(self) -> str:
            return Plain("wéird🌍")

    variables = {
        "shout": Shout("hey"),
        "plain": Plain("as is"),
        "weird": Weird(),
        "t": True,
        "f": 2.5,
        "n": None,
        "neg": -17,
        "zero": 0,
        "min": -(2**63),
        "max": 2**63 - 1,
        "big": 2**64 + 1,
        "huge": -(10**200),
        "b": b"x",
        "l": [1, "a"],
    }
    text = " ".join(f"[{name}]" for name in variables)
    got = apply_template(text, variables)
    assert type(got) is str
    assert got == " ".join(str(value) for value in variables.values())
    assert got.startswith("HEY as is wéird🌍 True 2.5 None -17 0 -9223372036854775808 ")
    rows = [{"v": i * 7919 - 50_000} for i in range(20)]
    assert apply_template_batch("<[v]>", rows) == [f"<{r['v']}>" for r in rows]


def test_an_int_too_long_for_str_raises_as_str_does() -> None:
    big = 10**5000
    with pytest.raises(ValueError):
        str(big)
    with pytest.raises(ValueError):
        apply_template("[a]", {"a": big})
    with pytest.raises(ValueError):
        apply_template_batch("[a]", [{"a": 1}, {"a": big}])


def test_huge_values() -> None:
    big = "x" * 3_000_000
    wide = "🌍" * 1_500_000
    got = apply_template("<[a]|[b]|{{ a }}>", {"a": big, "b": wide})
    assert got == "<" + big + "|" + wide + "|" + big + ">"
    rows = [{"a": big}, {"a": wide}, {"a": 5}]
    assert apply_template_batch("é[a]", rows) == ["é" + big, "é" + wide, "é5"]


def test_str_side_effects_happen_in_template_order() -> None:
    class Popper:
        """str() removes the next name: the reference looks names up one at a time."""

        def __init__(self, target: dict[str, object]) -> None:
            self.target = target

        def __str__(self) -> str:
            self.target.pop("b", None)
            return "A"

    variables: dict[str, object] = {"b": "B"}
    variables["a"] = Popper(variables)
    assert apply_template("[a][b]", variables) == "A[b]"

    class Grower:
        """str() appends another mapping to the batch being rendered."""

        def __init__(self, batch: list[dict[str, object]]) -> None:
            self.batch = batch

        def __str__(self) -> str:
            self.batch.append({"a": len(self.batch)})
            return "g"

    batch: list[dict[str, object]] = []
    batch.append({"a": Grower(batch)})
    assert apply_template_batch("[a]", batch) == ["g", "1"]


@pytest.mark.requires_rust
def test_rust_serves_both_functions() -> None:
    import rust_core

    assert template_core.rc is rust_core
    assert rust_core.apply_template("[a]", {"a": 1}) == "1"
    assert rust_core.apply_template_batch("[a]", [{"a": 1}], True) == ["1"]

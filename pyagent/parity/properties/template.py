"""TemplateCore parity: apply_template and its batch form, against each other and ``re``.

Templates are built from fragments that sit on the edges of the grammar (partial braces,
brackets, whitespace inside braces, non-identifier names, non-ASCII and surrogates), so most
draws contain near-misses as well as real placeholders. Values cover every str storage
width (the native path writes results at the narrowest width, widening pieces as it copies),
str subclasses with and without their own ``__str__``, bools, and ints on both sides of the
i64 range (the native path formats an exact int that fits itself). Bad inputs ride along: non-str
templates, non-mapping variables, values whose str() raises, strict mode with missing names.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from pyagent import template_core
from pyagent.parity import hostile
from pyagent.parity.compare import call_both, same_outcome
from pyagent.parity.properties.strategies import any_text
from pyagent.parity.registry import parity_property

names = st.sampled_from(["a", "b", "_x", "name9", "é", "9", "a b", ""])
spaces = st.sampled_from(["", " ", "  ", "\t", "\n", "\r\n", "\f\v", "\u00a0"])
fragment = st.one_of(
    st.builds(lambda s1, n, s2: "{{" + s1 + n + s2 + "}}", spaces, names, spaces),
    st.builds(lambda n: f"[{n}]", names),
    st.sampled_from(["{", "}", "{{", "}}", "[", "]", "[[", "]]", "{{{", "}}}", " ", "x"]),
    any_text.filter(lambda t: len(t) < 6),
)
templates = st.lists(fragment, max_size=12).map("".join)


class Unprintable:
    """A value whose str() raises."""

    def __str__(self) -> str:
        raise RuntimeError("no str")


class Tagged(str):
    """A str subclass with its own __str__ (str() must call it)."""

    def __str__(self) -> str:
        return "<" + str.__str__(self) + ">"


class Plain(str):
    """A str subclass without one (str() gives an exact copy)."""


values = st.one_of(
    st.text(max_size=8),
    # Every storage width (PEP 393): Latin-1, the BMP, beyond it.
    st.text(st.characters(min_codepoint=0x80, max_codepoint=0xFF), max_size=4),
    st.text(st.characters(min_codepoint=0x100, max_codepoint=0xFFFF), max_size=4),
    st.text(st.characters(min_codepoint=0x10000), max_size=4),
    st.text(max_size=6).map(Tagged),
    any_text.filter(lambda t: len(t) < 8).map(Plain),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    any_text.filter(lambda t: len(t) < 8),
    st.integers(),
    st.floats(allow_nan=False),
    st.none(),
    st.just("{{ a }} [b]"),
    st.just(Unprintable()),
)
plain_variables = st.dictionaries(names, values, max_size=5)
variables = st.one_of(
    plain_variables,
    plain_variables.map(lambda d: defaultdict(lambda: "invented", d)),
    st.sampled_from([None, [("a", 1)], "a", 3]),
)
bad_templates = st.one_of(st.binary(max_size=4), st.none(), st.integers())


def _agree(function: Any, *args: Any) -> None:
    rust, python = call_both(function, *args)
    same_outcome(rust, python)
    assert rust.message == python.message, (rust.describe(), python.describe())


@parity_property("apply_template")
@given(
    template=hostile.mix(templates, "string"),
    variables=hostile.mix(variables, "mapping"),
    strict=hostile.mix(st.sampled_from([False, True, 0, 1, None]), "int"),
)
# A dict subclass whose get() disagrees with [] and `in`: both backends look names up with
# `in` and [] for anything but an exact dict (a defaultdict must not invent values).
@example(template="{{ a }} [b] {{b}}", variables=hostile.LyingDict({"a": 0}), strict=False)
def apply_template_agrees(template: str, variables: object, strict: object) -> None:
    """Same text, or the same error class and message (a KeyError names the same name)."""
    _agree(template_core.apply_template, template, variables, strict)


@parity_property("apply_template")
@given(template=st.one_of(templates, bad_templates), variables=variables)
def apply_template_rejects_bad_templates(template: object, variables: object) -> None:
    """Non-str templates are the same TypeError; a str template behaves as above."""
    _agree(template_core.apply_template, template, variables)


@parity_property("apply_template")
@given(
    template=templates,
    batch=st.one_of(
        st.lists(plain_variables, max_size=6),
        st.lists(variables, max_size=3),
        st.lists(plain_variables, max_size=3).map(tuple),
        st.none(),
        hostile.for_kind("sequence"),
        st.lists(hostile.for_kind("mapping"), max_size=2),
    ),
    strict=st.booleans(),
)
def apply_template_batch_agrees(template: str, batch: object, strict: bool) -> None:
    """The batch form agrees, including a bad mapping partway through and strict misses."""
    _agree(template_core.apply_template_batch, template, batch, strict)

"""TemplateCore.apply_template_batch: 100,000 prompts from one ~1 KiB template.

The template is ~1 KiB of prose with 5 placeholders in both of PyAgent's forms
(``{{ agent }}``, ``[task]``, ``{{context}}``, ``[user]``, ``{{ question }}``); each prompt
gets its own 5 values (short str and int). Every implementation is compiled once per batch:
ours by the batch form, jinja2 with ``Environment().from_string`` (the main group's peer), and
in their own groups ``str.format_map`` and ``string.Template.substitute`` on the same text
written in their syntax. Every result must equal prompts built by plain concatenation.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from functools import cache

import jinja2
import pytest

from bench.conftest import compare, rust_vs_peer_only, scaled
from pyagent import template_core

PROMPTS = scaled(100_000, 10_000)
rng = random.Random(9)
WORDS = ["".join(rng.choices(string.ascii_lowercase, k=rng.randrange(2, 9))) for _ in range(400)]


def _prose(words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


# Literal text between the placeholders, and the placeholders in template order.
TEXTS = [
    "You are ",
    f", an agent of the PyAgent fleet. {_prose(28)}\nYour task: ",
    f"\n{_prose(40)}\nContext follows.\n",
    f"\n{_prose(36)}\nThe request comes from ",
    ", who asks: ",
    f"\n{_prose(26)}\n",
]
NAMES = ["agent", "task", "context", "user", "question"]
OURS = ["{{ agent }}", "[task]", "{{context}}", "[user]", "{{ question }}"]


def _join(placeholders: list[str]) -> str:
    return "".join(t + p for t, p in zip(TEXTS, [*placeholders, ""], strict=True))


TEMPLATE = _join(OURS)
FORMAT = _join(["{" + n + "}" for n in NAMES])
DOLLAR = _join(["${" + n + "}" for n in NAMES])
JINJA = _join(["{{ " + n + " }}" for n in NAMES])
VARIABLES = [
    {
        "agent": f"agent-{i}",
        "task": f"triage issue #{rng.randrange(10_000)}",
        "context": _prose(4),
        "user": rng.randrange(1_000_000),
        "question": _prose(6) + "?",
    }
    for i in range(PROMPTS)
]
assert 900 <= len(TEMPLATE) <= 1200, len(TEMPLATE)
WORKLOAD = f"{PROMPTS:,} prompts of {len(TEMPLATE):,} chars, 5 placeholders"


@cache
def expected() -> list[str]:
    return [_join([str(v[n]) for n in NAMES]) for v in VARIABLES]


def jinja2_render() -> list[str]:
    compiled = jinja2.Environment(keep_trailing_newline=True).from_string(JINJA)
    return [compiled.render(v) for v in VARIABLES]


def format_render() -> list[str]:
    return [FORMAT.format_map(v) for v in VARIABLES]


def template_render() -> list[str]:
    compiled = string.Template(DOLLAR)
    return [compiled.substitute(v) for v in VARIABLES]


def test_apply_template_batch(benchmark: object, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="apply_template",
        workload=WORKLOAD,
        ours=lambda: template_core.apply_template_batch(TEMPLATE, VARIABLES),
        peer=jinja2_render,
        check=lambda got: got == expected(),
    )


@rust_vs_peer_only
@pytest.mark.parametrize(
    "peer", [format_render, template_render], ids=["str.format", "string.Template"]
)
def test_apply_template_batch_stdlib_peers(
    benchmark: object, implementation: str, peer: Callable[[], list[str]]
) -> None:
    name = "str.format" if peer is format_render else "string.Template"
    compare(
        benchmark,
        implementation,
        hot_path="apply_template",
        workload=WORKLOAD,
        ours=lambda: template_core.apply_template_batch(TEMPLATE, VARIABLES),
        peer=peer,
        check=lambda got: got == expected(),
        group_suffix=":" + name,
        peer_name=name,
    )

"""ValidationCore.validate_content: 50 rules over 100,000 strings of 1 KiB.

Rules: the 9 default leaked-secret rules plus 41 keyword rules of the usual shape
(``(?i)\\b<word>[_-]?(?:key|token|secret)\\s*[:=]\\s*['"]?[A-Za-z0-9/+]{16,}``), all with
glob ``*``. Contents: 1 KiB ASCII strings of source-like text, one in 100 with a planted
secret. Every implementation must report the same findings (checked against the reference's
count and per-content indices).

Groups: ``validate_content_rust`` at 10,000 strings (Python reference, Rust, and the ``re``
peer: each rule's compiled bytes pattern run with ``finditer`` over every content, which is
what the reference does, so it is the same engine at the same cost; at the full 100,000 a
round of either takes about a minute, so five rounds would dominate the bench session; the
full-size ratio measured once was Rust 1.08 s vs ``re`` 65.7 s); ``-vs-re2`` at the full
size, Rust vs google-re2 (RE2's ``finditer`` per rule per content, on bytes).
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable
from typing import Any

import pytest
import re2

from bench.conftest import compare, rust_vs_peer_only, scaled
from pyagent import validation_core
from pyagent.validation_core import DEFAULT_RULES, ContentRule

N_FULL = scaled(100_000, 5_000)
N_SMALL = scaled(10_000, 1_000)
SIZE = 1024
WORDS = [
    "client",
    "server",
    "stripe",
    "twilio",
    "sendgrid",
    "mailgun",
    "azure",
    "heroku",
    "npm",
    "pypi",
    "docker",
    "datadog",
    "sentry",
    "openai",
    "anthropic",
    "mongo",
    "redis",
    "postgres",
    "mysql",
    "rabbit",
    "kafka",
    "vault",
    "okta",
    "auth0",
    "firebase",
    "algolia",
    "mapbox",
    "paypal",
    "square",
    "shopify",
    "zoom",
    "dropbox",
    "box",
    "jira",
    "gitlab",
    "bitbucket",
    "circle",
    "travis",
    "netlify",
    "vercel",
    "cloudflare",
]
RULES = list(DEFAULT_RULES) + [
    ContentRule(
        f"{word}-credential",
        rf"(?i)\b{word}[_-]?(?:key|token|secret)\s*[:=]\s*['\"]?[A-Za-z0-9/+]{{16,}}",
        "medium",
    )
    for word in WORDS
]
assert len(RULES) == 50


def _contents(n: int) -> list[str]:
    rng = random.Random(20261124)
    vocab = [
        "def",
        "return",
        "self",
        "import",
        "config",
        "value",
        "token",
        "key",
        "=",
        ":",
        "{",
        "}",
        "(",
        ")",
        "user",
        "data",
        "list",
        "for",
        "in",
        "if",
        "else",
        "None",
    ]
    base = " ".join(rng.choice(vocab) for _ in range(2 * SIZE))
    secrets = [
        "ghp_" + "".join(rng.choice("abcdefXYZ0123456789") for _ in range(36)),
        "AKIA" + "".join(rng.choice("ABCDEFGHIJ0123456789") for _ in range(16)),
        "stripe_key = '" + "a1B2" * 6 + "'",
    ]
    out = []
    for i in range(n):
        start = (i * 37) % SIZE
        text = base[start : start + SIZE - 16] + f"{i:016d}"
        if i % 100 == 0:
            secret = secrets[(i // 100) % len(secrets)]
            text = text[:400] + " " + secret + " " + text[402 + len(secret) :]
        out.append(text[:SIZE])
    return out


FULL = _contents(N_FULL)
SMALL = FULL[:N_SMALL]


def _re_peer(contents: list[str]) -> Callable[[], list[tuple[int, int, int, int]]]:
    compiled = [re.compile(rule.pattern.encode()) for rule in RULES]

    def run() -> list[tuple[int, int, int, int]]:
        out = []
        for index, text in enumerate(contents):
            data = text.encode()
            found = [
                (m.start(), order, m.end())
                for order, regex in enumerate(compiled)
                for m in regex.finditer(data)
            ]
            found.sort()
            out.extend((index, start, order, end) for start, order, end in found)
        return out

    return run


def _re2_peer(contents: list[str]) -> Callable[[], list[tuple[int, int, int, int]]]:
    options = re2.Options()
    options.encoding = re2.Options.Encoding.LATIN1  # bytes semantics, as ours
    compiled = [re2.compile(rule.pattern.encode(), options) for rule in RULES]

    def run() -> list[tuple[int, int, int, int]]:
        out = []
        for index, text in enumerate(contents):
            data = text.encode()
            found = [
                (m.start(), order, m.end())
                for order, regex in enumerate(compiled)
                for m in regex.finditer(data)
            ]
            found.sort()
            out.extend((index, start, order, end) for start, order, end in found)
        return out

    return run


@functools.cache
def _expected(n: int) -> list[tuple[int, int, int, int]]:
    """The findings by ``re`` (computed once, on first use, not at import)."""
    found = _re_peer(FULL[:n])()
    assert len(found) >= n // 100
    return found


ORDER = {rule.name: order for order, rule in enumerate(RULES)}


def _normalised(got: Any) -> list[tuple[int, int, int, int]]:
    if got and isinstance(got[0], validation_core.Finding):
        return [(f.content_index, f.start, ORDER[f.rule], f.end) for f in got]
    return list(got)


def test_validate_content(benchmark: object, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="validate_content_rust",
        workload=f"50 rules over {N_SMALL:,} strings of 1 KiB (1 in 100 with a secret)",
        ours=lambda: validation_core.validate_content(SMALL, RULES),
        peer=_re_peer(SMALL),
        check=lambda got: _normalised(got) == _expected(N_SMALL),
    )


@pytest.mark.parametrize(
    ("suffix", "peer_name", "make_peer"),
    [("-vs-re2", "google-re2", _re2_peer)],
)
@rust_vs_peer_only
def test_validate_content_full_size(
    benchmark: object, implementation: str, suffix: str, peer_name: str, make_peer: Any
) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="validate_content_rust",
        workload=f"50 rules over {N_FULL:,} strings of 1 KiB (1 in 100 with a secret)",
        ours=lambda: validation_core.validate_content(FULL, RULES),
        peer=make_peer(FULL),
        check=lambda got: _normalised(got) == _expected(N_FULL),
        group_suffix=suffix,
        peer_name=peer_name,
    )

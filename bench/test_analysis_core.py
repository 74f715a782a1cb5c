"""AnalysisCore.calculate_complexity over 2,000 files of the standard library.

Workload: 2,000 sources: every stdlib module (sorted by path, site-packages excluded) that
both CPython and radon can process (1,779 on CPython 3.11), then the first ones again up to
2,000, as bytes, scored with ``calculate_complexity_batch`` (the
native path parses them in parallel). Peers: radon (``ComplexityVisitor``: the blocks
``radon cc`` prints plus the module total), the library a user would otherwise run, and
mccabe (``PathGraphingAstVisitor``, flake8's C901 engine; its counting rules differ, so it
is only checked for covering every file).

Correctness is checked on the whole workload before any timing is kept: every file's
blocks, positions, scores and total must equal radon's, so a bench run is also the
file-by-file radon agreement on the standard library.
"""

from __future__ import annotations

import ast
import sys
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import mccabe
from radon.visitors import ComplexityVisitor

from bench.conftest import compare, rust_vs_peer_only, scaled
from pyagent import analysis_core

FILES = scaled(2_000, 100)
STDLIB = Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
LETTER = {"function": "F", "method": "M", "class": "C"}


def radon_numbers(source: str) -> tuple[list[tuple[str, str, int, int, int]], int]:
    visitor = ComplexityVisitor.from_code(source)
    blocks = [(b.letter, b.fullname, b.lineno, b.col_offset, b.complexity) for b in visitor.blocks]
    return blocks, visitor.total_complexity


@cache
def workload() -> tuple[list[bytes], list[Any]]:
    """(sources, radon's numbers for each), computed once per run."""
    sources: list[bytes] = []
    expected: list[Any] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escapes in old test modules
        for path in sorted(p for p in STDLIB.rglob("*.py") if "site-packages" not in p.parts):
            data = path.read_bytes()
            try:
                numbers = radon_numbers(data.decode("utf-8"))
            except (UnicodeDecodeError, SyntaxError, ValueError, RecursionError):
                continue
            sources.append(data)
            expected.append(numbers)
    assert len(sources) > FILES // 2, f"only {len(sources)} usable stdlib files"
    repeat = (FILES + len(sources) - 1) // len(sources)
    return (sources * repeat)[:FILES], (expected * repeat)[:FILES]


WORKLOAD = f"{FILES:,} stdlib modules ({sum(map(len, workload()[0])) / 2**20:.1f} MiB), batch"


def ours() -> list[analysis_core.ComplexityReport]:
    return analysis_core.calculate_complexity_batch(workload()[0])


def radon_peer() -> list[Any]:
    return [radon_numbers(source.decode("utf-8")) for source in workload()[0]]


def mccabe_peer() -> list[list[int]]:
    scores = []
    for source in workload()[0]:
        visitor = mccabe.PathGraphingAstVisitor()
        visitor.preorder(ast.parse(source.decode("utf-8")), visitor)
        scores.append([graph.complexity() for graph in visitor.graphs.values()])
    return scores


def matches_radon(result: list[Any]) -> bool:
    expected = workload()[1]
    if result and isinstance(result[0], analysis_core.ComplexityReport):
        result = [
            (
                [(LETTER[b.kind], b.name, b.lineno, b.col_offset, b.complexity) for b in r.blocks],
                r.total,
            )
            for r in result
        ]
    return result == expected


def test_calculate_complexity(benchmark: object, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="calculate_complexity_rust",
        workload=WORKLOAD,
        ours=ours,
        peer=radon_peer,
        check=matches_radon,
    )


@rust_vs_peer_only
def test_calculate_complexity_vs_mccabe(benchmark: object, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="calculate_complexity_rust",
        workload=WORKLOAD,
        ours=ours,
        peer=mccabe_peer,
        check=lambda result: len(result) == FILES,
        group_suffix=":mccabe",
        peer_name="mccabe",
    )

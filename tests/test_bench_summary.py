from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.summary import main, summarise


def bench(group: str, implementation: str, median: float, correct: bool = True) -> dict:
    return {
        "group": group,
        "stats": {"median": median},
        "extra_info": {
            "hot_path": group.split(":")[0],
            "implementation": implementation,
            "workload": "w",
            "peer": "zlib",
            "correct": correct,
        },
    }


def test_ratios_are_medians_over_rust() -> None:
    raw = {
        "benchmarks": [
            bench("sharding_index", "python", 1.0),
            bench("sharding_index", "rust", 0.05),
            bench("sharding_index", "peer", 0.5),
            bench("generate_hash", "rust", 2.0),
            bench("generate_hash", "python", 3.0, correct=False),
        ]
    }
    rows = summarise(raw)
    assert [r["name"] for r in rows] == ["generate_hash", "sharding_index"]  # manifest order
    shard = rows[1]
    assert shard["rust_vs_python"] == 20.0 and shard["rust_vs_peer"] == 10.0 and shard["correct"]
    assert rows[0]["rust_vs_peer"] is None and rows[0]["correct"] is False


def test_missing_benchmarks_fail_unless_the_run_was_partial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = tmp_path / "raw.json"
    raw.write_text(json.dumps({"benchmarks": [bench("sharding_index", "rust", 0.05)]}))
    out = str(tmp_path / "bench.json")
    assert main([str(raw), "--out", out]) == 1
    assert "without a benchmark: " in capsys.readouterr().out
    assert main([str(raw), "--out", out, "--partial"]) == 0
    assert "without a benchmark (partial run): " in capsys.readouterr().out

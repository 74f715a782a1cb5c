from __future__ import annotations

import json
from pathlib import Path

from bench.summary import format_table, main, summarise


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


def test_ratios_over_rust_in_manifest_order() -> None:
    """Without a minimum (older pytest-benchmark JSON) the median is used."""
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


def test_missing_benchmarks_fail_unless_the_run_is_partial(tmp_path: Path, capsys: object) -> None:
    raw = tmp_path / "raw.json"
    raw.write_text(json.dumps({"benchmarks": [bench("sharding_index", "rust", 0.05)]}))
    out = ["--out", str(tmp_path / "bench.json")]
    assert main([str(raw), *out]) == 1
    assert main([str(raw), *out, "--partial"]) == 0
    printed = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "partial run: not an error" in printed and "generate_hash" in printed


def test_ratios_use_minimums_and_flag_rows_below_one() -> None:
    def timed(implementation: str, low: float, median: float) -> dict:
        row = bench("sharding_index", implementation, median)
        row["stats"]["min"] = low
        return row

    rows = summarise({"benchmarks": [timed("rust", 0.2, 0.9), timed("peer", 0.1, 2.0)]})
    (row,) = rows
    # Minimums (0.1 / 0.2), not medians (2.0 / 0.9): the least disturbed round of each.
    assert row["rust_vs_peer"] == 0.5 and row["rust_median_s"] == 0.9
    assert row["below_1"] == ["rust_vs_peer"]
    table = "\n".join(format_table(rows))
    assert "<1" in table and "1 below 1.0x" in table and "sharding_index" in table.splitlines()[-1]


def test_history_is_appended_never_overwritten(tmp_path: Path, capsys: object) -> None:
    raw = tmp_path / "raw.json"
    raw.write_text(
        json.dumps(
            {
                "benchmarks": [bench("sharding_index", "rust", 0.05)],
                "machine_info": {"pyagent_load_before": [1.5, 1.0, 0.5]},
            }
        )
    )
    history = tmp_path / "results"
    args = [str(raw), "--out", str(tmp_path / "bench.json"), "--profile", "quick"]
    main([*args, "--history", str(history)])
    main([*args, "--history", str(history)])
    files = sorted(history.glob("*.json"))
    assert len(files) == 2 and all(f.name.count("-quick") == 1 for f in files)
    run = json.loads(files[0].read_text())
    assert run["profile"] == "quick" and run["commit"] and "generated_at" in run
    assert run["machine"]["load_before"] == [1.5, 1.0, 0.5] and run["machine"]["cpu"]
    assert "rust_core" in run and "dirty" in run
    assert run["hot_paths"][0]["name"] == "sharding_index"
    # A narrowed run is not recorded.
    main([*args, "--history", str(history), "--partial"])
    assert len(list(history.glob("*.json"))) == 2

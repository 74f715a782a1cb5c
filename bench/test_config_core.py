"""ConfigCore: sharded JSON config loads, and single TOML / YAML / JSON documents.

Workload: the issue's, 4 JSON shards of ~250 MiB each (about 1 GiB of JSON, merged), plus a
~4 MB TOML and a ~4 MB YAML document of the same shape. ``CONFIG_SHARD_MB`` sets another
shard size (e.g. 64 for a quick run). Shards overlap by half their agents, so merging
recurses into shared subtrees. The files are generated once per machine under the temp
folder (``$TMPDIR``; about 1 GiB on disk, idempotent: a marker file records that a set is
complete) and reused by later sessions.

Wall time: one load of the full set takes seconds (tens of seconds for the Python
reference) and builds ~3 GB of Python objects, so the two big groups (``load_config`` and
``_parse`` on one 250 MiB shard) are timed in a fixed :data:`BIG_ROUNDS` rounds per
implementation instead of the session's calibrated minimum of 5 (``compare(rounds=...)``);
the small TOML and YAML groups keep the calibrated count.

Groups: ``load_config`` (Python reference = json per shard + deep_merge; Rust; peer = orjson
per shard + the same deep_merge), ``_parse`` (one shard as bytes: json.loads / Rust /
orjson.loads), ``_parse:toml`` (tomllib / Rust: tomllib is both the reference and the peer)
and ``_parse:yaml`` (PyYAML with libyaml's CSafeLoader / Rust: likewise). Peak memory is
measured once per session by :func:`peak_rss_report` (fresh interpreters, kernel high-water
mark), attached to the ``load_config`` benchmarks' extra info and saved to
``build/status/config_rss.json``.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from bench.conftest import compare, scaled
from pyagent import config_core
from pyagent.backend import forced_python

SHARDS = 4
SHARD_MB = int(os.environ.get("CONFIG_SHARD_MB", scaled(250, 4)))
#: Rounds per implementation for the two big groups (see the module docstring).
BIG_ROUNDS = 3
SIDE_MB = scaled(4, 1)
ROOT = Path(tempfile.gettempdir()) / f"pyagent-bench-config-{SHARDS}x{SHARD_MB}"
STATUS = Path(__file__).resolve().parents[1] / "build" / "status"
WORKLOAD = f"{SHARDS} JSON shards x ~{SHARD_MB} MiB, merged"
_AGENT_BYTES = 330  # about what one agent entry takes as JSON


def _agent(rng: random.Random, index: int, shard: int) -> dict[str, Any]:
    return {
        "name": f"agent-{index}",
        "priority": rng.randrange(1000),
        "weight": rng.random(),
        "enabled": rng.random() < 0.8,
        "tags": [f"t{rng.randrange(50)}" for _ in range(rng.randrange(1, 5))],
        "limits": {"rps": rng.randrange(1, 500), "burst": rng.randrange(1, 50), "shard": shard},
        "prompt": "".join(rng.choices("abcdefghij klmnopqrstuvwxyz", k=120)),
        # Within 64 bits: orjson reads larger integers as floats (json and ours as ints).
        "big": 2**62 + index if index % 97 == 0 else index,
        "note": None,
    }


def _shard(shard: int, megabytes: float) -> dict[str, Any]:
    rng = random.Random(shard)
    count = int(megabytes * (1 << 20) / _AGENT_BYTES)
    first = shard * count // 2  # half of each shard's agents are also in the next one
    return {
        "meta": {"shard": shard, "version": "1.0", "owners": [f"o{shard}"]},
        "agents": {f"agent_{i:07d}": _agent(rng, i, shard) for i in range(first, first + count)},
    }


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"


def _toml_text(config: dict[str, Any]) -> str:
    lines = ["[meta]"] + [f"{k} = {_toml_value(v)}" for k, v in config["meta"].items()]
    for name, agent in config["agents"].items():
        lines.append(f"[agents.{name}]")
        for key, value in agent.items():
            if value is not None:
                lines.append(f"{key} = {_toml_value(value)}")
        lines.append("started = 2024-05-27T07:32:00.125Z")
    return "\n".join(lines) + "\n"


@cache
def files() -> dict[str, Any]:
    """The shard paths and the side documents, generated once per machine."""
    marker = ROOT / "complete"
    shards = [ROOT / f"shard-{i}.json" for i in range(SHARDS)]
    side = {"toml": ROOT / "side.toml", "yaml": ROOT / "side.yaml"}
    if not marker.exists():
        ROOT.mkdir(parents=True, exist_ok=True)
        for i, path in enumerate(shards):
            path.write_bytes(orjson.dumps(_shard(i, SHARD_MB)))
        side_config = _shard(SHARDS, SIDE_MB)
        side["toml"].write_text(_toml_text(side_config), encoding="utf-8")
        side["yaml"].write_text(
            yaml.dump(side_config, Dumper=yaml.CSafeDumper, sort_keys=False), encoding="utf-8"
        )
        marker.write_text("ok")
    return {"shards": [str(p) for p in shards], **{k: str(v) for k, v in side.items()}}


def _fingerprint(cfg: Any) -> Any:
    agents = cfg["agents"]
    names = list(agents)
    return (
        len(cfg),
        cfg["meta"],
        len(agents),
        [(n, agents[n]) for n in names[:: len(names) // 50]],
    )


@cache
def expected_load() -> Any:
    with forced_python():
        return _fingerprint(config_core.load_config(files()["shards"]))


def orjson_load(paths: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for path in paths:
        with open(path, "rb") as f:
            config_core.deep_merge(result, orjson.loads(f.read()))
    return result


def test_load_config(benchmark: Any, implementation: str) -> None:
    paths = files()["shards"]
    rss = peak_rss_report()[{"peer": "orjson"}.get(implementation, implementation)]
    benchmark.extra_info["peak_rss"] = rss
    compare(
        benchmark,
        implementation,
        hot_path="load_config",
        workload=WORKLOAD,
        ours=lambda: config_core.load_config(paths),
        peer=lambda: orjson_load(paths),
        check=lambda got: _fingerprint(got) == expected_load(),
        rounds=BIG_ROUNDS,
    )


@cache
def one_shard() -> bytes:
    return Path(files()["shards"][0]).read_bytes()


@cache
def expected_one() -> Any:
    return _fingerprint(orjson.loads(one_shard()))


def test_parse_json(benchmark: object, implementation: str) -> None:
    data = one_shard()
    compare(
        benchmark,
        implementation,
        hot_path="_parse",
        workload=f"one {len(data) >> 20} MiB JSON document (bytes)",
        ours=lambda: config_core._parse(data, "json"),
        peer=lambda: orjson.loads(data),
        check=lambda got: _fingerprint(got) == expected_one(),
        rounds=BIG_ROUNDS,
    )


@pytest.mark.parametrize("implementation", ["python", "rust"])
@pytest.mark.parametrize("fmt", ["toml", "yaml"])
def test_parse_side_documents(benchmark: object, implementation: str, fmt: str) -> None:
    """TOML and YAML: the reference parser (tomllib, PyYAML+libyaml) is also the peer."""
    text = Path(files()[fmt]).read_text(encoding="utf-8")
    with forced_python():
        expected = _fingerprint(config_core._parse(text, fmt))
    compare(
        benchmark,
        implementation,
        hot_path="_parse",
        workload=f"one {len(text.encode()) / (1 << 20):.1f} MiB {fmt.upper()} document",
        ours=lambda: config_core._parse(text, fmt),
        peer=lambda: None,
        check=lambda got: _fingerprint(got) == expected,
        group_suffix=":" + fmt,
        peer_name="tomllib" if fmt == "toml" else "PyYAML (CSafeLoader)",
    )


ORJSON_RSS = """
import json, orjson, os, resource, sys
from pyagent.config_core import deep_merge
def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)
start = status("VmRSS")
cfg = {}
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        deep_merge(cfg, orjson.loads(f.read()))
after = status("VmRSS")
peak = status("VmHWM")
maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"start": start, "after": after, "peak": peak, "maxrss": maxrss, "len": len(cfg)}))
"""


@cache
def peak_rss_report() -> dict[str, Any]:
    """Peak RSS of the full sharded load per implementation, each in a fresh interpreter.

    ``transient`` is the peak minus what the load keeps (the result): the memory a load
    needs beyond its answer, to compare with the largest shard. Saved to
    ``build/status/config_rss.json`` and attached to the load_config benchmarks.
    """
    import subprocess
    import sys

    from tests.test_config_core import peak_rss

    paths = files()["shards"]
    largest = max(os.path.getsize(p) for p in paths)
    rows = {"python": peak_rss(paths, "python"), "rust": peak_rss(paths, "rust")}
    out = subprocess.run(
        [sys.executable, "-c", ORJSON_RSS, *paths], capture_output=True, text=True, check=True
    )
    peer = json.loads(out.stdout)
    peer["result"] = peer["after"] - peer["start"]
    peer["transient"] = peer["peak"] - peer["after"]
    rows["orjson"] = peer
    report = {
        "workload": WORKLOAD,
        "largest_shard": largest,
        **{
            name: {
                "peak_mib": round((r["peak"] - r["start"]) / (1 << 20)),
                "result_mib": round(r["result"] / (1 << 20)),
                "transient_mib": round(r["transient"] / (1 << 20)),
                "transient_per_largest_shard": round(r["transient"] / largest, 2),
            }
            for name, r in rows.items()
        },
    }
    STATUS.mkdir(parents=True, exist_ok=True)
    (STATUS / "config_rss.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    # Not asserted against the shard size here: shards overlap, so a peak also holds the
    # objects a later shard replaces; tests/test_config_core.py checks the bound itself.
    assert rows["python"]["len"] == rows["rust"]["len"] == peer["len"] == 2
    return report

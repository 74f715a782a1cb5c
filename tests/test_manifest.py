from __future__ import annotations

import re
from pathlib import Path

import pytest

from pyagent.manifest import ManifestError, load_manifest, parse_manifest

SEED = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "rust_mapping_strategy.md"


def seed_names() -> set[str]:
    """Every backticked function name in the seed's section 1 table and section 2 list."""
    text = SEED.read_text(encoding="utf-8")
    section1 = text.split("## 1.")[1].split("## 2.")[0]
    section2 = text.split("## 2.")[1].split("## 3.")[0]
    names = set()
    for row in section1.split("\n"):
        if row.startswith("|") and "`" in row:
            # The seed has a row glued to the next one ("|| **Common/Search**"): split them.
            for cells in row.split("||"):
                target = cells.strip("|").split("|")[1]
                names.update(re.findall(r"`([A-Za-z_]+)`", target))
    for dotted in re.findall(r"`(\w+)\.(\w+)\(?\)?`", section2):
        names.add(dotted[1])
    return names


@pytest.mark.skipif(not SEED.exists(), reason="shared/ is not beside this checkout")
def test_every_seed_hot_path_is_in_the_manifest_under_its_seed_name() -> None:
    names = seed_names()
    assert len(names) >= 20  # the parser really read the tables
    missing = names - set(load_manifest().names)
    assert not missing, f"seed hot paths missing from the manifest: {sorted(missing)}"


def test_section3_lists_point_at_hot_paths() -> None:
    manifest = load_manifest()
    completed = [i for i in manifest.seed_lists if i.list == "completed"]
    upcoming = [i for i in manifest.seed_lists if i.list == "next"]
    assert len(completed) == 5 and len(upcoming) == 2
    assert {"discover_files", "bulk_hash_files"} <= set(manifest.names)
    assert all(h.priority == 1 for n in upcoming for h in map(manifest.get, n.hot_paths))


def test_first_three_hot_paths_are_migrated() -> None:
    migrated = {h.name for h in load_manifest().migrated}
    assert {"generate_hash", "verify_integrity", "sharding_index", "save_atomic"} <= migrated


def test_every_hooked_module_matches_its_core() -> None:
    for hot_path in load_manifest().hot_paths:
        assert hot_path.module.startswith("pyagent.")
        assert hot_path.module.endswith("_core")


GOOD = """
[[hot_path]]
name = "f"
component = "C"
core = "FCore"
module = "pyagent.f_core"
section = "1"
priority = 1
issue = 2
kind = "function"
peer = "x"
migrated = false
functions = [{ python = "f", rust = "f" }]
"""


def test_parse_accepts_a_minimal_manifest() -> None:
    manifest = parse_manifest(GOOD)
    assert manifest.get("f").rust_names == ("f",)
    with pytest.raises(KeyError):
        manifest.get("g")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("priority = 1", "priority = true"), "priority"),
        (lambda t: t.replace('section = "1"', 'section = "4"'), "section"),
        (lambda t: t.replace('kind = "function"', 'kind = "lambda"'), "kind"),
        (lambda t: t.replace('rust = "f"', 'rust = "g"'), "seed name"),
        (lambda t: t.replace('peer = "x"\n', ""), "peer"),
        (lambda t: t + t, "twice"),
        (
            lambda t: t + '[[seed_list]]\nlist = "next"\nitem = "x"\nhot_paths = ["nope"]\n',
            "unknown",
        ),
        (lambda t: "not toml [", "Expected|Invalid|invalid"),
        (lambda t: "", "no"),
    ],
)
def test_parse_rejects_malformed_manifests(edit, message) -> None:
    with pytest.raises(ManifestError, match=message):
        parse_manifest(edit(GOOD))

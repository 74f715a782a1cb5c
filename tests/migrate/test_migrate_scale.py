"""A multi-process audit over 2,000 generated modules mixing every variant and defect."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import make_tree, templates, write_crate

from pyagent.migrate.audit import AuditConfig, analyze_source
from pyagent.migrate.defects import EXAMPLE_RUST
from pyagent.migrate.rust_exports import merge_exports, parse_rust_source

REPO = Path(__file__).resolve().parents[2]
MODULES = 2000
ARGS = [sys.executable, "-m", "pyagent.migrate", "audit"]


def expected_per_template() -> dict[str, tuple[int, Counter[str]]]:
    registrations, signatures = parse_rust_source({"lib.rs": EXAMPLE_RUST})
    config = AuditConfig(exports=merge_exports("c", registrations, signatures, (None, None, {})))
    found = {}
    for template in templates():
        audit = analyze_source(template.source, "t.py", config)
        codes = Counter(d.code for d in audit.defects)
        if template.defect is None:
            assert not codes, f"false report on clean template {template.name}: {codes}"
            if template.variant:
                assert {h.variant for h in audit.hooks} == {template.variant}
        else:
            assert template.defect in codes, template.name
        found[template.name] = (len(audit.hooks), codes)
    return found


@pytest.mark.slow
def test_audit_2000_modules_in_parallel(tmp_path: Path) -> None:
    write_crate(tmp_path)
    tree, planted = make_tree(tmp_path, MODULES)
    per_template = expected_per_template()
    hooks = 0
    codes: Counter[str] = Counter()
    for key, count in planted.items():
        if key.startswith("template:"):
            template_hooks, template_codes = per_template[key.removeprefix("template:")]
            hooks += template_hooks * count
            for code, n in template_codes.items():
                codes[code] += n * count
    result = subprocess.run(
        [*ARGS, str(tree), "-j", "2", "--no-built", "--format", "json"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    summary = document["summary"]
    assert summary["files_scanned"] == MODULES
    assert summary["files_failed"] == 0
    assert summary["jobs"] == 2
    assert summary["hooks"] == hooks
    assert summary["defects_by_code"] == dict(sorted(codes.items()))
    for key, count in planted.items():
        if key.startswith("defect:"):
            assert codes[key.removeprefix("defect:")] >= count
    assert f"{MODULES} files scanned" in result.stderr


def test_insert_then_check_is_clean_on_a_mixed_tree(tmp_path: Path) -> None:
    from pyagent.migrate.__main__ import main

    write_crate(tmp_path)
    tree, planted = make_tree(tmp_path, 2 * len(templates()))
    hooks = []
    for path in sorted(tree.rglob("*.py")):
        for function in ("sharding_index", "generate_hash", "generate_hash_batch"):
            # A --hook naming a function the file lacks is an error (exit 2): name only
            # the ones there.
            if f"def {function}(" in path.read_text():
                hooks += ["--hook", f"{path}:{function}"]
    before = {p: p.read_text() for p in tree.rglob("*.py")}
    assert main(["insert", "-q", str(tree), *hooks]) == 0
    changed = {p for p in before if p.read_text() != before[p]}
    # Only the modules with no hook at all (the plain template) gain one.
    assert len(changed) == planted["template:plain"] == 2
    assert main(["insert", "-q", "--check", str(tree), *hooks]) == 0
    audit = tmp_path / "audit.json"
    args = ["audit", "-q", "--no-built", "--format", "json", "-o", str(audit), str(tree)]
    assert main([*args, "-j", "1"]) == 0
    document = json.loads(audit.read_text())
    for path in changed:
        (entry,) = [f for f in document["files"] if Path(f["path"]).resolve() == path.resolve()]
        assert [(h["shape"], h["defects"]) for h in entry["hooks"]] == [("canonical", [])]
        assert [i["variant"] for i in entry["imports"]] == ["A"]

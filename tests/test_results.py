from __future__ import annotations

import json
import re
from pathlib import Path

from pyagent.parity.results import SCHEMA, write_results


def test_results_carry_the_envelope_and_the_rows(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "run.json"
    write_results(out, [{"name": "sharding_index", "status": "passed"}], profile="quick")
    saved = json.loads(out.read_text())
    assert saved["schema"] == SCHEMA and saved["profile"] == "quick"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", saved["generated_at"])
    assert re.fullmatch(r"[0-9a-f]{7,}|unknown", saved["commit"])
    assert saved["hot_paths"] == [{"name": "sharding_index", "status": "passed"}]

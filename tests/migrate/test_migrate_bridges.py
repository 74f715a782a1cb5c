"""Bridge shapes (variant H) as PyAgent's ``rust_bridge.py`` and its callers have them.

A tree with a central bridge module, callers in another package and a class-based bridge
is audited through the CLI; every call site must come back as a hook with its resolved
Rust name, arity and exception policy, and each helper's except clause reported once.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from conftest import write_crate

from pyagent.migrate.__main__ import main

CRATE = """
#[pyfunction]
fn calculate_metrics_rust(content: &str) -> f64 { 0.0 }
#[pyfunction]
fn search_vector_rust(query: Vec<f64>, db: Vec<Vec<f64>>, top_k: usize) -> Vec<usize> {
    vec![]
}
#[pyfunction]
fn count_tokens_rust(text: &str) -> usize { 0 }
#[pyfunction]
fn sharding_index(key: &str, shard_count: u64) -> u64 { 0 }
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(pyo3::wrap_pyfunction!(metrics::calculate_metrics_rust, m)?)?;
    m.add_function(wrap_pyfunction!(search_vector_rust, m)?)?;
    m.add_function(wrap_pyfunction!(count_tokens_rust, m)?)?;
    m.add_function(wrap_pyfunction!(sharding_index, m)?)?;
    Ok(())
}
"""

BRIDGE = '''
"""The central bridge."""
from __future__ import annotations

import logging

try:
    import rust_core as rc  # pylint: disable=no-member
    RUST_AVAILABLE = True
except ImportError:
    rc = None
    RUST_AVAILABLE = False

logger = logging.getLogger(__name__)


def get_bridge() -> RustBridge:
    return RustBridge()


class RustBridge:
    @staticmethod
    def search_vector(query_vec, database, top_k):
        if not query_vec:
            return []
        return RustBridge._try_rust_call(
            "search_vector_rust", query_vec, database, top_k, fallback=lambda: []
        )

    @staticmethod
    def get_token_hash(tokens):
        return RustBridge._try_rust_call(
            "kv_block_hash_rust", tokens, fallback=lambda: str(hash(tuple(tokens)))
        )

    def execute(self, method_name, params):
        attr = method_name if method_name.endswith("_rust") else f"{method_name}_rust"
        return self._try_rust_call(attr, **params)

    @staticmethod
    def _try_rust_call(attr, *args, fallback=None, **kwargs):
        try:
            return getattr(rc, attr)(*args, **kwargs)
        except Exception as e:  # pylint: disable=broad-exception-caught
            logger.error(f"RustBridge: {attr} failed: {e}")
            if fallback:
                return fallback()
            return None
'''

CALLERS = """
from core.rust_bridge import get_bridge


def metrics(content):
    return get_bridge()._try_rust_call(
        "calculate_metrics_rust", content, fallback=lambda: _python_metrics(content)
    )


def metrics_misspelt(content):
    return get_bridge()._try_rust_call(
        "calculate_metric_rust", content, fallback=lambda: _python_metrics(content)
    )


def metrics_wrong_arity(content):
    return get_bridge()._try_rust_call(
        "calculate_metrics_rust", content, 3, fallback=lambda: _python_metrics(content)
    )


def tokens(text):
    return get_bridge().execute("count_tokens", {"text": text})


def commit(cursor):
    return cursor.execute("commit", ())
"""

ACCEL = """
try:
    import rust_core
except Exception:
    rust_core = None


class Accel:
    def call(self, name, *args):
        try:
            return getattr(rust_core, name)(*args)
        except Exception:
            return None


def shard(key, count):
    result = Accel().call("sharding_index", key, count)
    if result is not None:
        return result
    return sum(key.encode()) % count
"""


@pytest.fixture
def audit(tmp_path: Path) -> dict:
    write_crate(tmp_path, CRATE)
    agent = tmp_path / "agent"
    for relative, source in {
        "core/rust_bridge.py": BRIDGE,
        "common/metrics.py": CALLERS,
        "other/accel.py": ACCEL,
    }.items():
        path = agent / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip())
    out = tmp_path / "audit.json"
    code = main(["audit", "-q", "--no-built", "--format", "json", "-o", str(out), str(agent)])
    document = json.loads(out.read_text())
    document["exit"] = code
    return document


SWALLOWS = "swallows-exceptions"


def hooks_of(document: dict, name: str) -> dict[str, tuple]:
    (entry,) = [f for f in document["files"] if f["path"].endswith(name)]
    return {
        h["function"]: (
            h["shape"],
            h["rust_name"],
            h["exception_policy"],
            h["arity"],
            h["fallback"],
        )
        for h in entry["hooks"]
    }


def test_bridge_helper_and_its_in_module_call_sites(audit: dict) -> None:
    assert hooks_of(audit, "rust_bridge.py") == {
        "RustBridge._try_rust_call": ("bridge-helper", "*", SWALLOWS, "unknown", "caller"),
        "RustBridge.search_vector": ("bridge", "search_vector_rust", SWALLOWS, "ok", "stub"),
        # Not exported, so no signature: arity unknown.
        "RustBridge.get_token_hash": (
            "bridge", "kv_block_hash_rust", SWALLOWS, "unknown", "python"
        ),
    }  # fmt: skip


def test_call_sites_in_other_modules_resolve_through_the_helper(audit: dict) -> None:
    assert hooks_of(audit, "metrics.py") == {
        "metrics": ("bridge", "calculate_metrics_rust", SWALLOWS, "ok", "python"),
        "metrics_misspelt": ("bridge", "calculate_metric_rust", SWALLOWS, "unknown", "python"),
        "metrics_wrong_arity": ("bridge", "calculate_metrics_rust", SWALLOWS, "mismatch", "python"),
        # The suffixing bridge appends _rust: no false dead name for "count_tokens"; its
        # params dict hides the arity.
        "tokens": ("bridge", "count_tokens_rust", SWALLOWS, "unknown", "none"),
    }  # fmt: skip


def test_class_method_calling_rust_core_by_name(audit: dict) -> None:
    assert hooks_of(audit, "accel.py") == {
        "Accel.call": ("bridge-helper", "*", SWALLOWS, "unknown", "caller"),
        "shard": ("bridge", "sharding_index", SWALLOWS, "ok", "python"),
    }


def test_defects_each_reported_once(audit: dict) -> None:
    found = sorted(
        (Path(d["file"]).name, d["line"], d["code"], d["rust_name"]) for d in audit["defects"]
    )
    assert found == [
        ("accel.py", 10, "panic-escapes", None),
        ("metrics.py", 11, "dead-rust-name", "calculate_metric_rust"),
        ("metrics.py", 17, "arity-mismatch", "calculate_metrics_rust"),
        ("metrics.py", 23, "stub-fallback", "count_tokens_rust"),
        ("rust_bridge.py", 25, "stub-fallback", "search_vector_rust"),
        ("rust_bridge.py", 31, "dead-rust-name", "kv_block_hash_rust"),
        ("rust_bridge.py", 42, "panic-escapes", None),
    ]
    assert audit["exit"] == 0  # not --strict


def test_one_except_clause_one_report() -> None:
    from pyagent.migrate.audit import analyze_source

    source = """
try:
    import rust_core as rc
except ImportError:
    rc = None


def f(x):
    if rc is not None:
        try:
            return rc.a(x) + rc.b(x)
        except Exception:
            pass
    return x + 1
"""
    codes = [d.code for d in analyze_source(source, "m.py").defects]
    assert codes == ["panic-escapes"]


# --- every registration form PyO3 allows --------------------------------------------------

RUST_FORMS = """
mod formula;

#[pyfunction]
fn evaluate_formula(expr: &str) -> f64 { 0.0 }
#[pyfunction]
#[pyo3(name = "hash_fast")]
fn hash_impl(data: &[u8]) -> u64 { 0 }
#[pyfunction]
fn later(x: u64) -> u64 { x }
#[pyfunction]
fn in_sub(x: u64) -> u64 { x }
#[pyfunction]
fn exported_by_use(a: u64, b: u64) -> u64 { a }
#[pyclass(name = "Tokenizer")]
struct TokenizerImpl {}
#[pyclass]
struct Plain {}

#[pymodule]
fn helpers(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(in_sub, m)?)?;
    Ok(())
}

#[pymodule]
fn rust_core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(pyo3::wrap_pyfunction!(formula::evaluate_formula, m)?)?;
    m.add_function(pyo3::prelude::wrap_pyfunction_bound!(crate::hash::hash_impl, m)?)?;
    let f = wrap_pyfunction!(later, m)?;
    m.add_function(f)?;
    m.add_class::<crate::tok::TokenizerImpl>()?;
    m.add_wrapped(wrap_pymodule!(helpers))?;
    m.add("VERSION", "1")?;
    Ok(())
}

#[pymodule]
mod declared {
    #[pymodule_export]
    use super::{exported_by_use, Plain as Renamed};

    #[pymodule_export]
    const LIMIT: u32 = 3;

    #[pyfunction]
    fn inline_fn(x: u64) -> u64 { x }

    #[pymodule]
    mod nested {
        #[pyfunction]
        fn deep(x: u64) -> u64 { x }
    }
}
"""


def test_rust_reader_accepts_every_registration_form() -> None:
    from pyagent.migrate.rust_exports import parse_rust_source

    registrations, signatures = parse_rust_source({"lib.rs": RUST_FORMS})
    names = {r.name: r.kind for r in registrations}
    assert names == {
        "evaluate_formula": "function",
        "hash_fast": "function",
        "later": "function",
        "Tokenizer": "class",
        "helpers": "submodule",
        "helpers.in_sub": "function",
        "VERSION": "attribute",
        "exported_by_use": "function",
        "Renamed": "class",
        "LIMIT": "attribute",
        "inline_fn": "function",
        "nested": "submodule",
        "nested.deep": "function",
    }
    assert signatures["evaluate_formula"].render() == "(expr)"
    assert signatures["exported_by_use"].render() == "(a, b)"
    assert signatures["nested.deep"].render() == "(x)"

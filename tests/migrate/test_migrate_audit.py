"""The audit: every variant recognised, every defect of the variants file reported."""

from __future__ import annotations

import textwrap

import pytest

from pyagent.migrate.audit import AuditConfig, analyze_source, crate_defects
from pyagent.migrate.defects import DEFECT_KINDS, EXAMPLE_RUST, by_code, render_markdown
from pyagent.migrate.rust_exports import RustExports, merge_exports, parse_rust_source


def config_for(rust: str = EXAMPLE_RUST, pending: frozenset[str] = frozenset()) -> AuditConfig:
    registrations, signatures = parse_rust_source({"lib.rs": rust})
    exports = merge_exports("crate", registrations, signatures, (None, None, {}))
    return AuditConfig(exports=exports, pending=pending)


def all_codes(source: str, rust: str = EXAMPLE_RUST) -> list[str]:
    config = config_for(rust)
    audit = analyze_source(textwrap.dedent(source), "m.py", config)
    return [d.code for d in audit.defects] + [d.code for d in crate_defects(config.exports)]


INVALID = [(k.code, i, e) for k in DEFECT_KINDS for i, e in enumerate(k.invalid)]
VALID = [(k.code, i, e) for k in DEFECT_KINDS for i, e in enumerate(k.valid)]


@pytest.mark.parametrize(("code", "index", "example"), INVALID, ids=lambda v: str(v)[:40])
def test_invalid_example_is_reported(code, index, example) -> None:
    assert code in all_codes(example.python, example.rust)


@pytest.mark.parametrize(("code", "index", "example"), VALID, ids=lambda v: str(v)[:40])
def test_valid_example_has_no_finding_at_all(code, index, example) -> None:
    assert all_codes(example.python, example.rust) == []


def test_every_defect_of_the_variants_file_has_examples() -> None:
    expected = {
        "dead-rust-name",
        "arity-mismatch",
        "except-too-broad",
        "except-too-narrow",
        "panic-escapes",
        "stub-fallback",
        "duplicate-registration",
        "flag-sentinel-disagree",
        "rc-undefined",
        "oserror-skips-python",
    }
    assert {k.code for k in DEFECT_KINDS} == expected
    for kind in DEFECT_KINDS:
        assert kind.valid and kind.invalid, kind.code
    assert by_code("rc-undefined").title.startswith("`rc` is undefined")


def test_docs_carry_the_generated_defect_reference() -> None:
    from pathlib import Path

    docs = Path(__file__).parents[2] / "docs" / "migrate.md"
    text = docs.read_text(encoding="utf-8")
    start = text.index("<!-- defects:start -->") + len("<!-- defects:start -->\n")
    end = text.index("<!-- defects:end -->")
    assert text[start:end].strip() == render_markdown().strip(), (
        "docs/migrate.md is stale: regenerate with `python -m pyagent.migrate docs`"
    )


# --- variants and shapes ------------------------------------------------------------------

A = """
try:
    import rust_core as rc
except ImportError:
    rc = None
"""

CASES = {
    "A-canonical": (
        A
        + """
def sharding_index(key, shard_count):
    if rc is not None and hasattr(rc, "sharding_index"):
        return rc.sharding_index(key, shard_count)
    return sum(key.encode()) % shard_count
""",
        "A",
        "canonical",
    ),
    "A-anywhere-in-module-after-functions": (
        """
import os

def sharding_index(key, shard_count):
    if rc is not None and hasattr(rc, "sharding_index"):
        return rc.sharding_index(key, shard_count)
    return sum(key.encode()) % shard_count

try:
    import rust_core as rc  # type: ignore
except ImportError:
    rc = None  # type: ignore
""",
        "A",
        "canonical",
    ),
    "B-shape1-guarded-try": (
        """
try:
    import rust_core as rc
    _RUST_ACCEL = True
except (ImportError, OSError):
    rc = None
    _RUST_ACCEL = False

def sharding_index(key, shard_count):
    if rc and hasattr(rc, "sharding_index"):
        try:
            return rc.sharding_index(key, shard_count)
        except (TypeError, OverflowError):
            pass
    return sum(key.encode()) % shard_count
""",
        "B",
        "guarded-try",
    ),
    "A-shape2-truthy-try": (
        A
        + """
def sharding_index(key, shard_count):
    if rc:
        try:
            return rc.sharding_index(key, shard_count)
        except (AttributeError, TypeError, OverflowError):
            pass
    return sum(key.encode()) % shard_count
""",
        "A",
        "truthy-try",
    ),
    "A-shape3-guarded": (
        A
        + """
def sharding_index(key, shard_count):
    \"\"\"Doc.\"\"\"
    # comment
    if rc and hasattr(rc, "sharding_index"):
        return rc.sharding_index(key, shard_count)
    return sum(key.encode()) % shard_count
""",
        "A",
        "guarded",
    ),
    "A-shape4-helper-split": (
        A
        + """
def _try_rust_sharding_index(key, shard_count):
    if rc is None:
        return None
    try:
        return rc.sharding_index(key, shard_count)
    except (TypeError, OverflowError):
        return None

def _python_sharding_index(key, shard_count):
    return sum(key.encode()) % shard_count

def sharding_index(key, shard_count):
    result = _try_rust_sharding_index(key, shard_count)
    return result if result is not None else _python_sharding_index(key, shard_count)
""",
        "A",
        "helper-split",
    ),
    "A-shape5-result-based": (
        A
        + """
def sharding_index(key, shard_count):
    if rc is not None:
        result = rc.sharding_index(key, shard_count)
        if result:
            return result
    return sum(key.encode()) % shard_count
""",
        "A",
        "result-based",
    ),
    "C-shape6-flag": (
        """
try:
    import rust_core as rc
    HAS_RUST = True
except ImportError:
    HAS_RUST = False

def sharding_index(key, shard_count):
    if not HAS_RUST:
        return sum(key.encode()) % shard_count
    return rc.sharding_index(key, shard_count)
""",
        "C",
        "flag",
    ),
    "D-bare-name": (
        """
try:
    import rust_core
    RUST = True
except ImportError:
    rust_core = None
    RUST = False

def sharding_index(key, shard_count):
    if rust_core is not None and hasattr(rust_core, "sharding_index"):
        return rust_core.sharding_index(key, shard_count)
    return sum(key.encode()) % shard_count
""",
        "D",
        "canonical",
    ),
    "E-from-import-two-blocks": (
        """
try:
    from rust_core import sharding_index as _si
    HAS_SI = True
except ImportError:
    HAS_SI = False
try:
    from rust_core import generate_hash
    HAS_HASH = True
except ImportError:
    HAS_HASH = False

def sharding_index(key, shard_count):
    if HAS_SI:
        return _si(key, shard_count)
    return sum(key.encode()) % shard_count

def digest(data):
    if HAS_HASH:
        return generate_hash(data)
    import hashlib
    return hashlib.sha256(data).hexdigest()
""",
        "E",
        "flag",
    ),
    "F-submodule-alias": (
        """
try:
    from rust_core import rust_core as rc
except ImportError:
    rc = None

def sharding_index(key, shard_count):
    if rc is not None and hasattr(rc, "sharding_index"):
        return rc.sharding_index(key, shard_count)
    return sum(key.encode()) % shard_count
""",
        "F",
        "canonical",
    ),
    "G-lazy-try": (
        """
def sharding_index(key, shard_count):
    try:
        import rust_core as rc
        return rc.sharding_index(key, shard_count)
    except ImportError:
        pass
    return sum(key.encode()) % shard_count
""",
        "G",
        "lazy-import",
    ),
    "G-lazy-suppress": (
        """
import contextlib

def sharding_index(key, shard_count):
    with contextlib.suppress(ImportError):
        import rust_core as rc
        return rc.sharding_index(key, shard_count)
    return sum(key.encode()) % shard_count
""",
        "G",
        "lazy-import",
    ),
    "H-bridge-shape7": (
        """
class RustBridge:
    def __init__(self):
        try:
            import rust_core
        except ImportError:
            rust_core = None
        self._rc = rust_core

    def try_call(self, name, *args, fallback):
        fn = getattr(self._rc, name, None)
        return fn(*args) if fn else fallback()

bridge = RustBridge()

def sharding_index(key, shard_count):
    return bridge.try_call(
        "sharding_index", key, shard_count, fallback=lambda: sum(key.encode()) % shard_count
    )
""",
        "H",
        "bridge",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_variant_and_shape_recognised_without_false_reports(name: str) -> None:
    source, variant, shape = CASES[name]
    audit = analyze_source(textwrap.dedent(source), "m.py", config_for())
    assert audit.hooks, "no hook found"
    assert {h.variant for h in audit.hooks} == {variant}
    assert audit.hooks[0].shape == shape
    assert all(h.exported for h in audit.hooks)
    assert audit.defects == ()


def test_hook_details_of_canonical_hook() -> None:
    source, *_ = CASES["A-canonical"]
    audit = analyze_source(source, "m.py", config_for())
    (hook,) = audit.hooks
    assert (hook.function, hook.rust_name, hook.binding) == (
        "sharding_index",
        "sharding_index",
        "rc",
    )
    assert hook.guard == ("hasattr", "sentinel")
    assert (hook.exception_policy, hook.fallback, hook.arity) == ("propagates", "python", "ok")
    assert (hook.exported_source, hook.exported_built) == (True, None)
    (site,) = audit.imports
    assert (site.variant, site.binding, site.sentinel, site.caught) == (
        "A",
        "rc",
        True,
        ("ImportError",),
    )
    assert audit.hooked_functions == frozenset({"sharding_index"})


def test_method_hook_is_qualified_and_self_is_not_an_argument() -> None:
    source = A + textwrap.dedent(
        """
        class Knowledge:
            def shard(self, key, shard_count):
                if rc is not None and hasattr(rc, "sharding_index"):
                    return rc.sharding_index(key, shard_count)
                return 0 + sum(key.encode()) % shard_count
        """
    )
    audit = analyze_source(source, "m.py", config_for())
    (hook,) = audit.hooks
    assert hook.function == "Knowledge.shard"
    assert hook.arity == "ok"
    assert audit.defects == ()


def test_except_clause_variants_on_import_are_recorded() -> None:
    for clause, caught in [
        ("except ImportError:", ("ImportError",)),
        ("except (ImportError, OSError):", ("ImportError", "OSError")),
        ("except Exception:", ("Exception",)),
        ("except:", ("*",)),
    ]:
        source = f"try:\n    import rust_core as rc\n{clause}\n    rc = None\n"
        (site,) = analyze_source(source, "m.py", config_for()).imports
        assert site.caught == caught
        assert site.variant == "A"


def test_not_a_hook_package_init_fallback() -> None:
    source = """
try:
    from mypkg.core import thing, try_call
except ImportError:
    from .core import thing
"""
    audit = analyze_source(source, "__init__.py", config_for())
    assert (audit.imports, audit.hooks, audit.defects) == ((), (), ())


def test_type_checking_import_is_not_a_hook() -> None:
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import rust_core\n"
    assert analyze_source(source, "m.py", config_for()).imports == ()


def test_pending_manifest_name_is_not_dead_but_unknown_name_is() -> None:
    source = A + textwrap.dedent(
        """
        def merge_weights(a, b):
            if rc is not None and hasattr(rc, "merge_weights"):
                return rc.merge_weights(a, b)
            return [x + y for x, y in zip(a, b)]
        """
    )
    pending = analyze_source(source, "m.py", config_for(pending=frozenset({"merge_weights"})))
    assert pending.defects == ()
    assert pending.hooks[0].exported is False
    dead = analyze_source(source, "m.py", config_for())
    assert [d.code for d in dead.defects] == ["dead-rust-name"]


def test_no_exports_known_means_no_dead_report() -> None:
    source, *_ = CASES["A-canonical"]
    audit = analyze_source(source, "m.py", AuditConfig(exports=RustExports()))
    assert audit.hooks[0].exported is None
    assert audit.hooks[0].arity == "unknown"
    assert audit.defects == ()


def test_variant_c_rc_used_without_flag_and_lines_are_reported() -> None:
    source = textwrap.dedent(
        """
        try:
            import rust_core as rc
            HAS_RUST = True
        except ImportError:
            HAS_RUST = False


        def sharding_index(key, shard_count):
            if rc:
                return rc.sharding_index(key, shard_count)
            return sum(key.encode()) % shard_count
        """
    )
    audit = analyze_source(source, "m.py", config_for())
    assert [(d.code, d.line, d.function) for d in audit.defects] == [
        ("rc-undefined", 11, "sharding_index")
    ]


def test_several_defects_in_one_hook() -> None:
    source = A + textwrap.dedent(
        """
        def sharding_index(key, shard_count):
            try:
                return rc.sharding_idx(key, shard_count, 3)
            except Exception:
                return 0
        """
    )
    codes = sorted(all_codes(source))
    assert codes == ["dead-rust-name", "panic-escapes", "stub-fallback"]


def test_arity_against_signature_with_keywords() -> None:
    base = A + "\ndef generate_hash(data, algorithm='sha256'):\n    {call}\n    return 'x' + data\n"
    ok = "if rc is not None:\n        return rc.generate_hash(data, algorithm=algorithm)"
    too_many = "if rc is not None:\n        return rc.generate_hash(data, algorithm, 1)"
    dup = "if rc is not None:\n        return rc.generate_hash(data, data=data)"
    star = "if rc is not None:\n        return rc.generate_hash(*data)"
    assert all_codes(base.format(call=ok)) == []
    assert all_codes(base.format(call=too_many)) == ["arity-mismatch"]
    assert all_codes(base.format(call=dup)) == ["arity-mismatch"]
    assert all_codes(base.format(call=star)) == []


def test_class_constructor_and_submodule_hooks_are_canonical() -> None:
    """The class-hook shape and a dotted Rust name are recognised as canonical hooks."""
    source = """
try:
    import rust_core as rc
except ImportError:
    rc = None  # type: ignore[assignment, unused-ignore]


class BlockManager:
    def __new__(cls, n: int) -> "BlockManager":
        '''Doc.'''
        if rc is not None and hasattr(rc, "block_manager"):
            return rc.block_manager(n)
        return super().__new__(cls)

    def __init__(self, n: int) -> None:
        self.n = n


def encode_frame(obj, stream_id=0, *, level=3):
    if rc is not None and hasattr(rc, "binary_transport"):
        return rc.binary_transport.encode_frame(obj, stream_id, level=level)
    return _encode(obj, stream_id, level)
"""
    audit = analyze_source(source, "m.py")
    found = {(h.function, h.rust_name, h.shape, h.fallback) for h in audit.hooks}
    assert found == {
        ("BlockManager.__new__", "block_manager", "canonical", "python"),
        ("encode_frame", "binary_transport.encode_frame", "canonical", "python"),
    }
    assert audit.defects == ()
    assert {"BlockManager", "BlockManager.__new__", "encode_frame"} <= audit.hooked_functions


def test_submodule_made_with_m_py_is_read_and_wrapped_hooks_stay_canonical(tmp_path) -> None:
    """`PyModule::new(m.py(), ...)` submodules export dotted names; a formatter's line wrap
    of the dispatch keeps the hook canonical."""
    rust = """
#[pyfunction]
fn encode_frame(obj: i64, stream_id: u32, compress_threshold: usize, level: i32) -> i64 { obj }
#[pyclass(name = "FrameDecoder")]
struct Decoder {}
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let sub = PyModule::new(m.py(), "binary_transport")?;
    sub.add_function(wrap_pyfunction!(encode_frame, &sub)?)?;
    sub.add_class::<Decoder>()?;
    m.add_submodule(&sub)?;
    Ok(())
}
"""
    registrations, _ = parse_rust_source({"transport.rs": rust})
    names = {r.name for r in registrations}
    assert {"binary_transport", "binary_transport.encode_frame"} <= names
    assert "binary_transport.FrameDecoder" in names
    source = """
try:
    import rust_core as rc
except ImportError:
    rc = None


def encode_frame(obj, stream_id=0, *, compress_threshold=1024, level=3):
    if rc is not None and hasattr(rc, "binary_transport"):
        return rc.binary_transport.encode_frame(
            obj, stream_id, compress_threshold=compress_threshold, level=level
        )
    return _encode(obj, stream_id, compress_threshold, level)
"""
    exports = RustExports(source_names=frozenset(names))
    audit = analyze_source(source, "m.py", AuditConfig(exports=exports))
    assert [(h.shape, h.exported, h.defects) for h in audit.hooks] == [("canonical", True, ())]


def test_signature_attributes_spanning_lines_and_text_signatures_are_read() -> None:
    """rustfmt wraps long `#[pyo3(signature = ...)]` over lines, and a `text_signature`
    (what PyO3 shows, `$self` included) is not the signature: both must parse right."""
    rust = textwrap.dedent(
        """
        #[pyfunction]
        #[pyo3(signature = (
            nodes, edges, weights = None, *, alpha = default_alpha(),
            tol = default_tol(), seeds = vec![]
        ))]
        #[allow(clippy::too_many_arguments)]
        #[pyo3(
            text_signature = "(nodes, edges, weights=None, *, alpha=0.85, tol=1e-06, seeds=[])"
        )]
        fn calculate_weights(nodes: i64, edges: i64, weights: i64, alpha: f64, tol: f64,
                             seeds: Vec<i64>) -> i64 { 0 }

        #[pyfunction]
        #[pyo3(signature = (data, algorithm = default_algorithm()))]
        #[pyo3(text_signature = "(data, algorithm='sha256')")]
        fn generate_hash(data: &str, algorithm: &str) -> String { String::new() }

        #[pymodule]
        fn rust_core(m: &Bound<'_, PyModule>) -> PyResult<()> {
            m.add_function(wrap_pyfunction!(calculate_weights, m)?)?;
            m.add_function(wrap_pyfunction!(generate_hash, m)?)?;
            Ok(())
        }
        """
    )
    _, signatures = parse_rust_source({"lib.rs": rust})
    weights = signatures["calculate_weights"].params
    assert [(p.name, p.kind, p.has_default) for p in weights] == [
        ("nodes", "positional", False),
        ("edges", "positional", False),
        ("weights", "positional", True),
        ("alpha", "keyword_only", True),
        ("tol", "keyword_only", True),
        ("seeds", "keyword_only", True),
    ]
    hashed = signatures["generate_hash"].params
    assert [(p.name, p.has_default) for p in hashed] == [("data", False), ("algorithm", True)]

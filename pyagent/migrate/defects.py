"""Every defect kind ``migrate audit`` reports, each with VALID and INVALID examples as data.

One definition per kind feeds three things (the Fixit model): the audit's codes, the tests
(each INVALID example must be reported with its code; each VALID example must produce no
finding at all) and the defect reference in ``docs/migrate.md`` (:func:`render_markdown`).

Examples are whole modules, audited against :data:`EXAMPLE_RUST` unless they carry their own
Rust source (the duplicate-registration kind is about the Rust side).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = [
    "ARITY_MISMATCH",
    "DEAD_RUST_NAME",
    "DEFECT_KINDS",
    "DUPLICATE_REGISTRATION",
    "EXAMPLE_RUST",
    "EXCEPT_TOO_BROAD",
    "EXCEPT_TOO_NARROW",
    "Example",
    "FixExample",
    "DefectKind",
    "FLAG_SENTINEL_DISAGREE",
    "PANIC_ESCAPES",
    "OSERROR_SKIPS_PYTHON",
    "RC_UNDEFINED",
    "STUB_FALLBACK",
    "by_code",
    "render_markdown",
]

DEAD_RUST_NAME = "dead-rust-name"
ARITY_MISMATCH = "arity-mismatch"
EXCEPT_TOO_BROAD = "except-too-broad"
EXCEPT_TOO_NARROW = "except-too-narrow"
PANIC_ESCAPES = "panic-escapes"
STUB_FALLBACK = "stub-fallback"
DUPLICATE_REGISTRATION = "duplicate-registration"
FLAG_SENTINEL_DISAGREE = "flag-sentinel-disagree"
RC_UNDEFINED = "rc-undefined"
OSERROR_SKIPS_PYTHON = "oserror-skips-python"

#: The crate the examples are audited against: two registered functions.
EXAMPLE_RUST = """\
#[pyfunction]
#[pyo3(signature = (data, algorithm="sha256"))]
fn generate_hash(data: &Bound<'_, PyAny>, algorithm: &str) -> PyResult<String> {
    todo!()
}

#[pyfunction]
fn sharding_index(key: &str, shard_count: u64) -> u64 {
    todo!()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(generate_hash, m)?)?;
    m.add_function(wrap_pyfunction!(sharding_index, m)?)?;
    Ok(())
}
"""

_CANONICAL = """\
import hashlib

try:
    import rust_core as rc
except ImportError:
    rc = None


def generate_hash(data, algorithm="sha256"):
    if rc is not None and hasattr(rc, "generate_hash"):
        return rc.generate_hash(data, algorithm)
    return hashlib.new(algorithm, data).hexdigest()
"""


@dataclass(frozen=True)
class Example:
    """One example module (and the crate it is audited against)."""

    python: str
    rust: str = EXAMPLE_RUST
    note: str = ""


@dataclass(frozen=True)
class FixExample:
    """A module before and after ``migrate fix`` (audited against ``rust``)."""

    before: str
    after: str
    note: str = ""
    rust: str = EXAMPLE_RUST


@dataclass(frozen=True)
class DefectKind:
    """A defect the audit reports, why it matters, how to fix it, and examples."""

    code: str
    title: str
    why: str
    fix: str
    valid: tuple[Example, ...]
    invalid: tuple[Example, ...]
    #: What ``migrate fix`` does about it, or why it has no mechanical fix.
    autofix: str = ""
    #: ``migrate fix`` before/after pairs (tests check each, and that the after is a fixed
    #: point); empty when the kind has no mechanical fix.
    fixes: tuple[FixExample, ...] = ()


DEFECT_KINDS: tuple[DefectKind, ...] = (
    DefectKind(
        code=DEAD_RUST_NAME,
        title="The Rust name called is not exported by the crate",
        why=(
            "A renamed, misspelt or never-registered function makes the hasattr guard (or the "
            "from-import) fail quietly, so the hook always takes the Python path and nobody "
            "notices but through slowness. Names the manifest lists as not yet migrated are "
            "exempt: a hook may land before its Rust function."
        ),
        fix="Call the name the crate registers (see `rust_core/src/python/*.rs`), or register it.",
        valid=(Example(_CANONICAL),),
        invalid=(
            Example(
                _CANONICAL.replace('"generate_hash")', '"generate_hsh")').replace(
                    "rc.generate_hash(", "rc.generate_hsh("
                ),
                note="misspelt name",
            ),
            Example(
                """\
try:
    from rust_core import sharding_idx
    HAS_SHARDING = True
except ImportError:
    HAS_SHARDING = False


def sharding_index(key, shard_count):
    if HAS_SHARDING:
        return sharding_idx(key, shard_count)
    return sum(key.encode()) % shard_count
""",
                note="a from-import of a missing name fails as a whole",
            ),
        ),
    ),
    DefectKind(
        code=ARITY_MISMATCH,
        title="The call does not fit the Rust signature",
        why=(
            "A call with too many or too few arguments, or a keyword the Rust function does "
            "not take, raises TypeError on every call; behind a broad except the Rust path is "
            "simply dead."
        ),
        fix="Forward the arguments exactly as the Rust signature (`#[pyo3(signature = ...)]`) "
        "declares them; `migrate insert` mirrors the Python signature.",
        valid=(Example(_CANONICAL),),
        invalid=(
            Example(
                _CANONICAL.replace(
                    "rc.generate_hash(data, algorithm)", "rc.generate_hash(data, algo=algorithm)"
                ),
                note="unknown keyword",
            ),
            Example(
                """\
try:
    import rust_core as rc
except ImportError:
    rc = None


def sharding_index(key, shard_count):
    if rc is not None and hasattr(rc, "sharding_index"):
        return rc.sharding_index(key)
    return sum(key.encode()) % shard_count
""",
                note="missing required argument",
            ),
        ),
    ),
    DefectKind(
        code=EXCEPT_TOO_BROAD,
        title="The except clause swallows every error",
        why=(
            "A bare `except:` or `except BaseException` around the Rust call turns every Rust "
            "bug, panic and even KeyboardInterrupt into a silent fallback."
        ),
        fix="Let Rust errors propagate (the canonical hook has no try), or catch only the "
        "conversion errors you mean to fall back on.",
        valid=(Example(_CANONICAL),),
        invalid=(
            Example(
                """\
try:
    import rust_core as rc
except ImportError:
    rc = None


def generate_hash(data, algorithm="sha256"):
    if rc and hasattr(rc, "generate_hash"):
        try:
            return rc.generate_hash(data, algorithm)
        except:
            pass
    import hashlib
    return hashlib.new(algorithm, data).hexdigest()
""",
            ),
        ),
    ),
    DefectKind(
        code=EXCEPT_TOO_NARROW,
        title="The except clause catches too little",
        why=(
            "A try around the Rust call says 'fall back on failure', but an except that does "
            "not cover TypeError and OverflowError lets argument-conversion errors escape: "
            "inputs the Python path accepts crash the Rust path."
        ),
        fix="Catch TypeError and OverflowError too, or drop the try and make the Rust "
        "function accept what the Python one does.",
        valid=(
            Example(
                """\
try:
    import rust_core as rc
except ImportError:
    rc = None


def sharding_index(key, shard_count):
    if rc:
        try:
            return rc.sharding_index(key, shard_count)
        except (AttributeError, TypeError, OverflowError):
            pass
    return sum(key.encode()) % shard_count
""",
            ),
        ),
        invalid=(
            Example(
                """\
try:
    import rust_core as rc
except ImportError:
    rc = None


def sharding_index(key, shard_count):
    if rc:
        try:
            return rc.sharding_index(key, shard_count)
        except AttributeError:
            pass
    return sum(key.encode()) % shard_count
""",
            ),
        ),
    ),
    DefectKind(
        code=PANIC_ESCAPES,
        title="`except Exception` around the Rust call",
        why=(
            "It hides real Rust errors as a silent fallback, and still does not catch a Rust "
            "panic: PyO3 raises `pyo3_runtime.PanicException`, a BaseException subclass, which "
            "escapes `except Exception` anyway."
        ),
        fix="Catch the specific errors you fall back on; let panics and real errors surface.",
        valid=(Example(_CANONICAL),),
        invalid=(
            Example(
                """\
try:
    import rust_core as rc
    RUST_AVAILABLE = True
except ImportError:
    rc = None
    RUST_AVAILABLE = False


def sharding_index(key, shard_count):
    if rc and hasattr(rc, "sharding_index"):
        try:
            return rc.sharding_index(key, shard_count)
        except Exception:
            pass
    return sum(key.encode()) % shard_count
""",
            ),
            Example(
                """\
try:
    import rust_core as rc
except ImportError:
    rc = None


def _try_rust_call(attr, *args, fallback=None):
    try:
        return getattr(rc, attr)(*args)
    except Exception:
        return fallback() if fallback else None


def sharding_index(key, shard_count):
    return _try_rust_call(
        "sharding_index", key, shard_count, fallback=lambda: sum(key.encode()) % shard_count
    )
""",
                note="a bridge helper calling rust_core by name, reported once at its clause",
            ),
        ),
    ),
    DefectKind(
        code=STUB_FALLBACK,
        title="The fallback is a stub, or skips the Python path on error",
        why=(
            "Without the extension (or when it fails) the function returns `True`, `[]`, "
            "`None`... instead of computing the answer: wrong results, silently."
        ),
        fix="Keep the real Python implementation below the hook and fall through to it.",
        valid=(
            Example(_CANONICAL),
            Example(
                """\
try:
    import rust_core as rc
except ImportError:
    rc = None


def _try_rust_sharding_index(key, shard_count):
    if rc is None:
        return None
    try:
        return rc.sharding_index(key, shard_count)
    except (TypeError, OverflowError):
        return None


def sharding_index(key, shard_count):
    result = _try_rust_sharding_index(key, shard_count)
    if result is not None:
        return result
    return sum(key.encode()) % shard_count
""",
                note="a helper that returns None to mean 'fall back' is not a stub",
            ),
        ),
        invalid=(
            Example(
                """\
try:
    import rust_core as rc
except ImportError:
    rc = None


def generate_hash_batch(items, algorithm="sha256"):
    if rc is not None and hasattr(rc, "generate_hash"):
        return [rc.generate_hash(item, algorithm) for item in items]
    return []
""",
                note="stub return",
            ),
            Example(
                """\
try:
    import rust_core as rc
except ImportError:
    rc = None


def sharding_index(key, shard_count):
    if rc and hasattr(rc, "sharding_index"):
        try:
            return rc.sharding_index(key, shard_count)
        except (TypeError, OverflowError, ValueError):
            return 0
    return sum(key.encode()) % shard_count
""",
                note="the except clause returns a stub instead of falling through",
            ),
            Example(
                """\
from agent.bridge import bridge


def sharding_index(key, shard_count):
    return bridge.try_call("sharding_index", key, shard_count, fallback=lambda: 0)
""",
                note="bridge call whose fallback lambda is a constant",
            ),
            Example(
                """\
try:
    import rust_core as rc
except ImportError:
    rc = None


def generate_hash(data, algorithm="sha256"):
    if rc is not None and hasattr(rc, "generate_hash"):
        return rc.generate_hash(data, algorithm)
    return data
""",
                note="the fallback returns its input unchanged",
            ),
            Example(
                """\
try:
    import rust_core as rc
except ImportError:
    rc = None


def sharding_index(key, shard_count):
    if rc is not None and hasattr(rc, "sharding_index"):
        return rc.sharding_index(key, shard_count)
    # Stub until the Python port lands.
    return len(key) % shard_count
""",
                note="the fallback is commented as a stub",
            ),
        ),
    ),
    DefectKind(
        code=OSERROR_SKIPS_PYTHON,
        title="An OSError from Rust skips the Python path",
        why=(
            "An except clause that catches `OSError` (or a subclass) around the Rust call and "
            "returns a value turns 'the Rust side could not read the file' into a made-up "
            "answer: the Python path, which would read the file or raise the same error, "
            "never runs."
        ),
        fix=(
            "Let the OSError propagate (the Python path raises it too), or fall through to "
            "the Python path instead of returning."
        ),
        valid=(Example(_CANONICAL),),
        invalid=(
            Example(
                """\
import hashlib

try:
    import rust_core as rc
except ImportError:
    rc = None


def generate_hash(data, algorithm="sha256"):
    if rc is not None and hasattr(rc, "generate_hash"):
        try:
            return rc.generate_hash(data, algorithm)
        except OSError:
            return hashlib.new(algorithm).hexdigest()
    return hashlib.new(algorithm, data).hexdigest()
""",
            ),
        ),
    ),
    DefectKind(
        code=DUPLICATE_REGISTRATION,
        title="Two Rust functions registered under one Python name",
        why=(
            "`m.add_function` with the same Python name twice (two fns, or a "
            "`#[pyo3(name = ...)]` rename colliding with another fn) keeps the later one: "
            "callers get a function they did not test."
        ),
        fix="Give each exported function its own Python name; remove the stale registration.",
        valid=(Example(_CANONICAL),),
        invalid=(
            Example(
                _CANONICAL,
                rust=EXAMPLE_RUST
                + """
#[pyfunction]
#[pyo3(name = "generate_hash")]
fn generate_hash_v2(data: &Bound<'_, PyAny>) -> PyResult<String> {
    todo!()
}

pub fn register_v2(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(generate_hash_v2, m)?)?;
    Ok(())
}
""",
            ),
        ),
    ),
    DefectKind(
        code=FLAG_SENTINEL_DISAGREE,
        title="The availability flag and the sentinel disagree",
        why=(
            "A flag set True in the except branch (or before the import, or forced True later) "
            "says Rust is there while `rc` is None: every flag-guarded call fails."
        ),
        fix="Set the flag True only after the import succeeded and False in every except "
        "branch; better, derive it: `RUST_AVAILABLE = rc is not None`.",
        valid=(
            Example(
                """\
try:
    import rust_core as rc
    RUST_AVAILABLE = True
except ImportError:
    rc = None
    RUST_AVAILABLE = False


def sharding_index(key, shard_count):
    if RUST_AVAILABLE and hasattr(rc, "sharding_index"):
        return rc.sharding_index(key, shard_count)
    return sum(key.encode()) % shard_count
""",
            ),
        ),
        invalid=(
            Example(
                """\
try:
    import rust_core as rc
    RUST_AVAILABLE = True
except ImportError:
    rc = None
    RUST_AVAILABLE = True
""",
                note="flag True in the except branch",
            ),
            Example(
                """\
try:
    RUST_AVAILABLE = True
    import rust_core as rc
except ImportError:
    rc = None
""",
                note="flag set before the import and never reset",
            ),
            Example(
                """\
try:
    import rust_core as rc
    RUST_AVAILABLE = True
except ImportError:
    rc = None
    RUST_AVAILABLE = False

RUST_AVAILABLE = True
""",
                note="flag forced True afterwards",
            ),
        ),
    ),
    DefectKind(
        code=RC_UNDEFINED,
        title="`rc` is undefined after a failed import and used anyway (variant C)",
        why=(
            "With `import rust_core as rc` and only a flag set in the except branch, `rc` does "
            "not exist when the import fails; `if rc:` or `hasattr(rc, ...)` then raise "
            "NameError instead of falling back."
        ),
        fix="Check the flag before touching `rc`, or bind the sentinel: `rc = None`.",
        valid=(
            Example(
                """\
try:
    import rust_core as rc
    HAS_RUST = True
except ImportError:
    HAS_RUST = False


def sharding_index(key, shard_count):
    if HAS_RUST:
        return rc.sharding_index(key, shard_count)
    return sum(key.encode()) % shard_count
""",
            ),
        ),
        invalid=(
            Example(
                """\
try:
    import rust_core as rc
    HAS_RUST = True
except ImportError:
    HAS_RUST = False


def sharding_index(key, shard_count):
    if rc and hasattr(rc, "sharding_index"):
        return rc.sharding_index(key, shard_count)
    return sum(key.encode()) % shard_count
""",
            ),
        ),
    ),
)


_HEADER_A = """\
try:
    import rust_core as rc
except ImportError:
    rc = None


"""

_SHARD_CANONICAL = (
    _HEADER_A
    + """\
def sharding_index(key, shard_count):
    if rc is not None and hasattr(rc, "sharding_index"):
        return rc.sharding_index(key, shard_count)
    return sum(key.encode()) % shard_count
"""
)

_CANONICALIZES = (
    "`migrate fix` rewrites the hook to the canonical one when its Rust call is a plain "
    "`return <call>` (under an `if` and/or a `try` whose handlers only pass or log) and the "
    "Python path follows: the `try` goes, the guard becomes the sentinel (or the flag) and "
    "`hasattr`, the call stays as written. A bridge helper's clause, a handler that returns, "
    "or a call whose result is used otherwise needs a person."
)

_AUTOFIX: dict[str, tuple[str, tuple[FixExample, ...]]] = {
    DEAD_RUST_NAME: (
        "`migrate fix` renames the name when exactly one exported name is its evident "
        "spelling (`f` for `f_rust` or back, or a single close match): in the hasattr guard, "
        "the call, a bridge call's string and a `from rust_core import` (keeping the local "
        "name). With no match or several, which function is meant is a decision.",
        (
            FixExample(
                _HEADER_A
                + """\
def sharding_index(key, shard_count):
    if rc is not None and hasattr(rc, "sharding_indx"):
        return rc.sharding_indx(key, shard_count)
    return sum(key.encode()) % shard_count
""",
                _SHARD_CANONICAL,
                note="a typo",
            ),
            FixExample(
                """\
try:
    from rust_core import sharding_index_rust
    HAS_SHARDING = True
except ImportError:
    HAS_SHARDING = False


def sharding_index(key, shard_count):
    if HAS_SHARDING:
        return sharding_index_rust(key, shard_count)
    return sum(key.encode()) % shard_count
""",
                """\
try:
    from rust_core import sharding_index as sharding_index_rust
    HAS_SHARDING = True
except ImportError:
    HAS_SHARDING = False


def sharding_index(key, shard_count):
    if HAS_SHARDING:
        return sharding_index_rust(key, shard_count)
    return sum(key.encode()) % shard_count
""",
                note="a from-import keeps its local name",
            ),
        ),
    ),
    ARITY_MISMATCH: (
        "No mechanical fix: which arguments the Rust function should get is a decision "
        "(the Rust signature may be the wrong side).",
        (),
    ),
    EXCEPT_TOO_BROAD: (
        _CANONICALIZES,
        (
            FixExample(
                _HEADER_A
                + """\
def sharding_index(key, shard_count):
    if rc and hasattr(rc, "sharding_index"):
        try:
            return rc.sharding_index(key, shard_count)
        except:  # noqa: E722
            pass
    return sum(key.encode()) % shard_count
""",
                _SHARD_CANONICAL,
            ),
        ),
    ),
    EXCEPT_TOO_NARROW: (
        _CANONICALIZES,
        (
            FixExample(
                _HEADER_A
                + """\
def sharding_index(key, shard_count):
    # Rust first.
    if rc:
        try:
            return rc.sharding_index(key, shard_count)
        except AttributeError:
            pass
    return sum(key.encode()) % shard_count
""",
                _HEADER_A
                + """\
def sharding_index(key, shard_count):
    # Rust first.
    if rc is not None and hasattr(rc, "sharding_index"):
        return rc.sharding_index(key, shard_count)
    return sum(key.encode()) % shard_count
""",
                note="comments above the hook stay",
            ),
        ),
    ),
    PANIC_ESCAPES: (
        _CANONICALIZES,
        (
            FixExample(
                """\
try:
    import rust_core as rc
    RUST_AVAILABLE = True
except ImportError:
    rc = None
    RUST_AVAILABLE = False


def sharding_index(key, shard_count):
    try:
        return rc.sharding_index(key, shard_count)
    except Exception as exc:
        log.debug("rust failed: %s", exc)
    return sum(key.encode()) % shard_count
""",
                """\
try:
    import rust_core as rc
    RUST_AVAILABLE = True
except ImportError:
    rc = None
    RUST_AVAILABLE = False


def sharding_index(key, shard_count):
    if rc is not None and hasattr(rc, "sharding_index"):
        return rc.sharding_index(key, shard_count)
    return sum(key.encode()) % shard_count
""",
                note="a bare try whose handler only logs",
            ),
        ),
    ),
    STUB_FALLBACK: ("No mechanical fix: the Python implementation has to be written.", ()),
    DUPLICATE_REGISTRATION: (
        "No mechanical fix: which of the two Rust functions is meant is decided in the crate.",
        (),
    ),
    FLAG_SENTINEL_DISAGREE: (
        "No mechanical fix: derive the flag from the sentinel by hand "
        "(`RUST_AVAILABLE = rc is not None`); a flag forced True may be meant for tests.",
        (),
    ),
    RC_UNDEFINED: (
        _CANONICALIZES,
        (
            FixExample(
                """\
try:
    import rust_core as rc
    HAS_RUST = True
except ImportError:
    HAS_RUST = False


def sharding_index(key, shard_count):
    if rc and hasattr(rc, "sharding_index"):
        return rc.sharding_index(key, shard_count)
    return sum(key.encode()) % shard_count
""",
                """\
try:
    import rust_core as rc
    HAS_RUST = True
except ImportError:
    HAS_RUST = False


def sharding_index(key, shard_count):
    if HAS_RUST and hasattr(rc, "sharding_index"):
        return rc.sharding_index(key, shard_count)
    return sum(key.encode()) % shard_count
""",
                note="a flag-only import checks the flag",
            ),
        ),
    ),
    OSERROR_SKIPS_PYTHON: (
        "No mechanical fix: whether the OSError should propagate or the Python path run is "
        "the author's decision.",
        (),
    ),
}

DEFECT_KINDS = tuple(
    replace(kind, autofix=_AUTOFIX[kind.code][0], fixes=_AUTOFIX[kind.code][1])
    for kind in DEFECT_KINDS
)


def by_code(code: str) -> DefectKind:
    """The defect kind with ``code``; KeyError if there is none."""
    for kind in DEFECT_KINDS:
        if kind.code == code:
            return kind
    raise KeyError(code)


def render_markdown() -> str:
    """The defect reference for ``docs/migrate.md``, generated from :data:`DEFECT_KINDS`."""
    lines: list[str] = []
    for kind in DEFECT_KINDS:
        lines += [f"### `{kind.code}`: {kind.title}", "", kind.why, "", f"Fix: {kind.fix}", ""]
        lines += [f"Autofix: {kind.autofix}", ""]
        for label, examples in (("Reported", kind.invalid), ("Not reported", kind.valid)):
            for example in examples:
                note = f" ({example.note})" if example.note else ""
                lines += [f"{label}{note}:", "", "```python", example.python.rstrip(), "```", ""]
                if example.rust is not EXAMPLE_RUST:
                    lines += ["with the crate:", "", "```rust", example.rust.rstrip(), "```", ""]
        for fix in kind.fixes:
            note = f" ({fix.note})" if fix.note else ""
            lines += [
                f"`migrate fix`{note}, before:",
                "",
                "```python",
                fix.before.rstrip(),
                "```",
                "",
            ]
            lines += ["after:", "", "```python", fix.after.rstrip(), "```", ""]
    return "\n".join(lines).rstrip() + "\n"

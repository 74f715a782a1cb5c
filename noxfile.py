"""One entry point for local work and CI: build, test, parity, bench, status, docs, lint.

Plain ``nox`` runs ``lint`` and ``tests``. Virtualenvs are reused between runs; every
install is pinned in ``requirements/``. Sessions that need the extension build it with
:func:`install_rust_core`, which removes stale wheels first so an old build can never
shadow the current one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).parent
CRATE = ROOT / "rust_core"
WHEELS = ROOT / "build" / "wheels"
STATUS = ROOT / "build" / "status"
PYTHON = "3.11"


def _requirements(session: nox.Session, *names: str) -> None:
    for name in names:
        session.install("-r", str(ROOT / "requirements" / f"{name}.txt"))


def build_rust_core(session: nox.Session) -> Path:
    """Builds the release wheel of rust_core into build/wheels and returns its path."""
    _requirements(session, "build")
    for stale in WHEELS.glob("rust_core-*.whl"):
        stale.unlink()
    session.run(
        "maturin",
        "build",
        "--release",
        "--manifest-path",
        str(CRATE / "Cargo.toml"),
        "--out",
        str(WHEELS),
        "--interpreter",
        "python",
    )
    wheels = sorted(WHEELS.glob("rust_core-*.whl"))
    if len(wheels) != 1:
        session.error(f"expected one rust_core wheel in {WHEELS}, found {wheels}")
    return wheels[0]


def install_rust_core(session: nox.Session) -> None:
    """Builds rust_core and installs exactly that wheel, replacing any earlier one."""
    wheel = build_rust_core(session)
    session.run("python", "-m", "pip", "uninstall", "--yes", "rust_core", silent=True)
    session.install("--no-deps", "--force-reinstall", str(wheel))


def install_pyagent(session: nox.Session) -> None:
    session.install("--no-build-isolation", "--no-deps", "-e", str(ROOT))


@nox.session(python=PYTHON)
def build(session: nox.Session) -> None:
    """Release wheel of rust_core (lto, codegen-units = 1) in build/wheels."""
    session.log(f"built {build_rust_core(session)}")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole suite twice: native (PYAGENT_BACKEND=rust) and pure Python."""
    _requirements(session, "test")
    session.install("setuptools==80.9.0")
    install_pyagent(session)
    install_rust_core(session)
    session.run("pytest", *session.posargs, env={"PYAGENT_BACKEND": "rust"})
    session.run(
        "pytest", "-m", "not requires_rust", *session.posargs, env={"PYAGENT_BACKEND": "python"}
    )


@nox.session(python=PYTHON)
def parity(session: nox.Session) -> None:
    """Every hot path: Rust vs Python on Hypothesis inputs; `-- --thorough` for many more."""
    _requirements(session, "test")
    session.install("setuptools==80.9.0")
    install_pyagent(session)
    install_rust_core(session)
    session.run(
        "python",
        "-m",
        "parity",
        "--json",
        str(STATUS / "parity.json"),
        *session.posargs,
        env={"PYAGENT_BACKEND": "rust"},
    )


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Python vs Rust vs peer per hot path (pytest-benchmark); prints speedup ratios."""
    _requirements(session, "test")
    session.install("setuptools==80.9.0")
    install_pyagent(session)
    install_rust_core(session)
    STATUS.mkdir(parents=True, exist_ok=True)
    raw = STATUS / "bench-raw.json"
    session.run(
        "pytest",
        "bench",
        "-p",
        "no:cacheprovider",
        "--benchmark-only",
        "--benchmark-min-rounds=5",
        "--benchmark-max-time=2",
        "--benchmark-disable-gc",
        f"--benchmark-json={raw}",
        "--benchmark-columns=min,median,rounds",
        "--benchmark-sort=name",
        *session.posargs,
        env={"PYAGENT_BACKEND": "rust"},
    )
    # A -k/-m selection runs some benchmarks on purpose: report the others, do not fail.
    selected = any(arg.startswith(("-k", "-m")) for arg in session.posargs)
    session.run(
        "python",
        "-m",
        "bench.summary",
        str(raw),
        "--out",
        str(STATUS / "bench.json"),
        *(["--partial"] if selected else []),
    )


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff, mypy on the public API, cargo fmt/clippy/test, and the codemod's own checks."""
    _requirements(session, "lint")
    session.install("setuptools==80.9.0")
    install_pyagent(session)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
    cargo = shutil.which("cargo")
    if cargo is None:
        session.error("cargo is needed for the Rust checks (rustup.rs)")
    manifest = ["--manifest-path", str(CRATE / "Cargo.toml")]
    session.run(cargo, "fmt", *manifest, "--check", external=True)
    session.run(cargo, "clippy", *manifest, "--all-targets", "--", "-D", "warnings", external=True)
    session.run(cargo, "test", *manifest, external=True)
    session.run(cargo, "test", *manifest, "--no-default-features", external=True)
    if (ROOT / "migrate" / "__main__.py").exists():
        session.run("python", "-m", "migrate", "insert", "--check", "pyagent/")
        session.run("python", "-m", "migrate", "audit", "--strict", "pyagent/")

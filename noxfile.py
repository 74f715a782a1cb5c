"""One entry point for local work and CI: build, test, parity, bench, status, docs, lint.

Plain ``nox`` runs ``lint`` and ``tests``. Virtualenvs are reused between runs; every
install is pinned in ``requirements/``. Sessions that need the extension install it with
:func:`install_rust_core`: one wheel per source state and profile (``fastbuild`` for tests
and parity, ``release`` for benchmarks), built once and reused until a source changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).parent
CRATE = ROOT / "rust_core"
WHEELS = ROOT / "build" / "wheels"
STATUS = ROOT / "build" / "status"
DIST = ROOT / "build" / "dist"
PYTHON = "3.11"
#: The CPythons requires-python admits and the project is tested on (`nox -s wheels`).
SUPPORTED = ("3.11", "3.12", "3.13")


def _requirements(session: nox.Session, *names: str) -> None:
    for name in names:
        session.install("-r", str(ROOT / "requirements" / f"{name}.txt"))


#: Cargo profile per use: benchmarks of record are timed on `release` (fat LTO, one codegen
#: unit); tests and parity on `fastbuild` (same optimisation level without LTO), which builds
#: in about half the time and answers the same.
FAST, RELEASE = "fastbuild", "release"


def _cache_tag(session: nox.Session, interpreter: str) -> str:
    """``cpython-311`` for a CPython 3.11 ``interpreter``."""
    tag = session.run(
        interpreter,
        "-c",
        "import sys; print(sys.implementation.cache_tag)",
        silent=True,
        external=True,
    )
    return str(tag).strip()


def _source_hash(session: nox.Session, profile: str, interpreter: str = "python") -> str:
    """Hash of everything the wheel is built from, the profile and the interpreter."""
    digest = hashlib.sha256(profile.encode())
    digest.update(_cache_tag(session, interpreter).encode())
    files = [CRATE / "Cargo.toml", CRATE / "Cargo.lock", CRATE / "pyproject.toml"]
    files += sorted((CRATE / "src").rglob("*.rs"))
    for path in files:
        digest.update(path.relative_to(CRATE).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def build_rust_core(
    session: nox.Session, profile: str = RELEASE, interpreter: str = "python"
) -> Path:
    """The rust_core wheel of the current sources for ``profile``, built at most once.

    Wheels are kept in build/wheels/<profile>-<source hash>/, so every session of a run (and
    of later runs, until a source file changes) reuses the same wheel; older wheels of the
    profile for the same interpreter are removed so a stale build can never be installed
    (other interpreters' wheels, e.g. those of `nox -s wheels`, stay).
    """
    _requirements(session, "build")
    out = WHEELS / f"{profile}-{_source_hash(session, profile, interpreter)}"
    wheels = sorted(out.glob("rust_core-*.whl"))
    if len(wheels) == 1:
        session.log(f"reusing {wheels[0]} (sources unchanged)")
        return wheels[0]
    abi = "cp" + _cache_tag(session, interpreter).removeprefix("cpython-")
    for stale in WHEELS.glob(f"{profile}-*"):
        found = list(stale.glob("rust_core-*.whl"))
        if not found or any(f"-{abi}-" in w.name for w in found):
            shutil.rmtree(stale)
    session.run(
        "maturin",
        "build",
        "--profile",
        profile,
        "--manifest-path",
        str(CRATE / "Cargo.toml"),
        "--out",
        str(out),
        "--interpreter",
        interpreter,
    )
    wheels = sorted(out.glob("rust_core-*.whl"))
    if len(wheels) != 1:
        session.error(f"expected one rust_core wheel in {out}, found {wheels}")
    return wheels[0]


def install_rust_core(session: nox.Session, profile: str = RELEASE) -> None:
    """Installs exactly the wheel of the current sources, replacing any earlier one."""
    wheel = build_rust_core(session, profile)
    session.run("python", "-m", "pip", "uninstall", "--yes", "rust_core", silent=True)
    session.install("--no-deps", "--force-reinstall", str(wheel))


def install_pyagent(session: nox.Session) -> None:
    session.install("--no-build-isolation", "--no-deps", "-e", str(ROOT))


def prepare(
    session: nox.Session, *requirements: str, rust: bool = True, profile: str = FAST
) -> None:
    """Pinned requirements, pyagent (editable) and, with ``rust``, the current rust_core."""
    _requirements(session, *requirements)
    install_pyagent(session)
    if rust:
        install_rust_core(session, profile)


@nox.session(python=PYTHON)
def build(session: nox.Session) -> None:
    """Release wheel of rust_core (lto, codegen-units = 1) in build/wheels."""
    session.log(f"built {build_rust_core(session)}")


def _installed_pythons(versions: tuple[str, ...]) -> dict[str, str]:
    """{version: interpreter path} of the given CPythons that actually run here.

    A name on PATH may be a pyenv shim for a version that is not selected (it fails when
    run), so each candidate, on PATH or under $PYENV_ROOT/versions, is run once.
    """
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    found = {}
    for version in versions:
        candidates = [shutil.which(f"python{version}")]
        candidates += sorted(str(p) for p in root.glob(f"versions/{version}.*/bin/python{version}"))
        probe = f"import sys; assert sys.version_info[:2] == ({version.replace('.', ', ')})"
        for candidate in filter(None, candidates):
            done = subprocess.run([candidate, "-c", probe], capture_output=True, check=False)
            if done.returncode == 0:
                found[version] = candidate
                break
    return found


@nox.session(python=PYTHON)
def wheels(session: nox.Session) -> None:
    """sdists and wheels of both distributions in build/dist, checked with `twine check`.

    pyagent: one sdist and one pure-Python wheel. rust_core: an sdist and a release wheel
    (cached like `build`'s) for every supported CPython that runs here; the ones missing
    are named. Built without build isolation, from the pins in requirements/, so it works
    offline once those are installed.
    """
    _requirements(session, "wheels", "build")
    pythons = _installed_pythons(SUPPORTED)
    missing = [v for v in SUPPORTED if v not in pythons]
    if DIST.exists():
        shutil.rmtree(DIST)
    DIST.mkdir(parents=True)
    session.run(
        "python",
        "-m",
        "build",
        "--no-isolation",
        "--sdist",
        "--wheel",
        "--outdir",
        str(DIST),
        str(ROOT),
    )
    session.run(
        "maturin", "sdist", "--manifest-path", str(CRATE / "Cargo.toml"), "--out", str(DIST)
    )
    for version, interpreter in pythons.items():
        wheel = build_rust_core(session, RELEASE, interpreter)
        shutil.copy2(wheel, DIST / wheel.name)
        session.log(f"rust_core for CPython {version}: {wheel.name}")
    artifacts = sorted(str(p) for p in DIST.iterdir())
    session.run("twine", "check", "--strict", *artifacts)
    session.log("built and checked:\n  " + "\n  ".join(Path(a).name for a in artifacts))
    if missing:
        session.warn(f"no CPython {', '.join(missing)} here: no rust_core wheel for it")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole suite twice: native (PYAGENT_BACKEND=rust) and pure Python, after checking
    that rust_core.pyi matches the built extension (mypy.stubtest)."""
    _suite(session)


@nox.session(python=["3.12", "3.13"])
def compat(session: nox.Session) -> None:
    """`tests` on the newer CPythons that requires-python admits (`nox -s compat-3.13`).

    Not in plain `nox`: CI machines may lack these interpreters. It guards the CPython
    internals the extension leans on (PEP 393 string layout, _PyDict_NewPresized) and the
    error messages and limits that change between versions.
    """
    _suite(session)


def _suite(session: nox.Session) -> None:
    prepare(session, "test", "lint")
    session.run(
        "python",
        "-m",
        "mypy.stubtest",
        "rust_core",
        "--allowlist",
        str(CRATE / "stubtest-allowlist.txt"),
    )
    # tests/docs needs the docs requirements and a browser: `nox -s docs` runs it.
    skip_docs = "--ignore=tests/docs"
    # One worker per core, work stolen as workers go idle: the parity rows inside the suite
    # take 1 to 50 s each, so a static split leaves a core waiting. `-- -n 0` runs serially.
    parallel = ("-n", "auto", "--dist", "worksteal")
    session.run("pytest", skip_docs, *parallel, *session.posargs, env={"PYAGENT_BACKEND": "rust"})
    session.run(
        "pytest",
        skip_docs,
        *parallel,
        "-m",
        "not requires_rust",
        *session.posargs,
        env={"PYAGENT_BACKEND": "python"},
    )


@nox.session(python=PYTHON)
def parity(session: nox.Session) -> None:
    """Every hot path: Rust vs Python on Hypothesis inputs; `-- --thorough` for many more."""
    prepare(session, "test")
    session.run(
        "python",
        "-m",
        "pyagent.parity",
        "--json",
        str(STATUS / "parity.json"),
        *session.posargs,
        env={"PYAGENT_BACKEND": "rust"},
    )


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Python vs Rust vs peer per hot path; `-- --quick` for the 5-minute profile.

    Prints peer/Rust and Python/Rust per row (rows below 1.0 flagged), writes
    build/status/bench.json for the status pages and appends the run, with its provenance,
    to bench/results/ (committed, never overwritten: the site draws ratios over commits).
    """
    prepare(session, "test", profile=RELEASE)
    STATUS.mkdir(parents=True, exist_ok=True)
    raw = STATUS / "bench-raw.json"
    quick = "--quick" in session.posargs
    narrowing = [arg for arg in session.posargs if arg != "--quick"]
    # The quick profile scales every workload down (bench/conftest.py: scaled()) and times
    # fewer, shorter rounds; the full one is the seed workloads of record.
    timing = (
        ["--benchmark-min-rounds=3", "--benchmark-max-time=0.5"]
        if quick
        else ["--benchmark-min-rounds=5", "--benchmark-max-time=2"]
    )
    session.run(
        "pytest",
        "bench",
        "-p",
        "no:cacheprovider",
        "--benchmark-only",
        *timing,
        "--benchmark-disable-gc",
        f"--benchmark-json={raw}",
        "--benchmark-columns=min,median,rounds",
        "--benchmark-sort=name",
        *narrowing,
        env={"PYAGENT_BACKEND": "rust", "PYAGENT_BENCH_PROFILE": "quick" if quick else "full"},
    )
    # Arguments narrow the run (e.g. `-- -k registry`), so other hot paths' benchmarks are
    # missing on purpose: the summary still lists them but does not fail. A narrowed run is
    # not appended to the history (its rows would read as the whole picture of a commit).
    partial = ["--partial"] if narrowing else ["--history", str(ROOT / "bench" / "results")]
    session.run(
        "python",
        "-m",
        "bench.summary",
        str(raw),
        "--out",
        str(STATUS / "bench.json"),
        "--profile",
        "quick" if quick else "full",
        *partial,
    )


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff, mypy on the public API, cargo fmt/clippy/test, and the codemod's own checks."""
    prepare(session, "lint", rust=False)
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
    # Dogfooding: pyagent's hooks are exactly what the codemod writes, and defect-free.
    session.run("python", "-m", "pyagent.migrate", "insert", "--check", "pyagent/")
    session.run("python", "-m", "pyagent.migrate", "audit", "--strict", "pyagent/")


@nox.session(python=PYTHON)
def status(session: nox.Session) -> None:
    """Audit + parity + bench, then the generated status pages; `-- --from-saved` reuses results."""
    unknown = [arg for arg in session.posargs if arg != "--from-saved"]
    if unknown:
        session.error(f"status takes only --from-saved, not {' '.join(unknown)}")
    prepare(session, "test", rust=False)
    failed = []
    if "--from-saved" in session.posargs:
        generate = ["--audit", "saved", "--exports", "source"]
    else:
        # Exactly the parity and bench sessions, so the pages show what they print; a failure
        # is recorded on the pages (as failing) and fails this session after they are written.
        for name, step in (("parity", parity), ("bench", bench)):
            try:
                step(session)
            except nox.command.CommandFailed:
                failed.append(name)
        generate = ["--audit", "run", "--exports", "built"]
    session.run(
        "python",
        str(ROOT / "docs" / "_generate" / "status.py"),
        "--status-dir",
        str(STATUS),
        *generate,
    )
    if failed:
        session.error(f"{' and '.join(failed)} failed; the status pages show it")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """`mkdocs build --strict`, then the site in headless Chromium; `-- serve` serves it.

    The pages are regenerated from the saved results every time: build/status/*.json, or
    for the benchmarks the newest run committed in bench/results/ when that is newer (a
    fresh clone shows ratios). The browser test drives the system Chromium with Playwright
    (no browser download) and checks the phone layout, the chart's 1x line and the API pages.
    """
    _requirements(session, "docs", "test")
    env = {"NO_MKDOCS_2_WARNING": "1"}
    generated = ROOT / "docs"
    # Always from the saved results (build/status), so the site shows the latest parity,
    # bench and mutation runs instead of whatever pages an earlier build left. The audit
    # (about 20 s) is run afresh, so its page is always produced and current.
    session.run(
        "python",
        str(generated / "_generate" / "status.py"),
        "--status-dir",
        str(STATUS),
        "--audit",
        "run",
        "--exports",
        "source",
    )
    if session.posargs[:1] == ["serve"]:
        session.run("mkdocs", "serve", *session.posargs[1:], env=env)
        return
    session.run("mkdocs", "build", "--strict", *session.posargs, env=env)
    if shutil.which("chromium") is None:
        import os

        apt = ["apt-get"] if os.geteuid() == 0 else ["sudo", "apt-get"]
        session.run(*apt, "update", external=True)
        session.run(*apt, "install", "-y", "chromium", external=True)
    session.run(
        "pytest",
        "tests/docs",
        "-m",
        "docs",
        "-p",
        "no:cacheprovider",
        env={**env, "DOCS_SCREENSHOTS": str(ROOT / "build" / "docs-screenshots")},
    )


@nox.session(python=PYTHON)
def mutants(session: nox.Session) -> None:
    """Mutation score of the parity properties: `-- --only NAME`, `-- --sample N` (0: all).

    The run is appended to the committed record `results/mutants/`, which the status site
    reads (newest recorded run per hot path).
    """
    prepare(session, "test")
    session.run("python", "-m", "pyagent.parity.mutants", "--record", *session.posargs)

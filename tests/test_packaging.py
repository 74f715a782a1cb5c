"""The two distributions install cleanly: declared ranges, one set of pins, a clean wheel.

* ``pyproject.toml`` declares ranges; the exact versions live in ``requirements/*.txt``, and
  every file there pins a package to the same version, inside every declared range.
* The pyagent wheel installs only the ``pyagent`` package, and every module in it imports
  with nothing but the standard library and the distributions its metadata declares (plus
  the ``migrate`` / ``parity`` extra for those subpackages); rust_core absent.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import pyagent

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements"
PIP_WHEEL = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;#]+)")


def _pins() -> dict[str, dict[str, str]]:
    """{canonical name: {file name: version}} over every requirements file."""
    found: dict[str, dict[str, str]] = {}
    for path in sorted(REQUIREMENTS.glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if not line or line.startswith(("#", "-")):
                continue
            match = PIN.match(line)
            assert match, f"{path.name}: {line!r} is not an exact pin (name==version)"
            found.setdefault(canonicalize_name(match.group(1)), {})[path.name] = match.group(3)
    return found


def _pyproject(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _declared() -> dict[str, list[str]]:
    """Every requirement string of both distributions, by where it is declared."""
    pyagent_toml = _pyproject(ROOT / "pyproject.toml")
    rust_toml = _pyproject(ROOT / "rust_core" / "pyproject.toml")
    declared = {
        "pyproject dependencies": pyagent_toml["project"]["dependencies"],
        "pyproject build-system": pyagent_toml["build-system"]["requires"],
        "rust_core build-system": rust_toml["build-system"]["requires"],
        "rust_core dependencies": [
            r for r in rust_toml["project"]["dependencies"] if not r.startswith("pyagent")
        ],
    }
    for extra, reqs in pyagent_toml["project"]["optional-dependencies"].items():
        declared[f"pyproject extra {extra}"] = reqs
    return declared


def test_every_package_is_pinned_to_one_version_across_requirement_files() -> None:
    disagreements = {name: files for name, files in _pins().items() if len(set(files.values())) > 1}
    assert disagreements == {}


def test_pin_check_sees_a_disagreement(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.txt").write_text("PyYAML==6.0.3\n")
    (tmp_path / "b.txt").write_text("# comment\npyyaml==6.0.4\n")
    monkeypatch.setattr(sys.modules[__name__], "REQUIREMENTS", tmp_path)
    assert _pins() == {"pyyaml": {"a.txt": "6.0.3", "b.txt": "6.0.4"}}


def test_declared_requirements_are_ranges_satisfied_by_the_pins() -> None:
    pins = _pins()
    problems = []
    for where, reqs in _declared().items():
        for text in reqs:
            req = Requirement(text)
            name = canonicalize_name(req.name)
            if any(spec.operator in ("==", "===") for spec in req.specifier):
                problems.append(f"{where}: {text} is an exact pin (pins go in requirements/)")
            if name not in pins:
                problems.append(f"{where}: {req.name} is not pinned in requirements/")
                continue
            version = next(iter(pins[name].values()))
            if not req.specifier.contains(version, prereleases=True):
                problems.append(f"{where}: pin {req.name}=={version} is outside {text}")
    assert problems == []


def test_no_native_extra_that_cannot_be_installed() -> None:
    extras = _pyproject(ROOT / "pyproject.toml")["project"]["optional-dependencies"]
    for reqs in extras.values():
        assert not any(canonicalize_name(Requirement(r).name) == "rust-core" for r in reqs)


def test_rust_core_requires_the_pyagent_of_its_own_version() -> None:
    rust_toml = _pyproject(ROOT / "rust_core" / "pyproject.toml")
    cargo = _pyproject(ROOT / "rust_core" / "Cargo.toml")
    reqs = [Requirement(r) for r in rust_toml["project"]["dependencies"]]
    (own,) = [r for r in reqs if r.name == "pyagent"]
    assert str(own.specifier) == f"=={pyagent.__version__}"
    assert cargo["package"]["version"] == pyagent.__version__


def test_stub_imports_are_declared_by_rust_core() -> None:
    """Every third-party module rust_core.pyi imports is a rust_core dependency."""
    stub = (ROOT / "rust_core" / "rust_core.pyi").read_text(encoding="utf-8")
    imported = set(re.findall(r"^\s*(?:from|import) ([A-Za-z_][\w]*)", stub, flags=re.M))
    third_party = sorted(imported - set(sys.stdlib_module_names) - {"rust_core"})
    rust_toml = _pyproject(ROOT / "rust_core" / "pyproject.toml")
    declared = {
        canonicalize_name(Requirement(r).name) for r in rust_toml["project"]["dependencies"]
    }
    assert third_party  # the check reads the stub: pyagent and numpy at least
    assert [m for m in third_party if canonicalize_name(m) not in declared] == []


def test_license_file_matches_the_declared_license() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License")
    assert "PyAgent contributors" in text
    assert _pyproject(ROOT / "pyproject.toml")["project"]["license"] == "MIT"


# --- the built wheel ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pyagent's wheel, built from a copy of the sources (the checkout is not written)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "pyagent", src / "pyagent", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [*PIP_WHEEL, "--wheel-dir", str(out), str(src)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("pyagent-*.whl")
    return built


@pytest.fixture(scope="module")
def unpacked(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    return target


def _wheel_requirements(unpacked: Path) -> list[Requirement]:
    (info,) = unpacked.glob("pyagent-*.dist-info")
    headers = Parser().parsestr((info / "METADATA").read_text(encoding="utf-8"))
    return [Requirement(r) for r in headers.get_all("Requires-Dist") or []]


def _top_level_modules(dist: metadata.Distribution) -> set[str]:
    """The importable top-level names a distribution installs."""
    top = dist.read_text("top_level.txt")
    if top:
        return {line.strip() for line in top.splitlines() if line.strip()}
    names = set()
    for file in dist.files or ():
        first = file.parts[0]
        if first.endswith((".dist-info", ".data")) or first in ("..", "__pycache__"):
            continue
        names.add(first.split(".")[0] if len(file.parts) == 1 else first)
    return names


def _allowed_modules(requirements: list[Requirement], extras: set[str]) -> set[str]:
    """Top-level modules of the declared distributions and everything they depend on."""
    env_extras = extras | {""}
    todo = [
        (r, set())
        for r in requirements
        if r.marker is None or any(r.marker.evaluate({"extra": e}) for e in env_extras)
    ]
    seen: set[str] = set()
    modules: set[str] = set()
    while todo:
        req, _ = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        seen.add(name)
        dist = metadata.distribution(req.name)
        modules |= _top_level_modules(dist)
        wanted = set(req.extras) | {""}
        for text in dist.requires or ():
            sub = Requirement(text)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in wanted):
                todo.append((sub, set()))
    return modules


_IMPORT_ALL = r"""
import importlib, importlib.abc, json, sys

allowed = set(json.loads(sys.argv[1]))
sys.path.insert(0, sys.argv[2])
blocked = []

class OnlyDeclared(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in allowed or top in sys.stdlib_module_names or top.startswith("_sysconfigdata"):
            return None
        blocked.append(name)
        raise ModuleNotFoundError(f"No module named {name!r} (not declared)", name=name)

sys.meta_path.insert(0, OnlyDeclared())
failures = {}
for module in json.loads(sys.argv[3]):
    try:
        importlib.import_module(module)
    except Exception as exc:
        failures[module] = f"{type(exc).__name__}: {exc}"
import pyagent
print(json.dumps({"failures": failures, "blocked": sorted(set(blocked)),
                  "pyagent_file": pyagent.__file__}))
"""


def _import_all(allowed: set[str], unpacked: Path, modules: list[str]) -> dict:
    """Imports ``modules`` from the unpacked wheel in a fresh interpreter (``-I``) in which
    only the standard library and the ``allowed`` top-level modules can be imported."""
    argv = [json.dumps(sorted(allowed)), str(unpacked), json.dumps(modules)]
    out = subprocess.run(
        [sys.executable, "-I", "-c", _IMPORT_ALL, *argv],
        capture_output=True,
        text=True,
        check=True,
        # rust_core is not declared: blocked like any other module, so pyagent falls back.
        env={"PYAGENT_BACKEND": "auto", "PATH": "/usr/bin:/bin"},
    )
    result: dict = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(result["pyagent_file"]).is_relative_to(unpacked)
    return result


def test_wheel_installs_only_the_pyagent_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
    info = {t for t in tops if t.endswith(".dist-info")}
    assert tops - info == {"pyagent"}
    assert len(info) == 1


def test_wheel_ships_the_license_and_the_data_files(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    for data in ("pyagent/hot_paths.toml", "pyagent/py.typed"):
        assert data in names


@pytest.mark.parametrize(
    ("group", "extras"),
    [("core", set()), ("migrate", {"migrate"}), ("parity", {"parity"})],
)
def test_every_module_imports_with_only_declared_dependencies(
    unpacked: Path, group: str, extras: set[str]
) -> None:
    requirements = _wheel_requirements(unpacked)
    allowed = _allowed_modules(requirements, extras) | {"pyagent"}
    modules = []
    for path in sorted(unpacked.joinpath("pyagent").rglob("*.py")):
        dotted = ".".join(path.relative_to(unpacked).with_suffix("").parts)
        dotted = dotted.removesuffix(".__init__")
        sub = dotted.split(".")[1] if "." in dotted else ""
        if (sub if sub in ("migrate", "parity") else "core") == group:
            modules.append(dotted)
    assert len(modules) > (1 if group != "core" else 20)
    assert _import_all(allowed, unpacked, modules)["failures"] == {}


def test_import_check_catches_an_undeclared_import(unpacked: Path) -> None:
    """The same check, on a module that imports a package the metadata does not declare."""
    extra = unpacked / "pyagent" / "_undeclared_probe.py"
    extra.write_text("import hypothesis\n", encoding="utf-8")
    try:
        allowed = _allowed_modules(_wheel_requirements(unpacked), set()) | {"pyagent"}
        assert "hypothesis" not in allowed
        result = _import_all(allowed, unpacked, ["pyagent._undeclared_probe"])
    finally:
        extra.unlink()
    assert "hypothesis" in result["failures"]["pyagent._undeclared_probe"]


def test_subpackages_without_their_extra_say_which_extra(unpacked: Path) -> None:
    allowed = _allowed_modules(_wheel_requirements(unpacked), set()) | {"pyagent"}
    result = _import_all(allowed, unpacked, ["pyagent.migrate", "pyagent.parity"])
    assert "pip install 'pyagent[migrate]'" in result["failures"]["pyagent.migrate"]
    assert "pip install 'pyagent[parity]'" in result["failures"]["pyagent.parity"]

"""mkdocs hook: one API reference page per core, listed from the hot-path manifest.

The pages are generated in memory at build time: one for every module the manifest names
that exists in this checkout, plus the backend selection, the manifest itself and the parity
harness. A core that lands later gets its page without editing ``mkdocs.yml``.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
SECTION = "API reference"
#: Modules documented whatever the manifest says: how the backend is chosen, the manifest.
FIXED = ("pyagent.backend", "pyagent.manifest")


def _exists(module: str) -> bool:
    base = ROOT.joinpath(*module.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def reference_modules() -> list[str]:
    """Core modules of the manifest that exist, then the fixed ones, then ``parity.*``."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        from pyagent.manifest import load_manifest

    modules: list[str] = []
    for hot_path in load_manifest().hot_paths:
        if hot_path.module not in modules and _exists(hot_path.module):
            modules.append(hot_path.module)
    modules += [m for m in FIXED if m not in modules and _exists(m)]
    if _exists("pyagent.parity"):
        modules.append("pyagent.parity")
        modules += sorted(
            f"pyagent.parity.{p.stem}"
            for p in (ROOT / "pyagent" / "parity").glob("*.py")
            if not p.stem.startswith("_")
        )
    return modules


def _page(module: str) -> str:
    return f"reference/{module}.md"


def _index(modules: list[str]) -> str:
    lines = [
        "# API reference",
        "",
        "Generated from the docstrings. One page per PyAgent core module named in "
        "`pyagent/hot_paths.toml` that exists in this checkout, plus the backend selection, "
        "the manifest and the parity harness.",
        "",
    ]
    lines += [f"- [`{m}`]({m}.md)" for m in modules]
    return "\n".join(lines) + "\n"


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Puts every reference page under the nav's API reference section."""
    pages: list[Any] = [{"Overview": "reference/index.md"}] + [
        {m: _page(m)} for m in reference_modules()
    ]
    nav: list[Any] = config.nav or []
    for i, entry in enumerate(nav):
        if isinstance(entry, dict) and SECTION in entry:
            nav[i] = {SECTION: pages}
            break
    else:
        nav.append({SECTION: pages})
    config.nav = nav
    return config


MIGRATE_PLACEHOLDER = """# The migrate codemod

The codemod's own documentation (`docs/migrate.md`) is not in this checkout yet. Meanwhile,
`python -m pyagent.migrate --help` lists its commands: `insert`, `audit`, `status` and `docs`.
"""


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Adds the reference pages, generated in memory, and stands in for a missing migrate.md."""
    modules = reference_modules()
    if files.get_file_from_path("migrate.md") is None:
        files.append(File.generated(config, "migrate.md", content=MIGRATE_PLACEHOLDER))
    files.append(File.generated(config, "reference/index.md", content=_index(modules)))
    for module in modules:
        content = f"# `{module}`\n\n::: {module}\n"
        files.append(File.generated(config, _page(module), content=content))
    return files

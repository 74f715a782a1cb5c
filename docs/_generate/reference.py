"""mkdocs hook: one API reference page per core, listed from the hot-path manifest.

The pages are generated in memory at build time: one for every module the manifest names
that exists in this checkout, plus the backend selection, the manifest itself and the parity
harness. A core that lands later gets its page without editing ``mkdocs.yml``.

The docstrings are written with Sphinx cross-reference roles (``:meth:`get```,
``:class:`X```); mkdocstrings' parser leaves them as text. :func:`on_page_content` turns
each into code, linked through mkdocs-autorefs when it names a documented object (an
``optional`` autoref: an unknown name, such as a stdlib function, stays plain code).
"""

from __future__ import annotations

import html
import re
import sys
import warnings
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

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


#: A Sphinx role as the Markdown renderer leaves it: ``:meth:<code>get</code>``.
SPHINX_ROLE = re.compile(
    r":(?:py:)?(?P<role>meth|class|func|attr|mod|exc|data|obj|const)"
    r":<code>(?P<tilde>~?)(?P<target>[^<]+)</code>"
)


def _role_link(match: re.Match[str], module: str | None) -> str:
    target = html.unescape(match["target"]).strip()
    name = target.lstrip(".")
    shown = name.rsplit(".", 1)[-1] if match["tilde"] else name
    if match["role"] in ("meth", "func") and not shown.endswith(")"):
        shown += "()"
    # Where the name could be documented: ``Class.member`` and plain names beside the page's
    # objects; another dotted name as written, else under pyagent (the docstrings predate
    # the move of migrate and parity under pyagent).
    if "." not in name:
        candidates = [f"{module}.{name}" if module else name]
    elif name[0].isupper():
        candidates = [f"{module}.{name}" if module else name, name]
    else:
        candidates = [name, name if name.startswith("pyagent.") else f"pyagent.{name}"]
    candidates = list(dict.fromkeys(candidates))
    attrs = f'identifier="{html.escape(candidates[0])}"'
    if len(candidates) > 1:
        attrs += f' slug="{html.escape(candidates[1])}"'
    return f"<autoref {attrs} optional><code>{html.escape(shown)}</code></autoref>"


def render_sphinx_roles(content: str, module: str | None = None) -> str:
    """``content`` (a page's HTML) with every Sphinx role made code, optionally linked."""
    return SPHINX_ROLE.sub(lambda m: _role_link(m, module), content)


def on_page_content(html: str, page: Page, **kwargs: Any) -> str:
    """Renders the Sphinx roles of the docstrings (see the module docstring)."""
    path = page.file.src_uri
    module = path[len("reference/") : -len(".md")] if path.startswith("reference/") else None
    return render_sphinx_roles(html, module)

"""The built docs site in a real headless browser: status table and chart, navigation, search.

Builds the site with ``mkdocs build --strict`` into a temporary folder, serves it on
127.0.0.1 from a thread and drives Debian's ``chromium`` over the DevTools protocol. Run by
``nox -s docs``, which generates the status pages and installs Chromium first. Screenshots
land in ``$DOCS_SCREENSHOTS`` when set.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mkdocs", reason="the docs requirements are not installed (nox -s docs)")

from tests.docs.cdp import Browser, find_chromium

pytestmark = pytest.mark.docs

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (DOCS / "status.md").is_file():
        pytest.fail("docs/status.md is missing: run `nox -s status` (or `nox -s docs`) first")
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}\n{done.stderr}"
    assert "WARNING" not in done.stderr, done.stderr
    return out


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def base_url(site: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    binary = find_chromium()
    if binary is None:
        pytest.fail("chromium is not installed: `apt-get install -y chromium` (nox -s docs does)")
    chrome = Browser(binary, tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield chrome
    finally:
        chrome.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("DOCS_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _status_data() -> dict[str, Any]:
    return dict(json.loads((DOCS / "status.json").read_text(encoding="utf-8")))


ROWS_JS = """
Array.from(document.querySelectorAll('article table')).filter(
  t => t.querySelector('th') && t.querySelector('th').textContent.trim() === 'Hot path'
).flatMap(t => Array.from(t.querySelectorAll('tbody tr')).map(
  tr => Array.from(tr.cells).map(td => td.textContent.trim())))
"""


def test_status_page_renders_table_and_chart(browser: Browser, base_url: str, shots: Path) -> None:
    data = _status_data()
    browser.goto(base_url + "status/")
    title = browser.evaluate("document.querySelector('article h1').textContent")
    assert title.rstrip("\u00b6") == "Migration status"
    rows = browser.evaluate(ROWS_JS)
    assert [r[0] for r in rows] == [h["name"] for h in data["hot_paths"]]
    header = browser.evaluate(
        "Array.from(document.querySelector('article table th').closest('tr').cells)"
        ".map(c => c.textContent.trim())"
    )
    assert header, "no table header"

    progress = data["progress"]
    label = browser.evaluate(
        "document.querySelector('svg.progress-bar').getAttribute('aria-label')"
    )
    assert label.startswith(f"{progress['migrated_and_passing']} of {progress['total']} ")

    bars_expected = sum(
        (b["rust_vs_python"] is not None) + (b["rust_vs_peer"] is not None)
        for h in data["hot_paths"]
        for b in h["benchmarks"]
        if b["correct"]
    )
    if bars_expected:
        box = browser.evaluate(
            "(() => { const r = document.querySelector('svg.speedup-chart')"
            ".getBoundingClientRect(); return [r.width, r.height]; })()"
        )
        assert box[0] > 300 and box[1] > 100, f"chart not laid out: {box}"
        assert browser.evaluate(
            "document.querySelectorAll('svg.speedup-chart rect.bar').length"
        ) == (bars_expected)
    browser.screenshot(shots / "status.png")
    assert (shots / "status.png").stat().st_size > 10_000


def test_status_page_states_what_was_measured(browser: Browser, base_url: str) -> None:
    """Every parity cell says the recorded result, from the saved run when it is the same one."""
    data = _status_data()
    recorded = {h["name"]: h for h in data["hot_paths"]}
    saved = ROOT / "build" / "status" / "parity.json"
    if saved.is_file() and data["parity_run"]:
        parity = json.loads(saved.read_text(encoding="utf-8"))
        if parity.get("generated_at") == data["parity_run"].get("generated_at"):
            for row in parity["hot_paths"]:
                assert recorded[row["name"]]["parity"] == row["status"]
                assert recorded[row["name"]]["parity_examples"] == row["examples"]
    browser.goto(base_url + "status/")
    rows = browser.evaluate(ROWS_JS)
    titles = browser.evaluate(
        "Array.from(Array.from(document.querySelectorAll('article table')).find("
        "t => t.querySelector('th').textContent.trim() === 'Hot path')"
        ".querySelectorAll('th')).map(c => c.textContent.trim())"
    )
    parity_col = titles.index("Parity")
    for row in rows:
        status = recorded[row[0]]
        cell = row[parity_col]
        expected = {
            "passed": f"passed ({status['parity_examples']:,} examples)",
            "failed": "failing",
            "no property": "failing (no parity property)",
            "not migrated": "not migrated",
            "not run": "not run",
        }.get(status["parity"], status["parity"])
        assert cell.startswith(expected), (row[0], cell, expected)
        if status["parity"] != "passed":
            assert "passed" not in cell


def test_navigation_links_work(browser: Browser, base_url: str) -> None:
    browser.goto(base_url)
    links = browser.evaluate(
        "Array.from(document.querySelectorAll('nav.md-nav--primary a.md-nav__link[href]'))"
        ".map(a => a.href)"
    )
    pages = sorted({link.split("#")[0] for link in links if link.startswith(base_url)})
    assert len(pages) >= 8, pages
    for page in pages:
        with urllib.request.urlopen(page, timeout=10) as reply:
            assert reply.status == 200, page
    # A real click through the sidebar, then through a link in the page body.
    browser.evaluate(
        "Array.from(document.querySelectorAll('nav.md-nav--primary a.md-nav__link'))"
        ".find(a => a.textContent.trim() === 'Audit report').click()"
    )
    browser.wait_for(
        "location.pathname.endsWith('/audit/') && document.readyState === 'complete' && "
        "document.querySelector('article h1').textContent.startsWith('Audit report')"
    )
    browser.goto(base_url)
    browser.evaluate("document.querySelector('article a[href$=\"status/\"]').click()")
    browser.wait_for(
        "location.pathname.endsWith('/status/') && document.readyState === 'complete' && "
        "!!document.querySelector('svg.progress-bar')"
    )


def test_search_finds_pages(browser: Browser, base_url: str, shots: Path) -> None:
    with urllib.request.urlopen(base_url + "search/search_index.json", timeout=10) as reply:
        index = json.load(reply)
    locations = {doc["location"].split("#")[0] for doc in index["docs"]}
    assert {"status/", "audit/", "guides/benchmarks/"} <= locations

    browser.goto(base_url)
    browser.wait_for("!!document.querySelector('input[data-md-component=\"search-query\"]')")
    browser.evaluate(
        "(() => { const i = document.querySelector('input[data-md-component=\"search-query\"]');"
        " i.focus(); i.click(); })()"
    )
    browser.type_text("sharding")
    hrefs = browser.wait_for(
        "(() => { const a = Array.from(document.querySelectorAll("
        "'.md-search-result__item a[href]')).map(a => a.href);"
        " return a.length ? a : null; })()",
        timeout=30,
    )
    assert any("pyagent.knowledge_core" in h or "status/" in h for h in hrefs), hrefs
    browser.screenshot(shots / "search.png", full_page=False)


def test_api_reference_has_every_existing_core(browser: Browser, base_url: str) -> None:
    modules = {
        h["module"]
        for h in _status_data()["hot_paths"]
        if (ROOT.joinpath(*h["module"].split(".")).with_suffix(".py")).is_file()
    }
    assert modules, "no core module exists"
    for module in sorted(modules | {"pyagent.backend", "pyagent.manifest", "pyagent.parity"}):
        browser.goto(f"{base_url}reference/{module}/")
        count = browser.evaluate("document.querySelectorAll('article .doc-object').length")
        assert count > 0, f"no documented objects on the {module} page"

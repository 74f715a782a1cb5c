"""The built docs site in a real headless browser: status table and chart, navigation, search.

Builds the site with ``mkdocs build --strict`` into a temporary folder, serves it on
127.0.0.1 from a thread and drives the system's Chromium (Debian's ``chromium``) with
Playwright, which needs no browser download when given the executable. Run by
``nox -s docs``, which generates the status pages and installs Chromium first. Screenshots
land in ``$DOCS_SCREENSHOTS`` when set.

Checked: the status table and log-scale chart with its 1x line, rows below 1x flagged, the
phone layout at 400 px (no sideways scrolling of the page, chart visible), navigation,
search, and the API pages (every core documented, no raw Sphinx role left).
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import re
import shutil
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
pytest.importorskip("playwright", reason="the docs requirements are not installed (nox -s docs)")

from playwright.sync_api import Browser, Page, sync_playwright

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


CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_chromium() -> str | None:
    """Path of a Chromium binary (``$CHROMIUM`` wins, then PATH), or None."""
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    binary = find_chromium()
    if binary is None:
        pytest.fail("chromium is not installed: `apt-get install -y chromium` (nox -s docs does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=binary, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    """A desktop-sized page (1400 x 1000)."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def phone(chromium: Browser) -> Iterator[Page]:
    """A phone-sized page: 400 px wide, touch, as a narrow phone in portrait shows it."""
    context = chromium.new_context(
        viewport={"width": 400, "height": 800}, is_mobile=True, has_touch=True
    )
    try:
        yield context.new_page()
    finally:
        context.close()


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


def test_status_page_renders_table_and_chart(page: Page, base_url: str, shots: Path) -> None:
    data = _status_data()
    page.goto(base_url + "status/")
    title = page.evaluate("document.querySelector('article h1').textContent")
    assert title.rstrip("\u00b6") == "Migration status"
    rows = page.evaluate(ROWS_JS)
    assert [r[0] for r in rows] == [h["name"] for h in data["hot_paths"]]
    header = page.evaluate(
        "Array.from(document.querySelector('article table th').closest('tr').cells)"
        ".map(c => c.textContent.trim())"
    )
    assert header, "no table header"

    progress = data["progress"]
    label = page.evaluate("document.querySelector('svg.progress-bar').getAttribute('aria-label')")
    assert label.startswith(f"{progress['migrated_and_passing']} of {progress['total']} ")

    bars_expected = sum(
        (b["rust_vs_python"] is not None) + (b["rust_vs_peer"] is not None)
        for h in data["hot_paths"]
        for b in h["benchmarks"]
        if b["correct"]
    )
    # The committed record (bench/results/) supplies figures even without a local run.
    assert bars_expected, "the status page has no benchmark ratios"
    box = page.evaluate(
        "(() => { const r = document.querySelector('svg.speedup-chart')"
        ".getBoundingClientRect(); return [r.width, r.height]; })()"
    )
    assert box[0] > 300 and box[1] > 100, f"chart not laid out: {box}"
    assert page.evaluate("document.querySelectorAll('svg.speedup-chart rect.bar').length") == (
        bars_expected
    )
    page.screenshot(path=shots / "status.png", full_page=True)
    assert (shots / "status.png").stat().st_size > 10_000


def test_status_page_states_what_was_measured(page: Page, base_url: str) -> None:
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
    page.goto(base_url + "status/")
    rows = page.evaluate(ROWS_JS)
    titles = page.evaluate(
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


def test_navigation_links_work(page: Page, base_url: str) -> None:
    page.goto(base_url)
    links = page.evaluate(
        "Array.from(document.querySelectorAll('nav.md-nav--primary a.md-nav__link[href]'))"
        ".map(a => a.href)"
    )
    pages = sorted({link.split("#")[0] for link in links if link.startswith(base_url)})
    assert len(pages) >= 8, pages
    for url in pages:
        with urllib.request.urlopen(url, timeout=10) as reply:
            assert reply.status == 200, url
    # A real click through the sidebar, then through a link in the page body.
    page.evaluate(
        "Array.from(document.querySelectorAll('nav.md-nav--primary a.md-nav__link'))"
        ".find(a => a.textContent.trim() === 'Audit report').click()"
    )
    page.wait_for_function(
        "location.pathname.endsWith('/audit/') && document.readyState === 'complete' && "
        "document.querySelector('article h1').textContent.startsWith('Audit report')"
    )
    page.goto(base_url)
    page.evaluate("document.querySelector('article a[href$=\"status/\"]').click()")
    page.wait_for_function(
        "location.pathname.endsWith('/status/') && document.readyState === 'complete' && "
        "!!document.querySelector('svg.progress-bar')"
    )


def test_search_finds_pages(page: Page, base_url: str, shots: Path) -> None:
    with urllib.request.urlopen(base_url + "search/search_index.json", timeout=10) as reply:
        index = json.load(reply)
    locations = {doc["location"].split("#")[0] for doc in index["docs"]}
    assert {"status/", "audit/", "guides/benchmarks/"} <= locations

    page.goto(base_url)
    page.wait_for_function("!!document.querySelector('input[data-md-component=\"search-query\"]')")
    page.evaluate(
        "(() => { const i = document.querySelector('input[data-md-component=\"search-query\"]');"
        " i.focus(); i.click(); })()"
    )
    page.keyboard.type("sharding")
    hrefs = page.wait_for_function(
        "(() => { const a = Array.from(document.querySelectorAll("
        "'.md-search-result__item a[href]')).map(a => a.href);"
        " return a.length ? a : null; })()",
        timeout=30_000,
    ).json_value()
    assert any("pyagent.knowledge_core" in h or "status/" in h for h in hrefs), hrefs
    page.screenshot(path=shots / "search.png")


def test_api_reference_has_every_existing_core(page: Page, base_url: str) -> None:
    modules = {
        h["module"]
        for h in _status_data()["hot_paths"]
        if (ROOT.joinpath(*h["module"].split(".")).with_suffix(".py")).is_file()
    }
    assert modules, "no core module exists"
    for module in sorted(modules | {"pyagent.backend", "pyagent.manifest", "pyagent.parity"}):
        page.goto(f"{base_url}reference/{module}/")
        count = page.evaluate("document.querySelectorAll('article .doc-object').length")
        assert count > 0, f"no documented objects on the {module} page"


CHART_JS = """
(() => {
  const svg = document.querySelector('svg.speedup-chart');
  const view = svg.viewBox.baseVal;
  const one = svg.querySelector('line.one-x');
  const texts = Array.from(svg.querySelectorAll('text')).map(t => {
    const b = t.getBBox();
    return [t.textContent, b.x, b.x + b.width];
  });
  const ticks = Array.from(svg.querySelectorAll('line.tick')).map(l => +l.getAttribute('x1'));
  const tickLabels = Array.from(svg.querySelectorAll('text'))
    .map(t => t.textContent).filter(t => /^[0-9.]+\u00d7$/.test(t));
  return {
    width: view.width,
    one: one ? [+one.getAttribute('x1'), +one.getAttribute('y1'), +one.getAttribute('y2')] : null,
    texts, ticks, tickLabels,
    below: svg.querySelectorAll('rect.bar.below-1').length,
  };
})()
"""


def _ratios(data: dict[str, Any]) -> list[float]:
    return [
        value
        for h in data["hot_paths"]
        for b in h["benchmarks"]
        if b["correct"]
        for value in (b["rust_vs_python"], b["rust_vs_peer"])
        if value is not None
    ]


def test_chart_is_log_scale_with_a_1x_line_and_flags_rows_below_it(
    page: Page, base_url: str
) -> None:
    data = _status_data()
    page.goto(base_url + "status/")
    chart = page.evaluate(CHART_JS)
    assert chart["one"] is not None, "the chart has no 1x line"
    x1, y1, y2 = chart["one"]
    assert 0 < x1 < chart["width"] and y2 - y1 > 50, chart["one"]
    # Log scale: decade ticks (0.1x, 10x, ...) at equal spacing.
    labels = [float(t.rstrip("\u00d7")) for t in chart["tickLabels"]]
    assert 0.1 in labels and 10.0 in labels, labels
    ticks = sorted([*chart["ticks"], x1])  # the 1x line is the 10^0 tick
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(ticks) >= 3 and max(gaps) - min(gaps) < 1.0, ticks
    # Every label lies inside the drawing: none is clipped at either edge.
    clipped = [t for t in chart["texts"] if t[1] < -0.5 or t[2] > chart["width"] + 0.5]
    assert not clipped, clipped
    # Every ratio below 1x is a flagged bar, and the table says so in words.
    below = [v for v in _ratios(data) if v < 1.0]
    assert chart["below"] == len(below)
    flagged_cells = page.evaluate(
        "Array.from(document.querySelectorAll('article table td'))"
        ".filter(td => td.textContent.includes('below 1\u00d7')).length"
    )
    assert flagged_cells >= len(below)


def test_hot_paths_link_to_their_api_pages(page: Page, base_url: str) -> None:
    data = _status_data()
    page.goto(base_url + "status/")
    links = page.evaluate(
        "Array.from(document.querySelectorAll('article table')).filter("
        "t => t.querySelector('th').textContent.trim() === 'Hot path').flatMap("
        "t => Array.from(t.querySelectorAll('tbody tr')).map(tr => {"
        " const a = tr.cells[0].querySelector('a'); return [tr.cells[0].textContent.trim(),"
        " a ? a.href : null]; }))"
    )
    existing = {
        h["name"]: h["module"]
        for h in data["hot_paths"]
        if (ROOT.joinpath(*h["module"].split(".")).with_suffix(".py")).is_file()
    }
    assert existing
    for name, href in links:
        if name in existing:
            assert href and f"/reference/{existing[name]}/" in href, (name, href)
            with urllib.request.urlopen(href.split("#")[0], timeout=10) as reply:
                assert reply.status == 200, href


PHONE_JS = """
(() => {
  const doc = document.documentElement;
  const svg = document.querySelector('svg.speedup-chart');
  const r = svg.getBoundingClientRect();
  const table = Array.from(document.querySelectorAll('article table')).find(
    t => t.querySelector('th').textContent.trim() === 'Hot path');
  const box = table.closest('.md-typeset__scrollwrap') || table.parentElement;
  return {
    page: [doc.scrollWidth, doc.clientWidth, document.body.scrollWidth],
    chart: [r.left, r.right, r.width, r.height, svg.viewBox.baseVal.width],
    visible: getComputedStyle(svg).visibility === 'visible' && r.width > 0,
    table: [box.scrollWidth, box.clientWidth, getComputedStyle(box).overflowX],
  };
})()
"""


def test_phone_layout_at_400px(phone: Page, base_url: str, shots: Path) -> None:
    """At 400 px the page never scrolls sideways; the chart fits; wide tables scroll inside."""
    phone.goto(base_url + "status/")
    layout = phone.evaluate(PHONE_JS)
    scroll_width, client_width, body_width = layout["page"]
    assert client_width == 400, layout
    assert scroll_width <= client_width and body_width <= client_width, layout
    left, right, width, height, view_width = layout["chart"]
    assert layout["visible"] and left >= 0 and right <= 400 and height > 100, layout
    # Scaled to fit, the chart's 12 px labels stay at least 8 px tall.
    assert 12 * width / view_width >= 8, layout
    inner, outer, overflow = layout["table"]
    assert inner <= outer or overflow in ("auto", "scroll"), layout
    phone.screenshot(path=shots / "status-phone.png", full_page=True)
    for path in ("", "reference/pyagent.lora_core/"):
        phone.goto(base_url + path)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 400, path


RAW_ROLE = re.compile(r":(?:py:)?(?:meth|class|func|attr|mod|exc|data|obj|const):`?")


def test_api_pages_render_sphinx_roles(page: Page, base_url: str) -> None:
    """No page of the API reference shows a raw ``:meth:`x``` role; known names link."""
    page.goto(base_url + "reference/")
    pages = page.evaluate(
        "Array.from(document.querySelectorAll('article a[href]')).map(a => a.href)"
        ".filter(h => h.includes('/reference/pyagent.'))"
    )
    assert len(pages) >= 10, pages
    linked = 0
    for url in sorted(set(pages)):
        page.goto(url)
        text = page.evaluate("document.querySelector('article').innerText")
        raw = RAW_ROLE.findall(text)
        assert not raw, (url, raw[:5])
        linked += page.evaluate("document.querySelectorAll('article a.autorefs code').length")
    assert linked > 20, linked

"""The documentation site as people read it (issues 12, 24), in headless Chromium.

Screenshots are kept in .test-output/<test name>/ for a person to look at."""
import json, re, subprocess, sys
from pathlib import Path
import pytest
from conftest import ROOT, Browser, probed_copy

PAGE_JS = """{
  h1: document.querySelectorAll('main h1').length,
  math: document.querySelectorAll('math').length,
  rawMath: (document.querySelector('main').innerText.match(/\\$[^$\\n]{1,60}\\$/g) || []).slice(0, 5),
  imgs: [...document.images].map(i => [i.getAttribute('src').slice(0, 40), i.complete && i.naturalWidth > 0]),
  links: [...document.querySelectorAll('nav.hnn-sidebar > a')].map(a => a.getAttribute('href')),
  toc: [...document.querySelectorAll('.hnn-toc a')].map(a => a.getAttribute('href')),
  ids: [...document.querySelectorAll('[id]')].map(e => e.id),
  text: document.querySelector('main').innerText.length }"""

# Types `Evaluator` into the search box as a person would (the value, then an input event) and reads the results list.
SEARCH_JS = """(() => {
  const box = document.getElementById('hnn-search');
  box.value = 'Evaluator';
  box.dispatchEvent(new Event('input', {bubbles: true}));
  return [...document.querySelectorAll('#hnn-results a')]
    .map(a => [a.querySelector('b').textContent, a.getAttribute('href')]);
})()"""

CARD_JS = """(() => {
  const card = document.getElementById('Evaluator');
  const src = card && card.querySelector(':scope > details.hnn-source');
  return {
    card: !!card && card.classList.contains('hnn-card'),
    sig: card ? card.querySelector('.hnn-sig').innerText : '',
    doc: card ? card.querySelector('.hnn-doc').innerText : '',
    params: card ? [...card.querySelectorAll(':scope > table.hnn-params tbody tr td:first-child')]
      .map(t => t.innerText) : [],
    sourceFolded: !!src && !src.open,
    sourceHolds: src ? src.textContent.includes('def __init__') : false,
    visible: document.querySelector('main').innerText.includes('def __init__(self, panel'),
    methods: card ? [...card.querySelectorAll('.hnn-card')].map(c => c.id) : [] };
})()"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs")/"_docs"
    cmd = [sys.executable, str(ROOT/"tools/make_docs.py"), str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def _probe(browser, page:Path, js:str) -> dict:
    probe = probed_copy(page, js)
    try:
        return Browser.probe_dom(browser.dom(probe.as_uri()))
    finally:
        probe.unlink()


def test_docs_site_sidebar_home_tutorial_guides_then_notebooks(site):
    "Home, the tutorial, the guides moved out of the README (docs/*.md), then the numbered notebooks in order."
    nbs = sorted(p.stem for p in (ROOT/"nbs").glob("*.ipynb") if p.stem not in ("index", "21_tutorial"))
    sys.path.insert(0, str(ROOT/"tools"))
    from make_docs import GUIDES
    order = lambda s: (GUIDES.index(s) if s in GUIDES else len(GUIDES), s)
    guides = sorted((p.stem for p in (ROOT/"docs").glob("*.md")), key=order)
    assert {"install", "usage", "speed", "reliability", "cross_section", "how_it_is_built"} <= set(guides)
    assert sorted(p.stem for p in site.glob("*.html")) == sorted(nbs + guides + ["index", "21_tutorial"])
    nav = re.findall(r'<nav class="hnn-sidebar">.*?</nav>', (site/"index.html").read_text(), re.S)[0]
    want = ["index", "index", "21_tutorial"] + guides + nbs          # the brand link, then home, tutorial, ...
    assert re.findall(r'href="([\w-]+)\.html"', nav) == want
    assert (site/"search.js").exists() and (site/"images"/"demo_index.png").exists()


@pytest.mark.parametrize("page", ["index", "07_hermite", "14_backtest", "speed"])
def test_docs_pages_render_in_a_browser(site, browser, shots, page):
    "One title, maths rendered (MathML, no raw $...$), every image decoded, every sidebar link a page, contents."
    f = site/f"{page}.html"
    browser.screenshot(f.as_uri(), shots/f"{page}.png")
    got = _probe(browser, f, PAGE_JS)
    assert got["h1"] == 1, got["h1"]
    assert not got["rawMath"], got["rawMath"]
    assert all(ok for _, ok in got["imgs"]), [s for s, ok in got["imgs"] if not ok]
    assert all((site/h).exists() for h in got["links"]) and len(got["links"]) == len(list(site.glob("[!.]*.html"))) + 1
    assert got["toc"] and all(h[1:] in got["ids"] for h in got["toc"]), got["toc"]    # each contents entry an anchor
    if page in ("07_hermite", "14_backtest"):
        assert got["math"] > 5                                       # these two pages are full of formulas
    if page == "14_backtest":
        assert got["imgs"], "the backtest page shows its plot"
    if page == "index":
        assert any("demo_index.png" in s for s, _ in got["imgs"]), "the home page shows the README's picture"


def test_search_finds_evaluator_and_links_to_its_card(site, browser, shots):
    "Typing `Evaluator` into the search box lists its card first, linking to 14b_evaluate.html#Evaluator."
    hits = _probe(browser, site/"21_tutorial.html", SEARCH_JS)
    assert hits, "the search box listed nothing for `Evaluator`"
    assert hits[0] == ["Evaluator", "14b_evaluate.html#Evaluator"], hits[:5]
    assert any(t.startswith("Evaluator.") for t, _ in hits), hits                  # its methods are found too
    page, anchor = hits[0][1].split("#")
    assert f'id="{anchor}"' in (site/page).read_text()
    shown = site/".search-shot.html"                                             # the same page with the query typed
    typed = (site/"21_tutorial.html").read_text().replace(
        "</body>", "<script>window.addEventListener('load', () => { const b = document.getElementById('hnn-search');"
        " b.value = 'Evaluator'; b.dispatchEvent(new Event('input')); });</script></body>", 1)
    shown.write_text(typed)
    try:
        browser.screenshot(shown.as_uri(), shots/"search_results.png", size="1280,900", budget=3000)
    finally:
        shown.unlink()


def test_evaluator_card_shows_signature_and_folds_its_source(site, browser, shots):
    "The Evaluator card: its signature, docstring and parameters; the source inside a closed <details>, not inlined."
    f = site/"14b_evaluate.html"
    got = _probe(browser, f, CARD_JS)
    assert got["card"], "no card with id Evaluator on 14b_evaluate.html"
    assert got["sig"].startswith("Evaluator(panel") and "predictions" in got["sig"], got["sig"]
    assert "pivoted once" in got["doc"], got["doc"]
    assert got["params"] == ["panel", "predictions"], got["params"]
    assert got["sourceFolded"] and got["sourceHolds"], got
    assert not got["visible"], "the Evaluator source is inlined in the page"
    assert "Evaluator.periods_per_year" in got["methods"], got["methods"]
    browser.screenshot(f.as_uri(), shots/"evaluator_card.png", size="1280,1700")      # the card opens the page's API


def test_search_index_lists_every_page_section_and_card(site):
    "search.js holds an entry per page, section and card, each linking to an existing page and anchor."
    import html
    js = (site/"search.js").read_text()
    index = json.loads(re.match(r"window.HNN_INDEX = (.*?);\n", js, re.S).group(1))
    ids = {}
    for e in index:
        page, _, anchor = e["u"].partition("#")
        if page not in ids:
            ids[page] = {html.unescape(i) for i in re.findall(r'\bid="([^"]+)"', (site/page).read_text())}
        assert not anchor or anchor in ids[page], e
    assert {"page", "section", "class", "function", "method"} <= {e["k"] for e in index}
    assert sorted(e["u"] for e in index if e["k"] == "page") == sorted(p.name for p in site.glob("[!.]*.html"))

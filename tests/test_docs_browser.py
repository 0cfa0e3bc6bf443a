"""The documentation site as people read it (issues 12, 24), in headless Chromium.

Screenshots are kept in .test-output/<test name>/ for a person to look at."""
import json, os, re, secrets, socket, subprocess, sys, time, urllib.request
from pathlib import Path
import pytest
from conftest import ROOT, BIN, Browser, probed_copy

PAGE_JS = """{
  h1: document.querySelectorAll('main h1').length,
  math: document.querySelectorAll('math').length,
  rawMath: (document.querySelector('main').innerText.match(/\\$[^$\\n]{1,60}\\$/g) || []).slice(0, 5),
  imgs: [...document.images].map(i => [i.getAttribute('src').slice(0, 40), i.complete && i.naturalWidth > 0]),
  links: [...document.querySelectorAll('nav a')].map(a => a.getAttribute('href')),
  text: document.querySelector('main').innerText.length }"""

@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs")/"_docs"
    r = subprocess.run([sys.executable, str(ROOT/"tools/make_docs.py"), str(out)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return out

def test_docs_site_has_a_page_per_notebook_in_data_flow_order(site):
    nbs = sorted(p.stem for p in (ROOT/"nbs").glob("*.ipynb") if p.stem != "index")
    assert sorted(p.stem for p in site.glob("*.html")) == sorted(nbs + ["index"])
    nav = re.findall(r'<nav class="hnn-sidebar">.*?</nav>', (site/"index.html").read_text(), re.S)[0]
    assert re.findall(r'href="([\w-]+)\.html"', nav) == ["index", "index"] + nbs           # the brand link, then home, then data-flow order

@pytest.mark.parametrize("page", ["index", "07_hermite", "14_backtest"])
def test_docs_pages_render_in_a_browser(site, browser, shots, page):
    "One title per page, maths rendered (MathML, no raw $...$), every image decoded, every sidebar link a page."
    f = site/f"{page}.html"
    browser.screenshot(f.as_uri(), shots/f"{page}.png")
    probe = probed_copy(f, PAGE_JS)
    try: got = Browser.probe_dom(browser.dom(probe.as_uri()))
    finally: probe.unlink()
    assert got["h1"] == 1, got["h1"]
    assert not got["rawMath"], got["rawMath"]
    assert all(ok for _, ok in got["imgs"]), [s for s, ok in got["imgs"] if not ok]
    assert all((site/h).exists() for h in got["links"]) and len(got["links"]) == len(list(site.glob("[!.]*.html"))) + 1
    if page != "index": assert got["math"] > 5                                                  # these two pages are full of formulas
    if page == "14_backtest": assert got["imgs"], "the backtest page shows its plot"

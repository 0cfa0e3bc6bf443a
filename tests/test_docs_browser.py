"""The documentation as people read it (issue 12): the docs site and JupyterLab itself, in headless Chromium.

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

def _free_port():
    with socket.socket() as s: s.bind(("127.0.0.1", 0)); return s.getsockname()[1]

@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    "JupyterLab on a copy of nbs/, on a free loopback port with a token, as `make lab` starts it."
    import shutil
    port, token, home = _free_port(), secrets.token_hex(16), tmp_path_factory.mktemp("lab-home")
    nbs = home/"nbs"; shutil.copytree(ROOT/"nbs", nbs)                    # a copy: JupyterLab may autosave what it opens
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(home/"config"), JUPYTER_RUNTIME_DIR=str(home/"runtime"), JUPYTERLAB_WORKSPACES_DIR=str(home/"ws"))
    p = subprocess.Popen([str(BIN/"jupyter"), "lab", "--no-browser", "--allow-root", f"--port={port}", "--ServerApp.ip=127.0.0.1",
                          f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={nbs}", "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try: urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2); break
        except Exception: time.sleep(0.5)
    else: p.kill(); pytest.fail("JupyterLab did not start: " + p.stderr.read().decode()[-2000:])
    yield url, token
    p.terminate(); p.wait(timeout=30)

def test_jupyterlab_shows_the_backtest_notebook_as_documentation(lab, browser, shots):
    "14_backtest opened in JupyterLab: one title, prose as rendered Markdown, maths typeset by MathJax, its committed plot displayed."
    import base64, io
    from PIL import Image
    url, token = lab
    page = f"{url}/lab/tree/14_backtest.ipynb?token={token}"
    browser.screenshot(page, shots/"jupyterlab-14_backtest.png", size="1400,1800", budget=30000)
    dom = browser.dom(page, budget=30000)                                 # the DOM after JupyterLab rendered the notebook
    text = re.sub(r"<script.*?</script>|<style.*?</style>", "", dom, flags=re.S)
    assert dom.count("jp-RenderedMarkdown") > 10, "JupyterLab did not render the notebook's markdown"
    assert len(re.findall(r"<h1[ >]", text)) == 1                              # the title, and no paragraph rendered as a heading
    assert dom.count("<mjx-container") > 3 and not re.findall(r"\$[^$\n<>]{1,60}\$", text)   # maths typeset, no raw $...$
    pngs = re.findall(r'<img[^>]*src="data:image/png;base64,([^"]+)"', dom)
    assert pngs, "no image output shown"
    for b in pngs: assert min(Image.open(io.BytesIO(base64.b64decode(b))).size) > 50

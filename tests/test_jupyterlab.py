"""JupyterLab as people use it, in headless Chromium: notebooks read as documentation, and run live in the project's kernel.

Screenshots are kept in .test-output/<test name>/ for a person to look at."""
import re
import pytest
from conftest import ROOT, BIN, Browser

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


@pytest.fixture
def page(browser):
    "A Playwright page in the same headless Debian Chromium, for what a person does with the mouse and keyboard."
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is installed by `make setup` (requirements.lock)")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=browser.flags[0], args=browser.flags[2:-1])
        p = b.new_page(viewport={"width": 1400, "height": 1000})
        yield p
        b.close()


def _wait_idle(page):
    "Wait until every kernel execution indicator on the page (toolbar, status bar) says idle."
    page.wait_for_function("""() => {
        const s = [...document.querySelectorAll('.jp-Notebook-ExecutionIndicator')];
        return s.length > 0 && s.every(e => e.dataset.status === 'idle'); }""", timeout=120_000)


def _widget_state(page) -> dict:
    "The first strategy explorer on the page: its metrics line and its plot (the image's data, as bytes)."
    return page.evaluate("""() => {
      const box = [...document.querySelectorAll('.widget-vbox')].find(b => b.querySelector('.widget-hslider'));
      if (!box) return {};
      const img = box.querySelector('.widget-output img');
      return {label: (box.querySelector('.widget-html-content') || {}).innerText || '', img: img ? img.src : ''};
    }""")


def test_explorer_redraws_its_plot_when_a_slider_moves_in_jupyterlab(lab, page, shots):
    "20_explorer in JupyterLab, run as a user runs it: the widget shows its plot; a slider moved by the keyboard redraws it."
    url, token = lab
    nb = ROOT/"nbs"/"20_explorer.ipynb"
    committed = nb.read_bytes()
    page.goto(f"{url}/lab/tree/20_explorer.ipynb?token={token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    _wait_idle(page)
    page.wait_for_timeout(3000)
    tab = page.locator(".lm-TabBar-tab[data-type='document-title']").first
    assert "jp-mod-dirty" not in (tab.get_attribute("class") or ""), "opening the notebook marked it modified (kernelspec mismatch)"
    news = page.get_by_role("button", name="No", exact=True)            # JupyterLab's "notified about news?" toast
    if news.count():
        news.first.click()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_text("Run All Cells", exact=True).click()
    page.wait_for_function("""() => [...document.querySelectorAll('.widget-vbox')]
        .some(b => b.querySelector('.widget-hslider') && b.querySelector('.widget-output img'))""", timeout=300_000)
    before = _widget_state(page)
    page.screenshot(path=str(shots/"explorer-before.png"))
    handle = page.locator(".widget-vbox .widget-hslider .noUi-handle").first
    handle.scroll_into_view_if_needed()
    handle.focus()
    for _ in range(4):
        page.keyboard.press("ArrowRight")                                # threshold +0.02: fewer bars pass the gate
    page.wait_for_function("""(old) => {
        const box = [...document.querySelectorAll('.widget-vbox')].find(b => b.querySelector('.widget-hslider'));
        const img = box && box.querySelector('.widget-output img');
        return img && img.src !== old; }""", arg=before["img"], timeout=60_000)
    _wait_idle(page)
    page.wait_for_timeout(2000)                                          # the last of the four redraws has landed
    after = _widget_state(page)
    page.screenshot(path=str(shots/"explorer-after.png"))
    assert before["img"].startswith("data:image/png") and after["img"].startswith("data:image/png")
    assert after["img"] != before["img"] and after["label"] != before["label"], (before["label"], after["label"])
    assert "nan" not in after["label"].lower()
    assert nb.read_bytes() == committed, "the committed notebook is untouched (the server works on a copy)"


def test_plots_still_show_after_a_run_writes_its_files_in_a_live_kernel(tmp_path):
    "A real Jupyter kernel with the inline backend: writing a run's plots and index page must not take later plots away."
    import nbformat
    from nbclient import NotebookClient
    cells = ["import matplotlib.pyplot as plt, pandas as pd\n"
             "from hnn_trading.data import load_sample\nfrom hnn_trading.backtest import run_backtest\n"
             "from hnn_trading.config import RunConfig\nfrom hnn_trading.runs import RunFolder\n"
             "from hnn_trading.reports import write_index",
             "p = load_sample('sp500').iloc[-300:]\n"
             "w = pd.DataFrame(1.0, index=p.index.get_level_values(0).unique(), columns=p.index.get_level_values(1).unique())\n"
             "r = run_backtest(p, w, RunConfig().backtest)\n"
             f"rf = RunFolder({str(tmp_path/'run')!r}, create=True)\nrf.write_backtest(r, r, 'run', tearsheet=False)\n"
             f"(rf.dir/'models'/'m').mkdir(parents=True)\nRunFolder(rf.dir/'models'/'m', create=True).write_backtest(r, r, 'm', tearsheet=False)\n"
             "write_index(rf.dir)\nplt.get_backend()",
             "plt.plot([1, 2, 3]);"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert (tmp_path/"run"/"equity_all.png").exists() and (tmp_path/"run"/"equity.png").exists()
    assert "backend_inline" in nb.cells[1].outputs[-1]["data"]["text/plain"], nb.cells[1].outputs
    assert any("image/png" in o.get("data", {}) for o in nb.cells[2].outputs), "the plot after writing a run vanished"

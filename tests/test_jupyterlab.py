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

"""Real papermill execution of the report template, the failure path, and the `hnn` command end to end."""
import json, os, re, subprocess, sys
from pathlib import Path
import pandas as pd, pytest
from hnn_trading.demo import demo
from hnn_trading.reports import run_report, ReportError

@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    "A small demo run (main model + MLP, tiny studies, no reports) whose folder the report tests use."
    d = tmp_path_factory.mktemp("runs")
    return demo(quick=True, output_dir=d, run_id="quick", reports=False, progress=False, n_stage1=2, n_stage2=20)

def test_tearsheet_executes_and_exports_html(quick_run):
    paths = run_report("backtest_tearsheet", {"run_dir": str(quick_run.run_dir)}, run_dir=quick_run.run_dir)
    html = paths["html"].read_text()
    assert paths["notebook"].exists() and "<img" in html and "buy-and-hold" in html
    assert "import numpy" not in html          # code hidden
    nb = json.loads(paths["notebook"].read_text())
    assert any("injected-parameters" in c["metadata"].get("tags", []) for c in nb["cells"])

def test_failed_rerun_keeps_the_good_report(quick_run, tmp_path):
    d = quick_run.run_dir
    good = run_report("backtest_tearsheet", {"run_dir": str(d)}, run_dir=d)
    before = (good["notebook"].read_bytes(), good["html"].read_bytes())
    with pytest.raises(ReportError, match="failed.*previous report .* is untouched"):
        run_report("backtest_tearsheet", {"run_dir": str(tmp_path/"not-a-run")}, run_dir=d)
    assert (good["notebook"].read_bytes(), good["html"].read_bytes()) == before
    failed = d/"backtest_tearsheet.failed.ipynb"
    assert failed.exists() and "not a run folder" in failed.read_text()

def test_report_names_and_run_ids_cannot_escape(tmp_path):
    with pytest.raises(ReportError, match="invalid report name"): run_report("../secrets", output_dir=tmp_path)
    with pytest.raises(ReportError, match="invalid run id"): run_report("backtest_tearsheet", output_dir=tmp_path, run_id="../../x")
    with pytest.raises(ReportError, match="has no parameter 'colour'"): run_report("backtest_tearsheet", {"colour": "red"}, output_dir=tmp_path)

@pytest.mark.parametrize("name", ["backtest_tearsheet", "model_evaluation", "distribution_shift", "overfitting", "hpo_study", "sharpe_correlation", "feature_importance"])
def test_papermill_runs_every_template_directly(quick_run, tmp_path, root, name):
    "Plain `papermill TEMPLATE OUT -p run_dir RUN`, no hnn_trading runner in between."
    out = tmp_path/"direct.ipynb"
    r = subprocess.run([str(Path(sys.executable).parent/"papermill"), str(root/f"nbs/reports/{name}.ipynb"), str(out),
                        "-p", "run_dir", str(quick_run.run_dir), "--cwd", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Verdict" in out.read_text()

@pytest.fixture(scope="module")
def lgbm_run(tmp_path_factory):
    "A small LightGBM run: no per-epoch history (its trees stop at the best iteration), no study."
    from hnn_trading.demo import demo_config
    from hnn_trading.pipeline import run
    cfg = demo_config(quick=True).override({"model.name": "lightgbm", "splits.n_folds": 2})
    return run(cfg, output_dir=tmp_path_factory.mktemp("lgbm"), run_id="lgbm", reports=False, progress=False)

@pytest.mark.parametrize("name", ["backtest_tearsheet", "model_evaluation", "distribution_shift", "overfitting"])
def test_every_run_template_runs_on_a_lightgbm_run(lgbm_run, name):
    "Issue 28: the overfitting report assumed a torch history and failed with KeyError 'train_loss' on LightGBM."
    paths = run_report(name, {"run_dir": str(lgbm_run.run_dir)}, run_dir=lgbm_run.run_dir)
    html = paths["html"].read_text()
    assert "Verdict" in html
    if name == "overfitting":
        assert "No per-epoch losses" in html and "trains no epochs" in html and "Early stopping kept" not in html

def test_templates_are_all_tested():
    from hnn_trading.reports import available_reports
    assert sorted(available_reports()) == sorted(test_papermill_runs_every_template_directly.pytestmark[0].args[1])

def _hnn(hnn, *args, timeout=600):
    return subprocess.run([hnn, *args], capture_output=True, text=True, timeout=timeout)

def test_cli_validates_bundled_data(hnn, root):
    r = _hnn(hnn, "data", "validate", str(root/"data"))
    assert r.returncode == 0, r.stderr
    assert "OK: 2 symbols, 10,062 bars" in r.stdout and "series VIX" in r.stdout

def test_cli_rejects_bad_data_with_location(hnn, tmp_path):
    (tmp_path/"x.csv").write_text("Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9,10.5,100\n2024-01-02,10,11,9,10.5,100\n")
    r = _hnn(hnn, "data", "validate", str(tmp_path/"x.csv"))
    assert r.returncode == 1 and "x.csv, row 2 (line 3)" in r.stderr and "duplicate timestamp" in r.stderr

def test_cli_help_everywhere(hnn):
    for args in [[], ["demo"], ["run"], ["report"], ["data"], ["data", "validate"]]:
        r = _hnn(hnn, *args, "--help")
        assert r.returncode == 0 and "usage: hnn" in r.stdout, args

def test_cli_errors_are_one_line_without_traceback(hnn, root, tmp_path):
    r = _hnn(hnn, "run", "--config", str(root/"configs/demo.yaml"), "--set", "features.set=nope", "--no-report", "--output-dir", str(tmp_path))
    assert r.returncode == 1 and "Traceback" not in r.stderr and "features.set = 'nope': unknown feature set(s) ['nope']" in r.stderr, r.stderr[-2000:]
    assert not any(tmp_path.iterdir())                                               # checked before anything is written
    assert len(r.stderr.strip().splitlines()) <= 2, r.stderr

def test_cli_bad_config_key_fails_clearly(hnn, tmp_path):
    r = _hnn(hnn, "demo", "--quick", "--set", "strategy.treshold=0.6", "--output-dir", str(tmp_path))
    assert r.returncode == 1 and "unknown key 'treshold' in RunConfig.strategy. Did you mean 'threshold'?" in r.stderr

def test_cost_grid_reproduces_the_run_at_its_own_costs(quick_run):
    from hnn_trading.data import load_data
    from hnn_trading.strategy import positions, backtest_kwargs
    from hnn_trading.diagnostics import cost_sensitivity
    c = quick_run.runs["hermite"].walk_forward.config; P = quick_run.runs["hermite"].walk_forward.predictions
    panel = load_data(c.data); ts = panel.index.get_level_values("timestamp")
    oos = panel[(ts >= P["timestamp"].min()) & (ts <= P["timestamp"].max())]          # the out-of-fold bars: 2018 is held out
    cs = cost_sensitivity(oos, positions(P, c.strategy, c.backtest.position_cap), c.backtest, 252, [c.backtest.commission], [c.backtest.slippage_bps],
                          **backtest_kwargs(c.strategy))
    assert abs(cs["total_return"].item() - quick_run.runs["hermite"].metrics["strategy"]["total_return"]) < 1e-12

def test_es_vix28_config_runs_through_the_cli(hnn, root, tmp_path):
    r = _hnn(hnn, "run", "--config", str(root/"configs/es_vix28.yaml"), "--set", "training.epochs=2", "--no-report", "--quiet",
             "--output-dir", str(tmp_path), "--run-id", "vix")
    assert r.returncode == 0, r.stderr[-3000:]
    P = pd.read_parquet(tmp_path/"vix"/"predictions.parquet")
    assert len(P) == 3 * 126 and P.timestamp.min() >= pd.Timestamp("2017-01-01", tz="UTC")


def test_distribution_shift_report_and_index_page(quick_run):
    from hnn_trading.reports import write_index
    paths = run_report("distribution_shift", {"run_dir": str(quick_run.run_dir)}, run_dir=quick_run.run_dir)
    html = paths["html"].read_text()
    assert "Verdict" in html and "features at 5%" in html and "<img" in html
    idx = write_index(quick_run.run_dir).read_text()
    assert 'href="distribution_shift.html"' in idx and 'src="equity.png"' in idx

def test_sharpe_correlation_report_on_a_real_study(tmp_path):
    from pathlib import Path
    from hnn_trading.hpo import quick_config, run_worker
    base, space = quick_config()
    url = f"sqlite:///{tmp_path}/s.db"
    run_worker(url, "rep", 4, base, space, tmp_path/"trials", seed=1, prune=False)
    paths = run_report("sharpe_correlation", {"storage": url, "study": "rep"}, run_dir=tmp_path/"report")
    html = paths["html"].read_text()
    assert "Verdict" in html and "Over 4 complete trials" in html and "<img" in html
    with pytest.raises(ReportError, match="pass -p storage"):
        run_report("sharpe_correlation", {}, run_dir=tmp_path/"report2")


# ---- report pages: what a person opens in a browser (issue 24) ----------------------------------------------------

PAGE_PROBE = """({title: document.title,
  back: (document.querySelector('nav.hnn-back a') || {}).href || null,
  math: document.querySelectorAll('math').length,
  text: document.body.innerText,
  net_scripts: [...document.querySelectorAll('script[src]')].map(s => s.src).filter(u => /^(https?:)?\\/\\//.test(u)),
  rows: Object.fromEntries([...document.querySelectorAll('tr')]
    .filter(r => r.querySelector('th') && r.querySelectorAll('td').length)
    .map(r => [r.querySelector('th').innerText.trim(), [...r.querySelectorAll('td')].map(d => d.innerText.trim())]))})"""

HEADINGS = {"backtest_tearsheet": "Backtest tearsheet", "sharpe_correlation": "Sharpe correlation over a study",
            "hpo_study": "HPO study"}

@pytest.fixture(scope="module")
def pages(quick_run, hnn):
    "The report pages of the small run, made through `hnn report NAME -p run_dir RUN` as a person would."
    d = quick_run.run_dir
    for name in HEADINGS:
        r = _hnn(hnn, "report", name, "-p", "run_dir", str(d))
        assert r.returncode == 0, r.stderr[-3000:]
    return d

def _probe(browser, page):
    from conftest import probed_copy
    return browser.probe_dom(browser.dom(probed_copy(page, PAGE_PROBE).as_uri()))

@pytest.mark.parametrize("name", list(HEADINGS))
def test_report_page_title_back_link_and_no_network(pages, browser, name):
    from urllib.parse import urlparse
    from urllib.request import url2pathname
    page = pages/f"{name}.html"
    html = page.read_text()
    assert not re.search(r"<script[^>]*\bsrc=[\"']?(https?:)?//", html, re.I), "a script loads from the network"
    v = _probe(browser, page)
    assert v["title"] == f"{HEADINGS[name]} · {pages.name}", v["title"]
    back = Path(url2pathname(urlparse(v["back"]).path))
    assert back.name == "index.html" and back.parent == pages and back.exists(), v["back"]
    assert f'href="{name}.html"' in back.read_text()                     # and the index links to the page
    assert v["net_scripts"] == []
    assert not re.search(r"\$[^$\n]*\\[a-zA-Z]+[^$\n]*\$", v["text"]), "raw LaTeX on the page"

def test_sharpe_correlation_maths_is_mathml(pages, browser):
    v = _probe(browser, pages/"sharpe_correlation.html")
    assert v["math"] >= 1 and "\\times" not in v["text"] and "$0.7" not in v["text"]
    assert "AUC" in v["text"] and "0.7" in v["text"]

def test_tearsheet_units(pages, browser, shots):
    page = pages/"backtest_tearsheet.html"
    v = _probe(browser, page)
    rows = v["rows"]
    pct = ["avg trade (return)", "exposure (mean gross, % of equity)", "costs (% of initial equity)", "return"]
    for label in pct + ["costs ($)", "turnover (× mean equity per year)", "avg bars held (bars)", "max drawdown duration (bars)"]:
        assert label in rows, (label, sorted(rows))
    assert all(re.fullmatch(r"-?\d[\d,]*\.\d", x) for x in rows["avg bars held (bars)"]), rows["avg bars held (bars)"]
    assert all(re.fullmatch(r"-?\d+\.\d%", x) for k in pct for x in rows[k]), rows
    assert all(re.fullmatch(r"\d[\d,]*", x) for x in rows["costs ($)"])
    assert all(re.fullmatch(r"\d+\.\d", x) for x in rows["turnover (× mean equity per year)"])
    spent = r"costing \$[\d,]+ in commission and slippage \(\d+\.\d% of the initial \$[\d,]+\)"
    assert re.search(spent, v["text"]), v["text"][:3000]
    assert "Time in Market" in v["text"] and "mean gross exposure" in v["text"]
    browser.screenshot(page.as_uri(), shots/"backtest_tearsheet_top.png", size="1280,1800")
    section = page.with_name(".units-" + page.name)             # the page from the metrics table on: units, heatmap, regimes
    js = ("<script>window.addEventListener('load', () => {"
          " const t = [...document.querySelectorAll('table')].find(t => t.innerText.includes('costs ($)'));"
          " let c = t.closest('.jp-Cell').previousElementSibling;"
          " while (c) { c.style.display = 'none'; c = c.previousElementSibling; } });</script></body>")
    section.write_text(page.read_text().replace("</body>", js, 1))
    browser.screenshot(section.as_uri(), shots/"backtest_tearsheet_units.png", size="1280,1500", budget=3000)

def test_hpo_study_caveat_on_few_trials(pages, browser, shots):
    v = _probe(browser, pages/"hpo_study.html")
    caveat = r"With only \d+ complete trials \(fewer than 20\), the importances are a hint, not a finding"
    assert re.search(caveat, v["text"]), v["text"][:2000]
    browser.screenshot((pages/"hpo_study.html").as_uri(), shots/"hpo_study.png", size="1280,1400")
    browser.screenshot((pages/"sharpe_correlation.html").as_uri(), shots/"sharpe_correlation.png", size="1280,900")

@pytest.mark.parametrize("name", ["hpo_study", "overfitting"])
def test_counting_axes_get_integer_ticks(root, name):
    "A template cell that draws an axis of trials or epochs puts whole-number ticks on it (`reports.integer_ticks`, tested in 17_reports)."
    nb = json.loads((root/f"nbs/reports/{name}.ipynb").read_text())
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    counting = [s for s in cells if re.search(r'xlabel="(epoch|trial number|fold)"', s)]
    assert counting and all("integer_ticks(" in s for s in counting)

def test_a_run_folder_from_someone_else_runs_no_code(hnn, tmp_path, lgbm_run):
    """Issue 27: a report's kernel started in the run folder, first on its sys.path, so a `seaborn.py` or a package named
    `hnn_trading` left in a folder someone sent you ran as code. Kernels now start in an empty folder of their own."""
    import shutil
    d = tmp_path / "sent"
    shutil.copytree(lgbm_run.run_dir, d)
    for f in d.glob("backtest_tearsheet*"): f.unlink()                           # written by an earlier test, maybe
    pwned = tmp_path / "pwned"
    code = f"open({str(pwned)!r}, 'w').write('ran')\nraise SystemExit('planted module imported')\n"
    (d / "seaborn.py").write_text(code)
    (d / "hnn_trading").mkdir()
    (d / "hnn_trading" / "__init__.py").write_text(code)
    r = _hnn(hnn, "report", "backtest_tearsheet", "-p", "run_dir", str(d))
    assert r.returncode == 0, r.stderr[-2000:]
    assert not pwned.exists() and (d / "backtest_tearsheet.html").exists()

def test_sigterm_during_a_report_leaves_no_half_run_notebook(hnn, tmp_path, lgbm_run):
    "Issue 27: SIGTERM during `hnn report` exited but left `.NAME.running.ipynb` in the run folder."
    import shutil, signal, time
    d = tmp_path / "run"
    shutil.copytree(lgbm_run.run_dir, d)
    for f in d.glob("backtest_tearsheet*"): f.unlink()                           # written by an earlier test, maybe
    p = subprocess.Popen([hnn, "report", "backtest_tearsheet", "-p", "run_dir", str(d)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, cwd=tmp_path)           # a folder that exists (not the worker's)
    running = d / ".backtest_tearsheet.running.ipynb"
    t0 = time.time()
    while not running.exists() and p.poll() is None and time.time() - t0 < 120: time.sleep(0.05)
    assert running.exists(), "the report never started"
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 143 and "SIGTERM" in err and len(err.strip().splitlines()) == 1, (p.returncode, err[-2000:])
    assert not running.exists() and not (d / "backtest_tearsheet.ipynb").exists()

"""Real papermill execution of the report template, the failure path, and the `hnn` command end to end."""
import json, os, subprocess, sys
from pathlib import Path
import pandas as pd, pytest
from hnn_trading.pipeline import demo
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

@pytest.mark.parametrize("name", ["backtest_tearsheet", "model_evaluation", "distribution_shift", "overfitting", "hpo_study", "sharpe_correlation"])
def test_papermill_runs_every_template_directly(quick_run, tmp_path, root, name):
    "Plain `papermill TEMPLATE OUT -p run_dir RUN`, no hnn_trading runner in between."
    out = tmp_path/"direct.ipynb"
    r = subprocess.run([str(Path(sys.executable).parent/"papermill"), str(root/f"nbs/reports/{name}.ipynb"), str(out),
                        "-p", "run_dir", str(quick_run.run_dir), "--cwd", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Verdict" in out.read_text()

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

def test_cli_bad_config_key_fails_clearly(hnn, tmp_path):
    r = _hnn(hnn, "demo", "--quick", "--set", "strategy.treshold=0.6", "--output-dir", str(tmp_path))
    assert r.returncode == 1 and "unknown key 'treshold' in RunConfig.strategy. Did you mean 'threshold'?" in r.stderr

@pytest.fixture(scope="module")
def cli_demo(hnn, tmp_path_factory):
    "`hnn demo --quick` through the command line, with every report and the index page."
    d = tmp_path_factory.mktemp("cli")
    r = _hnn(hnn, "demo", "--quick", "--output-dir", str(d), "--run-id", "e2e", "--quiet")
    return r, d/"e2e"

def test_demo_end_to_end_through_the_cli(cli_demo):
    """Models, studies, verdict table, artefacts, manifest, every report template executed by papermill, the index page."""
    from hnn_trading.reports import available_reports
    r, d = cli_demo
    assert r.returncode == 0, r.stderr[-3000:]
    for f in ["config.yaml", "metrics.json", "equity.csv", "trades.csv", "folds.csv", "predictions.parquet", "manifest.json", "equity.png",
              "tearsheet.html", "verdict.csv", "studies.json", "index.html", "hpo/study.json", "hpo/studies.log", "hpo/stage1/top_trials.csv",
              "hpo/stage2/best_config.yaml", "models/mlp/metrics.json", "models/mlp/predictions.parquet"]:
        assert (d/f).exists(), f
    assert len(available_reports()) >= 6
    for name in available_reports():                    # every template ran through papermill, with a verdict and at least one figure
        html = (d/f"{name}.html").read_text()
        assert "Verdict" in html and "<img" in html, name
        assert not (d/f"{name}.failed.ipynb").exists(), name
    V = pd.read_csv(d/"verdict.csv", index_col=0)
    assert list(V.index) == ["hermite", "mlp", "hermite + stage-2 strategy", "buy and hold"]
    assert V[["sharpe", "sharpe_se", "dsr", "max_drawdown", "trades"]].notna().all().all() and V.loc["hermite", "auc"] > 0
    assert ((V["dsr"] >= 0) & (V["dsr"] <= 1)).all()
    for k in ["hermite", "mlp", "buy and hold", "DSR", "index page: " + str(d/"index.html")]: assert k in r.stdout, k
    m = json.loads((d/"metrics.json").read_text())
    man = json.loads((d/"manifest.json").read_text())
    assert man["seed"] == 42 and man["data_fingerprint"] and man["timings"]["walk_forward"] > 0
    assert m["strategy"]["costs"] > 0 and m["benchmark"]["costs"] > 0       # fills at the next open, with costs, for both
    P = pd.read_parquet(d/"predictions.parquet")
    assert P.timestamp.min() >= pd.Timestamp("2015-12-01", tz="UTC")
    assert 2 * 3 * 252 - 3 <= len(P) <= 2 * 3 * 252          # three yearly blocks x two indices, less any bar whose core23 features are NaN
    # the verdict's rows are the runs' own numbers
    assert abs(V.loc["hermite", "sharpe"] - m["strategy"]["sharpe"]) < 1e-9 and abs(V.loc["buy and hold", "sharpe"] - m["benchmark"]["sharpe"]) < 1e-9

def test_cost_grid_reproduces_the_run_at_its_own_costs(quick_run):
    from hnn_trading.pipeline import load_data
    from hnn_trading.strategy import positions, backtest_kwargs
    from hnn_trading.diagnostics import cost_sensitivity
    c = quick_run.runs["hermite"].walk_forward.config; P = quick_run.runs["hermite"].walk_forward.predictions
    panel = load_data(c.data); oos = panel[panel.index.get_level_values("timestamp") >= P["timestamp"].min()]
    cs = cost_sensitivity(oos, positions(P, c.strategy, c.backtest.position_cap), c.backtest, 252, [c.backtest.commission], [c.backtest.slippage_bps],
                          **backtest_kwargs(c.strategy))
    assert abs(cs["total_return"].item() - quick_run.runs["hermite"].metrics["strategy"]["total_return"]) < 1e-12

def test_failing_template_exits_nonzero_and_keeps_the_earlier_report(cli_demo, hnn):
    r, d = cli_demo
    before = (d/"overfitting.html").read_bytes(), (d/"overfitting.ipynb").read_bytes()
    bad = _hnn(hnn, "report", "overfitting", "-p", "run_dir", str(d), "-p", "n_groups", "3", "--output-dir", str(d.parent), "--run-id", d.name)
    assert bad.returncode != 0 and "must be even" in bad.stderr, bad.stderr[-2000:]
    assert ((d/"overfitting.html").read_bytes(), (d/"overfitting.ipynb").read_bytes()) == before
    assert "must be even" in (d/"overfitting.failed.ipynb").read_text()
    (d/"overfitting.failed.ipynb").unlink()

def _chromium():
    import shutil
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)

_PROBE = """<script>window.addEventListener('load', () => {
  const imgs = [...document.images].map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0]);
  const links = [...document.links].map(a => a.getAttribute('href'));
  const pre = document.createElement('pre'); pre.id = 'probe';
  pre.textContent = JSON.stringify({imgs, links, verdict: !!document.getElementById('verdict')}); document.body.appendChild(pre);
});</script></body>"""

def test_index_page_renders_in_headless_chromium(cli_demo, tmp_path):
    """Open the demo's index.html in Debian's chromium: every image decodes, every link resolves, the screenshot is not blank."""
    import html as html_mod, re
    import numpy as np
    from PIL import Image
    from hnn_trading.reports import available_reports
    exe = _chromium()
    if exe is None: pytest.skip("chromium is not installed (.ci/run installs Debian's chromium package)")
    _, d = cli_demo
    flags = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
             "--no-first-run", "--no-default-browser-check", "--hide-scrollbars", f"--user-data-dir={tmp_path/'profile'}"]
    shot = tmp_path/"index.png"
    r = subprocess.run(flags + [f"--screenshot={shot}", "--window-size=1280,2400", (d/"index.html").as_uri()], capture_output=True, text=True, timeout=180)
    assert shot.exists(), r.stderr[-2000:]
    img = np.asarray(Image.open(shot).convert("L"), float)
    assert img.std() > 10 and (img < 128).mean() > 0.01, "the screenshot is blank"
    probe = d/".probe.html"                               # a copy of the page with a script that reports what the browser loaded
    probe.write_text((d/"index.html").read_text().replace("</body>", _PROBE))
    try:
        dom = subprocess.run(flags + ["--virtual-time-budget=10000", "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=180).stdout
    finally: probe.unlink()
    m = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert m, dom[-2000:]
    got = json.loads(html_mod.unescape(m.group(1)))
    assert got["verdict"] and len(got["imgs"]) >= 2          # the main equity figure and each baseline's
    assert all(ok for _, ok in got["imgs"]), [s for s, ok in got["imgs"] if not ok]
    for name in available_reports(): assert f"{name}.html" in got["links"], name
    assert all((d/h).exists() for h in got["links"]), [h for h in got["links"] if not (d/h).exists()]

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

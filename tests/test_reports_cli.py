"""Real papermill execution of the report template, the failure path, and the `hnn` command end to end."""
import json, os, subprocess, sys
from pathlib import Path
import pandas as pd, pytest
from hnn_trading.pipeline import demo
from hnn_trading.reports import run_report, ReportError

@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    "A quick demo run (no reports) whose folder the report tests use."
    d = tmp_path_factory.mktemp("runs")
    return demo(quick=True, output_dir=d, run_id="quick", reports=False, progress=False)

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

def test_papermill_runs_the_template_directly(quick_run, tmp_path, root):
    out = tmp_path/"direct.ipynb"
    r = subprocess.run([str(Path(sys.executable).parent/"papermill"), str(root/"nbs/reports/backtest_tearsheet.ipynb"), str(out),
                        "-p", "run_dir", str(quick_run.run_dir)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert out.exists()

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

def test_demo_end_to_end_through_the_cli(hnn, tmp_path):
    """The full `hnn demo` (configs/demo.yaml): results table, artefacts, manifest, executed report and HTML."""
    r = _hnn(hnn, "demo", "--output-dir", str(tmp_path), "--run-id", "e2e", "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    d = tmp_path/"e2e"
    for f in ["config.yaml", "metrics.json", "equity.csv", "trades.csv", "folds.csv", "predictions.parquet", "manifest.json",
              "backtest_tearsheet.ipynb", "backtest_tearsheet.html", "equity.png", "tearsheet.html",
              "distribution_shift.ipynb", "distribution_shift.html", "index.html"]:
        assert (d/f).exists(), f
    assert "Sharpe" in r.stdout and "buy & hold" in r.stdout and str(d/"backtest_tearsheet.html") in r.stdout
    m = json.loads((d/"metrics.json").read_text())
    man = json.loads((d/"manifest.json").read_text())
    assert man["seed"] == 42 and man["data_fingerprint"] and man["timings"]["walk_forward"] > 0
    # fills at the next open, with costs: the strategy and the benchmark both paid something
    assert m["strategy"]["costs"] > 0 and m["benchmark"]["costs"] > 0
    P = pd.read_parquet(d/"predictions.parquet")
    assert P.timestamp.min() >= pd.Timestamp("2013-12-01", tz="UTC") and len(P) == 2 * 5 * 252
    eq = pd.read_csv(d/"equity.csv", index_col=0, parse_dates=True)
    assert eq.index[0] == P.timestamp.min().tz_convert(None) or str(eq.index[0])[:10] == str(P.timestamp.min())[:10]

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

"""Issue 28's fresh-user review, as the user meets each point: every test runs `hnn` as a subprocess in a temp folder.

A two-study LightGBM campaign (one stage-1 trial per study, three stage-2 trials each) on the bundled indices:
`hnn report hpo_study -p run_dir CAMPAIGN` names a campaign's study (it said "no study"), refuses to pick one of
several, and the campaign counts each configuration once (its results table counted the chosen model's re-run as one
more). `hnn hpo stage2` / `hnn hpo best` on its study say over how many trials each deflated Sharpe counts, and best's
stage-2 table is rounded. A small LightGBM run: `hnn data audit` counts the rows the run scores, and `hnn predict
--data` with too few bars says how many the model needs."""

import json, os, re, subprocess, sys
from pathlib import Path
import pandas as pd, pytest, yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BASE = dict(
    data=dict(source="us_indices", start="2014-01-01"),
    features=dict(set="core23"),
    labels=dict(kind="direction", horizon=1),
    splits=dict(n_folds=2, val_block=252, calib_size=126, test_size="2018-01-01"),
    model=dict(name="lightgbm"),
    training=dict(progress=False),
    strategy=dict(threshold_quantile=0.5),
    report=dict(templates=[]),
)


def _hnn(args, cwd, ok=True, timeout=900):
    env = dict(os.environ, OMP_NUM_THREADS="1", PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    r = subprocess.run([str(BIN / "hnn"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if ok:
        assert r.returncode == 0, f"hnn {' '.join(args)} failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    return r


@pytest.fixture(scope="module")
def camp(tmp_path_factory):
    "(workspace, campaign folder) of a campaign of two LightGBM studies, each with a stage 2."
    ws = tmp_path_factory.mktemp("camp")
    space = lambda f: str(ROOT / "configs/search" / f)
    d = dict(
        name="two",
        base=BASE,
        studies=dict(a=dict(space=space("lgbm_ic.yaml"), trials=1), b=dict(space=space("lgbm_ic.yaml"), trials=1)),
        stage2=dict(space=space("lgbm_stage2.yaml"), trials=3),
    )
    (ws / "two.yaml").write_text(yaml.safe_dump(d, sort_keys=False))
    _hnn(["campaign", "two.yaml", "--no-report", "--quiet"], ws)
    return ws, ws / "reports" / "two"


def test_hpo_study_reads_a_campaigns_studies_and_never_picks_one(camp):
    ws, d = camp
    r = _hnn(["report", "hpo_study", "-p", "run_dir", "reports/two"], ws, ok=False)
    assert r.returncode == 1 and "no study" not in r.stderr, r.stderr
    assert "holds 2 studies: a, b; name one with -p study NAME" in r.stderr.splitlines()[0], r.stderr
    r = _hnn(["report", "hpo_study", "-p", "run_dir", "reports/two", "-p", "study", "b"], ws)
    page = (d / "hpo_study.html").read_text()
    assert "two-b-stage2" in page and "two-a-stage2" not in page
    assert "Study <strong>two-b</strong>" in page and "Study <strong>two-a</strong>" not in page


def test_a_campaign_counts_each_configuration_once(camp):
    "The chosen model's re-run with its held-out fit is a trial already counted: one number everywhere."
    ws, d = camp
    info = json.loads((d / "studies.json").read_text())
    sels = {k: json.loads((d / "models" / k / "selection.json").read_text()) for k in ("a", "b")}
    looked = sum(sels["a"]["configurations"].values())  # every stage-1 and stage-2 trial of both studies
    assert looked == len(sels["a"]["sr_trials"]) == 2 * (1 + 3)
    assert info["n_configurations"] == looked == sels["b"]["n_configurations"]


def test_stage2_and_best_say_what_each_deflated_sharpe_counts(camp):
    ws, d = camp
    url = f"journal:///{(d / 'hpo' / 'studies.log').resolve()}"
    s2 = _hnn(["hpo", "stage2", "--storage", url, "--study", "two-a", "--top-k", "1", "--trials", "3"], ws).stdout
    assert "each deflated Sharpe here counts its own stage-2 search (3 strategy trials)" in s2, s2
    out = _hnn(["hpo", "best", "--storage", url, "--study", "two-a", "--stage2", "--no-report", "--quiet"], ws).stdout
    table = out[: out.index("trial 0 of two-a")]  # the stage-1 strategy against the chosen one
    assert "stage-1 strategy" in table and not re.search(r"\d\.\d{5,}", table), table
    assert re.search(r"stage-1 strategy\s+-?\d+\.\d{4}\s+\d+\s", table), table
    sel = json.loads((ws / "reports" / "two-a-trial0" / "selection.json").read_text())
    said = f"the deflated Sharpe counts all {sel['n_configurations']} configurations the study tried"
    assert said in out and f"over its own {sel['trials']} strategy trials" in out, out[-1500:]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    "(workspace, run folder) of a small LightGBM run, 2018 held out."
    ws = tmp_path_factory.mktemp("run")
    (ws / "lgbm.yaml").write_text(yaml.safe_dump(BASE))
    _hnn(["run", "--config", "lgbm.yaml", "--run-id", "r", "--no-report", "--quiet"], ws)
    return ws, ws / "reports" / "r"


def test_the_audit_counts_the_rows_the_run_scores(run):
    ws, d = run
    _hnn(["data", "audit", "lgbm.yaml", "--csv", "audit.csv"], ws)
    a = pd.read_csv(ws / "audit.csv").set_index(["section", "item"])
    folds = pd.read_csv(d / "folds.csv", index_col=0)
    for k, f in folds.iterrows():
        assert a.loc[("fold", f"{k} train"), "n"] == f["n_train"]
        assert a.loc[("fold", f"{k} calib"), "n"] == f["n_calib"]
        assert a.loc[("fold", f"{k} val"), "n"] == f["val_n"]
        assert a.loc[("fold", f"{k} val"), "pos_rate"] == pytest.approx(f["val_pos_rate"], abs=1e-12)
    T = pd.read_parquet(d / "test_predictions.parquet").dropna(subset=["label"])
    assert a.loc[("held-out", "test"), "n"] == len(T)
    assert a.loc[("held-out", "test"), "pos_rate"] == pytest.approx(T["label"].mean(), abs=1e-12)


def test_predict_on_too_few_bars_says_how_many_the_model_needs(run):
    ws, d = run
    from hnn_trading.config import RunConfig
    from hnn_trading.data import load_data

    p = load_data(RunConfig.from_yaml(ws / "lgbm.yaml")).reset_index()
    p[p.timestamp >= p.timestamp.unique()[-30]].to_csv(ws / "short.csv", index=False)
    r = _hnn(["predict", "--run", "reports/r", "--data", "short.csv"], ws, ok=False)
    assert r.returncode == 1 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "features.set" not in r.stderr and "30 bars per symbol" in r.stderr, r.stderr
    need = int(re.search(r"at least (\d+) bars per symbol", r.stderr)[1])
    p[p.timestamp >= p.timestamp.unique()[-need]].to_csv(ws / "enough.csv", index=False)
    _hnn(["predict", "--run", "reports/r", "--data", "enough.csv", "--out", "new.parquet"], ws)
    assert len(pd.read_parquet(ws / "new.parquet")) >= 1

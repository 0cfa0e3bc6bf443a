"""Selection never touches the held-out test period (issue 14): the same campaign is run by its commands on the bundled
indices and on a copy whose held-out bars were replaced by other prices. Every selection (stage-1 trial values, the
stage-2 choice, the out-of-fold numbers of the chosen configuration) must be identical; only the held-out numbers move."""
import json, os, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd, pytest, yaml
from hnn_trading.data import load_sample

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TEST_START = pd.Timestamp("2018-07-02", tz="UTC")

def _hnn(args, cwd):
    env = dict(os.environ, OMP_NUM_THREADS="1", PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    r = subprocess.run([str(BIN/"hnn"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"hnn {' '.join(args)}\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    return r

def _campaign(ws:Path, panel:pd.DataFrame) -> dict:
    "A user's campaign in `ws` on `panel` (written as a CSV): stage 1, stage 2, best with its strategy; what each step chose."
    ws.mkdir(parents=True)
    shutil_copy = lambda s, d: d.write_text(s.read_text())
    (ws/"configs/search").mkdir(parents=True); shutil_copy(ROOT/"configs/search/quick.yaml", ws/"configs/search/quick.yaml")
    panel.reset_index().to_csv(ws/"bars.csv", index=False)
    cfg = {"data": {"source": "bars.csv"}, "features": {"set": "basic"}, "model": {"name": "mlp", "hidden_dim": 16},
           "splits": {"n_folds": 2, "val_block": 126, "calib_size": 126, "test_size": TEST_START.strftime("%Y-%m-%d")},
           "training": {"epochs": 2, "progress": False}, "backtest": {"position_cap": 0.5, "max_positions": 2}, "seed": 7}
    (ws/"cfg.yaml").write_text(yaml.safe_dump(cfg))
    url = "sqlite:///reports/hpo/s/study.db"
    _hnn(["hpo", "stage1", "--config", "cfg.yaml", "--space", "configs/search/quick.yaml", "--study", "s", "--trials", "3", "--no-prune"], ws)
    _hnn(["hpo", "stage2", "--storage", url, "--study", "s", "--top-k", "1", "--trials", "25"], ws)
    out = _hnn(["hpo", "best", "--storage", url, "--study", "s", "--stage2", "--no-report", "--run-id", "best", "--quiet"], ws).stdout
    import optuna
    st = optuna.load_study(study_name="s", storage=f"sqlite:///{ws}/reports/hpo/s/study.db")
    d = ws/"reports/best"
    return dict(stage1={t.number: (t.value, t.params) for t in st.trials}, stage2=json.loads((ws/"reports/hpo/s/stage2.json").read_text()),
                metrics=json.loads((d/"metrics.json").read_text()), predictions=pd.read_parquet(d/"predictions.parquet"),
                test_predictions=pd.read_parquet(d/"test_predictions.parquet"), config=yaml.safe_load((d/"config.yaml").read_text()), out=out,
                selection=json.loads((d/"selection.json").read_text()))

@pytest.fixture(scope="module")
def two_campaigns(tmp_path_factory):
    p = load_sample("us_indices"); p = p[p.index.get_level_values(0) >= pd.Timestamp("2012-01-01", tz="UTC")]
    moved = p.copy()
    later = moved.index.get_level_values(0) >= TEST_START
    rng = np.random.default_rng(0)
    f = np.exp(np.cumsum(rng.normal(0.002, 0.02, later.sum())))       # a different path after the cut, same OHLC shape
    for c in ("open", "high", "low", "close"): moved.loc[later, c] = moved.loc[later, c].values * f
    moved.loc[later, "volume"] = moved.loc[later, "volume"].values[::-1]
    base = tmp_path_factory.mktemp("holdout")
    return _campaign(base/"original", p), _campaign(base/"moved", moved)

def test_selection_is_blind_to_the_held_out_period(two_campaigns):
    a, b = two_campaigns
    assert a["stage1"] == b["stage1"]                                      # every stage-1 trial: same parameters, same value
    assert a["stage2"] == b["stage2"]                                      # the same strategy chosen, with the same Sharpe and DSR
    assert a["config"]["strategy"] == b["config"]["strategy"]
    pd.testing.assert_frame_equal(a["predictions"], b["predictions"])      # the chosen configuration's out-of-fold predictions
    assert a["predictions"]["timestamp"].max() < TEST_START
    for k in ("sharpe", "total_return", "trades"): assert a["metrics"]["strategy"][k] == b["metrics"]["strategy"][k], k
    assert a["selection"] == b["selection"]

def test_the_held_out_period_is_evaluated_once_and_reported(two_campaigns):
    a, b = two_campaigns
    assert a["test_predictions"]["timestamp"].min() == pd.Timestamp("2018-07-02", tz="UTC")
    assert a["metrics"]["test"]["benchmark"]["total_return"] != b["metrics"]["test"]["benchmark"]["total_return"]   # the moved prices are seen here
    assert a["metrics"]["test"]["start"].startswith("2018-07-02") and a["metrics"]["test"]["bars"] == a["test_predictions"]["timestamp"].nunique()
    out = a["out"]
    assert "held-out test period" in out and "in-sample (selection)" in out and "held-out test" in out
    assert a["selection"]["chosen_by"].startswith("stage 2") and a["selection"]["trials"] == 25

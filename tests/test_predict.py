"""`hnn predict` (issue 28, deliverable 4): the models a run or a stage-1 trial saved predict again without training.

Each test runs `hnn` as a subprocess in a temp folder, as a user would: a small run on a synthetic market (a torch MLP
and LightGBM), then `hnn predict` on it, its held-out period, its out-of-fold blocks, new bars and a trial; the
predictions must be the run's own to 1e-6. Bad input ends in one line."""
import os, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd, pytest, yaml

BIN = Path(sys.executable).parent
COLS = ["mu", "sigma", "p_up", "p_up_raw"]
MARKET = dict(n_symbols=3, n_bars=1400, signal_strength=0.2, seed=4)
BASE = dict(
    data=dict(source="synthetic", synthetic=MARKET, periods_per_year=24 * 252),
    splits=dict(n_folds=2, val_block=250, calib_size=150, test_size=250),
    training=dict(epochs=2, progress=False),
    model=dict(hidden_dim=16, asset_emb_dim=4, lgbm_n_estimators=40),
)


def _hnn(args, cwd, timeout=900):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([str(BIN / "hnn"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _one_line(r):
    "A failed command: exit 1 and one line on stderr, no traceback."
    assert r.returncode == 1, (r.returncode, r.stdout[-500:], r.stderr[-2000:])
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    return r.stderr


def _same(got: pd.DataFrame, want: pd.DataFrame):
    "The same rows, predictions within 1e-6, the same labels and returns."
    key = ["timestamp", "symbol"]
    got, want = (d.sort_values(key).reset_index(drop=True) for d in (got, want))
    assert len(got) == len(want) > 0
    assert (got[key].astype(str).values == want[key].astype(str).values).all()
    assert np.abs(got[COLS].values - want[COLS].values).max() < 1e-6
    pd.testing.assert_frame_equal(got[["fold", "label", "fwd_return"]], want[["fold", "label", "fwd_return"]], check_dtype=False)


@pytest.fixture(scope="module", params=["mlp", "lightgbm"])
def made(request, tmp_path_factory):
    "A workspace holding a finished run of the model (held out: the last 250 bars)."
    ws = tmp_path_factory.mktemp(request.param)
    cfg = {**BASE, "model": {**BASE["model"], "name": request.param}}
    (ws / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    r = _hnn(["run", "--config", "cfg.yaml", "--run-id", "r", "--no-report", "--quiet"], ws)
    assert r.returncode == 0, r.stderr[-3000:]
    return ws, ws / "reports" / "r"


def test_a_run_saves_every_model_and_lists_it(made):
    from hnn_trading.runs import RunFolder

    ws, d = made
    rf = RunFolder(d)
    assert [p.name for p in rf.checkpoints()] == ["fold0.pt", "fold1.pt"]
    assert [p.relative_to(d).as_posix() for p in rf.checkpoints("test")] == ["checkpoints/test/fold0.pt"]
    assert {"checkpoints/fold0.pt", "checkpoints/fold1.pt", "checkpoints/test/fold0.pt"} <= set(rf._index()["files"])
    assert sum(p.stat().st_size for p in (d / "checkpoints").rglob("*.pt")) < 5e6   # small models stay small


def test_predict_reproduces_the_held_out_predictions(made):
    ws, d = made
    r = _hnn(["predict", "--run", "reports/r", "--out", "held.parquet"], ws)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "(held-out period)" in r.stdout and "without training" in r.stdout and "auc" in r.stdout, r.stdout
    _same(pd.read_parquet(ws / "held.parquet"), pd.read_parquet(d / "test_predictions.parquet"))


def test_predict_reproduces_the_out_of_fold_predictions(made):
    ws, d = made
    r = _hnn(["predict", "--run", "reports/r", "--oof", "--out", "oof.csv"], ws)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "fold 0" in r.stdout and "fold 1" in r.stdout, r.stdout                  # a metrics row per fold and one over all
    got = pd.read_csv(ws / "oof.csv", parse_dates=["timestamp"])
    _same(got, pd.read_parquet(d / "predictions.parquet"))


def test_new_bars_are_predicted_by_the_held_out_fit_causally(made):
    "The run's own bars as a file give its held-out predictions; a changed future leaves earlier predictions alone."
    from hnn_trading.synthetic import make_market

    ws, d = made
    panel = make_market(**MARKET)[0]
    panel.reset_index().to_csv(ws / "bars.csv", index=False)
    r = _hnn(["predict", "--run", "reports/r", "--data", "bars.csv", "--out", "new.parquet"], ws)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "history before the first predicted bar" in r.stdout, r.stdout
    new = pd.read_parquet(ws / "new.parquet")
    _same(new, pd.read_parquet(d / "test_predictions.parquet"))
    cut = np.sort(new.timestamp.unique())[100]
    other = panel.copy()
    later = other.index.get_level_values("timestamp") > cut
    other.loc[later, ["open", "high", "low", "close"]] *= 1.03
    other.loc[later, "volume"] *= 3
    other.reset_index().to_csv(ws / "bars2.csv", index=False)
    r = _hnn(["predict", "--run", "reports/r", "--data", "bars2.csv", "--start", str(cut - pd.Timedelta("50h")), "--out", "new2.parquet"], ws)
    assert r.returncode == 0, r.stderr[-3000:]
    new2 = pd.read_parquet(ws / "new2.parquet")
    assert new2.timestamp.min() >= cut - pd.Timedelta("50h")
    early = lambda P: P[P.timestamp <= cut].sort_values(["timestamp", "symbol"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(early(new2)[COLS], early(new)[early(new).timestamp >= new2.timestamp.min()].reset_index(drop=True)[COLS])
    assert (early(new2)[COLS].values != new[new.timestamp > cut][COLS].values[: len(early(new2))]).any()  # not a constant


def test_bad_input_says_what_in_one_line(made):
    import shutil
    from hnn_trading.synthetic import make_market

    ws, d = made
    before = (d / "predictions.parquet").read_bytes()
    e = _one_line(_hnn(["predict", "--run", "."], d))                            # the default --out is the run's own file's name
    assert "inside" in e and (d / "predictions.parquet").read_bytes() == before   # a run's files are read, never replaced
    assert "no such run folder" in _one_line(_hnn(["predict", "--run", "reports/nope"], ws))
    assert "not a run folder" in _one_line(_hnn(["predict", "--run", "reports"], ws))   # a folder, but no run's config
    bare = ws / "reports" / "bare"
    shutil.copytree(d, bare, ignore=shutil.ignore_patterns("checkpoints"))
    assert "no held-out model" not in (e := _one_line(_hnn(["predict", "--run", "reports/bare"], ws))) and "no fold models" in e
    panel = make_market(**MARKET)[0].reset_index()
    panel.drop(columns=["volume"]).to_csv(ws / "novol.csv", index=False)
    assert "novol.csv" in _one_line(_hnn(["predict", "--run", "reports/r", "--data", "novol.csv"], ws))
    assert "no such file" in _one_line(_hnn(["predict", "--run", "reports/r", "--data", "missing.csv"], ws))
    short = panel[panel.timestamp <= panel.timestamp.unique()[900]]
    short.to_csv(ws / "old.csv", index=False)                                    # every bar before the model's training ended
    assert "no bar to predict" in _one_line(_hnn(["predict", "--run", "reports/r", "--data", "old.csv"], ws))
    if "mlp" in ws.name:                                                          # an embedding knows its own symbols only
        panel.assign(symbol=panel.symbol + "X").to_csv(ws / "other.csv", index=False)
        assert "not among the 3" in _one_line(_hnn(["predict", "--run", "reports/r", "--data", "other.csv"], ws))
    ck = d / "checkpoints" / "test" / "fold0.pt"
    keep = ck.read_bytes()
    try:
        ck.write_bytes(keep[:-10] + bytes(10))                                    # a changed model is refused
        assert "fold0.pt" in _one_line(_hnn(["predict", "--run", "reports/r"], ws))
    finally:
        ck.write_bytes(keep)


def test_a_trials_models_give_its_out_of_fold_predictions(tmp_path):
    space = dict(objective="stage1", params={"model.dropout": dict(type="float", low=0.0, high=0.3)})
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(space))
    for name in ("mlp", "lightgbm"):
        cfg = {**BASE, "model": {**BASE["model"], "name": name}}
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(cfg))
        url = f"sqlite:///{name}.db"
        r = _hnn(["hpo", "stage1", "--config", f"{name}.yaml", "--space", "space.yaml", "--trials", "1", "--storage", url, "--study", name, "--no-prune"], tmp_path)
        assert r.returncode == 0, r.stderr[-3000:]
        r = _hnn(["predict", "--storage", url, "--study", name, "--trial", "0", "--out", f"{name}.parquet"], tmp_path)
        assert r.returncode == 0, r.stderr[-3000:]
        assert "(out of fold)" in r.stdout, r.stdout
        trial = [p for p in (tmp_path / "reports" / "hpo").rglob("trial_0000") if name in str(p)][0]
        _same(pd.read_parquet(tmp_path / f"{name}.parquet"), pd.read_parquet(trial / "predictions.parquet"))
        assert "no trial 5" in _one_line(_hnn(["predict", "--storage", url, "--study", name, "--trial", "5"], tmp_path))


def test_an_ensemble_run_predicts_as_its_members_combined(tmp_path):
    "An ensemble's members predict from their own models; combined with the weights the run recorded, they give its predictions."
    cfg = {**BASE, "model": {**BASE["model"], "name": "mlp"}, "ensemble": {"models": ["mlp", "lightgbm"]}}
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    r = _hnn(["run", "--config", "cfg.yaml", "--run-id", "e", "--no-report", "--quiet"], tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    d = tmp_path / "reports" / "e"
    for flags, want in (([], "test_predictions.parquet"), (["--oof"], "predictions.parquet")):
        r = _hnn(["predict", "--run", "reports/e", *flags, "--out", "p.parquet"], tmp_path)
        assert r.returncode == 0, r.stderr[-3000:]
        assert "mlp + lightgbm models" in r.stdout, r.stdout
        _same(pd.read_parquet(tmp_path / "p.parquet"), pd.read_parquet(d / want))


def test_a_multi_horizon_trials_models_reproduce_every_horizon(tmp_path):
    "Several horizons: each head's calibrator and target scale are saved; predict_folder gives every horizon's columns again."
    from hnn_trading.config import RunConfig
    from hnn_trading.data import load_data
    from hnn_trading.predict import predict_folder
    from hnn_trading.training import run_walk_forward
    c = RunConfig.from_dict({**BASE, "model": {**BASE["model"], "name": "mlp"}, "labels": {"horizons": [1, 4], "horizon": 4}})
    wf = run_walk_forward(c, load_data(c), checkpoint_dir=tmp_path)
    got = predict_folder(tmp_path, "oof").predictions
    hcols = [f"{k}_h{h}" for h in (1, 4) for k in ("mu", "sigma", "p_up")]
    assert set(hcols) <= set(got.columns)
    assert np.abs(got[COLS + hcols].values - wf.predictions[COLS + hcols].values).max() < 1e-6
    pd.testing.assert_frame_equal(got[["label_h1", "label_h4", "fwd_return_h4"]], wf.predictions[["label_h1", "label_h4", "fwd_return_h4"]])

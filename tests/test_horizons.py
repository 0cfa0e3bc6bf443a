"""Several horizons in one model (issue 15): a head per horizon trained together, the purge of the longest horizon,
every horizon in the predictions, the run metrics and the model_evaluation report."""
import json, warnings
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch
from scipy.stats import spearmanr
from hnn_trading.config import RunConfig, ConfigError
from hnn_trading.data import load_data
from hnn_trading.features import perturb_future
from hnn_trading.training import run_walk_forward, load_checkpoint
from hnn_trading.datasets import time_positions

HS = [1, 3, 8]
BASE = {"data.source": "synthetic", "data.synthetic": dict(n_symbols=4, n_bars=420, freq="1D", signal_strength=0.3, seed=3),
        "features.set": "basic", "model.name": "mlp", "model.hidden_dim": 16, "model.feature_window": 4, "training.epochs": 3,
        "training.patience": 3, "training.progress": False, "splits.n_folds": 2, "splits.val_block": 60, "splits.calib_size": 30,
        "labels.kind": "forward_return", "labels.horizon": 3, "labels.horizons": HS}
PRED = [f"{k}_h{h}" for h in HS for k in ("mu", "sigma", "p_up")] + ["mu", "sigma", "p_up", "p_up_raw"]

def _wf(cfg, panel, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_walk_forward(cfg, panel, progress=False, **kw)

@pytest.fixture(scope="module")
def panel(): return load_data(RunConfig().override(BASE).data)

@pytest.fixture(scope="module")
def wf(panel, tmp_path_factory):
    d = tmp_path_factory.mktemp("ck")
    return _wf(RunConfig().override(BASE), panel, checkpoint_dir=d), d

def test_every_horizon_is_predicted_and_labelled(wf, panel):
    "Predictions carry mu, sigma, P(up), label and realised return per horizon; the usual columns are the traded horizon's (labels.horizon 3)."
    P = wf[0].predictions
    for h in HS: assert {f"mu_h{h}", f"sigma_h{h}", f"p_up_h{h}", f"label_h{h}", f"fwd_return_h{h}"} <= set(P.columns)
    np.testing.assert_array_equal(P["mu"], P["mu_h3"]); np.testing.assert_array_equal(P["p_up"], P["p_up_h3"])
    np.testing.assert_array_equal(P["fwd_return"], P["fwd_return_h3"])
    close = panel["close"].unstack("symbol")
    for h in HS:                                                      # each horizon's realised return, from the closes
        want = (close.shift(-h) / close - 1).stack().rename("want")
        got = P.set_index(["timestamp", "symbol"])[f"fwd_return_h{h}"].to_frame().join(want.rename_axis(["timestamp", "symbol"]))
        np.testing.assert_allclose(got[f"fwd_return_h{h}"], got["want"], rtol=1e-12, equal_nan=True)
        assert np.array_equal(P[f"label_h{h}"].dropna(), (P[f"fwd_return_h{h}"].dropna() > 0).astype(float))
    assert P[[f"mu_h{h}" for h in HS]].corr().abs().min().min() < 0.999       # separate heads, not one number copied

@pytest.mark.parametrize("horizons, gap", [(HS, 8), ([3], 3)])
def test_the_purge_is_the_longest_horizon(panel, horizons, gap):
    "Without a calibration slice, the bars between a fold's last training bar and its first validation bar are the purge: max(horizons) = 8 with several horizons, the traded 3 alone."
    cfg = RunConfig().override(BASE | {"labels.horizons": horizons, "splits.calib_size": 0, "training.epochs": 1})
    t = panel.index.get_level_values("timestamp").unique()
    assert [t.get_loc(f["val_start"]) - t.get_loc(f["train_end"]) - 1 for f in _wf(cfg, panel).folds] == [gap, gap]

def test_each_horizons_metrics_are_computed_from_its_predictions(wf):
    "The run's per-horizon rank-IC per bar, recomputed here from the prediction columns with scipy; scale and RMSE ratio likewise."
    res = wf[0]; P = res.predictions; M = res.metrics["horizons"]
    assert sorted(map(int, M)) == HS
    for h in HS:
        q = P.dropna(subset=[f"mu_h{h}", f"fwd_return_h{h}"])
        per = [spearmanr(g[f"mu_h{h}"], g[f"fwd_return_h{h}"])[0] for _, g in q.groupby("timestamp") if len(g) >= 3]
        assert M[str(h)]["days"] == len(per) and M[str(h)]["daily_rank_ic_target"] == pytest.approx(np.mean(per), abs=1e-12)
        e, L, n = np.asarray(per) - np.mean(per), h - 1, len(per)          # Newey-West over the h - 1 days an h-bar return overlaps
        v = sum((1 if l == 0 else 2 * (1 - l / (L + 1))) * np.sum(e[l:] * e[:n - l]) / n for l in range(L + 1))
        assert M[str(h)]["daily_rank_ic_target_se"] == pytest.approx(np.sqrt(v / (n - 1)) if L else np.std(per, ddof=1) / np.sqrt(n), rel=1e-9)
        assert M[str(h)]["scale"] == pytest.approx(q[f"mu_h{h}"].std(ddof=0) / q[f"fwd_return_h{h}"].std(ddof=0), rel=1e-9)
        y, m = q[f"fwd_return_h{h}"].to_numpy(), q[f"mu_h{h}"].to_numpy()
        assert M[str(h)]["rmse_vs_naive"] == pytest.approx(np.sqrt(np.mean((m - y) ** 2) / np.mean(y ** 2)), rel=1e-9)

def test_a_multi_horizon_checkpoint_reloads_and_predicts_every_horizon(wf):
    res, d = wf
    ck = load_checkpoint(d/"fold1.pt")
    assert ck["meta"]["horizons"] == HS and len(ck["meta"]["s_y"]) == 3
    out = ck["model"](torch.randn(5, 4, len(ck["meta"]["columns"])), torch.zeros(5, dtype=torch.long))
    assert out["mu"].shape == (5, 3) and out["p_up"].shape == (5, 3)

@pytest.mark.parametrize("purge", [None, 1])
def test_predictions_before_a_cut_ignore_bars_after_it(panel, purge):
    "Garbage after a cut 2 bars into the last validation block leaves every earlier prediction bit-identical; with the purge forced to 1 bar (the 8-bar labels of the last training rows then reach past the cut) the same check fails, so it can."
    cfg = RunConfig().override(BASE | {"splits.purge": purge, "splits.calib_size": 0})
    a = _wf(cfg, panel)
    t = panel.index.get_level_values("timestamp").unique()
    cut = t[t.get_loc(a.folds[-1]["val_start"]) + 2]
    b = _wf(cfg, perturb_future(panel, cut, 1))
    pa, pb = (x.predictions[x.predictions["timestamp"] <= cut] for x in (a, b))
    same = all(np.array_equal(pa[c].to_numpy(), pb[c].to_numpy()) for c in PRED)
    assert same == (purge is None)

@pytest.mark.parametrize("upd, words", [
    ({"labels.horizons": [1, 3, 3]}, "names a horizon twice"),
    ({"labels.horizons": [1, 5], "labels.horizon": 3}, "labels.horizon = 3 is not one of horizons [1, 5]"),
    ({"labels.horizons": [0, 3]}, "every horizon must be a whole number of bars in [1, 500], got 0"),
    ({"labels.horizons": [1, 3], "labels.kind": "triple_barrier"}, "triple-barrier labels have one time limit")])
def test_bad_horizons_name_the_key(upd, words):
    with pytest.raises(ConfigError, match=None) as e: RunConfig().override(upd)
    assert words in str(e.value)

def test_a_model_without_heads_is_refused_before_anything_is_written(hnn, tmp_path):
    "LightGBM predicts one target: `hnn run` with several horizons stops in one line, naming the key, with no run folder."
    import subprocess
    cfg = Path(__file__).resolve().parents[1]/"configs"/"cross_section.yaml"
    r = subprocess.run([hnn, "run", "--config", str(cfg), "--set", "model.name=lightgbm", "--set", "ensemble.models=[]", "--set", "labels.horizons=[1, 5]",
                        "--run-id", "x"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "labels.horizons = [1, 5]: several horizons need neural models" in r.stderr and "model.name is lightgbm" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) <= 2
    assert not (tmp_path/"reports").exists()
    r = subprocess.run([hnn, "run", "--config", str(cfg), "--set", "ensemble.models=[hermite, lightgbm]", "--set", "labels.horizons=[1, 5]", "--run-id", "x"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300)                # an ensemble member: refused before the first member trains
    assert r.returncode != 0 and "ensemble.models has lightgbm" in r.stderr and not (tmp_path/"reports").exists(), r.stderr

def test_the_per_bar_standard_error_of_overlapping_returns_is_honest():
    "An h-bar return taken every bar overlaps the next h - 1, so with a persistent forecast neighbouring days' ICs are correlated: std / sqrt(days) makes a useless forecast of 20-day returns 'significant' (|t| > 2) in most samples; the Newey-West SE over h - 1 lags brings it down to about 10% (still above the nominal 5%: Bartlett weights under-correct at this horizon)."
    from hnn_trading.metrics import daily_ic
    rng = np.random.default_rng(0); T, N, h, S = 400, 20, 20, 60
    sw = lambda a: np.lib.stride_tricks.sliding_window_view(a, h, axis=0).sum(-1)[:T]
    t, naive, hac = np.repeat(np.arange(T), N), 0, 0
    for _ in range(S):
        y, x = sw(rng.standard_normal((T + h, N))), sw(rng.standard_normal((T + h, N)))     # overlapping h-bar returns; an unrelated smooth forecast
        naive += abs(daily_ic(t, x.ravel(), y.ravel())["daily_rank_ic_t"]) > 2
        hac += abs(daily_ic(t, x.ravel(), y.ravel(), lags=h - 1)["daily_rank_ic_t"]) > 2
    assert naive / S > 0.4 and hac / S < 0.2, (naive / S, hac / S)

def test_one_symbol_is_scored_without_a_cross_section():
    "With one symbol there is no bar to rank: the per-bar rows are NaN over 0 bars, the pooled skill is still computed (the tutorial's report failed on this)."
    from hnn_trading.metrics import mu_skill
    rng = np.random.default_rng(0); a = rng.standard_normal(300)
    m = mu_skill(pd.date_range("2020", periods=300), a, a + rng.standard_normal(300), horizon=5)
    assert m["days"] == 0 and np.isnan(m["daily_rank_ic"]) and m["ic"] > 0.5 and m["n"] == 300

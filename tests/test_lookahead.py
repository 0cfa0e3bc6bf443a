"""Perturb the future, check the past: features, labels, fold membership, scalers and fills at or before a cut
must be bit-identical when every bar after the cut is replaced by garbage."""
import numpy as np, pandas as pd, pytest
from hypothesis import given, settings, strategies as st, HealthCheck
from hnn_trading import features, labels
from hnn_trading.features import perturb_future
from hnn_trading.data import load_sample
from hnn_trading.synthetic import make_market
from hnn_trading.splits import RollingOriginSplitter
from hnn_trading.datasets import Scaler, time_positions, rows_in
from hnn_trading.backtest import run_backtest
from hnn_trading.config import BacktestConfig

SP = load_sample("us_indices")
SP = SP[SP.index.get_level_values(0) >= pd.Timestamp("2016-01-01", tz="UTC")]   # two symbols, ~750 bars
SYN, _ = make_market(n_symbols=4, n_bars=500, signal_strength=0.1, seed=11)
PANELS = {"bundled": SP, "synthetic": SYN}
_t = SYN.index.get_level_values(0).unique()
EXOG = {"bundled": load_sample("vix"),
        "synthetic": pd.DataFrame({"close": 15 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.05, len(_t))))},
                                  index=pd.MultiIndex.from_arrays([_t, ["VIX"] * len(_t)], names=["timestamp", "symbol"]))}
HS = dict(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])

def _cut(panel, frac):
    t = panel.index.get_level_values("timestamp").unique()
    return t[int(frac * (len(t) - 2)) + 1]

@pytest.mark.parametrize("name", ["bundled", "synthetic"])
@pytest.mark.parametrize("fset", features.available())
@settings(**HS)
@given(frac=st.floats(0.05, 0.95), seed=st.integers(0, 10**6))
def test_features_ignore_the_future(name, fset, frac, seed):
    panel = PANELS[name]; cut = _cut(panel, frac)
    ex = EXOG[name]
    a = features.build(panel, fset, exog={"vix": ex["close"]})
    b = features.build(perturb_future(panel, cut, seed), fset, exog={"vix": perturb_future(ex, cut, seed)["close"]})
    past = a.index.get_level_values("timestamp") <= cut
    pd.testing.assert_frame_equal(a[past], b[past], check_exact=True)

@pytest.mark.parametrize("name", ["bundled", "synthetic"])
@pytest.mark.parametrize("cs", ["zscore", "rank"])
@settings(**HS)
@given(frac=st.floats(0.05, 0.95), seed=st.integers(0, 10**6), h=st.integers(1, 10))
def test_cross_sectional_features_and_targets_ignore_the_future(name, cs, frac, seed, h):
    "features.cs_norm and labels.cs_norm: a bar's normalised features use that bar's cross-section only; a normalised target is fixed once every label of its bar is known."
    panel = PANELS[name]; cut = _cut(panel, frac); fut = perturb_future(panel, cut, seed)
    a, b = features.build(panel, "core23+cross", cs_norm=cs), features.build(fut, "core23+cross", cs_norm=cs)
    past = a.index.get_level_values("timestamp") <= cut
    pd.testing.assert_frame_equal(a[past], b[past], check_exact=True)
    la, lb = labels.make(panel, "forward_return", h), labels.make(fut, "forward_return", h)
    known = (la["known_at"] <= cut).values
    ta, tb = features.cross_sectional(la["fwd_return"], cs), features.cross_sectional(lb["fwd_return"], cs)
    pd.testing.assert_series_equal(ta[known], tb[known], check_exact=True)

@pytest.mark.parametrize("name", ["bundled", "synthetic"])
@pytest.mark.parametrize("kind", labels.KINDS)
@settings(**HS)
@given(frac=st.floats(0.05, 0.95), seed=st.integers(0, 10**6), h=st.integers(1, 10))
def test_known_labels_ignore_the_future(name, kind, frac, seed, h):
    panel = PANELS[name]; cut = _cut(panel, frac)
    kw = dict(profit_target=0.01 * h ** 0.5, stop_loss=0.008 * h ** 0.5, max_hold=h) if kind == "triple_barrier" else dict(horizon=h)
    a, b = labels.make(panel, kind, **kw), labels.make(perturb_future(panel, cut, seed), kind, **kw)
    assert labels.audit(a)["max_bars_ahead"] <= h
    known = a["known_at"] <= cut
    pd.testing.assert_frame_equal(a[known], b[known], check_exact=True)
    # and nothing is known before its horizon has passed
    t = a.index.get_level_values("timestamp")
    assert (a["known_at"].dropna() > t[a["known_at"].notna().values]).all()

@settings(**HS)
@given(n=st.integers(400, 1200), extra=st.integers(1, 300), folds=st.integers(1, 5), purge=st.integers(0, 5), emb=st.integers(0, 3),
       window=st.sampled_from(["expanding", "sliding"]))
def test_folds_of_past_bars_do_not_move_when_data_is_appended_in_a_new_block(n, extra, folds, purge, emb, window):
    """Appending whole validation blocks only adds folds at the end: the earlier folds' train/calib/val bars are unchanged."""
    sp = RollingOriginSplitter(n_folds=folds, val_block=50, calib_size=30, purge=purge, embargo=emb, min_train=100, window=window)
    a = sp.split(n)
    sp2 = RollingOriginSplitter(n_folds=folds + 2, val_block=50, calib_size=30, purge=purge, embargo=emb, min_train=100, window=window)
    b = sp2.split(n + 100)
    for fa, fb in zip(a, b[:-2]):
        if window == "expanding": np.testing.assert_array_equal(fa.train, fb.train)
        np.testing.assert_array_equal(fa.calib, fb.calib); np.testing.assert_array_equal(fa.val, fb.val)
    for f in b:
        assert f.train[-1] + purge + emb < (f.calib[0] if len(f.calib) else f.val[0])
        assert f.calib[-1] + purge + emb < f.val[0]

@pytest.mark.parametrize("name", ["bundled", "synthetic"])
@settings(**HS)
@given(frac=st.floats(0.3, 0.95), seed=st.integers(0, 10**6))
def test_scaler_fitted_on_train_ignores_the_future(name, frac, seed):
    panel = PANELS[name]
    t = panel.index.get_level_values("timestamp").unique()
    folds = RollingOriginSplitter(n_folds=2, val_block=60, calib_size=40, purge=1, min_train=100).split(len(t))
    cut = t[folds[0].train[-1] + 1 + int(frac * 20)]
    scalers = []
    for p in (panel, perturb_future(panel, cut, seed)):
        X = features.build(p, "basic").values
        tpos, _ = time_positions(p.index)
        scalers.append(Scaler().fit(X[rows_in(tpos, folds[0].train, X)]))
    np.testing.assert_array_equal(scalers[0].mean, scalers[1].mean); np.testing.assert_array_equal(scalers[0].std, scalers[1].std)

@pytest.mark.parametrize("name", ["bundled", "synthetic"])
@settings(**HS)
@given(frac=st.floats(0.05, 0.9), seed=st.integers(0, 10**6))
def test_fills_and_equity_ignore_the_future(name, frac, seed):
    panel = PANELS[name]; cut = _cut(panel, frac)
    t = panel.index.get_level_values("timestamp").unique(); syms = panel.index.get_level_values("symbol").unique()
    rng = np.random.default_rng(seed)
    W = pd.DataFrame(rng.choice([0.0, 0.1, 0.25], size=(len(t), len(syms))), index=t, columns=syms)
    cfg = BacktestConfig(position_cap=0.25)
    a = run_backtest(panel, W, cfg)
    W2 = W.copy(); W2[W2.index > cut] = 0.25 - W2[W2.index > cut]
    b = run_backtest(perturb_future(panel, cut, seed), W2, cfg)
    k = t.get_loc(cut)
    np.testing.assert_array_equal(a.equity.values[:k + 1], b.equity.values[:k + 1])
    closed = a.trades[a.trades.exit_time <= cut].reset_index(drop=True)
    pd.testing.assert_frame_equal(closed, b.trades[b.trades.exit_time <= cut].reset_index(drop=True))

def _slow_triple_barrier(panel, pt, sl, H):
    "Bar-by-bar reference of the triple-barrier rules (stop first on a bar that touches both)."
    out, idx = [], []
    for sym, g in panel.groupby(level="symbol", sort=False):
        idx += list(g.index)
        o, h, l, c = (g[k].values for k in ("open", "high", "low", "close")); n = len(c)
        for i in range(n):
            up, dn, res = c[i] * (1 + pt), c[i] * (1 - sl), None
            for j in range(i + 1, min(i + H, n - 1) + 1):
                if l[j] <= dn: res = (0.0, -1.0, min(o[j], dn) / c[i] - 1); break
                if h[j] >= up: res = (1.0, 1.0, max(o[j], up) / c[i] - 1); break
            if res is None and i + H <= n - 1: r = c[i + H] / c[i] - 1; res = (float(r > 0), 0.0, r)
            out.append(res or (np.nan, np.nan, np.nan))
    return pd.DataFrame(out, index=pd.MultiIndex.from_tuples(idx)).reindex(panel.index).values

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_triple_barrier_matches_a_bar_by_bar_reference(seed):
    p, _ = make_market(n_symbols=2, n_bars=300, seed=seed)
    pt, sl, H = [(0.01, 0.01, 10), (0.02, 0.005, 5), (0.003, 0.02, 30)][seed]
    fast = labels.triple_barrier(p, pt, sl, H)
    ref = _slow_triple_barrier(p, pt, sl, H)
    np.testing.assert_allclose(fast[["label", "barrier", "fwd_return"]].values, ref, rtol=1e-12, equal_nan=True)

@pytest.mark.parametrize("name", ["bundled", "synthetic"])
@settings(**HS)
@given(frac=st.floats(0.1, 0.9), seed=st.integers(0, 10**6), window=st.integers(1, 30))
def test_window_contents_ignore_the_future(name, frac, seed, window):
    from hnn_trading.datasets import WindowDataset
    panel = PANELS[name]; cut = _cut(panel, frac)
    da = WindowDataset(features.build(panel, "core23"), window)
    db = WindowDataset(features.build(perturb_future(panel, cut, seed), "core23"), window)
    past = (panel.index.get_level_values("timestamp") <= cut)
    np.testing.assert_array_equal(da.valid[past], db.valid[past])
    rows = np.flatnonzero(past & da.valid)
    np.testing.assert_array_equal(da.batch(da.tensor(), rows).numpy(), db.batch(db.tensor(), rows).numpy())


# --- ensemble weights: walk-forward (issue 26, deliverable 3) ---------------------------------------------------------
from hnn_trading.config import RunConfig
from hnn_trading.ensemble import ensemble_result, walk_forward_weights, WEIGHTINGS
from hnn_trading.training import WalkForwardResult
from hnn_trading.metrics import walk_forward_metrics

def _member(seed, skill, n_folds=4, block=60, n_sym=4):
    "A member's out-of-fold predictions on n_folds consecutive blocks of bars, n_sym symbols; `skill`: how much mu sees."
    g = np.random.default_rng(100)                                   # the market: the same for every member
    T = pd.date_range("2024-01-01", periods=n_folds * block, tz="UTC")
    ret = g.standard_normal((len(T), n_sym)) * 0.01
    e = np.random.default_rng(seed).standard_normal(ret.shape) * 0.01
    mu = skill * ret + e
    P = pd.DataFrame(dict(timestamp=np.repeat(T, n_sym), symbol=np.tile([f"S{i}" for i in range(n_sym)], len(T)),
                          fold=np.repeat(np.arange(n_folds), block * n_sym), mu=mu.ravel(), sigma=0.01,
                          fwd_return=ret.ravel(), label=(ret.ravel() > 0).astype(float)))
    P["p_up"] = 1 / (1 + np.exp(-P["mu"] / 0.01))
    P["p_up_raw"] = P["p_up"]
    folds = [dict(fold=k, train_start=0, train_end=0, val_start=0, val_end=0, n_train=0, n_calib=0, n_val=block)
             for k in range(n_folds)]
    return WalkForwardResult(folds, P, walk_forward_metrics(P))

def _scramble(P, after, seed):
    "P with every row after timestamp `after` (predictions, returns and labels) replaced by noise."
    q = P.copy()
    m = q["timestamp"] > after
    g = np.random.default_rng(seed)
    q.loc[m, ["mu", "p_up", "p_up_raw", "fwd_return"]] = g.uniform(-1, 1, (int(m.sum()), 4))
    q.loc[m, "label"] = g.integers(0, 2, int(m.sum())).astype(float)
    return q

def _members(skills=(1.0, 0.3, -0.2)):
    return {f"m{i}": _member(i, s) for i, s in enumerate(skills)}

@pytest.mark.parametrize("weighting", WEIGHTINGS)
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6))
def test_ensemble_of_earlier_folds_ignores_the_last_fold(weighting, seed):
    """Scramble the last fold's predictions and labels of every member: the ensemble's predictions of every earlier
    fold must be bit-identical (its weights come from the folds before each fold, never from a later one)."""
    members = _members()
    last = members["m0"].predictions["fold"].max()
    cut = members["m0"].predictions.loc[members["m0"].predictions["fold"] < last, "timestamp"].max()
    changed = {n: WalkForwardResult(m.folds, p := _scramble(m.predictions, cut, seed + i), walk_forward_metrics(p))
               for i, (n, m) in enumerate(members.items())}
    a = ensemble_result(members, weighting).predictions
    b = ensemble_result(changed, weighting).predictions
    early = a["fold"] < last
    assert early.sum() > 0
    pd.testing.assert_frame_equal(a[early], b[early], check_exact=True)

@pytest.mark.parametrize("horizon", [1, 5, 30])
@pytest.mark.parametrize("weighting", ["auc", "daily_rank_ic"])
def test_a_folds_weights_use_only_labels_ended_before_it(horizon, weighting):
    """Fold k's weights may use a prediction at bar t only when its h-bar label has ended by fold k's first bar
    (t + h <= t_k): scrambling every row after t_k - h leaves them unchanged."""
    members = _members()
    cfg = RunConfig().override({"labels.horizon": horizon})
    span = cfg.labels.span
    P0 = members["m0"].predictions
    times = np.sort(P0["timestamp"].unique())
    W = walk_forward_weights(members, weighting, span)
    test_w = ensemble_result(members, weighting, cfg)
    assert [f["members"] for f in test_w.folds][0] == "m0 0.33, m1 0.33, m2 0.33"        # the first fold: equal weights
    for k in (1, 2, 3):
        i0 = int(np.searchsorted(times, P0.loc[P0["fold"] == k, "timestamp"].min()))
        if i0 - span < 0: continue
        after = times[i0 - span]
        changed = {n: WalkForwardResult(m.folds, _scramble(m.predictions, after, k), {}) for n, m in members.items()}
        assert walk_forward_weights(changed, weighting, span)[k] == W[k]

"""The cross-sectional section of model_evaluation: per-bar rank-IC, quantile returns and spread, quantile turnover
(`metrics.ic_series`, `factor_quantiles`, `quantile_returns`, `quantile_turnover`, `cross_section`), checked against
the definitions written out here and, where alphalens is importable, against alphalens itself."""
import numpy as np, pandas as pd, pytest
from scipy.stats import spearmanr
from hnn_trading import metrics as M

def _panel(T=40, N=8, seed=0):
    rng = np.random.default_rng(seed)
    mu = rng.standard_normal((T, N))
    r = 0.3 * mu + rng.standard_normal((T, N))
    return pd.DataFrame(dict(timestamp=np.repeat(pd.date_range("2020-01-01", periods=T, freq="D", tz="UTC"), N),
                             symbol=np.tile([f"S{i}" for i in range(N)], T), mu=mu.ravel(), fwd_return=0.01 * r.ravel()))

def test_hand_case():
    "Six symbols, four groups: pd.qcut of ranks 1..6 cuts at 2.25, 3.5, 4.75, so the groups hold 2, 1, 1, 2."
    P = pd.DataFrame(dict(timestamp=np.repeat([0, 1], 6), symbol=list("abcdef") * 2,
                          mu=[6, 5, 4, 3, 2, 1, 1, 2, 3, 4, 6, 5],
                          fwd_return=[.06, .05, .04, .03, .02, .01, -.01, 0, .01, .02, .03, .04]))
    assert M.factor_quantiles(P["timestamp"], P["mu"], 4).tolist() == [4, 4, 3, 2, 1, 1, 1, 1, 2, 3, 4, 4]
    xs = M.cross_section(P, quantiles=4)
    assert xs["quantile_returns_raw"].loc[0].tolist() == pytest.approx([.015, .03, .04, .055])
    assert xs["spread_raw"].tolist() == pytest.approx([.04, .04])
    assert xs["turnover_top"].tolist() == [1.0] and xs["turnover_bottom"].tolist() == [1.0]
    assert xs["rank_ic_raw"].tolist() == pytest.approx([1.0, 1 - 6 * 2 / (6 * 35)])

def test_against_the_definitions_written_out():
    P = _panel()
    q = M.factor_quantiles(P["timestamp"], P["mu"], 5)
    qr = M.quantile_returns(P["timestamp"], P["mu"], P["fwd_return"], 5)
    top = M.quantile_turnover(P["timestamp"], P["symbol"], q, 5, period=2)
    members, prev = {}, []
    for t, g in P.assign(q=q).groupby("timestamp"):
        rank = g["mu"].rank().to_numpy()                                   # mu has no ties here
        edges = np.quantile(rank, np.linspace(0, 1, 6))                    # qcut: equal-count edges, right-closed bins
        want = np.clip(np.searchsorted(edges, rank, side="left"), 1, 5)
        assert g["q"].tolist() == want.tolist()
        for k in range(1, 6):
            assert qr.loc[t, k] == pytest.approx(g.loc[want == k, "fwd_return"].mean(), rel=1e-12)
        members[t] = set(g.loc[want == 5, "symbol"])
        if len(prev) >= 2:                                                 # new names since 2 bars before / names now
            assert top[t] == len(members[t] - members[prev[-2]]) / len(members[t])
        prev.append(t)
    assert len(top) == P["timestamp"].nunique() - 2
    ric = M.ic_series(P["timestamp"], P["mu"], P["fwd_return"])["rank_ic"]
    assert ric.to_numpy() == pytest.approx([spearmanr(g["mu"], g["fwd_return"])[0] for _, g in P.groupby("timestamp")], abs=1e-12)
    xs = M.cross_section(P, horizon=3)
    assert xs["spread_raw_mean"] == pytest.approx((qr[5] - qr[1]).mean(), rel=1e-12)
    assert xs["spread_raw_se"] == M.hac_se((qr[5] - qr[1]).to_numpy(), 2)     # Newey-West over horizon - 1 lags
    d = M.daily_ic(P["timestamp"], P["mu"], P["fwd_return"], lags=2)
    assert xs["rank_ic_raw_mean"] == pytest.approx(d["daily_rank_ic"], abs=1e-15) and xs["rank_ic_raw_t"] == pytest.approx(d["daily_rank_ic_t"], rel=1e-12)

def test_a_bar_is_cut_on_its_own_predictions():
    "Perturb the future: changing the last bar's mu and returns moves nothing at the bars before it."
    P = _panel(); last = P["timestamp"] == P["timestamp"].max()
    Q = P.assign(mu=np.where(last, -P["mu"] * 7, P["mu"]), fwd_return=np.where(last, P["fwd_return"][::-1] + 1, P["fwd_return"]))
    a, b = M.cross_section(P), M.cross_section(Q)
    for k in ("rank_ic_raw", "spread_raw", "turnover_top", "turnover_bottom"):
        assert len(a[k]) == len(b[k]) and (k.startswith("turnover") or a[k].iloc[-1] != b[k].iloc[-1])   # the last bar moved ...
        pd.testing.assert_series_equal(a[k].iloc[:-1], b[k].iloc[:-1], check_names=False)   # ... and nothing before it
    pd.testing.assert_frame_equal(a["quantile_returns_raw"].iloc[:-1], b["quantile_returns_raw"].iloc[:-1])

def test_matches_alphalens():
    "alphalens' own functions on the same factor data (skipped where alphalens is not installed; it is not a dependency)."
    al_utils = pytest.importorskip("alphalens.utils")
    al_perf = pytest.importorskip("alphalens.performance")
    P = _panel(T=60, N=10, seed=3)
    fd = P.rename(columns=dict(timestamp="date", symbol="asset", mu="factor", fwd_return="1D")).set_index(["date", "asset"])
    fd["factor_quantile"] = al_utils.quantize_factor(fd, quantiles=5)
    q = M.factor_quantiles(P["timestamp"], P["mu"], 5)
    assert q.tolist() == fd["factor_quantile"].astype(float).tolist()
    for demeaned in (False, True):
        theirs = al_perf.mean_return_by_quantile(fd, by_date=True, demeaned=demeaned)[0]["1D"].unstack("factor_quantile")
        ours = M.quantile_returns(P["timestamp"], P["mu"], P["fwd_return"], 5, demeaned=demeaned)
        np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-12, atol=1e-15)
    for k in (1, 5):
        for period in (1, 3):
            theirs = al_perf.quantile_turnover(fd["factor_quantile"], k, period).dropna()   # NaN: the first `period` bars
            ours = M.quantile_turnover(P["timestamp"], P["symbol"], q, k, period)
            np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-12)
            assert list(ours.index) == list(theirs.index)
    theirs = al_perf.factor_information_coefficient(fd)["1D"]
    np.testing.assert_allclose(M.ic_series(P["timestamp"], P["mu"], P["fwd_return"])["rank_ic"].to_numpy(), theirs.to_numpy(), atol=1e-12)

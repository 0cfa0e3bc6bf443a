"""Our trading metrics against quantstats (the version pinned in requirements.lock) on real and synthetic returns."""
import warnings
import numpy as np, pandas as pd, pytest
warnings.filterwarnings("ignore")
import quantstats as qs
from hnn_trading import metrics as M
from hnn_trading.data import load_sample
from hnn_trading.synthetic import make_market

def _series():
    c = load_sample("sp500")["close"].droplevel("symbol")
    r = c.pct_change().dropna(); r.index = r.index.tz_localize(None)
    lr = make_market(3, 3000, seed=5)[1]["log_returns"]
    s = np.expm1(lr["S001"]); s.index = s.index.tz_localize(None)
    return {"sp500": r, "sp500_2008": r["2008"], "synthetic_hourly": s}

SERIES = _series()
PAIRS = [("sharpe", lambda r: qs.stats.sharpe(r), lambda r: M.sharpe_ratio(r)),
         ("sharpe_hourly", lambda r: qs.stats.sharpe(r, periods=24 * 252), lambda r: M.sharpe_ratio(r, 24 * 252)),
         ("sharpe_rf", lambda r: qs.stats.sharpe(r, rf=0.02), lambda r: M.sharpe_ratio(r, rf=0.02)),
         ("sortino", lambda r: qs.stats.sortino(r), lambda r: M.sortino_ratio(r)),
         ("sortino_rf", lambda r: qs.stats.sortino(r, rf=0.03), lambda r: M.sortino_ratio(r, rf=0.03)),
         ("max_drawdown", lambda r: qs.stats.max_drawdown(r), M.max_drawdown),
         ("volatility", lambda r: qs.stats.volatility(r), lambda r: M.volatility(r)),
         ("win_rate", lambda r: qs.stats.win_rate(r), M.win_rate),
         ("profit_factor", lambda r: qs.stats.profit_factor(r), M.profit_factor),
         ("cagr", lambda r: qs.stats.cagr(r), lambda r: M.cagr(r)),
         ("calmar", lambda r: qs.stats.calmar(r), lambda r: M.calmar_ratio(r)),
         ("total_return", lambda r: qs.stats.comp(r), M.total_return)]

@pytest.mark.parametrize("series", sorted(SERIES))
@pytest.mark.parametrize("name,theirs,ours", PAIRS, ids=[p[0] for p in PAIRS])
def test_matches_quantstats(series, name, theirs, ours):
    r = SERIES[series]
    assert ours(r) == pytest.approx(float(theirs(r)), rel=1e-10, abs=1e-12)

def test_trading_metrics_sharpe_se_shrinks_with_length():
    r = SERIES["sp500"]
    assert M.trading_metrics(r)["sharpe_se"] < M.trading_metrics(r.iloc[:500])["sharpe_se"]

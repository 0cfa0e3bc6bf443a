"""One Sharpe standard error: the one every table shows (`metrics.sharpe_se`, in `trading_metrics`) is `stats.sharpe_se`,
the non-normal (Mertens 2002 / Opdyke 2007, raw kurtosis) SE behind PSR and DSR, on real, skewed, fat-tailed series."""
import warnings
import numpy as np, pandas as pd, pytest
from hnn_trading import metrics as M, stats as S
from hnn_trading.data import load_sample

warnings.filterwarnings("ignore")

def _series():
    out = {}
    for name in ("sp500", "nasdaq", "vix"):
        c = load_sample(name)["close"].droplevel("symbol")
        out[name] = c.pct_change().dropna()
    out["sp500_2008"] = out["sp500"][out["sp500"].index.year == 2008]
    out["nasdaq_last_300"] = out["nasdaq"].iloc[-300:]
    return out

SERIES = _series()

def _written_out(r, ppy=252):
    "sqrt((1 - skew SR + (kurt - 1)/4 SR^2) / (n - 1)) sqrt(P): per-bar SR (ddof 1), population skew, RAW kurtosis."
    r = np.asarray(r, float); n = len(r); e = r - r.mean()
    m2, m3, m4 = (e**2).mean(), (e**3).mean(), (e**4).mean()
    sr, skew, kurt = r.mean() / r.std(ddof=1), m3 / m2**1.5, m4 / m2**2
    return np.sqrt((1 - skew * sr + (kurt - 1) / 4 * sr**2) / (n - 1)) * np.sqrt(ppy), skew, kurt

@pytest.mark.parametrize("name", sorted(SERIES))
def test_trading_metrics_se_is_the_psr_se(name):
    r = SERIES[name]
    want, skew, kurt = _written_out(r)
    assert kurt > 4 or abs(skew) > 0.3, f"{name}: not skewed or fat-tailed enough to tell the estimators apart"
    got = M.trading_metrics(r)["sharpe_se"]
    assert got == S.sharpe_report(r)["sharpe_se"]                                    # the same function: equal to the bit
    assert M.sharpe_se(r) == got
    assert got == pytest.approx(want, rel=1e-12)                                     # Mertens / Opdyke, written out
    lo = np.sqrt((1 + (r.mean() / r.std(ddof=1)) ** 2 / 2) / len(r)) * np.sqrt(252)  # Lo's i.i.d.-normal SE: not this one
    assert abs(got - lo) > 1e-6 * lo

def test_annualisation_and_undefined_cases():
    r = SERIES["sp500"].iloc[:1000]
    assert M.sharpe_se(r, 24 * 252) == pytest.approx(M.sharpe_se(r) * np.sqrt(24), rel=1e-12)
    assert M.sharpe_se(r, 24 * 252) == S.sharpe_report(r, 24 * 252)["sharpe_se"]
    assert np.isnan(M.sharpe_se([0.01] * 10)) and np.isnan(M.sharpe_se([0.01])) and np.isnan(M.sharpe_se([]))
    assert M.sharpe_se(np.r_[r.to_numpy(), np.nan]) == M.sharpe_se(r)               # NaN bars dropped, as everywhere

def test_metrics_does_not_make_stats_import_it():
    "stats must not import metrics (metrics imports stats): no cycle."
    import inspect
    lines = [l for l in inspect.getsource(S).splitlines() if l.lstrip().startswith(("import ", "from "))]
    assert lines and not [l for l in lines if "metrics" in l]

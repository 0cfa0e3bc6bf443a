"""Benchmarks that match the book (issue 26, deliverable 4): net exposure, beta to the equal-weight buy-and-hold of
the same symbols, and returns before and after costs, each checked against its definition on a hand-built panel."""

import json

import numpy as np
import pandas as pd
import pytest

from hnn_trading.backtest import buy_and_hold, hold_cash, prepare, run_backtest
from hnn_trading.config import BacktestConfig

T = 400
SYMBOLS = ["A", "B", "C", "D"]


def panel(seed=0, idio=0.003):
    """Four symbols that share one market random walk; each differs from it by stationary noise (not a walk of its
    own), so a book long two and short two stays close to dollar-neutral and carries almost no market."""
    rng = np.random.default_rng(seed)
    m = np.cumsum(rng.normal(0.0003, 0.01, T))
    close = 100 * np.exp(m[:, None] + idio * rng.normal(size=(T, len(SYMBOLS))))
    open_ = np.vstack([close[:1], close[:-1]])
    t = pd.date_range("2022-01-03", periods=T, freq="B", tz="UTC")
    idx = pd.MultiIndex.from_product([t, SYMBOLS], names=["timestamp", "symbol"])
    f = lambda a: a.ravel()
    return pd.DataFrame(
        dict(
            open=f(open_),
            high=f(np.maximum(open_, close) * 1.001),
            low=f(np.minimum(open_, close) * 0.999),
            close=f(close),
            volume=1.0,
        ),
        index=idx,
    )


def book(p, row):
    t = p.index.get_level_values("timestamp").unique()
    return pd.DataFrame([row] * len(t), index=t, columns=SYMBOLS)


FREE = BacktestConfig(
    initial_equity=100_000.0, commission=0.0, slippage_bps=0.0, position_cap=0.5, max_positions=4, long_only=False
)
COSTLY = BacktestConfig(**{**FREE.to_dict(), "commission": 0.001, "slippage_bps": 10.0})


def exposures_from_trades(res, p):
    """Long minus short (net) and long plus short (gross) market value at each close over equity, rebuilt from the
    trade log (no resizes here), averaged over the bars."""
    m = prepare(p)
    sym = {s: j for j, s in enumerate(m.symbols)}
    bar = {t: i for i, t in enumerate(m.times)}
    value, gross = np.zeros(len(m.times)), np.zeros(len(m.times))
    for tr in res.trades.itertuples():
        s = 1.0 if tr.side == "long" else -1.0
        a, b = bar[tr.entry_time], bar[tr.exit_time]  # held at the closes of bars a .. b-1; closed before b's mark
        value[a:b] += s * tr.size * m.close[a:b, sym[tr.symbol]]
        gross[a:b] += tr.size * m.close[a:b, sym[tr.symbol]]
    return float(np.mean(value / res.equity.values)), float(np.mean(gross / res.equity.values))


def test_dollar_neutral_book_has_no_net_exposure_and_no_beta():
    p = panel()
    bh = buy_and_hold(p, FREE)
    res = run_backtest(p, book(p, [0.25, 0.25, -0.25, -0.25]), FREE, benchmark=bh)
    m = res.metrics
    net, gross = exposures_from_trades(res, p)
    assert m["net_exposure"] == pytest.approx(net, abs=1e-12)
    assert abs(m["net_exposure"]) < 0.01  # long 0.5, short 0.5 of equity: the legs move together
    assert m["exposure"] == pytest.approx(gross, abs=1e-12)  # gross: long plus short (both grow with the market)
    assert m["exposure"] > 0.9
    r, b = res.returns.values, bh.returns.values
    assert m["beta"] == pytest.approx(np.cov(r, b)[0, 1] / np.var(b, ddof=1), rel=1e-10)
    assert abs(m["beta"]) < 0.1
    assert m["total_return"] == pytest.approx(res.equity.iloc[-1] / FREE.initial_equity - 1)


def test_long_only_book_has_beta_one_against_its_own_equal_weight_holdings():
    p = panel(seed=1)
    own = p[p.index.get_level_values("symbol").isin(["A", "B"])]
    res = run_backtest(p, book(p, [0.5, 0.5, 0.0, 0.0]), COSTLY, benchmark=buy_and_hold(own, COSTLY))
    assert res.metrics["beta"] == pytest.approx(1.0, abs=1e-6)  # the same two symbols, the same fills
    assert res.metrics["net_exposure"] == pytest.approx(exposures_from_trades(res, p)[0], abs=1e-12)
    assert res.metrics["net_exposure"] == pytest.approx(1.0, abs=0.03)
    everything = run_backtest(p, book(p, [0.5, 0.5, 0.0, 0.0]), COSTLY, benchmark=buy_and_hold(p, COSTLY))
    assert everything.metrics["beta"] == pytest.approx(1.0, abs=0.1)  # the market all four share


def test_before_minus_after_cost_return_is_the_costs_in_the_trade_log():
    p = panel(seed=2)
    res = run_backtest(p, book(p, [0.25, 0.25, -0.25, -0.25]), COSTLY)
    c, slip = COSTLY.commission, COSTLY.slippage_bps / 1e4
    paid = 0.0
    for tr in res.trades.itertuples():  # each trade: one entry fill and one exit fill, slippage against it
        s = 1.0 if tr.side == "long" else -1.0
        ref_in, ref_out = tr.entry_price / (1 + slip * s), tr.exit_price / (1 - slip * s)
        paid += c * tr.size * (tr.entry_price + tr.exit_price) + slip * tr.size * (ref_in + ref_out)
    m = res.metrics
    assert paid > 0
    assert (m["gross_total_return"] - m["total_return"]) * COSTLY.initial_equity == pytest.approx(paid, rel=1e-9)
    assert m["costs"] == pytest.approx(paid, rel=1e-9)
    assert m["gross_sharpe"] > m["sharpe"]
    free = run_backtest(p, book(p, [0.25, 0.25, -0.25, -0.25]), FREE).metrics
    assert free["gross_total_return"] == pytest.approx(free["total_return"], abs=1e-15)
    assert free["gross_sharpe"] == pytest.approx(free["sharpe"], abs=1e-12)


def test_cash_benchmark_is_flat_and_the_run_metrics_carry_the_book_numbers(tmp_path):
    from hnn_trading.runs import RunFolder

    p = panel(seed=3)
    cash = hold_cash(p, COSTLY)
    assert (cash.returns == 0).all() and cash.metrics["total_return"] == 0 and cash.metrics["trades"] == 0
    bh = buy_and_hold(p, COSTLY)
    res = run_backtest(p, book(p, [0.25, 0.25, -0.25, -0.25]), COSTLY, benchmark=bh)
    RunFolder(tmp_path, create=True).write_backtest(res, bh, tearsheet=False)
    s = json.loads((tmp_path / "metrics.json").read_text())["strategy"]
    for k in ("net_exposure", "beta", "gross_total_return", "gross_sharpe"):
        assert s[k] == pytest.approx(res.metrics[k])


def test_the_verdict_of_a_book_that_can_short_is_against_cash():
    "Review of issue 26: the tearsheet judged a long-short book against cash, the index page's sentence against buy-and-hold."
    import pandas as pd
    from hnn_trading.reports import _oof_sentence, _test_sentence
    b = pd.Series(dict(total_return=0.15, sharpe=0.9, test_total_return=0.05, test_sharpe=0.4))
    m = pd.DataFrame([dict(total_return=0.04, sharpe=0.5, sharpe_se=0.3, dsr=0.97, test_total_return=0.01,
                           test_sharpe=0.2, test_sharpe_se=0.5)], index=["book"])
    assert _oof_sentence(b, m).startswith("No model beat buying and holding")           # 0.5 < buy-and-hold's 0.9
    s = _oof_sentence(b, m, cash=True)
    assert s.startswith("book beat cash (the benchmark of a book that can short)") and "Sharpe 0.90" not in s, s
    assert _test_sentence(b, m, cash=True).endswith("against cash's 0.") and "buy-and-hold" not in _test_sentence(b, m, cash=True)

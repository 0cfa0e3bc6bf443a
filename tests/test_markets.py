"""Panels as markets are (issue 27, deliverable 4): symbols that list late, delist or halt inside the evaluated period
are traded only at prices that exist (no entry without a price, a held position valued at its last price seen while
its symbol has no bar, closed at its next open or, if it never trades again, at its last price on the last bar), the
buy-and-hold benchmark holds the symbols with a close at the first bar, and features that are NaN on every bar of a
symbol (zero volume) are refused naming the symbol and the feature. Each test failed on the previous engine ('no open
price for ...') or training ('only 0 training rows ... use a longer min_train')."""
import json, os, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd, pytest
from hnn_trading.backtest import run_backtest, buy_and_hold, prepare
from hnn_trading.config import BacktestConfig, RunConfig
from hnn_trading.synthetic import make_market

BIN = Path(sys.executable).parent
FREE = dict(initial_equity=1000.0, commission=0.0, slippage_bps=0.0, position_cap=0.5, max_positions=3)
T = 500
KEEP = {"AAA": np.arange(T), "BBB": np.arange(T), "LATE": np.arange(340, T), "GONE": np.arange(0, 420),
        "HALT": np.setdiff1d(np.arange(T), np.arange(380, 386))}   # the out-of-fold period is bars 300..499


def _hnn(args, cwd):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([str(BIN/"hnn"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _write_folder(d: Path, zero_volume=(), keep=KEEP):
    "One CSV per symbol; a symbol's missing bars are missing rows (not listed yet, delisted, halted)."
    rng = np.random.default_rng(0); d.mkdir()
    days = pd.bdate_range("2015-01-01", periods=T)
    for s, rows in keep.items():
        c = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, T))); o = c * np.exp(rng.normal(0, 0.003, T))
        v = np.zeros(T) if s in zero_volume else rng.integers(100_000, 1_000_000, T).astype(float)
        f = pd.DataFrame({"Date": days.strftime("%Y-%m-%d"), "Open": o.round(4), "High": (np.maximum(o, c) * 1.004).round(4),
                          "Low": (np.minimum(o, c) * 0.996).round(4), "Close": c.round(4), "Volume": v})
        f.iloc[rows].to_csv(d/f"{s}.csv", index=False)


CFG = ("data: {source: bars}\nfeatures: {set: basic}\nmodel: {name: mlp, hidden_dim: 8}\ntraining: {epochs: 1}\n"
       "splits: {n_folds: 2, val_block: 100, calib_size: 60}\nstrategy: {threshold: 0.5}\n"
       "backtest: {position_cap: 0.25, max_positions: 5, commission: 0.0, slippage_bps: 0}\nreport: {templates: []}\n")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    "`hnn run` on a CSV folder holding a late lister, a delisting and a halt inside the out-of-fold period."
    d = tmp_path_factory.mktemp("markets")
    _write_folder(d/"bars"); (d/"cfg.yaml").write_text(CFG)
    return d, _hnn(["run", "--config", "cfg.yaml", "--run-id", "m", "--quiet", "--no-report"], d)


def test_a_run_on_a_panel_with_late_listing_delisting_and_a_halt_completes(run):
    d, r = run
    assert r.returncode == 0, r.stderr[-2000:]
    m = json.loads((d/"reports/m/metrics.json").read_text())
    assert m["benchmark"]["trades"] >= 1 and np.isfinite(m["strategy"]["sharpe"])
    eq = pd.read_csv(d/"reports/m/equity.csv")
    assert eq[["strategy", "buy_and_hold"]].notna().all().all()


def test_every_fill_of_the_run_is_at_a_price_of_the_panel(run):
    "No costs here, so a fill is the reference price itself: an open at entry, an open or (last bar) a close at exit, or a delisted symbol's last close."
    d, r = run
    assert r.returncode == 0, r.stderr[-2000:]
    from hnn_trading.data import load_ohlcv
    p = load_ohlcv(d/"bars"); o, c = p["open"].unstack(), p["close"].unstack()
    tr = pd.read_csv(d/"reports/m/trades.csv", parse_dates=["entry_time", "exit_time"])
    assert len(tr)
    for x in tr.itertuples():
        assert np.isfinite(o.loc[x.entry_time, x.symbol]) and x.entry_price == pytest.approx(o.loc[x.entry_time, x.symbol], rel=1e-12)
        if x.exit_reason == "signal":
            assert x.exit_price == pytest.approx(o.loc[x.exit_time, x.symbol], rel=1e-12)
        else:
            assert x.exit_reason == "end"
            seen = c.loc[:x.exit_time, x.symbol].dropna()          # the last close there was, at or before the exit
            assert x.exit_price == pytest.approx(seen.iloc[-1], rel=1e-12)


def test_the_benchmark_of_the_run_holds_the_symbols_trading_at_its_first_bar(run):
    d, r = run
    assert r.returncode == 0, r.stderr[-2000:]
    from hnn_trading.data import load_ohlcv
    from hnn_trading.evaluate import Evaluator
    p, pred = load_ohlcv(d/"bars"), pd.read_parquet(d/"reports/m/predictions.parquet")
    cfg = RunConfig.from_yaml(d/"reports/m/config.yaml")
    bh = Evaluator(p, pred).benchmark(cfg)
    assert sorted(bh.trades["symbol"]) == ["AAA", "BBB", "GONE", "HALT"]      # LATE lists after the first predicted bar
    gone = bh.trades.set_index("symbol").loc["GONE"]
    assert gone.exit_price == pytest.approx(p.xs("GONE", level="symbol")["close"].iloc[-1]) and gone.exit_reason == "end"
    eq = pd.read_csv(d/"reports/m/equity.csv")["buy_and_hold"].values
    np.testing.assert_allclose(bh.equity.values, eq, rtol=1e-9)             # the run's benchmark is this one


def _holes(drop: dict):
    "A synthetic panel of three symbols, 80 bars, with the given bars of the given symbols removed."
    p, _ = make_market(n_symbols=3, n_bars=80, seed=7)
    t = p.index.levels[0]
    return p.drop([(t[i], s) for s, bars in drop.items() for i in bars]), t


def test_a_halted_position_is_held_at_its_last_close_and_leaves_at_its_next_open():
    p, t = _holes({"S001": range(20, 25)})
    W = pd.DataFrame(0.0, index=t, columns=["S000", "S001", "S002"]); W.loc[:t[21], "S001"] = 0.3   # exit ordered inside the halt
    res = run_backtest(p, W, BacktestConfig(**FREE))
    tr = res.trades.iloc[0]
    assert (tr.entry_time, tr.exit_time, tr.exit_reason) == (t[1], t[25], "signal")
    assert tr.exit_price == p.loc[(t[25], "S001"), "open"]
    np.testing.assert_allclose(res.equity.iloc[20:25], res.equity.iloc[19])    # valued at the bar-19 close while halted


def test_a_delisted_position_closes_at_its_last_close_on_the_last_bar():
    p, t = _holes({"S001": range(50, 80)})
    W = pd.DataFrame(0.0, index=t, columns=["S000", "S001", "S002"]); W["S001"] = 0.3
    res = run_backtest(p, W, BacktestConfig(**FREE))
    tr = res.trades.iloc[0]
    assert (tr.exit_time, tr.exit_reason, tr.exit_price) == (t[-1], "end", p.loc[(t[49], "S001"), "close"])
    np.testing.assert_allclose(res.equity.iloc[50:], res.equity.iloc[49])
    assert res.equity.iloc[-1] == pytest.approx(1000 + tr.pnl)


def test_a_late_lister_is_entered_at_its_first_open_not_before():
    p, t = _holes({"S002": range(0, 30)})
    W = pd.DataFrame(0.3, index=t, columns=["S000", "S001", "S002"])
    tr = run_backtest(p, W, BacktestConfig(**FREE)).trades.set_index("symbol")
    assert tr.loc["S002", "entry_time"] == t[30] and tr.loc["S002", "entry_price"] == p.loc[(t[30], "S002"), "open"]
    assert (tr.loc[["S000", "S001"], "entry_time"] == t[1]).all()


def test_buy_and_hold_holds_the_symbols_with_a_close_at_the_first_bar():
    p, t = _holes({"S000": range(0, 10), "S001": range(60, 80), "S002": range(30, 33)})
    bh = buy_and_hold(p, BacktestConfig(**FREE))
    assert sorted(bh.trades["symbol"]) == ["S001", "S002"]
    m = prepare(p)
    expect = 500 / m.open[1, 1] * m.close[59, 1] + 500 / m.open[1, 2] * m.close[-1, 2]   # half each, no costs
    assert bh.equity.iloc[-1] == pytest.approx(expect, rel=1e-12)


def test_a_delisting_after_bar_k_changes_nothing_up_to_bar_k():
    "Perturb the future: removing a symbol's bars after k (a delisting the engine cannot foresee) leaves bars <= k as they were."
    p, t = _holes({})
    k = 40
    W = pd.DataFrame(np.random.default_rng(1).choice([0.0, 0.3], (80, 3)), index=t, columns=["S000", "S001", "S002"])
    cut, _ = _holes({"S001": range(k + 1, 80)})
    a, b = run_backtest(p, W, BacktestConfig(**FREE)), run_backtest(cut, W, BacktestConfig(**FREE))
    np.testing.assert_array_equal(a.equity.values[:k + 1], b.equity.values[:k + 1])
    assert a.equity.values[-1] != b.equity.values[-1]


@pytest.mark.parametrize("zero", [("AAA", "BBB"), ("BBB",)])
def test_features_nan_on_every_bar_of_a_symbol_are_refused_naming_it(tmp_path, zero):
    "Zero volume (FX, indices) leaves volume_z_20 NaN: one line naming each such symbol and the feature, not 'use a longer min_train'."
    _write_folder(tmp_path/"bars", zero_volume=zero, keep={"AAA": np.arange(T), "BBB": np.arange(T)})
    (tmp_path/"cfg.yaml").write_text(CFG)
    r = _hnn(["run", "--config", "cfg.yaml", "--run-id", "z", "--quiet", "--no-report"], tmp_path)
    assert r.returncode != 0 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr[-2000:]
    assert f"NaN on every bar of {len(zero)} symbol(s)" in r.stderr and "min_train" not in r.stderr
    for s in zero:
        assert f"{s}: volume_z_20 (volume 0 on every bar)" in r.stderr
    assert not (tmp_path/"reports/z").exists()


def test_a_window_longer_than_the_folds_bars_says_so(tmp_path):
    _write_folder(tmp_path/"bars", keep={"AAA": np.arange(T), "BBB": np.arange(T)})
    (tmp_path/"cfg.yaml").write_text(CFG)
    r = _hnn(["run", "--config", "cfg.yaml", "--run-id", "w", "--quiet", "--no-report", "--set", "model.feature_window=400"], tmp_path)
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert "lack model.feature_window = 400 bars of complete features" in r.stderr and "use a shorter model.feature_window" in r.stderr

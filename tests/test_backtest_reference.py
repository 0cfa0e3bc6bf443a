"""An independent, plain-Python, bar-by-bar implementation of the backtest rules (see nbs/14_backtest.ipynb),
written without looking at the numba kernel's loops. Both must agree to 1e-9 on equity and trade for trade."""
import math
import numpy as np, pandas as pd, pytest
from hnn_trading.backtest import run_backtest
from hnn_trading.config import BacktestConfig
from hnn_trading.data import load_sample
from hnn_trading.synthetic import make_market

def sgn(x): return int(x > 0) - int(x < 0)

def reference(panel, W, cfg, stop_loss=0.0, take_profit=0.0, max_hold=0):
    o = panel["open"].unstack(); h = panel["high"].unstack(); l = panel["low"].unstack(); c = panel["close"].unstack()
    syms, times = list(o.columns), list(o.index)
    W = W.reindex(index=o.index, columns=syms).fillna(0.0)
    slip, comm = cfg.slippage_bps / 1e4, cfg.commission
    cash = cfg.initial_equity
    pos = {}          # sym -> dict(shares, target, entry_price, entry_bar, flow, basis, size, first)
    locked = {}       # sym -> sign
    trades, equity = [], []

    def trade(s, q, ref):
        nonlocal cash
        fp = ref * (1 + slip * sgn(q)); cash -= q * fp + comm * abs(q * fp)
        return fp, q * fp + comm * abs(q * fp)

    def close(s, ref, t, why):
        p = pos.pop(s)
        fp, out = trade(s, -p["shares"], ref)
        flow = p["flow"] - out
        trades.append((s, "long" if p["shares"] > 0 else "short", times[p["entry_bar"]], times[t], p["first"], fp, p["size"], flow,
                       flow / p["basis"], t - p["entry_bar"], why))
        if why in ("stop", "take", "time"): locked[s] = sgn(p["shares"])

    for t in range(len(times)):
        if t > 0:
            e_open = cash + sum(p["shares"] * o.iloc[t][s] for s, p in pos.items())
            target = {}
            for s in syms:
                x = W.iloc[t - 1][s]
                if s in locked:
                    if sgn(x) != locked[s]: del locked[s]
                    else: x = 0.0
                target[s] = x
            for s in list(pos):
                p = pos[s]
                if max_hold and t - p["entry_bar"] >= max_hold: close(s, o.iloc[t][s], t, "time"); target[s] = 0.0
                elif target[s] == 0 or sgn(target[s]) != sgn(p["shares"]): close(s, o.iloc[t][s], t, "signal")
            raw = dict(target)                                      # entries are ranked by the signal before the cap
            for s in syms:                                          # the cap clips every target
                target[s] = min(max(target[s], -cfg.position_cap), cfg.position_cap)
            budget = cfg.leverage * e_open - sum(abs(p["shares"]) * o.iloc[t][s] for s, p in pos.items())
            def resize(s, want):
                p = pos[s]
                fp, out = trade(s, want - p["shares"], o.iloc[t][s])
                p["flow"] -= out; p["shares"] = want; p["target"] = target[s]
                return fp
            for s in [s for s in syms if s in pos]:                 # smaller targets first: they free budget
                p = pos[s]
                if target[s] != p["target"] and abs(target[s]) * e_open <= abs(p["shares"]) * o.iloc[t][s]:
                    want = target[s] * e_open / o.iloc[t][s]
                    budget += (abs(p["shares"]) - abs(want)) * o.iloc[t][s]
                    resize(s, want)
            for s in [s for s in syms if s in pos]:                 # then larger ones, as far as the budget goes
                p = pos[s]
                if target[s] != p["target"]:
                    add = min(abs(target[s]) * e_open - abs(p["shares"]) * o.iloc[t][s], budget)
                    p["target"] = target[s]
                    if add <= 0: continue
                    want = p["shares"] + sgn(p["shares"]) * add / o.iloc[t][s]
                    budget -= add
                    fp = resize(s, want)
                    p["basis"] = max(p["basis"], abs(want) * fp); p["size"] = max(p["size"], abs(want))
            cands = sorted([s for s in syms if s not in pos and target[s] != 0], key=lambda s: (-abs(raw[s]), syms.index(s)))
            for s in cands:
                if len(pos) >= cfg.max_positions: break
                need = abs(target[s]) * e_open
                n = min(need, budget)
                if n <= 0 or n < cfg.min_entry * need: continue       # not enough budget left: it waits
                want = sgn(target[s]) * n / o.iloc[t][s]
                budget -= n
                fp, out = trade(s, want, o.iloc[t][s])
                pos[s] = dict(shares=want, target=target[s], entry_price=fp, first=fp, entry_bar=t, flow=-out, basis=abs(want) * fp, size=abs(want))
        for s in [s for s in syms if s in pos]:
            p = pos[s]; e = p["entry_price"]; O_, H_, L_ = o.iloc[t][s], h.iloc[t][s], l.iloc[t][s]
            if p["shares"] > 0:
                if stop_loss and L_ <= e * (1 - stop_loss): close(s, min(O_, e * (1 - stop_loss)), t, "stop"); continue
                if take_profit and H_ >= e * (1 + take_profit): close(s, max(O_, e * (1 + take_profit)), t, "take"); continue
            else:
                if stop_loss and H_ >= e * (1 + stop_loss): close(s, max(O_, e * (1 + stop_loss)), t, "stop"); continue
                if take_profit and L_ <= e * (1 - take_profit): close(s, min(O_, e * (1 - take_profit)), t, "take"); continue
            if t == len(times) - 1: close(s, c.iloc[t][s], t, "end")
        equity.append(cash + sum(p["shares"] * c.iloc[t][s] for s, p in pos.items()))
    cols = ["symbol", "side", "entry_time", "exit_time", "entry_price", "exit_price", "size", "pnl", "return", "bars_held", "exit_reason"]
    return np.array(equity), pd.DataFrame(trades, columns=cols)

def _compare(panel, W, cfg, **kw):
    eq_ref, tr_ref = reference(panel, W, cfg, **kw)
    bt = run_backtest(panel, W, cfg, **kw)
    np.testing.assert_allclose(bt.equity.values, eq_ref, rtol=1e-9, atol=1e-9 * cfg.initial_equity)
    assert len(bt.trades) == len(tr_ref), (len(bt.trades), len(tr_ref))
    a = bt.trades.sort_values(["exit_time", "symbol"]).reset_index(drop=True)
    b = tr_ref.sort_values(["exit_time", "symbol"]).reset_index(drop=True)
    for col in ["symbol", "side", "entry_time", "exit_time", "bars_held", "exit_reason"]: assert (a[col] == b[col]).all(), col
    for col in ["entry_price", "exit_price", "size", "pnl", "return"]: np.testing.assert_allclose(a[col].values, b[col].values, rtol=1e-9, atol=1e-9)
    return bt

CASES = [  # n_symbols, K, long_only, stop, take, max_hold, commission, slippage
    (1, 1, False, 0.0, 0.0, 0, 0.001, 5.0), (1, 1, False, 0.01, 0.02, 10, 0.001, 5.0), (5, 3, True, 0.0, 0.0, 0, 0.001, 5.0),
    (8, 3, True, 0.015, 0.03, 0, 0.0005, 2.0), (8, 8, False, 0.01, 0.0, 6, 0.001, 10.0), (6, 2, True, 0.0, 0.01, 4, 0.0, 0.0),
]

@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("seed", [0, 1])
def test_engine_matches_reference_on_random_panels(case, seed):
    n, K, lo, sl, tp, mh, cm, sb = CASES[case]
    panel, _ = make_market(n_symbols=n, n_bars=250, seed=seed + 10 * case)
    t = panel.index.get_level_values(0).unique(); syms = panel.index.get_level_values(1).unique()
    rng = np.random.default_rng(seed)
    cap = 1.0 if n == 1 else 0.3
    levels = np.array([0.0, 0.1, 0.2, cap, 1.5 * cap]) if lo else np.array([-1.5 * cap, -cap, -0.1, 0.0, 0.1, cap])   # 1.5 x cap: clipped
    A = rng.choice(levels, size=(len(t), n), p=None)
    A = np.where(rng.random((len(t), n)) < 0.8, np.nan, A)
    Wdf = pd.DataFrame(A, index=t, columns=syms).ffill().fillna(0.0)
    lev = [0.45, 1.0, float(np.abs(Wdf.values).sum(1).max())][(case + seed) % 3]          # binding budgets, and one that never binds
    cfg = BacktestConfig(initial_equity=100_000.0, commission=cm, slippage_bps=sb, max_positions=K, position_cap=cap,
                         leverage=lev, long_only=lo, min_entry=[0.5, 0.0][seed])
    bt = _compare(panel, Wdf, cfg, stop_loss=sl, take_profit=tp, max_hold=mh)
    assert len(bt.trades) > 5

def test_engine_matches_reference_on_bundled_data():
    p = load_sample("us_indices"); p = p[p.index.get_level_values(0) >= pd.Timestamp("2015-01-01", tz="UTC")]
    c = p["close"].unstack()
    W = (c > c.rolling(50).mean()).astype(float) * 0.5            # a moving-average filter per index
    cfg = BacktestConfig(position_cap=0.5, max_positions=2)
    _compare(p, W, cfg)
    _compare(p, W, cfg, stop_loss=0.03, max_hold=20)

def test_oversubscribed_book_allocates_like_a_broker_account():
    "The users' settings: $100,000, 10% per position, at most 20 positions, leverage 1; 30 symbols signal at once."
    panel, _ = make_market(n_symbols=30, n_bars=120, seed=3)
    t = panel.index.get_level_values(0).unique(); syms = panel.index.get_level_values(1).unique()
    rng = np.random.default_rng(0)
    W = pd.DataFrame(np.where(rng.random((len(t), 30)) < 0.7, 0.1, 0.0), index=t, columns=syms)      # ~21 signals a bar: 2.1x the equity
    cfg = BacktestConfig(initial_equity=100_000.0, commission=0.001, slippage_bps=5.0, max_positions=20, position_cap=0.1, leverage=1.0)
    bt = _compare(panel, W, cfg)
    held = (bt.weights.abs() > 0).sum(axis=1)
    assert held.max() <= 20 and held.iloc[5:].median() >= 9, held.describe()
    assert (bt.exposure.iloc[1:] < 1.05).all()                            # about fully invested, never levered
    assert len(bt.trades) > 30

"""Stage 2 in the kernel (issue 29, deliverable 4): the compiled sizing rules (gated cell by cell) and the backtest
kernel that walks only the held positions give the numbers the code before them gave.

The references below are the pre-change functions copied into this file and run as plain NumPy/SciPy/Python (no numba):
`ref_signal_weights` / `ref_target_weights` (the sizing evaluated on every cell with scipy.stats.norm, then gated) and
`ref_kernel` (the backtest kernel that walked every symbol about twelve times a bar). Each new path must equal them to
1e-12 on random and edge inputs: NaNs, p exactly at the gate, sigma 0, all-gated bars, long-only and long-short.
Look-ahead: the rewritten sizing and kernel are run on futures perturbed after a bar k and must not move before it."""
import re
import numpy as np, pandas as pd, pytest
from scipy.stats import norm
from hnn_trading.backtest import (POSITION, TRADE, ACCOUNT, EXIT_STOP, EXIT_TAKE, EXIT_TIME, EXIT_END, EXIT_SIGNAL,
                                  _rules, simulate, prepare, check_weights)
from hnn_trading.config import BacktestConfig, RunConfig, StrategyConfig
from hnn_trading.evaluate import Evaluator
from hnn_trading.strategy import signal_weights, target_weights, SIZINGS
from hnn_trading.synthetic import make_market

TOL = 1e-12


# --- the reference sizing: the pre-change NumPy/SciPy rules, evaluated on every cell, then gated ---------------------
def ref_kelly_binary(p, mu, sigma):
    p, mu, sigma = (np.asarray(a, float) for a in (p, mu, sigma))
    d = mu / sigma
    up = mu * norm.cdf(d) + sigma * norm.pdf(d)
    dn = sigma * norm.pdf(d) - mu * norm.cdf(-d)
    b = (up / np.clip(p, 1e-12, None)) / np.clip(dn / np.clip(1 - p, 1e-12, None), 1e-300, None)
    return p - (1 - p) / b


def ref_kelly_fractional(mu, sigma, lam=0.5):
    return lam * np.asarray(mu, float) / np.asarray(sigma, float) ** 2


def ref_signal_weights(p, threshold=0.5, confidence_margin=0.0, sizing="fixed", kelly_clip=1.0, long_only=True,
                       mu=None, sigma=None, kelly_lambda=0.5):
    p = np.asarray(p, dtype="float64")
    gate = np.abs(p - 0.5) >= max(threshold - 0.5, confidence_margin)
    side = np.sign(p - 0.5)
    if sizing == "fixed":
        f = side
    elif sizing == "confidence":
        f = np.clip(2 * p - 1, -kelly_clip, kelly_clip)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            down = -ref_kelly_binary(1 - p, -np.asarray(mu, float), sigma)
            k = (np.where(side > 0, ref_kelly_binary(p, mu, sigma), down)
                 if sizing == "kelly_binary" else ref_kelly_fractional(mu, sigma, kelly_lambda))
        f = np.where(np.sign(k) == side, np.clip(k, -kelly_clip, kelly_clip), 0.0)
    w = np.where(gate & ~np.isnan(p), np.nan_to_num(f), 0.0)
    return np.maximum(w, 0.0) if long_only else w


def ref_hysteresis(P, F, entry, exit_lo):
    T, N = P.shape
    out = np.zeros((T, N))
    for j in range(N):
        side = 0.0
        for t in range(T):
            p = P[t, j]
            if np.isnan(p):
                side = 0.0
                continue
            if F[t, j] != 0.0:
                side = np.sign(F[t, j])
                out[t, j] = F[t, j]
                continue
            if side > 0 and p > exit_lo:
                out[t, j] = F[t, j] if F[t, j] > 0 else entry[t, j]
            elif side < 0 and p < 1 - exit_lo:
                out[t, j] = F[t, j] if F[t, j] < 0 else entry[t, j]
            else:
                side = 0.0
            if out[t, j] == 0.0:
                side = 0.0
    return out


def ref_target_weights(p, s, mu=None, sigma=None, position_cap=1.0, long_only=True):
    kw = dict(sizing=s.sizing, kelly_clip=s.kelly_clip, long_only=long_only, mu=mu, sigma=sigma,
              kelly_lambda=s.kelly_lambda)
    F = ref_signal_weights(p, s.threshold, s.confidence_margin, **kw)
    if s.exit_threshold is not None:
        held = ref_signal_weights(p, 0.5, 0.0, **kw)
        F = ref_hysteresis(np.asarray(p, dtype="float64"), F, held, float(s.exit_threshold))
    if s.mu_threshold is not None:
        mu = np.asarray(mu, dtype="float64")
        F = np.where((np.abs(mu) >= s.mu_threshold) & (np.sign(mu) == np.sign(F)), F, 0.0)
    return F * (position_cap * s.scale)


# --- the reference kernel: the pre-change backtest kernel, verbatim, as plain Python on numpy records -----------------
# (one change: the `size` field is read as p["size"], since a NumPy record's .size is its own attribute)
def _px(x, p):
    "Price x of a bar, or position p's last price seen when its symbol has no bar (x is NaN)."
    return p.mark if np.isnan(x) else x


def _fill(dq, px, rules, acct):
    """Execute dq shares at reference price px, slippage against us, commission per side.

    Updates the account (cash, costs, traded notional); returns (fill price, cash out)."""
    fp = px * (1.0 + rules.slippage * np.sign(dq))
    notional = dq * fp
    fee = rules.commission * abs(notional)
    acct.cash -= notional + fee
    acct.costs += fee + abs(dq) * px * rules.slippage
    acct.traded += abs(notional)
    return fp, notional + fee

def _book(trades, n, p, j, t, exit_price, why):
    "Append position p of symbol j, closed at bar t, as trade n (records doubled when full); return (trades, n + 1)."
    if n == trades.shape[0]:
        grown = np.empty(2 * n, trades.dtype).view(np.recarray)
        grown[:n] = trades
        trades = grown
    tr = trades[n]
    tr.symbol = j
    tr.side = int(np.sign(p.shares))
    tr.entry_bar = p.entry_bar
    tr.exit_bar = t
    tr.entry_price = p.entry_price
    tr.exit_price = exit_price
    tr["size"] = p["size"]
    tr.pnl = p.flow
    tr.basis = p.basis
    tr.reason = why
    return trades, n + 1

def _close(p, j, t, px, why, rules, acct, trades, n):
    "Close position p (symbol j) at reference price px for reason `why` and book it; return (trades, count)."
    fp, out = _fill(-p.shares, px, rules, acct)
    p.flow -= out
    trades, n = _book(trades, n, p, j, t, fp, why)
    if why == EXIT_STOP or why == EXIT_TAKE or why == EXIT_TIME:
        p.lock = np.sign(p.shares)  # no re-entry until a new signal
    p.shares = 0.0
    p.target = 0.0
    p.flow = 0.0
    p.basis = 0.0
    p["size"] = 0.0
    return trades, n

def _enter(p, t, want, target, px, rules, acct):
    "Open position p at bar t's open price px with `want` shares for a target weight."
    fp, out = _fill(want, px, rules, acct)
    p.flow = -out
    p.shares = want
    p.target = target
    p.entry_price = fp
    p.entry_bar = t
    p.basis = abs(want) * fp
    p["size"] = abs(want)
    p.mark = px

def _open_equity(O, t, pos, acct):
    "Equity at bar t's open: cash + shares x open, a held symbol without a bar at its last price seen."
    e = acct.cash
    for j in range(len(pos)):
        if pos[j].shares != 0.0:
            e += pos[j].shares * _px(O[t, j], pos[j])
    return e

def _lockout(w, pos, tgt):
    "Targets decided at the last close into tgt, zeroed for a locked-out symbol until its target changes sign or is 0."
    tgt[:] = w
    for j in range(len(pos)):
        if pos[j].lock != 0.0:
            if np.sign(tgt[j]) != pos[j].lock:
                pos[j].lock = 0.0
            else:
                tgt[j] = 0.0

def _exits(O, t, pos, tgt, rules, acct, trades, n):
    """Close at the open: time exits (held `max_hold` bars), then signal exits (target 0 or flipped).

    Returns (trades, n). A held symbol without a bar stays held: its exit waits for its next open."""
    for j in range(len(pos)):
        p = pos[j]
        if p.shares == 0.0 or np.isnan(O[t, j]):
            continue
        why = -1
        if rules.max_hold > 0 and t - p.entry_bar >= rules.max_hold:
            why = EXIT_TIME
            tgt[j] = 0.0
        elif tgt[j] == 0.0 or np.sign(tgt[j]) != np.sign(p.shares):
            why = EXIT_SIGNAL
        if why >= 0:
            trades, n = _close(p, j, t, O[t, j], why, rules, acct, trades, n)
    return trades, n

def _budget(O, t, pos, tgt, raw, e_open, rules):
    """Clip the targets to the position cap (their raw strengths kept in raw, to rank entries).

    Returns the budget: the gross exposure the leverage limit leaves at the open, after the exits."""
    raw[:] = tgt
    for j in range(len(pos)):
        tgt[j] = min(max(tgt[j], -rules.position_cap), rules.position_cap)
    budget = rules.leverage * e_open
    for j in range(len(pos)):
        if pos[j].shares != 0.0:
            budget -= abs(pos[j].shares) * _px(O[t, j], pos[j])
    return budget

def _reduce(O, t, pos, tgt, e_open, budget, rules, acct):
    "Trade held positions whose target shrank down to it (this frees budget; not without a bar); return the budget."
    for j in range(len(pos)):
        p = pos[j]
        if (
            p.shares != 0.0
            and not np.isnan(O[t, j])
            and tgt[j] != p.target
            and abs(tgt[j]) * e_open <= abs(p.shares) * O[t, j]
        ):
            want = tgt[j] * e_open / O[t, j]
            budget += (abs(p.shares) - abs(want)) * O[t, j]
            fp, out = _fill(want - p.shares, O[t, j], rules, acct)
            p.flow -= out
            p.shares = want
            p.target = tgt[j]
    return budget

def _increase(O, t, pos, tgt, e_open, budget, rules, acct):
    "Grow held positions whose target rose, within the budget, in column order (not without a bar); return the budget."
    for j in range(len(pos)):
        p = pos[j]
        if p.shares != 0.0 and not np.isnan(O[t, j]) and tgt[j] != p.target:
            add = min(abs(tgt[j]) * e_open - abs(p.shares) * O[t, j], budget)
            p.target = tgt[j]
            if add <= 0.0:
                continue
            want = p.shares + np.sign(p.shares) * add / O[t, j]
            budget -= add
            fp, out = _fill(want - p.shares, O[t, j], rules, acct)
            p.flow -= out
            p.shares = want
            p.basis = max(p.basis, abs(want) * fp)
            p["size"] = max(p["size"], abs(want))
    return budget

def _candidates(pos, tgt, raw, cand, strength):
    "Symbols to enter (a target, no position) into cand, their -|raw target| into strength; return (count, held)."
    held = 0
    nc = 0
    for j in range(len(pos)):
        if pos[j].shares != 0.0:
            held += 1
        elif tgt[j] != 0.0:
            cand[nc] = j
            strength[nc] = -abs(raw[j])
            nc += 1
    return nc, held

def _entries(O, t, pos, tgt, raw, cand, strength, e_open, budget, rules, acct):
    """Enter the candidates strongest first (ties: column order), within `max_positions` and the budget.

    A candidate without an open price is skipped (no entry without a price) and considered again at the next bar.
    The entry that meets the end of the budget gets what is left if that is at least `min_entry` of its target."""
    nc, held = _candidates(pos, tgt, raw, cand, strength)
    if nc == 0 or held >= rules.max_positions:
        return
    order = np.argsort(strength[:nc], kind="mergesort")
    for i in range(nc):
        if held >= rules.max_positions:
            break
        j = cand[order[i]]
        if np.isnan(O[t, j]):
            continue
        need = abs(tgt[j]) * e_open
        n = min(need, budget)
        if n <= 0.0 or n < rules.min_entry * need:
            continue
        budget -= n
        held += 1
        _enter(pos[j], t, np.sign(tgt[j]) * n / O[t, j], tgt[j], O[t, j], rules, acct)

def _at_open(O, W, t, pos, tgt, raw, cand, strength, rules, acct, trades, n):
    "Bar t's open: exits, resizes and entries on the targets of bar t-1; return (trades, count)."
    e_open = _open_equity(O, t, pos, acct)
    _lockout(W[t - 1], pos, tgt)
    trades, n = _exits(O, t, pos, tgt, rules, acct, trades, n)
    budget = _budget(O, t, pos, tgt, raw, e_open, rules)
    budget = _reduce(O, t, pos, tgt, e_open, budget, rules, acct)
    budget = _increase(O, t, pos, tgt, e_open, budget, rules, acct)
    _entries(O, t, pos, tgt, raw, cand, strength, e_open, budget, rules, acct)
    return trades, n

def _exit_rule(p, o, h, lo, c, last, rules):
    "Why and at what reference price position p leaves during a bar (o, h, lo, c); (-1, 0.0) when it stays."
    e, sl, tp = p.entry_price, rules.stop_loss, rules.take_profit
    if p.shares > 0:
        if sl > 0 and lo <= e * (1 - sl):
            return EXIT_STOP, min(o, e * (1 - sl))
        if tp > 0 and h >= e * (1 + tp):
            return EXIT_TAKE, max(o, e * (1 + tp))
    else:
        if sl > 0 and h >= e * (1 + sl):
            return EXIT_STOP, max(o, e * (1 + sl))
        if tp > 0 and lo <= e * (1 - tp):
            return EXIT_TAKE, min(o, e * (1 - tp))
    if last:
        return EXIT_END, c
    return -1, 0.0

def _in_bar(O, H, L, C, t, pos, rules, acct, trades, n):
    """Stops and targets inside bar t, the close-out on the last bar; return (trades, count).

    A held symbol without a bar has no stop or target; on the last bar it is closed at its last price seen."""
    last = t == O.shape[0] - 1
    for j in range(len(pos)):
        p = pos[j]
        if p.shares == 0.0:
            continue
        if np.isnan(C[t, j]):
            if last:
                trades, n = _close(p, j, t, p.mark, EXIT_END, rules, acct, trades, n)
            continue
        why, px = _exit_rule(p, O[t, j], H[t, j], L[t, j], C[t, j], last, rules)
        if why >= 0:
            trades, n = _close(p, j, t, px, why, rules, acct, trades, n)
    return trades, n

def _mark(C, t, pos, acct, Wr, track_weights):
    """Equity at bar t's close and gross exposure as a fraction of it; realised weights into row t of Wr when tracked.

    A held symbol's close becomes its last price seen; one without a bar is valued at the last price seen."""
    e = acct.cash
    g = 0.0
    for j in range(len(pos)):
        p = pos[j]
        if p.shares != 0.0:
            if not np.isnan(C[t, j]):
                p.mark = C[t, j]
            v = p.shares * p.mark
            e += v
            g += abs(v)
            if track_weights:
                Wr[t, j] = v
    if track_weights and e != 0.0:
        for j in range(len(pos)):
            Wr[t, j] /= e
    return e, (g / e if e > 0 else np.nan)

def _kernel(O, H, L, C, W, init, rules, track_weights=True):
    "Simulate target weights W on open, high, low, close arrays under `rules` (a one-element `RULES` array)."
    T, N = O.shape
    r = rules.view(np.recarray)[0]
    pos = np.zeros(N, POSITION).view(np.recarray)
    for j in range(N):
        pos[j].entry_bar = -1
    acct = np.zeros(1, ACCOUNT).view(np.recarray)
    acct[0].cash = init
    trades = np.empty(1024, TRADE).view(np.recarray)
    n = 0
    eq, expo, paid = np.empty(T), np.empty(T), np.empty(T)  # paid: costs paid up to each close
    Wr = np.zeros((T if track_weights else 1, N))
    tgt, raw, strength, cand = np.empty(N), np.empty(N), np.empty(N), np.empty(N, np.int64)
    for t in range(T):
        if t > 0:
            trades, n = _at_open(O, W, t, pos, tgt, raw, cand, strength, r, acct[0], trades, n)
        trades, n = _in_bar(O, H, L, C, t, pos, r, acct[0], trades, n)
        eq[t], expo[t] = _mark(C, t, pos, acct[0], Wr, track_weights)
        paid[t] = acct[0].costs
    return eq, expo, paid, Wr, trades[:n], acct



def ref_simulate(market, A, config, stop_loss=0.0, take_profit=0.0, max_hold=0, track_weights=True):
    rules = _rules(config, stop_loss, take_profit, max_hold)
    A = np.ascontiguousarray(A, dtype="float64")
    O, H, L, C = market.open, market.high, market.low, market.close
    return _kernel(O, H, L, C, A, float(config.initial_equity), rules, track_weights)


# --- inputs ----------------------------------------------------------------------------------------------------------
def predictions(T, N, seed, nan=0.05):
    "p, mu, sigma (T x N) with NaNs, sigma 0, mu 0, p at 0, 0.5 and 1, and mu of either sign against p."
    rng = np.random.default_rng(seed)
    p = np.clip(0.5 + rng.normal(0, 0.12, (T, N)), 0, 1)
    p[rng.random((T, N)) < 0.02] = 0.5
    p[rng.random((T, N)) < 0.01] = 0.0
    p[rng.random((T, N)) < 0.01] = 1.0
    mu = 0.002 * (p - 0.5) * 10 + rng.normal(0, 0.002, (T, N))
    sigma = rng.uniform(0.002, 0.02, (T, N))
    sigma[rng.random((T, N)) < 0.03] = 0.0
    mu[rng.random((T, N)) < 0.03] = 0.0
    for a in (p, mu, sigma):
        a[rng.random((T, N)) < nan] = np.nan
    return p, mu, sigma


def same(a, b, support=True, tol=TOL):
    "Equal to `tol`; with `support`, non-zero on exactly the same cells (the gate let the same cells through)."
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert a.shape == b.shape
    assert np.array_equal(np.isnan(a), np.isnan(b))
    if support:
        assert np.array_equal(a != 0, b != 0), "the gate let a different set of cells through"
    np.testing.assert_allclose(np.nan_to_num(a), np.nan_to_num(b), rtol=0, atol=tol)


# --- the sizing rules ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sizing", SIZINGS)
@pytest.mark.parametrize("long_only", [True, False])
@pytest.mark.parametrize("seed", [0, 1])
def test_every_sizing_equals_the_numpy_scipy_rule(sizing, long_only, seed):
    p, mu, sigma = predictions(300, 40, seed)
    cases = [(0.5, 0.0, 1.0, 0.5), (0.56, 0.0, 0.3, 1.0), (0.52, 0.08, 0.75, 0.25), (0.7, 0.0, 0.1, 0.5)]
    for threshold, margin, clip, lam in cases:
        kw = dict(sizing=sizing, kelly_clip=clip, long_only=long_only, mu=mu, sigma=sigma, kelly_lambda=lam)
        new, ref = signal_weights(p, threshold, margin, **kw), ref_signal_weights(p, threshold, margin, **kw)
        same(new, ref, support=not sizing.startswith("kelly"))
        assert (new != 0).any()


@pytest.mark.parametrize("sizing", SIZINGS)
def test_edges_p_at_the_gate_sigma_zero_nans_and_one_dimensional_inputs(sizing):
    lo = 0.125  # exactly representable: p = 0.625 and 0.375 sit on the gate and pass it
    p = np.array([0.625, 0.375, 0.6249999999999999, 0.3750000000000001, 0.5, 0.0, 1.0, np.nan, 0.9, 0.1, 0.7, 0.3])
    mu = np.array([0.001, -0.001, 0.001, -0.001, 0.0, -0.01, 0.01, 0.001, np.nan, -0.002, 0.003, 0.002])
    sigma = np.array([0.01, 0.01, 0.01, 0.01, 0.0, 0.0, 0.0, 0.01, 0.01, np.nan, 0.0, 0.0])
    for long_only in (True, False):
        kw = dict(sizing=sizing, kelly_clip=0.8, long_only=long_only, mu=mu, sigma=sigma)
        new, ref = signal_weights(p, 0.5 + lo, 0.0, **kw), ref_signal_weights(p, 0.5 + lo, 0.0, **kw)
        same(new, ref)
        if sizing == "fixed":
            assert new[0] == 1.0 and new[2] == 0.0 and new[1] == (0.0 if long_only else -1.0)
        kw = dict(sizing=sizing, long_only=long_only, mu=0.001, sigma=0.01)  # scalars broadcast against p
        same(signal_weights(p, 0.5, 0.0, **kw), ref_signal_weights(p, 0.5, 0.0, **kw))
    same(signal_weights(p.reshape(3, 4), 0.6, 0.0, sizing=sizing, mu=mu.reshape(3, 4), sigma=sigma.reshape(3, 4)),
         ref_signal_weights(p.reshape(3, 4), 0.6, 0.0, sizing=sizing, mu=mu.reshape(3, 4), sigma=sigma.reshape(3, 4)))


@pytest.mark.parametrize("sizing", SIZINGS)
def test_all_gated_bars_and_all_nan_give_zero(sizing):
    p, mu, sigma = predictions(50, 10, 3)
    for th in (0.999, 2.0):  # only p at 0 or 1 can pass 0.999; nothing passes 2
        same(signal_weights(p, th, 0.0, sizing=sizing, mu=mu, sigma=sigma, long_only=False),
             ref_signal_weights(p, th, 0.0, sizing=sizing, mu=mu, sigma=sigma, long_only=False))
    assert not signal_weights(p, 2.0, 0.0, sizing=sizing, mu=mu, sigma=sigma).any()
    nan = np.full((5, 3), np.nan)
    assert not signal_weights(nan, 0.5, 0.0, sizing=sizing, mu=nan, sigma=nan, long_only=False).any()


def strategies():
    "Strategy configs over the stage-2 space and the rules beside it (exit level, mu gate, scale)."
    out = []
    for i, sizing in enumerate(SIZINGS):
        for exit_, mu_th in [(None, None), (0.53, None), (None, 0.001), (0.52, 0.0005)]:
            out.append(StrategyConfig(threshold=0.56 + 0.01 * i, sizing=sizing, kelly_clip=[1.0, 0.4, 0.7, 0.2][i],
                                      kelly_lambda=0.5, scale=[1.0, 0.7, 0.55, 0.9][i], exit_threshold=exit_,
                                      mu_threshold=mu_th))
    return out


@pytest.mark.parametrize("k", range(16))
@pytest.mark.parametrize("long_only", [True, False])
def test_target_weights_equal_the_reference_with_exit_levels_and_the_mu_gate(k, long_only):
    s = strategies()[k]
    p, mu, sigma = predictions(400, 12, k)
    new = target_weights(p, s, mu, sigma, position_cap=0.2, long_only=long_only)
    ref = ref_target_weights(p, s, mu, sigma, position_cap=0.2, long_only=long_only)
    same(new, ref, support=not s.sizing.startswith("kelly"))
    assert (new != 0).any()


# --- the backtest kernel ---------------------------------------------------------------------------------------------
def market(N, T, seed, holes=True):
    "A synthetic market with late listings, halts and a delisting (NaN bars) when `holes`."
    panel, _ = make_market(n_symbols=N, n_bars=T, seed=seed)
    m = prepare(panel)
    ohlc = [x.copy() for x in (m.open, m.high, m.low, m.close)]
    if holes:
        halt = np.random.default_rng(seed).random((T, N)) < 0.02
        for x in ohlc:
            x[:20, 0] = np.nan  # listed late
            x[T - 30:, 1] = np.nan  # delisted
            x[halt] = np.nan
    return type(m)(m.times, m.symbols, *ohlc)


def same_simulation(new, ref):
    eq, expo, paid, Wr, trades, acct = ref
    scale = max(1.0, float(np.abs(eq).max()))
    np.testing.assert_allclose(new.equity, eq, rtol=TOL, atol=TOL * scale)
    np.testing.assert_allclose(new.exposure, expo, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(new.paid, paid, rtol=TOL, atol=TOL * scale)
    if new.weights is not None:
        np.testing.assert_allclose(new.weights, Wr, rtol=TOL, atol=TOL)
    assert len(new.trades) == len(trades)
    for f in ("symbol", "side", "entry_bar", "exit_bar", "reason"):
        assert np.array_equal(new.trades[f], trades[f]), f
    for f in ("entry_price", "exit_price", "size", "pnl", "basis"):
        np.testing.assert_allclose(new.trades[f], trades[f], rtol=TOL, atol=TOL * scale, err_msg=f)
    np.testing.assert_allclose([new.costs, new.traded], [acct[0]["costs"], acct[0]["traded"]], rtol=TOL)


KERNEL_CASES = [  # sizing, long_only, K, cap, leverage, stop, take, max_hold, min_entry, threshold
    ("fixed", True, 3, 0.3, 1.0, 0.0, 0.0, 0, 0.0, 0.55),
    ("confidence", False, 4, 0.4, 1.0, 0.02, 0.04, 0, 0.5, 0.53),
    ("kelly_binary", True, 2, 0.5, 1.0, 0.01, 0.0, 8, 0.0, 0.56),
    ("kelly_fractional", False, 6, 0.3, 0.8, 0.0, 0.03, 5, 0.5, 0.52),
    ("fixed", False, 8, 0.2, 2.0, 0.015, 0.015, 3, 0.0, 0.5),
    ("confidence", True, 1, 1.0, 1.0, 0.0, 0.0, 0, 0.0, 0.6),
]


@pytest.mark.parametrize("case", range(len(KERNEL_CASES)))
@pytest.mark.parametrize("seed", [0, 1])
def test_the_kernel_equals_the_reference_on_the_orders_of_every_sizing(case, seed):
    sizing, lo, K, cap, lev, sl, tp, mh, me, th = KERNEL_CASES[case]
    N, T = 8, 300
    m = market(N, T, seed + 10 * case)
    p, mu, sigma = predictions(T, N, seed, nan=0.02)
    s = StrategyConfig(threshold=th, sizing=sizing, kelly_clip=1.0)
    A = target_weights(p, s, mu, sigma, position_cap=cap, long_only=lo)
    A[100:120] = 0.0  # all-gated bars: every position closes, nothing enters
    cfg = BacktestConfig(initial_equity=100_000.0, commission=0.001, slippage_bps=5, max_positions=K, position_cap=cap,
                         leverage=lev, long_only=lo, min_entry=me)
    for track in (True, False):
        new = simulate(m, A, cfg, sl, tp, mh, track_weights=track)
        same_simulation(new, ref_simulate(m, A, cfg, sl, tp, mh, track_weights=track))
    assert len(new.trades) > 10 and {EXIT_SIGNAL} <= set(new.trades["reason"])


def test_the_kernel_equals_the_reference_when_targets_flip_and_exceed_the_cap():
    "Targets that flip side at once (a signal exit and an entry on the same open), above the cap, with locks."
    N, T = 5, 250
    m = market(N, T, 7)
    rng = np.random.default_rng(7)
    A = np.repeat(rng.choice([-0.6, -0.2, 0.0, 0.2, 0.6], size=(T // 5, N)), 5, axis=0)
    cfg = BacktestConfig(initial_equity=50_000.0, max_positions=3, position_cap=0.3, leverage=1.0, long_only=False)
    new = simulate(m, A, cfg, 0.01, 0.02, 4)
    same_simulation(new, ref_simulate(m, A, cfg, 0.01, 0.02, 4))
    reasons = set(new.trades["reason"])
    assert {EXIT_SIGNAL, EXIT_STOP, EXIT_TIME} <= reasons, reasons


def test_no_orders_and_weights_refused_as_before():
    m = market(4, 60, 2, holes=False)
    cfg = BacktestConfig(position_cap=0.5, max_positions=2)
    same_simulation(simulate(m, np.zeros((60, 4)), cfg), ref_simulate(m, np.zeros((60, 4)), cfg))
    A = np.zeros((60, 4))
    A[5, 2], A[9, 1] = -0.1, np.nan  # a short first, a NaN later: the NaN is named, as before
    with pytest.raises(ValueError, match=f"target weight for {m.symbols[1]} at .* is NaN"):
        check_weights(A, m, cfg)
    A[9, 1] = 0.0
    with pytest.raises(ValueError, match=re.escape(f"short target -0.1 for {m.symbols[2]} at {m.times[5]} but")):
        check_weights(A, m, cfg)
    check_weights(A, m, BacktestConfig(long_only=False))


def test_a_stage2_trial_equals_the_reference_pipeline():
    "Evaluator.score, as stage2_objective calls it, against reference weights run through the reference kernel."
    N, T = 6, 400
    panel, truth = make_market(N, T, freq="1h", signal_strength=0.05, seed=4)
    t = panel.index.get_level_values(0).unique()
    p, mu, sigma = predictions(T, N, 4, nan=0.0)
    P = pd.DataFrame({"timestamp": np.repeat(t, N), "symbol": np.tile(panel.index.get_level_values(1).unique(), T),
                      "p_up": p.ravel(), "mu": mu.ravel(), "sigma": sigma.ravel()})
    ev = Evaluator(panel, P)
    base = RunConfig().override({"data.periods_per_year": 24 * 252, "backtest.position_cap": 0.3,
                                 "backtest.max_positions": 3})
    for i, sizing in enumerate(SIZINGS):
        cfg = ev.resolve(base.override({"strategy.threshold_quantile": 0.6 + 0.1 * i, "strategy.sizing": sizing,
                                        "strategy.stop_loss": 0.01 * i, "strategy.max_hold": 5 * i,
                                        "backtest.long_only": i % 2 == 0}))
        s, b = cfg.strategy, cfg.backtest
        A = ref_target_weights(ev.p, s, ev.mu, ev.sigma, b.position_cap, b.long_only)
        same(ev.weights(cfg), A, support=not sizing.startswith("kelly"))
        ref = ref_simulate(ev.market, A, b, s.stop_loss, s.take_profit, s.max_hold, track_weights=False)
        sc = ev.score(cfg)
        np.testing.assert_allclose(sc["final_equity"], ref[0][-1], rtol=TOL)
        assert sc["trades"] == len(ref[4]) > 0


# --- look-ahead ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", range(16))
def test_sizing_does_not_look_ahead(k):
    "Target weights up to bar 150 do not move when p, mu and sigma after it are replaced (exit levels included)."
    s = strategies()[k]
    p, mu, sigma = predictions(300, 10, k)
    q, m2, s2 = predictions(300, 10, 100 + k)
    fut = lambda a, b: np.vstack([a[:151], b[151:]])
    for lo in (True, False):
        a = target_weights(p, s, mu, sigma, 0.2, lo)
        b = target_weights(fut(p, q), s, fut(mu, m2), fut(sigma, s2), 0.2, lo)
        np.testing.assert_array_equal(a[:151], b[:151])
        assert not np.array_equal(a[151:], b[151:])


def test_the_kernel_does_not_look_ahead():
    "Equity, trades closed and realised weights up to bar k do not move when prices and targets after k change."
    N, T, k = 8, 300, 180
    m, m2 = market(N, T, 5), market(N, T, 6)
    p, mu, sigma = predictions(T, N, 5, nan=0.02)
    A = target_weights(p, StrategyConfig(threshold=0.55, sizing="kelly_binary"), mu, sigma, 0.3, False)
    B = A.copy()
    B[k:] = np.random.default_rng(9).permutation(B[k:])
    mixed = type(m)(m.times, m.symbols, *(np.vstack([x[:k + 1], y[k + 1:]]) for x, y in
                                          zip((m.open, m.high, m.low, m.close), (m2.open, m2.high, m2.low, m2.close))))
    cfg = BacktestConfig(initial_equity=1e5, max_positions=4, position_cap=0.3, long_only=False)
    a, b = simulate(m, A, cfg, 0.01, 0.02, 6), simulate(mixed, B, cfg, 0.01, 0.02, 6)
    np.testing.assert_array_equal(a.equity[:k + 1], b.equity[:k + 1])
    np.testing.assert_array_equal(a.weights[:k + 1], b.weights[:k + 1])
    closed = lambda s: s.trades[s.trades["exit_bar"] <= k]
    assert np.array_equal(closed(a), closed(b)) and len(closed(a)) > 5
    assert not np.array_equal(a.equity[k + 1:], b.equity[k + 1:])


@pytest.mark.parametrize("long_only", [True, False])
def test_branch_free_kelly_fractional_equals_the_gated_loop(long_only):
    """`_frac_loop` (kelly_fractional evaluated on every cell, kept where the gate is open) gives bit for bit what the
    gated loop gives (`_gate_loop` with the rule's code), signs of zero included, on NaN p, p = 1/2, sigma 0, NaN mu."""
    from hnn_trading.strategy import _frac_loop, _gate_loop, KELLY_FRACTIONAL

    rng = np.random.default_rng(7)
    n = 20_000
    p, mu, sg = rng.uniform(0, 1, n), rng.normal(0, 1e-3, n), rng.uniform(0, 0.02, n)
    p[::97], p[::101], mu[::89], sg[::83], mu[::79] = np.nan, 0.5, np.nan, 0.0, 0.0
    for lo in (0.0, 0.1, 0.3):
        a, b = np.zeros(n), np.zeros(n)
        _gate_loop(p, mu, sg, lo, KELLY_FRACTIONAL, 0.7, 0.5, long_only, 0.05, a)
        _frac_loop(p, mu, sg, lo, 0.7, 0.5, long_only, 0.05, b)
        assert np.array_equal(a, b, equal_nan=True) and np.array_equal(np.signbit(a), np.signbit(b))
        assert (a != 0).sum() > 100


@pytest.mark.parametrize("code_name", ["fixed", "confidence"])
@pytest.mark.parametrize("long_only", [True, False])
def test_branch_free_fixed_and_confidence_equal_the_gated_loop(code_name, long_only):
    "`_select_loop` (sized everywhere, kept where the gate opens) equals `_gate_loop`, signs of zero included."
    from hnn_trading.strategy import _select_loop, _gate_loop

    code = SIZINGS.index(code_name)
    rng = np.random.default_rng(11)
    n = 20_000
    p = rng.uniform(0, 1, n)
    p[::97], p[::101], p[::103] = np.nan, 0.5, 1.0
    for lo in (0.0, 0.1, 0.3):
        for clip in (1.0, 0.3):
            a, b = np.zeros(n), np.zeros(n)
            _gate_loop(p, np.zeros(1), np.ones(1), lo, code, clip, 0.5, long_only, 0.05, a)
            _select_loop(p, lo, code, clip, long_only, 0.05, b)
            assert np.array_equal(a, b) and np.array_equal(np.signbit(a), np.signbit(b))
            assert (a != 0).sum() > 100


def kelly_cells(n, seed):
    "p, mu, sigma spanning both sides of every bound `_kelly_binary_loop` checks before its fast path."
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, n)
    p[::7] = rng.choice([0.5, 1.0, 0.0, 1 - 1e-13, 1 - 1e-12, 1 - 2e-12, 1e-13, 2e-12, 0.5 + 1e-16], len(p[::7]))
    sigma = 10.0 ** rng.uniform(-4, -1, n)
    sigma[::11] = 10.0 ** rng.uniform(-300, 300, len(sigma[::11]))
    mu = sigma * rng.uniform(-12, 12, n)  # d = mu / sigma across |d| = 8
    mu[::5] = sigma[::5] * rng.choice([8.0, -8.0, 8.000000000000002, 7.999999999999999, 40.0, -40.0], len(mu[::5]))
    mu[::13], sigma[::17], mu[::19], sigma[::23], mu[::29], p[::31] = 0.0, 0.0, np.nan, np.inf, np.inf, np.nan
    return p, mu, sigma


@pytest.mark.parametrize("long_only", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kelly_binary_fast_path_equals_scipy_norm_and_the_cell_rule(long_only, seed):
    """`_kelly_binary_loop` (open cells gathered, then p mu / u where the floors cannot bite, `_size` elsewhere) equals
    the rule evaluated with scipy.stats.norm (`ref_signal_weights`) and the one-cell compiled rule (`_gate_loop`) to
    1e-12, on p at 1/2, 0, 1 and near 1 - 1e-12, |d| on both sides of 8, sigma from 1e-300 to 1e300, zeros and NaNs."""
    from hnn_trading.strategy import _gate_loop, KELLY_BINARY

    p, mu, sigma = kelly_cells(60_000, seed)
    d, q = np.abs(mu / sigma), np.maximum(p, 1 - p)
    fast = (q < 1 - 1e-12) & (sigma > 1e-250) & (sigma < 1e250) & (d <= 8)
    assert fast.sum() > 20_000 and (~fast & np.isfinite(p)).sum() > 5_000  # both paths exercised
    for threshold, clip in [(0.5, 1.0), (0.56, 0.3), (0.8, 0.75)]:
        kw = dict(sizing="kelly_binary", kelly_clip=clip, long_only=long_only, mu=mu, sigma=sigma)
        new = signal_weights(p, threshold, 0.0, **kw, scale=0.7)
        same(new, 0.7 * ref_signal_weights(p, threshold, 0.0, **kw), support=False)
        cell = np.zeros(p.size)
        _gate_loop(p, mu, sigma, threshold - 0.5, KELLY_BINARY, clip, 0.5, long_only, 0.7, cell)
        same(new, cell, support=False)
        assert np.array_equal(new != 0, cell != 0) or np.abs(new - cell)[(new != 0) != (cell != 0)].max() < 1e-15
        assert (new != 0).sum() > 1_000


@pytest.mark.parametrize("k", range(16))
def test_target_weights_hold_what_the_unchecked_simulation_assumes(k):
    """`Evaluator.simulate` runs the engine without `check_weights` (check=False): target_weights gives no NaN and,
    while long-only, no short, on NaN p/mu/sigma, sigma 0, p at 0, 1/2 and 1, at the config's largest scale and cap."""
    s = strategies()[k].__class__(**{**strategies()[k].__dict__, "scale": 100.0})
    p, mu, sigma = predictions(300, 20, 50 + k, nan=0.1)
    p[::17, ::3], p[::19, ::5], p[::23, ::7] = 0.0, 0.5, 1.0
    m = type("M", (), dict(symbols=pd.Index(range(20)), times=pd.RangeIndex(300)))()
    for long_only in (True, False):
        W = target_weights(p, s, mu, sigma, 10.0, long_only)
        check_weights(W, m, BacktestConfig(long_only=long_only))  # raises on a NaN, or a short while long-only
        assert (W != 0).any() and (not long_only or (W >= 0).all())

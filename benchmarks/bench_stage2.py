"""Stage 2 at the sampler's speed (issue #17): a 2,500-trial strategy study on cached predictions at 143 x 17,520 hourly bars.

1. The sampler's own cost: each candidate sampler runs N trials (default 2,500) of the real stage-2 space
   (configs/search/stage2.yaml) on a cheap objective with the same constraint, on a journal file (the storage `hnn hpo` uses with
   several workers). Printed: the whole study, and the mean cost of a trial among the last 100 (where TPE is slowest);
   then TPE as stage 2 runs it (sampler "tpe": Optuna 5's TPESampler defaults, which are multivariate with a constant
   liar), through `hpo.optimize_batched` (which samples with `hpo._CachedTPE`: the same samples, each finished trial's
   parameters converted to TPE's internal values once and its infeasibility and value read once, not at every trial),
   1 and 2 jobs, with CPU seconds.
2. The trial itself (issue #29): `Evaluator.score` (what stage2_objective calls; it runs the engine on its own weights
   without `check_weights`, which `simulate` below runs: 2-3 ms) for every sizing rule at a wide and a narrow gate,
   interleaved A B C D with the engine alone on the trial's target weights (`backtest.simulate`), the kernel alone
   (`backtest._kernel`) and a
   bare numba pass over the same target weights (`bare_pass` below: four passes over the symbols a bar, orders where the
   target changed, a stop, the close; no ranking, caps, K or trade records): medians (min-max) and the ratios against the
   targets (a trial <= 1.5x simulate, the kernel <= 2x the bare pass). `run_backtest` split into its kernel and the rest
   is in bench_backtest.py.
3. The real thing: `hpo.stage2_objective` on the cached predictions with the project's stage-2 sampler (`hpo.stage2_sampler`,
   journal storage, `hpo.optimize_batched`: an in-memory copy written every 250 trials, the next batch asked while one runs) for N
   trials, one and `hpo.stage2_jobs` at a time, against the target (<= 90 s for 2,500 trials including Optuna's own cost; issue #29, was 3 minutes).

    python benchmarks/bench_stage2.py [N] [--skip-samplers]
Prints figures and the machine's load (`uptime`; timings on a loaded machine are inflated, ratios measured interleaved hold
better); asserts nothing about time.
"""
import os, sys, time, tempfile, warnings, subprocess
from pathlib import Path
import numpy as np, pandas as pd, optuna
from numba import njit
from hnn_trading.config import RunConfig
from hnn_trading.synthetic import make_market
from hnn_trading.hpo import SearchSpace, stage2_objective, optimize_batched
from hnn_trading.studies import make_study, SAMPLERS, make_sampler
from hnn_trading.evaluate import Evaluator
from hnn_trading.backtest import _kernel, _rules, simulate
from hnn_trading.strategy import backtest_kwargs, SIZINGS
warnings.filterwarnings("ignore"); optuna.logging.set_verbosity(optuna.logging.WARNING)
import argparse
_ap = argparse.ArgumentParser(description="Stage 2 at the sampler's speed: sampler costs, one trial, and a whole N-trial stage-2 study at 143 x 17,520 hourly bars (prints figures; asserts nothing)")
_ap.add_argument("n", nargs="?", type=int, default=2500, help="trials per study (default 2,500)")
_ap.add_argument("--skip-samplers", action="store_true", help="skip part 1 (the samplers' own cost)")
ARGS = _ap.parse_args()
N_TRIALS = ARGS.n
load = lambda: subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
med = lambda ts: f"{np.median(ts) * 1e3:.0f} ms ({min(ts) * 1e3:.0f}-{max(ts) * 1e3:.0f})"
print("load:", load(), flush=True)


@njit(cache=True, nogil=True)
def bare_pass(O, H, L, C, W, init, fee, slip, stop):
    "The floor for the kernel: four passes over the symbols a bar (equity at the open, orders, a stop, the close)."
    T, N = O.shape
    sh, cur, entry = np.zeros(N), np.zeros(N), np.zeros(N)
    cash, eq = init, np.empty(T)
    for t in range(T):
        if t > 0:
            e = cash
            for j in range(N):
                if sh[j] != 0.0 and not np.isnan(O[t, j]):
                    e += sh[j] * O[t, j]
            for j in range(N):
                w = W[t - 1, j]
                if w != cur[j] and not np.isnan(O[t, j]):
                    dq = w * e / O[t, j] - sh[j]
                    fp = O[t, j] * (1.0 + slip * np.sign(dq))
                    cash -= dq * fp + fee * abs(dq * fp)
                    sh[j] += dq
                    cur[j] = w
                    entry[j] = fp
        for j in range(N):
            if stop > 0 and sh[j] > 0.0 and L[t, j] <= entry[j] * (1 - stop):
                fp = entry[j] * (1 - stop) * (1.0 - slip)
                cash += sh[j] * fp - fee * abs(sh[j] * fp)
                sh[j] = 0.0
        m = cash
        for j in range(N):
            if sh[j] != 0.0 and not np.isnan(C[t, j]):
                m += sh[j] * C[t, j]
        eq[t] = m
    return eq

ROOT = Path(__file__).resolve().parents[1]
space = SearchSpace.from_yaml(ROOT/"configs/search/stage2.yaml")

def cheap(trial):
    "The stage-2 space sampled, a smooth value and the min-trades constraint, at no cost: what is left is Optuna's."
    v = space.sample(trial)
    q = v["strategy.threshold_quantile"]
    trial.set_constraint("min_trades", float(q > 0.95))
    return float(np.sin(6 * q) + v["strategy.kelly_clip"] - (v["strategy.stop_loss"] - 0.03) ** 2 + 0.1 * (v["strategy.sizing"] == "confidence"))

if not ARGS.skip_samplers:
    print(f"1. sampler cost, {N_TRIALS} trials of the stage-2 space ({len(space.params)} parameters), a free objective:")
    with tempfile.TemporaryDirectory() as d:
        for name in SAMPLERS:
            st = make_study(f"s-{name}", f"journal:///{d}/{name}.log", N_TRIALS, 0, prune=False, sampler=name)
            stamps = []
            t0 = time.perf_counter(); st.optimize(cheap, n_trials=N_TRIALS, callbacks=[lambda s, t: stamps.append(time.perf_counter())]); dt = time.perf_counter() - t0
            last = np.diff(stamps[-101:]).mean()
            best = max(t.value for t in st.trials if t.constraints and all(v <= 0 for v in t.constraints.values()))
            print(f"  {name:17s} {dt:7.1f} s in all = {dt / N_TRIALS * 1e3:6.1f} ms per trial; the last 100 trials {last * 1e3:6.1f} ms each; best value {best:.3f}", flush=True)
        # what stage 2 runs: TPE through optimize_batched, which reads each past trial once (hpo._CachedTPE)
        for jobs in (1, 2):
            st = make_study(f"s-b{jobs}", f"journal:///{d}/b{jobs}.log", N_TRIALS, 0, prune=False, sampler="tpe")
            stamps = []
            timed = lambda t: (stamps.append(time.perf_counter()), cheap(t))[1]
            t0, c0 = time.perf_counter(), time.process_time(); optimize_batched(st, timed, N_TRIALS, space, jobs, progress=False)
            dt, cpu = time.perf_counter() - t0, time.process_time() - c0
            last = np.diff(stamps[-101:]).mean()
            best = max(t.value for t in st.trials if t.constraints and all(v <= 0 for v in t.constraints.values()))
            print(f"  tpe, optimize_batched, jobs {jobs} (cached TPE, the same samples): {dt:7.1f} s in all, CPU {cpu:.1f} s; "
                  f"the last 100 trials {last * 1e3:6.1f} ms each; best value {best:.3f}", flush=True)

N, T = 143, 17_520
panel, truth = make_market(N, T, freq="1h", signal_strength=0.05, seed=0)
sig = truth["signal"].ewm(span=24).mean()
p = 1 / (1 + np.exp(-2 * sig)); t = panel.index.get_level_values(0).unique()
P = pd.DataFrame({"timestamp": np.repeat(t, N), "symbol": np.tile(sig.columns, T), "p_up": p.values.ravel(),
                  "mu": 0.001 * sig.values.ravel(), "sigma": np.full(N * T, 0.01)})
base = RunConfig().override({"data.periods_per_year": 24 * 252, "backtest.position_cap": 0.05, "backtest.max_positions": 20, "backtest.initial_equity": 1e6})

print(f"\n2. one trial at {N} x {T}, every sizing (stop 3%, max hold 20), interleaved 5 rounds: the trial (Evaluator.score), "
      "the engine alone on the trial's target weights (backtest.simulate), the kernel alone, a bare numba pass over the same orders:")
t0 = time.perf_counter(); ev = Evaluator(panel, P); print(f"  Evaluator cache (once per study): {time.perf_counter() - t0:.2f} s")
m = ev.market
sim_all, trial_all = [], []
for sz in SIZINGS:
    for q in (0.5, 0.9):
        cfg = ev.resolve(base.override({"strategy.threshold_quantile": q, "strategy.sizing": sz, "strategy.stop_loss": 0.03,
                                        "strategy.max_hold": 20}))
        W, bkw = ev.weights(cfg), backtest_kwargs(cfg.strategy)
        kargs = (m.open, m.high, m.low, m.close, W, 1e6, _rules(cfg.backtest, **backtest_kwargs(cfg.strategy)), False)
        bargs = (m.open, m.high, m.low, m.close, W, 1e6, 0.001, 5e-4, 0.03)
        fs = dict(trial=lambda: ev.score(cfg), simulate=lambda: simulate(m, W, cfg.backtest, **bkw, track_weights=False),
                  kernel=lambda: _kernel(*kargs),
                  bare=lambda: bare_pass(*bargs))
        ts = {k: [] for k in fs}
        for f in fs.values():
            f()  # compile / warm
        for _ in range(5):
            for k, f in fs.items():
                t0 = time.perf_counter(); f(); ts[k].append(time.perf_counter() - t0)
        md = {k: np.median(v) for k, v in ts.items()}
        sim_all += ts["simulate"]; trial_all += ts["trial"]
        print(f"  {sz:16s} q={q}: trial {med(ts['trial'])}, simulate {med(ts['simulate'])}, kernel {med(ts['kernel'])}, "
              f"bare pass {med(ts['bare'])}; trial/simulate {md['trial'] / md['simulate']:.2f} (target <= 1.5: "
              f"{'ok' if md['trial'] <= 1.5 * md['simulate'] else 'MISSED'}), kernel/bare {md['kernel'] / md['bare']:.2f} "
              f"(target <= 2: {'ok' if md['kernel'] <= 2 * md['bare'] else 'MISSED'}); {(W != 0).mean():.0%} of cells traded", flush=True)
print("  load:", load())

import numba
print(f"\nthreads: numba {numba.get_num_threads()}, OMP_NUM_THREADS {os.environ.get('OMP_NUM_THREADS', 'unset')}")
print(f"\n3. stage2_objective, {N_TRIALS} trials, journal storage, the project's stage-2 sampler ({base.hpo.stage2_sampler}), "
      f"one at a time and {base.hpo.stage2_jobs} at a time (hpo.optimize_batched: asked in order, evaluated in threads):")
for jobs in (1, base.hpo.stage2_jobs):
    with tempfile.TemporaryDirectory() as d:
        st = make_study("bench-stage2", f"journal:///{d}/s2.log", N_TRIALS, 0, prune=False, sampler=base.hpo.stage2_sampler)
        inner, spent = stage2_objective(base, panel, P, space), []
        def obj(trial):
            t0 = time.perf_counter()
            try: return inner(trial)
            finally: spent.append(time.perf_counter() - t0)
        t0, c0 = time.perf_counter(), time.process_time(); optimize_batched(st, obj, N_TRIALS, space, jobs)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        done = [x for x in st.trials if x.state == optuna.trial.TrialState.COMPLETE]
        print(f"  jobs {jobs}: {N_TRIALS} trials in {dt:.1f} s ({dt / 60:.2f} min, {dt / N_TRIALS * 1e3:.0f} ms per trial; a trial's objective "
              f"{np.median(spent) * 1e3:.0f} ms median); scaled to 2,500 trials {dt / N_TRIALS * 2500 / 60:.2f} min "
              f"(target <= 90 s: {'ok' if dt / N_TRIALS * 2500 <= 90 else 'MISSED'}); the objective / simulate's median in part 2: "
              f"{np.median(spent) / np.median(sim_all):.2f} (target <= 1.5: "
              f"{'ok' if np.median(spent) <= 1.5 * np.median(sim_all) else 'MISSED'}; in threads the two trials share the cores); best Sharpe {st.best_value:.2f}, {len(done)} complete; "
              f"CPU time {cpu:.1f} s ({cpu / N_TRIALS * 1e3:.0f} ms per trial, all threads: on a loaded machine, what the trials "
              f"would take on one free core)", flush=True)
        if N_TRIALS < 2500:
            print(f"  (scaled linearly from {N_TRIALS} trials: TPE's cost per trial grows with the trials it models, so a "
                  "2,500-trial study takes longer than this says; run `bench_stage2.py 2500` for the figure)", flush=True)
print("load:", load())

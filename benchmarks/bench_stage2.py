"""Stage 2 at the sampler's speed (issue #17): a 2,500-trial strategy study on cached predictions at 143 x 17,520 hourly bars.

1. The sampler's own cost: each candidate sampler runs N trials (default 2,500) of the real stage-2 space
   (configs/search/stage2.yaml) on a cheap objective with the same constraint, on a journal file (the storage `hnn hpo` uses with
   several workers). Printed: the whole study, and the mean cost of a trial among the last 100 (where TPE is slowest).
2. The trial itself: `Evaluator.score` (what stage2_objective calls); `run_backtest` split into its kernel and the rest is in
   bench_backtest.py.
3. The real thing: `hpo.stage2_objective` on the cached predictions with the project's stage-2 sampler (`hpo.stage2_sampler`,
   journal storage, `hpo.optimize_batched`: an in-memory copy written every 250 trials, the next batch asked while one runs) for N
   trials, one and `hpo.stage2_jobs` at a time, against the target (<= 3 minutes for 2,500 trials including Optuna's own cost).

    python benchmarks/bench_stage2.py [N]
Prints figures; asserts nothing about time.
"""
import sys, time, tempfile, warnings
from pathlib import Path
import numpy as np, pandas as pd, optuna
from hnn_trading.config import RunConfig
from hnn_trading.synthetic import make_market
from hnn_trading.hpo import SearchSpace, stage2_objective, optimize_batched
from hnn_trading.studies import make_study, SAMPLERS, make_sampler
from hnn_trading.evaluate import Evaluator
warnings.filterwarnings("ignore"); optuna.logging.set_verbosity(optuna.logging.WARNING)
import argparse
_ap = argparse.ArgumentParser(description="Stage 2 at the sampler's speed: sampler costs, one trial, and a whole N-trial stage-2 study at 143 x 17,520 hourly bars (prints figures; asserts nothing)")
_ap.add_argument("n", nargs="?", type=int, default=2500, help="trials per study (default 2,500)")
N_TRIALS = _ap.parse_args().n
ROOT = Path(__file__).resolve().parents[1]
space = SearchSpace.from_yaml(ROOT/"configs/search/stage2.yaml")

def cheap(trial):
    "The stage-2 space sampled, a smooth value and the min-trades constraint, at no cost: what is left is Optuna's."
    v = space.sample(trial)
    q = v["strategy.threshold_quantile"]
    trial.set_constraint("min_trades", float(q > 0.95))
    return float(np.sin(6 * q) + v["strategy.kelly_clip"] - (v["strategy.stop_loss"] - 0.03) ** 2 + 0.1 * (v["strategy.sizing"] == "confidence"))

print(f"1. sampler cost, {N_TRIALS} trials of the stage-2 space ({len(space.params)} parameters), a free objective:")
with tempfile.TemporaryDirectory() as d:
    for name in SAMPLERS:
        st = make_study(f"s-{name}", f"journal:///{d}/{name}.log", N_TRIALS, 0, prune=False, sampler=name)
        stamps = []
        t0 = time.perf_counter(); st.optimize(cheap, n_trials=N_TRIALS, callbacks=[lambda s, t: stamps.append(time.perf_counter())]); dt = time.perf_counter() - t0
        last = np.diff(stamps[-101:]).mean()
        best = max(t.value for t in st.trials if t.constraints and all(v <= 0 for v in t.constraints.values()))
        print(f"  {name:17s} {dt:7.1f} s in all = {dt / N_TRIALS * 1e3:6.1f} ms per trial; the last 100 trials {last * 1e3:6.1f} ms each; best value {best:.3f}", flush=True)

N, T = 143, 17_520
panel, truth = make_market(N, T, freq="1h", signal_strength=0.05, seed=0)
sig = truth["signal"].ewm(span=24).mean()
p = 1 / (1 + np.exp(-2 * sig)); t = panel.index.get_level_values(0).unique()
P = pd.DataFrame({"timestamp": np.repeat(t, N), "symbol": np.tile(sig.columns, T), "p_up": p.values.ravel(),
                  "mu": 0.001 * sig.values.ravel(), "sigma": np.full(N * T, 0.01)})
base = RunConfig().override({"data.periods_per_year": 24 * 252, "backtest.position_cap": 0.05, "backtest.max_positions": 20, "backtest.initial_equity": 1e6})

print(f"\n2. one trial at {N} x {T}:")
t0 = time.perf_counter(); ev = Evaluator(panel, P); print(f"  Evaluator cache (once per study): {time.perf_counter() - t0:.2f} s")
cfgs = [base.override({"strategy.threshold": th, "strategy.sizing": sz}) for th in (0.55, 0.6, 0.65) for sz in ("fixed", "confidence")]
ev.score(cfgs[0]); ts = []
for c in cfgs * 2:
    t0 = time.perf_counter(); ev.score(c); ts.append(time.perf_counter() - t0)
print(f"  Evaluator.score (a stage-2 trial's work): {np.median(ts) * 1e3:.0f} ms median ({min(ts) * 1e3:.0f}-{max(ts) * 1e3:.0f})")

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
        t0 = time.perf_counter(); optimize_batched(st, obj, N_TRIALS, space, jobs); dt = time.perf_counter() - t0
        done = [x for x in st.trials if x.state == optuna.trial.TrialState.COMPLETE]
        print(f"  jobs {jobs}: {N_TRIALS} trials in {dt:.1f} s ({dt / 60:.2f} min, {dt / N_TRIALS * 1e3:.0f} ms per trial; a trial's objective "
              f"{np.median(spent) * 1e3:.0f} ms median); scaled to 2,500 trials {dt / N_TRIALS * 2500 / 60:.2f} min "
              f"(target <= 3 min: {'ok' if dt / N_TRIALS * 2500 <= 180 else 'MISSED'}); best Sharpe {st.best_value:.2f}, {len(done)} complete", flush=True)

"""HPO costs (issue #6).

1. A stage-2 trial on cached out-of-fold predictions for 143 symbols x 17,520 hourly bars (target < 50 ms, so that
   2,500 strategy trials take under 3 minutes on 2 cores), against the same trial as a full backtest (Evaluator.backtest, every artefact) from scratch.
2. Storage + sampler overhead per trial (multivariate TPE with the project's settings, a trivial objective over a
   17-parameter space) at N trials for in-memory, SQLite and journal storages (target < 30 ms per trial).
   N defaults to 2,500; `python benchmarks/bench_hpo.py 500` for a shorter run.
3. The stage-1 trial of the old v4-best configuration is measured in bench_training.py.
"""
import sys, time, tempfile, warnings
from pathlib import Path
import numpy as np, pandas as pd, optuna
from hnn_trading.config import RunConfig
from hnn_trading.synthetic import make_market
from hnn_trading.hpo import SearchSpace
from hnn_trading.studies import make_study
from hnn_trading.evaluate import Evaluator
warnings.filterwarnings("ignore"); optuna.logging.set_verbosity(optuna.logging.WARNING)
N_TRIALS = int(sys.argv[1]) if len(sys.argv) > 1 else 2500

N, T = 143, 17_520
panel, truth = make_market(N, T, freq="1h", signal_strength=0.05, seed=0)
sig = truth["signal"].ewm(span=24).mean()
p = 1 / (1 + np.exp(-2 * sig)); t = panel.index.get_level_values(0).unique()
P = pd.DataFrame({"timestamp": np.repeat(t, N), "symbol": np.tile(sig.columns, T), "p_up": p.values.ravel(),
                  "mu": 0.001 * sig.values.ravel(), "sigma": np.full(N * T, 0.01)})
base = RunConfig().override({"data.periods_per_year": 24 * 252, "backtest.position_cap": 0.05, "backtest.max_positions": 20, "backtest.initial_equity": 1e6})
cfgs = [base.override({"strategy.threshold": th, "strategy.sizing": sz}) for th in (0.55, 0.6, 0.65) for sz in ("fixed", "confidence")]
t0 = time.perf_counter(); ev = Evaluator(panel, P); t_cache = time.perf_counter() - t0
ev.score(cfgs[0])                                                   # compile
ts = []
for c in cfgs:
    t0 = time.perf_counter(); m = ev.score(c); ts.append(time.perf_counter() - t0)
t_full = min((lambda: (lambda t0: (Evaluator(panel, P).backtest(cfgs[0]), time.perf_counter() - t0)[1])(time.perf_counter()))() for _ in range(2))
print(f"stage-2 trial, {N} x {T} cached predictions: {np.median(ts) * 1e3:.0f} ms median (min {min(ts) * 1e3:.0f}) "
      f"(target < 50 ms: {'ok' if np.median(ts) < 0.05 else 'MISSED'}); one-off cache build {t_cache:.2f} s; "
      f"as a full backtest from scratch: {t_full * 1e3:.0f} ms (x{t_full / np.median(ts):.1f}); "
      f"2,500 trials would take {2500 * np.median(ts) / 60:.1f} min")

space = SearchSpace.from_yaml(Path(__file__).resolve().parents[1]/"configs/search/stage1.yaml")
def objective(trial):
    v = space.sample(trial)
    return float(np.sin(v["training.learning_rate"] * 1e3) + v["model.dropout"])
with tempfile.TemporaryDirectory() as d:
    for name, url in [("in-memory", None), ("sqlite", f"sqlite:///{d}/b.db"), ("journal", f"journal:///{d}/b.log")]:
        st = optuna.create_study(sampler=optuna.samplers.TPESampler(multivariate=True, n_startup_trials=N_TRIALS // 10, n_ei_candidates=64, seed=0),
                                 direction="maximize") if url is None else make_study(f"bench-{name}", url, N_TRIALS, 0)
        t0 = time.perf_counter(); st.optimize(objective, n_trials=N_TRIALS); dt = time.perf_counter() - t0
        per = dt / N_TRIALS
        last = [x.duration.total_seconds() for x in st.trials[-100:] if x.duration is not None]
        print(f"{name:9s}: {N_TRIALS} trials in {dt:.1f} s = {per * 1e3:.1f} ms per trial (target < 30 ms: {'ok' if per < 0.03 else 'MISSED'}); "
              f"last 100 trials {np.mean(last) * 1e3:.1f} ms each")

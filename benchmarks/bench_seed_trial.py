"""The old system's stage-1 trial, reproduced with our stack, like with like (issue #17).

The workload: 1,500 hourly bars (the last 1,500 of `--data`, a CSV/Parquet file or folder of hourly OHLCV, default a synthetic
hourly market with a planted signal), core23 features, 5 expanding folds with 128-bar validation blocks and a 256-bar
calibration slice, at most 25 epochs per fold with patience 10, and the old system's v4-best values: HermiteNet with the
legacy preset, feature window 227, LSTM 48, m 192, degree 7, maps 5/1, batch 512, learning rate 1.8e-5 with OneCycle.
One trial is `hpo.stage1_objective`, the product's own stage-1 trial (walk-forward training, predictions, checkpoints, backtest).

Each variant runs in a fresh process (the allocator and denormal settings are per process), interleaved A B A B ...:
  glibc      glibc's malloc defaults (HNN_MALLOC=system) and flush-to-zero on the calling thread only: the runtime before #17
  default    the product's defaults (tune_allocator + flush_denormals on every OpenMP thread)
  min_delta  default + training.min_delta 0.002 and patience 3: early stopping needs a 0.2% better calibration loss
and prints, per variant, the median and min-max of wall time, epochs, samples trained, samples/s, minor page faults and the
pooled out-of-fold AUC, then the ratio to the old system's trial on this kind of machine. Each variant runs at every
thread count of `--threads` (torch threads and OMP/MKL/OpenBLAS threads alike), and every trial prints its runtime:
torch version, intra-op and inter-op threads, mkldnn, deterministic algorithms, allocator and denormal settings.

The old system's figures, measured side by side on a quiet 2-core machine in issue #29 (the old system is not in this
repository; fetch franciscocarrascoza/He_NN_trading to rerun it): 65.5 s (63.3-70.0) as shipped (1 thread, mkldnn off,
deterministic on), 24.4 s (23.9-24.9) with this project's runtime at 2 threads. A ratio is printed only against the
figure measured under the same conditions (2 threads, this project's runtime); the issue's target is <= 0.5x (<= 12 s).

    python benchmarks/bench_seed_trial.py [--data FILE] [--pairs 2] [--variants glibc,default,min_delta] [--threads 1,2]
Prints figures; asserts nothing about time.
"""
import argparse, json, os, subprocess, sys, tempfile, time
import numpy as np

OLD_SAME_RUNTIME_S = 24.4           # the old system's trial with this project's runtime, 2 threads (issue #29, median of 2)
OLD_AS_SHIPPED_S = 65.5             # the old system as shipped: 1 thread, mkldnn off, deterministic on (issue #29, median of 5)
TARGET = 0.5                        # of the old system's time given the same runtime and threads
VARIANTS = {"glibc": ({"HNN_MALLOC": "system"}, {}, True), "default": ({}, {}, False),
            "min_delta": ({}, {"training.min_delta": 2e-3, "training.patience": 3}, False)}
SEED_V4 = {"model.name": "hermite", "model.hermite_preset": "legacy", "model.prob_source": "legacy_pdf", "model.use_lstm": True,
           "model.lstm_hidden": 48, "model.hermite_hidden_dim": 192, "model.hermite_degree": 7, "model.hermite_maps_a": 5,
           "model.hermite_maps_b": 1, "model.hermite_version": "probabilist", "model.feature_window": 227, "features.set": "core23",
           "splits.n_folds": 5, "splits.val_block": 128, "splits.calib_size": 256, "splits.min_train": 256, "training.epochs": 25,
           "training.patience": 10, "training.batch_size": 512, "training.learning_rate": 1.8e-5, "training.scheduler": "onecycle",
           "training.progress": False, "data.periods_per_year": 24 * 252}

def seed_config(data:str|None, extra:dict|None=None):
    "The old workload as a RunConfig (data: a file or folder of hourly bars; None: a synthetic hourly market)."
    from hnn_trading.config import RunConfig
    src = {"data.source": data} if data else {"data.source": "synthetic", "data.synthetic": dict(n_symbols=1, n_bars=1500, freq="1h", signal_strength=0.05, seed=0)}
    return RunConfig().override({**SEED_V4, **src, **(extra or {})})

def seed_panel(cfg, n_bars:int=1500):
    "The last `n_bars` bars of the config's data."
    from hnn_trading.data import load_data
    panel = load_data(cfg.data); t = panel.index.get_level_values("timestamp").unique()[-n_bars:]
    return panel[panel.index.get_level_values("timestamp").isin(t)]

def runtime(torch, training) -> dict:
    "What this process runs with: the settings a speed figure depends on."
    return dict(torch=torch.__version__, threads=torch.get_num_threads(), interop=torch.get_num_interop_threads(),
                mkldnn=torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled,
                deterministic=torch.are_deterministic_algorithms_enabled(),
                omp=os.environ.get("OMP_NUM_THREADS"), **training.tune_cpu())

def one_trial(data, overrides:dict, calling_thread_only:bool) -> dict:
    "One stage-1 trial in this process: wall time, epochs, samples, faults and AUC."
    import resource, optuna, torch
    from hnn_trading import training
    from hnn_trading.hpo import SearchSpace, stage1_objective
    if calling_thread_only: training.flush_denormals = lambda: bool(torch.set_flush_denormal(True))   # the runtime before #17
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2"))); optuna.logging.set_verbosity(optuna.logging.WARNING)
    cfg = seed_config(data, overrides); panel = seed_panel(cfg)
    st = optuna.create_study(direction="maximize")
    with tempfile.TemporaryDirectory() as d:
        obj = stage1_objective(cfg, panel, SearchSpace(params={}, fixed={}), d)
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt; t0 = time.perf_counter()
        st.optimize(obj, n_trials=1)
        wall = time.perf_counter() - t0; faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
    t = st.trials[0]; folds = t.user_attrs["folds"]
    samples = sum(f["n_train"] * f["epochs_run"] for f in folds)
    return dict(wall=wall, epochs=int(sum(f["epochs_run"] for f in folds)), samples=int(samples), samples_per_s=samples / wall,
                faults=faults, auc=t.user_attrs["auc_pooled"], score=t.value, runtime=runtime(torch, training))

def fmt(xs, f="{:,.1f}"):
    return f"{f.format(np.median(xs))} ({f.format(min(xs))}-{f.format(max(xs))})"

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None, help="hourly OHLCV file or folder (default: a synthetic hourly market)")
    ap.add_argument("--pairs", type=int, default=2, help="rounds of the interleaved variants")
    ap.add_argument("--variants", default="glibc,default,min_delta", help="comma-separated, run in this order each round: glibc (allocator defaults, flush-to-zero on the calling thread only), default, min_delta (0.002, patience 3)")
    ap.add_argument("--threads", default="2", help="comma-separated thread counts, each variant runs at each (e.g. 1,2)")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        env, ov, calling = VARIANTS[a.one]; print(json.dumps(one_trial(a.data, ov, calling))); return
    runs = [(v, int(th)) for v in a.variants.split(",") for th in a.threads.split(",")]
    names = [f"{v}@{th}" for v, th in runs]; res = {n: [] for n in names}
    print(f"old system's stage-1 trial (1,500 hourly bars, 5 folds, <= 25 epochs, v4-best), {a.pairs} interleaved rounds of {names}")
    for k in range(a.pairs):
        for n, (v, th) in zip(names, runs):
            env = {**os.environ, **{k: str(th) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}, **VARIANTS[v][0]}
            cmd = [sys.executable, __file__, "--one", v] + (["--data", a.data] if a.data else [])
            out = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if out.returncode: sys.exit(f"{n} failed:\n{out.stderr[-3000:]}")
            r = json.loads(out.stdout.strip().splitlines()[-1]); res[n].append(r)
            print(f"  round {k + 1} {n:10s} {r['wall']:6.1f} s  {r['epochs']:3d} epochs  {r['samples']:>9,} samples  "
                  f"{r['samples_per_s']:6,.0f}/s  {r['faults']:>11,} faults  AUC {r['auc']:.4f}", flush=True)
            if k == 0: print(f"    runtime: {r['runtime']}", flush=True)
    old = OLD_SAME_RUNTIME_S
    print(f"\n{'variant':12s} {'wall s':>22s} {'epochs':>16s} {'samples/s':>22s} {'faults/epoch':>26s} {'AUC':>8s}  vs old system, same runtime, 2 threads ({old} s)")
    for n, rs in res.items():
        w = [r["wall"] for r in rs]
        same = n.endswith("@2") and not n.startswith("glibc")
        vs = f"x{np.median(w) / old:.2f} (target <= {TARGET}: {'ok' if np.median(w) <= TARGET * old else 'MISSED'})" if same else "(no old figure at these settings)"
        print(f"{n:12s} {fmt(w):>22s} {fmt([r['epochs'] for r in rs], '{:.0f}'):>16s} {fmt([r['samples_per_s'] for r in rs], '{:,.0f}'):>22s} "
              f"{fmt([r['faults'] / r['epochs'] for r in rs], '{:,.0f}'):>26s} {np.median([r['auc'] for r in rs]):8.4f}  {vs}")

if __name__ == "__main__": main()

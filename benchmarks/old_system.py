"""The OLD system's stage-1 trial on our bars, in this process: a driver, none of its code (issue #29).

The old system is the public repository franciscocarrascoza/He_NN_trading; it is not in this repository: put a copy
of it outside (e.g. /work/old/He_NN_trading) and pass that folder as --old.
It needs nothing that this project's environment lacks (torch, numpy, pandas, scipy, scikit-learn, matplotlib, optuna,
tqdm, pyyaml, requests), so it runs with the same interpreter and the same torch as `bench_seed_trial.py`.

    python benchmarks/old_system.py --old DIR --bars FILE [--runtime shipped|ours] [--threads N] [--folds ours|old]
                                    [--epochs 25]

One trial of its stage-1 study, as `optuna_optimize_v6.py` runs it: its `objective` on its first trial, the enqueued
v4-best values (`INITIAL_PARAMS`: feature window 227, LSTM 48, m 192, degree 7, maps 5/1, batch 512, learning rate
1.8e-5 with OneCycle; its `classification_loss` and `focal_gamma` land in its model config, which has no such fields,
so the trial trains with its default BCE and automatic pos_weight), `set_seed(42)`, `HermiteTrainer(config=cfg).run()`
with its defaults (5 folds, 128-bar validation blocks, 256-bar calibration, <= 25 epochs, early stopping on the
validation block's AUC with patience 10 and min_delta 1e-4, best epoch restored): training, calibration, conformal
intervals, strategy evaluation, plots and CSVs (written to a temporary folder).

What this driver swaps in the old code, in this process only (its files are not touched):
  data     `src.pipeline.training.BinanceDataFetcher` -> an offline fetcher returning FILE's bars: the last 1,500 bars
           of FILE as `bench_seed_trial.seed_panel` reads them (so both sides see the same bars; one symbol), as
           Binance-style candles with the bar's timestamp as its close_time.
  folds    --folds ours (default): `src.pipeline.training.RollingOriginSplitter` -> the folds bench_seed_trial's trial
           trains on: for each of our 5 folds the same training, calibration and validation bars (our splitter's
           spans, our rows with a complete feature window and a label), mapped to the old dataset's samples by
           timestamp. --folds old: its own splitter (first validation block after 2 x feature_window samples, training
           from its first sample: smaller training folds than ours; the layout of issue #29's table).
  epochs   --epochs N replaces its `training.num_epochs` (25) for smoke tests.
  runtime  --runtime shipped (default): as it ships: its `set_seed` pins 1 intra-op and 1 inter-op thread and turns
           deterministic algorithms on, importing its training module turns mkldnn off; glibc's malloc defaults,
           no flush-to-zero. --runtime ours: this project's runtime, re-applied after each of its `set_seed` calls:
           `--threads` (default: `hpo.worker_env`'s count for one process) intra-op threads, the inter-op pool left
           at torch's default, mkldnn on, deterministic algorithms off, `training.tune_allocator` and
           `training.flush_denormals` (every OpenMP thread).

Prints one JSON line: wall s (the `study.optimize` call, as bench_seed_trial times ours), epochs per fold, training
rows per fold, samples trained, samples/s, minor page faults, pooled out-of-fold AUC (its calibrated P(up) on every
fold's validation rows), its own score (0.7 mean fold AUC + 0.3 mean fold DirAcc), the bars it saw (first, last,
count) and its runtime.
"""

import argparse, contextlib, json, logging, os, resource, sys, tempfile, time
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
N_BARS = 1500


def die(msg: str):
    sys.exit(f"old_system.py: {msg}")


def our_bars(bars: str):
    "The config and the last 1,500 bars of `bars`, as bench_seed_trial's trial reads them."
    sys.path.insert(0, str(HERE))
    from bench_seed_trial import seed_config, seed_panel

    cfg = seed_config(bars)
    panel = seed_panel(cfg, N_BARS)
    syms = panel.index.get_level_values("symbol").unique()
    if len(syms) != 1:
        die(f"--bars {bars}: {len(syms)} symbols; the old system trains on one")
    return cfg, panel


def candles(panel):
    "Binance-style candles (the columns the old fetcher returns) of a one-symbol panel; close_time = the bar's time."
    import pandas as pd

    df = panel.reset_index()
    close = pd.DatetimeIndex(df["timestamp"]).tz_convert("UTC").as_unit("ns")
    step = pd.Series(close).diff().median()
    out = pd.DataFrame(
        {
            "open_time": close - step,
            **{c: df[c].astype(float).values for c in ("open", "high", "low", "close", "volume")},
            "close_time": close,
        }
    )
    for c in ("quote_asset_volume", "number_of_trades", "taker_buy_base", "taker_buy_quote", "ignore"):
        out[c] = 0.0
    return out.reset_index(drop=True)


def our_folds(cfg, panel) -> list[dict]:
    "Per fold, the timestamps of the rows our trial trains, calibrates and validates on (no training happens here)."
    import numpy as np
    from hnn_trading.splits import RollingOriginSplitter, before_holdout
    from hnn_trading.training import prepare_walk_forward

    w = prepare_walk_forward(cfg, before_holdout(panel, cfg.splits.test_size), None)
    sc = cfg.splits
    purge = max(w.hs or [w.horizon]) if sc.purge is None else sc.purge  # as training._walk_forward_splitter
    sp = RollingOriginSplitter(sc.n_folds, sc.val_block, sc.calib_size, purge, sc.embargo, sc.min_train, sc.window)
    ts = w.ts_col
    rows = lambda span, ok: ts[np.isin(w.tpos, span) & ok]
    return [
        dict(train=rows(f.train, w.usable), calib=rows(f.calib, w.usable), val=rows(f.val, w.ds.valid))
        for f in sp.split(len(w.uniq))
    ]


def plan_splitter(plan, close_times, window: int, record: list):
    "A stand-in for the old RollingOriginSplitter that returns `plan`'s folds as the old dataset's sample indices."
    import numpy as np, torch
    from src.pipeline.split import FoldIndices

    pos = {t: i for i, t in enumerate(close_times)}

    class PlanSplitter:
        def __init__(self, *, dataset_length, data_config, evaluation_config):
            if data_config.feature_window != window:
                die(f"the trial's feature window is {data_config.feature_window}, the plan's {window}")
            self.n = dataset_length

        def split(self, *, use_cv):
            idx = lambda stamps: np.array([pos[t] - (window - 1) for t in stamps], dtype=np.int64)
            folds = []
            for k, f in enumerate(plan):
                tr, ca, va = idx(f["train"]), idx(f["calib"]), idx(f["val"])
                va = va[va < self.n]  # our last bar has no label: the old dataset has no sample there
                if min(tr.min(), ca.min(), va.min()) < 0 or max(tr.max(), ca.max()) >= self.n:
                    die(f"fold {k}: our rows fall outside the old dataset's {self.n} samples")
                t = lambda a: torch.as_tensor(a)
                folds.append(FoldIndices(k, t(tr), t(ca), t(va), torch.arange(0, int(va[0]))))
            record.extend(folds)
            return folds

    return PlanSplitter


def apply_ours(torch, threads: int, training):
    "This project's runtime over whatever the old code set: threads, mkldnn, deterministic off, flush-to-zero."
    torch.set_num_threads(threads)
    torch.backends.mkldnn.enabled = True
    torch.use_deterministic_algorithms(False)
    training.flush_denormals()  # after the thread count: reaches every OpenMP thread


def runtime(torch, kind: str, allocator: bool) -> dict:
    "What the trial ran with (read after it)."
    from hnn_trading.training import denormals_flushed

    return dict(
        runtime=kind,
        torch=torch.__version__,
        threads=torch.get_num_threads(),
        interop=torch.get_num_interop_threads(),
        mkldnn=torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled,
        deterministic=torch.are_deterministic_algorithms_enabled(),
        omp=os.environ.get("OMP_NUM_THREADS"),
        malloc=os.environ.get("HNN_MALLOC") or ("tuned" if allocator else "glibc defaults"),
        allocator=allocator,
        denormals_flushed=denormals_flushed(),
    )


def pooled_auc(frames) -> float:
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    p = pd.concat(frames, ignore_index=True)
    return float(roc_auc_score((p["y"] > 0).astype(int), p["prob_up"]))


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old", required=True, help="the old system's checkout (the folder holding optuna_optimize_v6.py)")
    ap.add_argument("--bars", required=True, help="hourly OHLCV file (one symbol), read as bench_seed_trial reads it")
    ap.add_argument("--runtime", default="shipped", choices=["shipped", "ours"])
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads for --runtime ours (default: this "
        "project's count for one process: OMP_NUM_THREADS, else the cores)",
    )
    ap.add_argument(
        "--folds", default="ours", choices=["ours", "old"], help="ours: bench_seed_trial's folds; old: its own"
    )
    ap.add_argument("--epochs", type=int, default=None, help="replace its num_epochs (25), for smoke tests")
    a = ap.parse_args()
    if not (Path(a.old) / "optuna_optimize_v6.py").is_file():
        die(f"--old {a.old}: no optuna_optimize_v6.py there (fetch franciscocarrascoza/He_NN_trading)")
    if not Path(a.bars).exists():
        die(f"--bars {a.bars}: no such file")
    return a


def main():
    a = parse()
    cfg, panel = our_bars(a.bars)
    plan = our_folds(cfg, panel) if a.folds == "ours" else None
    bars = candles(panel)
    from hnn_trading import training as ours
    from hnn_trading.hpo import worker_env

    threads = a.threads or int(worker_env(dict(os.environ), 1)["OMP_NUM_THREADS"])
    sys.path.insert(0, str(Path(a.old).resolve()))
    import torch

    if a.runtime == "ours":
        torch.set_num_interop_threads(torch.get_num_interop_threads())  # fixed now: its set_seed's call is refused
    import optuna, optuna_optimize_v6 as v6  # its stage-1 script (imports torch, then its training module)
    import src.pipeline.training as T

    class OfflineFetcher:  # its BinanceDataFetcher's one call on this path
        def __init__(self, *args, **kw):
            pass

        def get_historical_candles(self, limit=None, **kw):
            return bars.tail(limit).reset_index(drop=True) if limit else bars.copy()

    T.BinanceDataFetcher = OfflineFetcher
    folds, cap = [], {}
    if plan is not None:
        window = v6.INITIAL_PARAMS["feature_window"]
        T.RollingOriginSplitter = plan_splitter(plan, list(bars["close_time"]), window, folds)
    else:

        class Recording(T.RollingOriginSplitter):
            def split(self, *, use_cv):
                out = super().split(use_cv=use_cv)
                folds.extend(out)
                return out

        T.RollingOriginSplitter = Recording
    run0, prep0 = T.HermiteTrainer.run, T.HermiteTrainer.prepare_dataset
    T.HermiteTrainer.run = lambda self, *x, **k: cap.setdefault("art", run0(self, *x, **k))
    T.HermiteTrainer.prepare_dataset = lambda self, *x, **k: cap.setdefault("ds", prep0(self, *x, **k))
    if a.epochs:
        v6.APP_CONFIG = replace(v6.APP_CONFIG, training=replace(v6.APP_CONFIG.training, num_epochs=a.epochs))
    allocator = False
    if a.runtime == "ours":
        allocator = ours.tune_allocator()
        seed0 = v6.set_seed  # the same function in both modules

        def set_seed(seed):
            seed0(seed)
            apply_ours(torch, threads, ours)

        v6.set_seed = T.set_seed = set_seed
        apply_ours(torch, threads, ours)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s: %(message)s")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(
        seed=v6.SEED,
        n_startup_trials=250,
        n_ei_candidates=64,
        multivariate=True,
        constant_liar=True,
        warn_independent_sampling=True,
    )  # as its main()
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.enqueue_trial(v6.INITIAL_PARAMS)
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as d, contextlib.redirect_stdout(sys.stderr):
        os.chdir(d)  # its reports/ (plots, CSVs, calibrators) go here
        try:
            f0, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
            study.optimize(v6.objective, n_trials=1)
            wall, faults = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
        finally:
            os.chdir(cwd)
    t = study.trials[0]
    if "error" in t.user_attrs or "art" not in cap:
        die(f"its trial failed: {t.user_attrs.get('error', 'no training artefacts')}")
    frs, ds = cap["art"].fold_results, cap["ds"]
    epochs = [len(fr.training_losses) for fr in frs]
    n_train = [int(f.train_idx.numel()) for f in folds]
    samples = sum(e * n for e, n in zip(epochs, n_train))
    same = None
    if plan is not None:  # the rows it trained and validated on are ours, bar for bar
        ms = lambda idx: [int(x) for x in ds.anchor_times.index_select(0, idx).tolist()]
        ns = lambda stamps: [int(x.value // 1_000_000) for x in stamps]
        same = all(
            ms(f.train_idx) == ns(p["train"])
            and ms(f.calibration_idx) == ns(p["calib"])
            and ms(f.val_idx) == ns(p["val"])[: int(f.val_idx.numel())]
            for f, p in zip(folds, plan)
        )
    ts = panel.index.get_level_values("timestamp")
    print(
        json.dumps(
            dict(
                side="old",
                wall=wall,
                epochs=sum(epochs),
                epochs_per_fold=epochs,
                n_train=n_train,
                n_calib=[int(f.calibration_idx.numel()) for f in folds],
                n_val=[int(f.val_idx.numel()) for f in folds],
                samples=samples,
                samples_per_s=samples / wall,
                faults=faults,
                auc=pooled_auc([fr.forecast_frame for fr in frs]),
                score=t.value,
                auc_fold_mean=t.user_attrs.get("auc"),
                folds=a.folds,
                same_rows_as_ours=same,
                bars=dict(first=str(ts[0]), last=str(ts[-1]), n=int(len(ts))),
                samples_in_dataset=len(ds),
                runtime=runtime(torch, a.runtime, allocator),
            )
        )
    )


if __name__ == "__main__":
    main()

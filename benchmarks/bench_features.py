"""Features + labels + windows at the user's scale: 143 symbols x 17,520 hourly bars (~2.5M rows).

Targets (issue #3): under 30 s and under 4 GB on 2 cores. Prints each stage's seconds, the rows/s,
peak memory (traced allocations of one more run, and the process's max RSS), and the ratio of the
whole to a reference run in the same process: one rolling mean + std of the close per symbol, the
cheapest causal feature pass over the same panel.
"""
import time, tracemalloc, resource
import numpy as np, pandas as pd, torch
from hnn_trading.synthetic import make_market
from hnn_trading import features, labels
from hnn_trading.datasets import WindowDataset

N, T, WINDOW = 143, 17_520, 24
panel, _ = make_market(N, T, freq="1h", signal_strength=0.05, seed=0)
rows = len(panel)

def reference():
    c = panel["close"].unstack()
    return c.rolling(20).mean(), c.rolling(20).std()

def pipeline(timings=None):
    t0 = time.perf_counter(); F = features.build(panel, "core23"); t1 = time.perf_counter()
    L = labels.make(panel, "direction", 1); L2 = labels.make(panel, "triple_barrier", profit_target=0.01, stop_loss=0.01, max_hold=24); t2 = time.perf_counter()
    ds = WindowDataset(F, WINDOW); Xt = ds.tensor()
    b = ds.batch(Xt, np.flatnonzero(ds.valid)[:512]); t3 = time.perf_counter()
    if timings is not None: timings.update(features=t1 - t0, labels=t2 - t1, windows=t3 - t2)
    return F, ds, b

reference(); t0 = time.perf_counter(); reference(); t_ref = time.perf_counter() - t0
tm = {}; t0 = time.perf_counter(); F, ds, b = pipeline(tm); total = time.perf_counter() - t0
tracemalloc.start(); pipeline(); peak = tracemalloc.get_traced_memory()[1]; tracemalloc.stop()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(f"features (core23) + labels (direction, triple barrier) + {WINDOW}-bar windows: {N} symbols x {T} bars = {rows:,} rows")
for k, v in tm.items(): print(f"  {k:9s} {v:6.2f} s   {rows / v / 1e6:6.2f} M rows/s")
print(f"  total     {total:6.2f} s   (target < 30 s: {'ok' if total < 30 else 'MISSED'})   ratio to reference (rolling mean+std of close) x{total / t_ref:.1f}")
print(f"  peak traced memory {peak / 2**30:.2f} GB, process max RSS {rss:.2f} GB (target < 4 GB: {'ok' if rss < 4 else 'MISSED'})")
win_bytes = ds.X.nbytes
print(f"  window storage {win_bytes / 2**20:.0f} MB for {int(ds.valid.sum()):,} windows of {WINDOW} x {F.shape[1]}; "
      f"a materialised copy would need {int(ds.valid.sum()) * WINDOW * F.shape[1] * 4 / 2**30:.1f} GB (x{WINDOW})")

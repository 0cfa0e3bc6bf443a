"""Synthetic market at the user's scale: 143 symbols x 17,520 hourly bars (2 years, ~2.5M rows).

Targets (issue #2): under 10 s and under 2 GB. Prints seconds, peak memory (traced numpy/pandas
allocations), rows/s, and the ratio to a reference run in the same process: drawing the same
number of normal variates (the irreducible cost of the random numbers) and building the panel index.
"""
import time, tracemalloc, resource
import numpy as np, pandas as pd
from hnn_trading.synthetic import make_market

N, T = 143, 17_520

def reference():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, T, N))          # as many normal draws as the generator makes
    t = pd.date_range("2022-01-03", periods=T, freq="1h", tz="UTC")
    idx = pd.MultiIndex(levels=[t, np.arange(N)], codes=[np.repeat(np.arange(T), N), np.tile(np.arange(N), T)])
    return pd.DataFrame(x[:5].reshape(5, -1).T, index=idx)

def timed(f):
    "Best-of-2 wall time untraced, then peak traced memory of one more call (tracing slows numpy down)."
    dt = float("inf")
    for _ in range(2): t0 = time.perf_counter(); out = f(); dt = min(dt, time.perf_counter() - t0)
    tracemalloc.start(); f(); peak = tracemalloc.get_traced_memory()[1]; tracemalloc.stop()
    return out, dt, peak

make_market(5, 100)  # warm imports
_, t_ref, m_ref = timed(reference)
(panel, truth), t, m = timed(lambda: make_market(N, T, freq="1h", signal_strength=0.05, seed=0))
rows = len(panel)
print(f"make_market({N} symbols x {T} hourly bars): {rows:,} rows")
print(f"  time        {t:6.2f} s   (target < 10 s: {'ok' if t < 10 else 'MISSED'})   {rows / t / 1e6:.2f} M rows/s")
print(f"  peak memory {m / 2**30:6.2f} GB  (target < 2 GB: {'ok' if m < 2 * 2**30 else 'MISSED'})   process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB")
print(f"  ratio to reference (normal draws + panel build): time x{t / t_ref:.2f}, memory x{m / m_ref:.2f}")
print(f"  planted IC {truth['signal_strength']}, realised vs idiosyncratic {truth['ic_idio']:.4f}, vs next return {truth['ic']:.4f}")

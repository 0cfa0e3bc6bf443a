"""Training speed on 2 CPU cores (issue #5).

1. Training samples/s of every model on 24 x 23 windows, batch 512 (forward, backward, AdamW step), with the ratio to the LSTM.
2. The old system's v4-best shape (feature_window 227, LSTM hidden 48, hermite_hidden_dim 192, degree 7, maps 5/1, batch 512),
   legacy preset, interleaved A B A B with a bare nn.LSTM of the same size: the floor. (An earlier version of this file quoted
   398 samples/s for the old system and a 1,600 samples/s target; both were wrong: the old system trains ~950 samples/s here
   and 1,600 was above the bare LSTM's own rate under glibc's default allocator. The whole trial is bench_seed_trial.py.)
The floor is run at every thread count of `--threads` (default 1,2), `--rounds` interleaved rounds each, after the
machine's `uptime` (these machines are shared: read the ratios, not the absolute rates). Issue #29's target: >= 0.85.

    python benchmarks/bench_training.py [--threads 1,2] [--rounds 5] [--skip-table]
Prints figures; asserts nothing about time.
"""
import argparse, os, subprocess, time, warnings
import numpy as np, torch
from hnn_trading.config import RunConfig, ModelConfig
from hnn_trading.models import build
from hnn_trading.losses import composite_loss
from hnn_trading.training import seed_everything
warnings.filterwarnings("ignore")
TARGET = 0.85  # HermiteNet / bare nn.LSTM, per trained sample (issue #29)

def samples_per_s(name, window=24, n_feat=23, batch=512, steps=12, **kw):
    cfg = ModelConfig(name=name, feature_window=window, **kw)
    m = build(cfg, n_feat); opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    tc = RunConfig().training
    x = torch.randn(batch, window, n_feat); y = (torch.rand(batch) > 0.5).float(); r = torch.randn(batch)
    def step():
        loss = composite_loss(m(x), y, r, tc, cfg); opt.zero_grad(); loss.backward(); opt.step()
    for _ in range(3): step()
    t0 = time.perf_counter()
    for _ in range(steps): step()
    return steps * batch / (time.perf_counter() - t0)

def table():
    "Samples/s of every model at 2 threads, with the ratio to the LSTM."
    torch.set_num_threads(2); seed_everything(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device cpu")
    rows = {"lstm": samples_per_s("lstm", hidden_dim=64), "gru": samples_per_s("gru", hidden_dim=64),
            "mlp": samples_per_s("mlp", hidden_dim=64), "patchtst": samples_per_s("patchtst", hidden_dim=64),
            "hermite (LSTM encoder)": samples_per_s("hermite", use_lstm=True, lstm_hidden=64, hermite_hidden_dim=128),
            "hermite (no encoder)": samples_per_s("hermite", use_lstm=False, hermite_hidden_dim=128)}
    print("\ntraining samples/s, 24 x 23 windows, batch 512:")
    print(f"  {'model':24s} {'samples/s':>10s} {'vs LSTM':>8s}")
    for k, v in rows.items(): print(f"  {k:24s} {v:10,.0f} {v / rows['lstm']:8.2f}")

legacy = dict(hermite_preset="legacy", prob_source="legacy_pdf", use_lstm=True, lstm_hidden=48,
              hermite_hidden_dim=192, hermite_degree=7, hermite_maps_a=5, hermite_maps_b=1)

class BareLSTM(torch.nn.Module):
    "The floor: a plain nn.LSTM of the encoder's size with one linear output, trained on BCE."
    def __init__(self): super().__init__(); self.lstm = torch.nn.LSTM(23, 48, batch_first=True); self.out = torch.nn.Linear(48, 1)
    def forward(self, x): return self.out(self.lstm(x)[0][:, -1]).squeeze(-1)

def stepper(kind, batch=512, window=227):
    "One training step (forward, backward, AdamW) of HermiteNet's legacy preset at the v4-best shape, or of the floor."
    x = torch.randn(batch, window, 23); y = (torch.rand(batch) > 0.5).float(); r = torch.randn(batch)
    if kind == "hermite":
        cfg = ModelConfig(name="hermite", feature_window=window, **legacy); tc = RunConfig().training
        m = build(cfg, 23); loss = lambda: composite_loss(m(x), y, r, tc, cfg)
    else:
        m = BareLSTM(); loss = lambda: torch.nn.functional.binary_cross_entropy_with_logits(m(x), y)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    def step():
        l = loss(); opt.zero_grad(); l.backward(); opt.step()
    for _ in range(2): step()
    return step

def per_s(step, steps=4, batch=512):
    t0 = time.perf_counter()
    for _ in range(steps): step()
    return steps * batch / (time.perf_counter() - t0)

def floor(threads, rounds):
    "HermiteNet and the bare LSTM interleaved A B A B in one process at `threads`: each round's rates and their ratio."
    torch.set_num_threads(threads); seed_everything(0)
    ours, bare = stepper("hermite"), stepper("bare")
    rs = [(per_s(ours), per_s(bare)) for _ in range(rounds)]
    return [a for a, _ in rs], [b for _, b in rs], [a / b for a, b in rs]

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", default="1,2", help="comma-separated torch thread counts for the floor")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds of 4 steps each per thread count")
    ap.add_argument("--skip-table", action="store_true", help="only the floor, not every model's samples/s")
    a = ap.parse_args()
    up = lambda: subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"machine: {os.cpu_count()} cores; {up()}")
    if not a.skip_table: table()
    med = lambda v, f="{:,.0f}": f"{f.format(np.median(v))} ({f.format(min(v))}-{f.format(max(v))})"
    print(f"\nthe old system's v4-best shape (window 227, LSTM 48, m 192, degree 7, maps 5/1), batch 512, "
          f"{a.rounds} interleaved rounds per thread count:")
    print(f"  {'threads':>7s} {'HermiteNet legacy /s':>24s} {'bare nn.LSTM(23, 48) /s':>24s} {'ours / bare':>20s}")
    for th in [int(t) for t in a.threads.split(",")]:
        ours, bare, q = floor(th, a.rounds)
        ok = "ok" if np.median(q) >= TARGET else "MISSED"
        print(f"  {th:7d} {med(ours):>24s} {med(bare):>24s} {med(q, '{:.2f}'):>20s}  target >= {TARGET}: {ok}", flush=True)
    print(f"machine after: {up()}")
    print("(the old system trained ~950 samples/s at this shape, measured in issue #17 beside a bare LSTM at 1,350-1,420 "
          "under glibc's default allocator; the old model ran at 0.78 of its own floor in issue #29)")
    print("the old system's whole stage-1 trial, like with like: benchmarks/bench_seed_trial.py")

if __name__ == "__main__": main()

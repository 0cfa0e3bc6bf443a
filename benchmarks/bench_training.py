"""Training speed on 2 CPU cores (issue #5).

1. Training samples/s of every model on 24 x 23 windows, batch 512 (forward, backward, AdamW step), with the ratio to the LSTM.
2. The old system's v4-best shape (feature_window 227, LSTM hidden 48, hermite_hidden_dim 192, degree 7, maps 5/1, batch 512),
   legacy preset, interleaved A B A B with a bare nn.LSTM of the same size: the floor. (An earlier version of this file quoted
   398 samples/s for the old system and a 1,600 samples/s target; both were wrong: the old system trains ~950 samples/s here
   and 1,600 was above the bare LSTM's own rate under glibc's default allocator. The whole trial is bench_seed_trial.py.)
Prints figures; asserts nothing about time.
"""
import time, warnings
import numpy as np, torch
from hnn_trading.config import RunConfig, ModelConfig
from hnn_trading.models import build
from hnn_trading.losses import composite_loss
from hnn_trading.training import seed_everything
warnings.filterwarnings("ignore")
torch.set_num_threads(2); seed_everything(0)
print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device cpu")

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

def bare_per_s(steps=6, batch=512):
    m = BareLSTM(); opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    x = torch.randn(batch, 227, 23); y = (torch.rand(batch) > 0.5).float()
    def step():
        loss = torch.nn.functional.binary_cross_entropy_with_logits(m(x), y); opt.zero_grad(); loss.backward(); opt.step()
    for _ in range(2): step()
    t0 = time.perf_counter()
    for _ in range(steps): step()
    return steps * batch / (time.perf_counter() - t0)

ours, bare = [], []
for _ in range(3):                                                   # interleaved A B A B A B
    ours.append(samples_per_s("hermite", window=227, steps=6, **legacy)); bare.append(bare_per_s())
med = lambda v: f"{np.median(v):,.0f} ({min(v):,.0f}-{max(v):,.0f})"
print(f"\nthe old system's v4-best shape (window 227, LSTM 48, m 192, degree 7, maps 5/1), batch 512, 3 interleaved rounds:")
print(f"  HermiteNet, legacy preset: {med(ours)} samples/s")
print(f"  bare nn.LSTM(23, 48) + linear, BCE (the floor any model with this encoder sits under): {med(bare)} samples/s")
print(f"  ours / bare: {np.median(ours) / np.median(bare):.2f} (the old system trained ~950 samples/s at this shape, measured in issue #17 beside a bare LSTM at 1,350-1,420 under glibc's default allocator)")
print("the old system's whole stage-1 trial, like with like: benchmarks/bench_seed_trial.py")

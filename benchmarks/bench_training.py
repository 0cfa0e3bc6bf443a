"""Training speed on 2 CPU cores (issue #5).

1. Training samples/s of every model on 24 x 23 windows, batch 512 (forward, backward, AdamW step), with the ratio to the LSTM.
2. The old system's own stage-1 trial, legacy preset, at its v4-best shape: feature_window 227, LSTM hidden 48,
   hermite_hidden_dim 192, degree 7, maps_a 5, maps_b 1, batch 512; 1,500 hourly bars, 5 expanding folds with 128-bar
   validation blocks, up to 25 epochs per fold: once with early stopping off (every fold runs all 25 epochs) and once with
   early stopping on the calibration slice (patience 5), as the old trial stopped early too.
   Reference: the old system trains 398 samples/s at that shape on this kind of machine and needs ~115 s for the trial.
   Targets: >= 1,600 samples/s and < 30 s.
Prints figures; asserts nothing about time.
"""
import time, warnings
import numpy as np, torch
from hnn_trading.config import RunConfig, ModelConfig
from hnn_trading.models import build
from hnn_trading.losses import composite_loss
from hnn_trading.synthetic import make_market
from hnn_trading.training import run_walk_forward, seed_everything
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
sps = samples_per_s("hermite", window=227, steps=6, **legacy)
print(f"\nlegacy v4-best shape (window 227, LSTM 48, m 192, degree 7, maps 5/1), batch 512: {sps:,.0f} samples/s "
      f"(old system 398; target >= 1,600: {'ok' if sps >= 1600 else 'MISSED'})")

panel, _ = make_market(n_symbols=1, n_bars=1500, freq="1h", signal_strength=0.05, seed=0)
cfg = RunConfig().override({**{f"model.{k}": v for k, v in legacy.items()}, "model.name": "hermite", "model.feature_window": 227, "features.set": "core23", "splits.n_folds": 5, "splits.val_block": 128,
                            "splits.calib_size": 64, "splits.min_train": 256, "training.epochs": 25, "training.patience": 25,
                            "training.batch_size": 512, "training.progress": False, "data.periods_per_year": 24 * 252})
for label, c in [("all 25 epochs", cfg), ("early stopping, patience 5", cfg.override({"training.patience": 5}))]:
    t0 = time.perf_counter(); res = run_walk_forward(c, panel); dt = time.perf_counter() - t0
    n = sum(f["n_train"] * f["epochs_run"] for f in res.folds)
    print(f"legacy stage-1 trial, 1,500 bars, 5 folds, {label}: {dt:.1f} s (old system ~115 s; target < 30 s: {'ok' if dt < 30 else 'MISSED'}); "
          f"epochs {[f['epochs_run'] for f in res.folds]}, {n:,} training samples, {n / dt:,.0f} samples/s including evaluation; OOF AUC {res.metrics['auc']:.3f}")

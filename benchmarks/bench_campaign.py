"""What the full-size phase-3 campaign (configs/campaigns/phase3.yaml) costs on this machine (issue #14).

Measured: the synthetic 143 x 17,520 hourly market, its core23 features and 24-bar windows (the 2.5 M windows of 24 x 23);
training samples/s of the campaign's MLP, LSTM and GRU (hidden 64, batch 1024, the real batch path and composite loss) and
their prediction samples/s, each over a fixed number of batches after a warm-up.
Projected from those rates (printed as such): one epoch over a fold's training windows, one trial (3 expanding folds of
10 epochs, a prediction of the calibration slice per epoch and of the validation block), one 30-trial study, and the whole
campaign (3 studies, the 3 chosen models re-run with their held-out fits); then the same with the settings that make it
practical on a CPU: training.samples_per_epoch 200,000 and hidden 32.
Asserts nothing about time. Usage: python benchmarks/bench_campaign.py [n_batches]
"""
import sys, time, warnings, resource
import numpy as np, torch
from hnn_trading.campaign import Campaign
from hnn_trading.data import load_data
from hnn_trading import features as feats_mod
from hnn_trading.training import make_labels
from hnn_trading.datasets import WindowDataset, Scaler, time_positions
from hnn_trading.splits import RollingOriginSplitter, before_holdout
from hnn_trading.models import build
from hnn_trading.losses import composite_loss
warnings.filterwarnings("ignore"); torch.set_num_threads(2); torch.manual_seed(0)
NB = int(sys.argv[1]) if len(sys.argv) > 1 else 30
camp = Campaign.from_yaml("configs/campaigns/phase3.yaml")
c = camp.base
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, cpu; phase3: {c.data.synthetic}")

t0 = time.perf_counter(); panel = load_data(c.data); t_data = time.perf_counter() - t0
t0 = time.perf_counter(); feats = feats_mod.build(panel, c.features.set); labs = make_labels(panel, c.labels); t_feat = time.perf_counter() - t0
t0 = time.perf_counter(); ds = WindowDataset(feats, c.model.feature_window); t_win = time.perf_counter() - t0
print(f"market {len(panel):,} rows in {t_data:.1f} s; features {feats.shape[1]} in {t_feat:.1f} s; windows of {ds.window} in {t_win:.1f} s; "
      f"{int(ds.valid.sum()):,} valid windows; peak RSS {rss():.1f} GB")

# the campaign's folds: training windows per fold (walk-forward on the bars before the held-out test) and the held-out fit
y = labs["label"].values; usable = ds.valid & ~np.isnan(y)
tpos, uniq = time_positions(panel.index)
n_sel = len(before_holdout(panel, c.splits.test_size).index.get_level_values(0).unique())
sc = c.splits
folds = RollingOriginSplitter(sc.n_folds, sc.val_block, sc.calib_size, c.labels.horizon, sc.embargo, sc.min_train, sc.window).split(n_sel)
hold = RollingOriginSplitter(1, len(uniq) - n_sel, sc.calib_size, c.labels.horizon).split(len(uniq))[0]
count = lambda idx: int((np.isin(tpos, idx) & usable).sum())
train = [count(f.train) for f in folds]; calib = [count(f.calib) for f in folds]; val = [count(f.val) for f in folds]
print(f"training windows per fold {', '.join(f'{n:,}' for n in train)}; calibration {calib[0]:,}; validation {val[0]:,}; held-out fit {count(hold.train):,}")

scaler = Scaler().fit(ds.feature_rows(np.flatnonzero(usable)[:200_000]))
Xt = ds.tensor(scaler, torch.device("cpu"))
Y = torch.as_tensor(np.nan_to_num(y), dtype=torch.float32); R = torch.as_tensor(np.nan_to_num(labs["fwd_return"].values / 0.006), dtype=torch.float32)
A = torch.as_tensor(ds.asset_id)
rows_all = np.flatnonzero(usable)
rng = np.random.default_rng(0)

def rates(name, hidden, bs=1024):
    "Training and prediction samples/s of one model on the campaign's windows, through the real batch path and loss."
    mc = c.model.override({"name": name, "hidden_dim": hidden}) if hasattr(c.model, "override") else type(c.model)(**{**c.model.to_dict(), "name": name, "hidden_dim": hidden})
    m = build(mc, Xt.shape[-1], len(ds.symbols), window=ds.window); opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    def step(rows):
        x = ds.batch(Xt, rows); i = torch.as_tensor(rows)
        loss = composite_loss({k: v for k, v in m(x, A[i]).items()}, Y[i], R[i], c.training, mc)
        opt.zero_grad(); loss.backward(); opt.step()
    batches = [rng.choice(rows_all, bs, replace=False) for _ in range(NB + 3)]
    m.train()
    for b in batches[:3]: step(b)
    t0 = time.perf_counter()
    for b in batches[3:]: step(b)
    tr = NB * bs / (time.perf_counter() - t0)
    m.eval(); pr_rows = rows_all[:50_000]
    t0 = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(pr_rows), 8192): m(ds.batch(Xt, pr_rows[i:i + 8192]), A[torch.as_tensor(pr_rows[i:i + 8192])])
    return tr, len(pr_rows) / (time.perf_counter() - t0)

def trial_s(tr_rate, pr_rate, epochs=10, spe=None):
    "One trial: every fold's epochs over its training windows (or samples_per_epoch of them), the calibration slice predicted per epoch, the validation block once."
    return sum(epochs * (min(n, spe) if spe else n) / tr_rate + epochs * ca / pr_rate + va / pr_rate for n, ca, va in zip(train, calib, val))

def hms(s): return f"{s / 3600:,.1f} h" if s >= 3600 else f"{s / 60:,.1f} min" if s >= 60 else f"{s:,.0f} s"
out = {}
for name in ("mlp", "lstm", "gru"):
    for hidden in (64, 32):
        out[(name, hidden)] = rates(name, hidden)
        print(f"  {name:4s} hidden {hidden:3d}: train {out[(name, hidden)][0]:8,.0f} samples/s, predict {out[(name, hidden)][1]:9,.0f} samples/s", flush=True)

T, S, K = 30, 3, camp.base.training.epochs
print(f"\nprojected from those rates on {torch.get_num_threads()} CPU threads (phase3.yaml: {T} trials per study, {sc.n_folds} folds, {K} epochs, no pruning):")
print(f"  {'setting':44s} {'epoch (largest fold)':>21s} {'trial':>10s} {'study':>10s} {'campaign':>10s}")
for label, hidden, spe in [("as shipped (hidden 64, every window)", 64, None), ("samples_per_epoch 200,000, hidden 32", 32, 200_000)]:
    per_model = {n: trial_s(*out[(n, hidden)], epochs=K, spe=spe) for n in ("mlp", "lstm", "gru")}
    refit = {n: K * (min(count(hold.train), spe) if spe else count(hold.train)) / out[(n, hidden)][0] for n in per_model}
    for n, s in per_model.items():
        ep = (min(train[-1], spe) if spe else train[-1]) / out[(n, hidden)][0]
        print(f"  {label + ': ' + n:44s} {hms(ep):>21s} {hms(s):>10s} {hms(T * s):>10s}")
    total = sum(T * s + s + refit[n] for n, s in per_model.items())
    print(f"  {label + ': the campaign':44s} {'':>21s} {'':>10s} {'':>10s} {hms(total):>10s}   (target <= 24 h)")
print(f"\npeak RSS {rss():.1f} GB. GPU: not measured here (no GPU on this machine); the CUDA path (bf16 autocast) is optional and untested in CI.")

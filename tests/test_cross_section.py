"""Cross-sectional training (issue 15): batches of whole timestamps, per-day losses, cross-sectional normalisation.

The market: `synthetic.make_market(cross_section=0.9)`, 50 daily symbols. Each symbol's signal is mostly a level shared by all
symbols on the bar, which predicts the market's next return with the opposite sign, plus a small part of its own, which
predicts the symbol's return relative to the others. Pooled over rows the signal looks useless or harmful; ranked within a
day it is strong. The per-day rank loss on whole days must learn it; MSE on shuffled rows (and a rank loss on shuffled rows,
which sees 1.4 rows per day) must not."""
import warnings
import numpy as np, pandas as pd, pytest, torch
from hnn_trading.config import RunConfig
from hnn_trading.data import load_data
from hnn_trading.training import run_walk_forward, timestamp_batches, row_batches
from hnn_trading.losses import per_day, ic_loss, daily_sharpe_loss

BASE = {"data.source": "synthetic", "data.synthetic": dict(n_symbols=50, n_bars=900, freq="1D", signal_strength=0.3, cross_section=0.9, seed=0),
        "features.set": "basic", "model.name": "mlp", "model.hidden_dim": 32, "training.epochs": 8, "training.patience": 8,
        "training.progress": False, "splits.n_folds": 3, "splits.val_block": 150, "splits.calib_size": 60, "training.cls_weight": 0.0,
        "training.learning_rate": 3e-3}
MSE_ROWS = {"training.reg_weight": 1.0}
RANK_ROWS = {"training.reg_weight": 0.0, "training.rank_ic_weight": 1.0}
RANK_DAYS = RANK_ROWS | {"training.batching": "timestamps", "training.timestamps_per_batch": 8}

@pytest.fixture(scope="module")
def panel(): return load_data(RunConfig().override(BASE).data)

@pytest.fixture(scope="module")
def runs(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {k: run_walk_forward(RunConfig().override(BASE | v), panel, progress=False)
                for k, v in dict(mse_rows=MSE_ROWS, rank_rows=RANK_ROWS, rank_days=RANK_DAYS).items()}

def test_timestamp_batches_hold_every_row_of_their_timestamps():
    rng = np.random.default_rng(0)
    tpos = np.repeat(np.arange(200), 7); rows = np.flatnonzero(rng.random(len(tpos)) < 0.8)      # some rows invalid
    bs = timestamp_batches(rows, tpos, 16, torch.Generator().manual_seed(0))
    assert np.array_equal(np.sort(np.concatenate(bs)), rows)                                         # every row once
    per_ts = pd.Series(tpos[rows]).value_counts()
    for b in bs:
        got = pd.Series(tpos[b]).value_counts()
        assert len(got) <= 16 and (got == per_ts[got.index]).all()                                   # whole timestamps only
    lim = timestamp_batches(rows, tpos, 16, torch.Generator().manual_seed(0), limit=300)
    n = sum(map(len, lim)); assert 300 - 7 < n <= 300                                               # samples_per_epoch: whole timestamps up to it
    assert len(np.concatenate(row_batches(rows, 64, torch.Generator().manual_seed(0), 300))) == 300

def test_training_batches_count_rows_per_timestamp(runs):
    "What the per-day losses see: every valid symbol at each timestamp of a batch (50), against 1.4 rows per timestamp when rows are shuffled."
    days = [h["rows_per_timestamp"] for f in runs["rank_days"].folds for h in f["history"]]
    rows = [h["rows_per_timestamp"] for f in runs["mse_rows"].folds for h in f["history"]]
    assert min(days) == max(days) == 50.0
    assert max(rows) < 2.0
    h = runs["rank_days"].folds[0]["history"][0]                                                    # gradient norms per layer group (an MLP has no encoder)
    assert {k for k in h if k.startswith("grad_norm_")} == {"grad_norm_trunk", "grad_norm_heads"}
    assert h["grad_norm_trunk"] > 0 and h["grad_norm_heads"] > 0

def test_the_per_day_rank_loss_learns_what_shuffled_rows_cannot(runs):
    m = {k: r.metrics for k, r in runs.items()}
    for k, v in m.items(): print(f"{k}: out-of-fold daily rank-IC {v['daily_rank_ic']:.4f} ± {v['daily_rank_ic_se']:.4f} over {v['days']} days; pooled IC {v['ic']:.4f}")
    d = m["rank_days"]
    assert d["daily_rank_ic"] > 0.1 and d["daily_rank_ic_t"] > 10                                    # learned the cross-sectional signal
    for k in ("mse_rows", "rank_rows"):
        assert m[k]["daily_rank_ic"] < 0.02                                                          # learned the misleading level, or nothing
        assert d["daily_rank_ic"] - m[k]["daily_rank_ic"] > 5 * np.hypot(d["daily_rank_ic_se"], m[k]["daily_rank_ic_se"])

def test_cross_sectional_features_let_even_mse_rank(panel):
    "features.cs_norm removes the shared level: MSE on shuffled rows then ranks the day too."
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = run_walk_forward(RunConfig().override(BASE | MSE_ROWS | {"features.cs_norm": "zscore"}), panel, progress=False).metrics
    print(f"cs_norm zscore + MSE on rows: out-of-fold daily rank-IC {m['daily_rank_ic']:.4f} ± {m['daily_rank_ic_se']:.4f}")
    assert m["daily_rank_ic"] > 0.1 and m["daily_rank_ic_t"] > 10

def test_per_day_terms_are_the_mean_of_each_days_term():
    g = torch.tensor([0] * 5 + [1] * 6 + [2] * 2); mu, y = torch.randn(13), torch.randn(13)
    want = (ic_loss(mu[:5], y[:5]) + ic_loss(mu[5:11], y[5:11])) / 2                                 # the 2-row day is skipped
    assert torch.allclose(per_day(ic_loss, mu, y, g), want)
    y = torch.where(torch.arange(13) % 2 == 0, 1.0, -1.0)
    assert daily_sharpe_loss(y * 3, y, g) < daily_sharpe_loss(-y * 3, y, g)                          # ranking the day right is rewarded

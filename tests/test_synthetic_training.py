"""Ground truth: the pipeline finds a planted edge and finds none in noise; seeds reproduce exactly."""
import numpy as np, pandas as pd, pytest
from hnn_trading.synthetic import make_market
from hnn_trading.data import panel_from_frame
from hnn_trading.config import RunConfig
from hnn_trading.training import run_walk_forward

@pytest.mark.parametrize("a", [0.0, 0.05, 0.2])
def test_planted_ic_is_what_was_asked(a):
    _, truth = make_market(n_symbols=20, n_bars=4000, signal_strength=a, seed=7)
    assert truth["ic_idio"] == pytest.approx(a, abs=4 / np.sqrt(20 * 4000))

def test_synthetic_bars_pass_validation_and_are_deterministic():
    p, _ = make_market(n_symbols=6, n_bars=1000, seed=3)
    pd.testing.assert_frame_equal(panel_from_frame(p), p)
    pd.testing.assert_frame_equal(make_market(n_symbols=6, n_bars=1000, seed=3)[0], p)
    assert not make_market(n_symbols=6, n_bars=1000, seed=4)[0].equals(p)

CFG = RunConfig().override({"splits.n_folds": 3, "splits.val_block": 300, "splits.calib_size": 150, "training.epochs": 6,
                            "training.progress": False, "model.hidden_dim": 32})

def test_walk_forward_finds_planted_signal_and_not_noise():
    n_sym, n_bars = 4, 2400
    sig = run_walk_forward(CFG, make_market(n_sym, n_bars, signal_strength=0.2, seed=21)[0])
    noise = run_walk_forward(CFG, make_market(n_sym, n_bars, signal_strength=0.0, seed=21)[0])
    se = lambda n: np.sqrt(1 / (3 * n))
    assert sig.metrics["auc"] > 0.5 + 4 * se(sig.metrics["n"]), sig.metrics
    assert abs(noise.metrics["auc"] - 0.5) < 3 * se(noise.metrics["n"]), noise.metrics

def test_same_seed_same_predictions():
    p = make_market(3, 1500, signal_strength=0.1, seed=2)[0]
    a, b = run_walk_forward(CFG, p), run_walk_forward(CFG, p)
    pd.testing.assert_frame_equal(a.predictions, b.predictions, check_exact=True)
    c = run_walk_forward(CFG.override({"seed": 7}), p)
    assert not np.array_equal(a.predictions["p_up"].values, c.predictions["p_up"].values)

"""A short stage-2 study gives the trials it gave before issue 29's per-trial work (one config override a trial instead
of two, the weight check skipped for the evaluator's own weights, TPE's split of the past trials read once per trial),
trial for trial: the same parameters, states, trade counts and values.

Two references. `test_stage2_study_830665d.json` holds what the code at commit 830665d (before that work) gave for this
very study: written by `python tests/test_stage2_study.py --write` with that commit's package first on the path.
kelly_binary trials may differ from it by ~1e-11 relative (their weights come from another formula since,
equal to 1e-12); every other value is compared bit for bit. And the pre-change objective, restated below (two
overrides, the checked `backtest.simulate`), run through Optuna's own TPE in this process, gives every value bit for
bit, kelly_binary included.
Look-ahead: nothing is cached across trials but the evaluator's sorted confidences, from which each trial's threshold
is read exactly as before (the values match)."""
import json, math, sys, tempfile, warnings
from pathlib import Path

import numpy as np, pandas as pd, optuna, pytest

from hnn_trading.config import RunConfig
from hnn_trading.hpo import SearchSpace, stage2_objective, optimize_batched, enqueue_baseline, containing, base_strategy
from hnn_trading.studies import make_study
from hnn_trading.strategy import SIZINGS

optuna.logging.set_verbosity(optuna.logging.WARNING)
HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "test_stage2_study_830665d.json"
N_TRIALS = 30


def market(T=3000, N=12, seed=0):
    "A random-walk hourly panel and predictions that see the next bar's return through noise (mu, sigma for Kelly)."
    rng = np.random.default_rng(seed)
    r = rng.normal(0, 0.004, (T, N))
    close = 100 * np.exp(np.cumsum(r, 0))
    opn = np.vstack([close[:1], close[:-1]]) * (1 + rng.normal(0, 0.0005, (T, N)))
    high = np.maximum(opn, close) * (1 + np.abs(rng.normal(0, 0.002, (T, N))))
    low = np.minimum(opn, close) * (1 - np.abs(rng.normal(0, 0.002, (T, N))))
    t = pd.date_range("2024-01-01", periods=T, freq="h")
    syms = [f"S{j:02d}" for j in range(N)]
    idx = pd.MultiIndex.from_product([t, syms], names=["timestamp", "symbol"])
    panel = pd.DataFrame({k: v.ravel() for k, v in dict(open=opn, high=high, low=low, close=close).items()}, index=idx)
    panel["volume"] = 1e6
    nxt = np.vstack([r[1:], np.zeros((1, N))])
    s = pd.DataFrame(nxt / 0.004 + rng.normal(0, 3, (T, N))).ewm(span=6).mean().values
    P = pd.DataFrame({"timestamp": np.repeat(t, N), "symbol": np.tile(syms, T), "p_up": (1 / (1 + np.exp(-s))).ravel(),
                      "mu": 0.001 * s.ravel(), "sigma": np.full(N * T, 0.01)})
    return panel, P


def setup():
    base = RunConfig().override({"data.periods_per_year": 24 * 252, "backtest.position_cap": 0.1,
                                 "backtest.max_positions": 5, "strategy.threshold_quantile": 0.3})
    space = SearchSpace.from_yaml(HERE.parent / "configs/search/stage2.yaml")
    space, first = containing(space, base_strategy(base, space))
    return base, space, first


def rows(study) -> list:
    return [[t.number, t.state.name, t.value, t.params, t.user_attrs.get("trades")] for t in study.trials]


def run_study(seed: int, objective_of=stage2_objective, sampler=None, jobs=2) -> list:
    "Trial 0 (the base strategy) and N_TRIALS stage-2 trials, sampler seed `seed`, `jobs` at a time."
    panel, P = market()
    base, space, first = setup()
    with warnings.catch_warnings(), tempfile.TemporaryDirectory() as d:
        warnings.simplefilter("ignore")
        st = make_study("s2", f"journal:///{d}/s.log", N_TRIALS, seed, prune=False, sampler="tpe")
        if sampler is not None:
            st.sampler = sampler
        obj = objective_of(base, panel, P, space)
        enqueue_baseline(st, obj, space, first)
        optimize_batched(st, obj, N_TRIALS, space, jobs, progress=False)
        return rows(st)


def old_objective(base, panel, P, space):
    "stage2_objective as it was before the per-trial work: two overrides a trial, the weights checked by simulate."
    from hnn_trading.evaluate import Evaluator
    from hnn_trading.backtest import simulate
    from hnn_trading.metrics import sharpe_ratio
    from hnn_trading.strategy import backtest_kwargs
    from hnn_trading.hpo import BASELINE
    from hnn_trading.studies import constrain

    ev, stage1 = Evaluator(panel, P), base_strategy(base, space)

    def objective(trial):
        first = bool(trial.user_attrs.get(BASELINE))
        ov = dict(stage1) if first else space.sample(trial)
        cfg = ev.resolve(base.override(ov))
        sim = simulate(ev.market, ev.weights(cfg), cfg.backtest, **backtest_kwargs(cfg.strategy), track_weights=False)
        eq, init = sim.equity, cfg.backtest.initial_equity
        r = np.empty_like(eq)
        r[0] = eq[0] / init - 1
        r[1:] = eq[1:] / eq[:-1] - 1
        sr, n = sharpe_ratio(r, cfg.data.periods_per_year), len(sim.trades)
        trial.set_user_attr("trades", n)
        short = float(space.min_trades - n)
        constrain(trial, "min_trades", min(short, 0.0) if first else short)
        return 0.0 if np.isnan(sr) else float(sr)

    return objective


SEEDS = (4, 5)  # seed 4's study samples fixed, confidence and kelly_fractional; seed 5's mostly kelly_binary


@pytest.mark.parametrize("seed", SEEDS)
def test_a_short_study_gives_the_trials_the_pre_change_objective_gives(seed):
    "The pipeline as shipped (cached TPE, one override, unchecked weights) against the restated one on plain TPE."

    class PlainTPE(optuna.samplers.TPESampler):  # a subclass: optimize_batched does not swap in its cached TPE
        pass

    new = run_study(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = PlainTPE(n_startup_trials=max(1, N_TRIALS // 10), seed=seed)
    old = run_study(seed, old_objective, plain)
    assert new == old
    assert len({r[3].get("strategy.sizing") for r in new[1:]}) >= 3 and sum(r[1] == "COMPLETE" for r in new) > 20


@pytest.mark.parametrize("seed", SEEDS)
def test_a_short_study_gives_the_trials_commit_830665d_gave(seed):
    "Parameters, states and trade counts exactly; values bit for bit except kelly_binary's (1e-9 relative)."
    want, got = json.loads(GOLDEN.read_text())[str(seed)], run_study(seed)
    assert len(got) == len(want) == N_TRIALS + 1
    for g, w in zip(got, want):
        assert g[:2] == w[:2] and g[3] == w[3] and g[4] == w[4], (g, w)
        if g[3].get("strategy.sizing") == "kelly_binary":
            assert math.isclose(g[2], w[2], rel_tol=1e-9, abs_tol=1e-12), (g, w)
        else:
            assert g[2] == w[2], (g, w)
    assert len({g[3].get("strategy.sizing") for g in got[1:]}) >= 3


def test_the_two_studies_sample_every_sizing():
    want = json.loads(GOLDEN.read_text())
    assert {g[3].get("strategy.sizing") for s in SEEDS for g in want[str(s)][1:]} == set(SIZINGS)
    assert sum(g[3].get("strategy.sizing") == "kelly_binary" for g in want["5"]) > 20


if __name__ == "__main__" and "--write" in sys.argv:
    import hnn_trading

    print(f"writing {GOLDEN} from {hnn_trading.__file__}")
    GOLDEN.write_text(json.dumps({str(s): run_study(s) for s in SEEDS}) + "\n")

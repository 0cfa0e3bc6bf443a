"""Stage 2 always contains the stage-1 strategy (issue 28, deliverable 2): its trial 0 is the base config's own strategy,
enqueued exactly (widening the space where its ranges leave a base value out), its value is that strategy's Sharpe on
the cached out-of-fold predictions, the choice is never below it (it falls back to it when nothing beats it), it counts
among the trials the deflated Sharpe is deflated by, and what is shown (stage2.json, `hnn hpo best --stage2`'s selection
and table) carries both strategies' figures.

Driven as a user drives it: `hnn hpo stage1` (one tiny trial) then `hnn hpo stage2`, as subprocesses in a temp folder;
the direct evaluation of the base strategy goes through `evaluate.Evaluator` alone, not through stage 2's code."""
import math, os, subprocess, sys, warnings
from pathlib import Path
from types import SimpleNamespace
import optuna, pytest, yaml
from hnn_trading.data import load_data, resolve_periods
from hnn_trading.evaluate import Evaluator
from hnn_trading.files import resource
from hnn_trading.hpo import BASELINE, SearchSpace, load_context, stage2_search
from hnn_trading.studies import completed, ranked
from hnn_trading.runs import RunFolder
from hnn_trading import best

BIN = Path(sys.executable).parent
N = 12
optuna.logging.set_verbosity(optuna.logging.WARNING)

# the stage-1 rule: a relative threshold below the space's range, a sizing rule the space does not offer, a stop
BASE = {
    "data": {"source": "us_indices", "start": "2012-01-01"},
    "features": {"set": "basic"},
    "model": {"name": "mlp", "hidden_dim": 8},
    "splits": {"n_folds": 2, "val_block": 126, "calib_size": 126},
    "training": {"epochs": 1, "progress": False},
    "strategy": {"threshold_quantile": 0.3, "sizing": "kelly_binary", "kelly_clip": 0.5, "stop_loss": 0.02},
    "backtest": {"position_cap": 0.5, "max_positions": 2},
}
SPACE2 = {
    "objective": "sharpe",
    "min_trades": 5,
    "params": {
        "strategy.threshold_quantile": {"type": "float", "low": 0.5, "high": 0.9},
        "strategy.sizing": {"type": "categorical", "choices": ["fixed", "confidence"]},
        "strategy.kelly_clip": {"type": "float", "low": 0.2, "high": 1.0},
        "strategy.stop_loss": {"type": "float", "low": 0.0, "high": 0.05},
    },
}
STAGE1_RULE = {"strategy.threshold_quantile": 0.3, "strategy.sizing": "kelly_binary", "strategy.kelly_clip": 0.5,
               "strategy.stop_loss": 0.02}


def _hnn(args, cwd):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run([str(BIN / "hnn"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout + r.stderr


def _direct(panel, predictions, cfg) -> tuple:
    "(Sharpe, trades) of `cfg`'s own strategy on the predictions, by the Evaluator alone (no trade: Sharpe 0)."
    ev = Evaluator(panel, predictions)
    m = ev.score(ev.resolve(resolve_periods(cfg, panel)))
    return (0.0 if math.isnan(m["sharpe"]) else m["sharpe"]), m["trades"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    ws = tmp_path_factory.mktemp("s2base")
    (ws / "base.yaml").write_text(yaml.safe_dump(BASE))
    (ws / "s2.yaml").write_text(yaml.safe_dump(SPACE2))
    url = f"sqlite:///{ws / 'study.db'}"
    _hnn(["hpo", "stage1", "--config", "base.yaml", "--space", str(resource("configs/search/quick.yaml")),
          "--trials", "1", "--storage", url, "--study", "s", "--output-dir", "hpo"], ws)
    out = _hnn(["hpo", "stage2", "--storage", url, "--study", "s", "--top-k", "1", "--trials", str(N),
                "--space", "s2.yaml"], ws)
    st, base, _, d = load_context(url, "s")
    t = ranked(st)[0]
    tf = RunFolder(t.user_attrs["trial_dir"])
    panel = load_data(base.data)
    s2 = optuna.load_study(study_name=f"s-stage2-t{t.number}", storage=url)
    return SimpleNamespace(ws=ws, url=url, out=out, trial=t, folder=d, panel=panel, cfg=tf.config,
                           predictions=tf.predictions, s2=s2)


def test_trial0_is_the_stage1_strategy_and_the_choice_never_below_it(runs):
    r = runs
    trials = sorted(r.s2.trials, key=lambda t: t.number)
    t0 = trials[0]
    assert len(trials) == N and t0.number == 0 and t0.user_attrs.get(BASELINE), [t.user_attrs for t in trials[:2]]
    assert t0.state.name == "COMPLETE"
    assert t0.params == STAGE1_RULE  # exactly the base values, the ranges widened to hold them
    ov = t0.user_attrs["overrides"]  # what it ran: the base strategy, the quantile resolved to its absolute threshold
    ev = Evaluator(r.panel, r.predictions)
    assert ov["strategy.threshold"] == pytest.approx(ev.resolve(r.cfg).strategy.threshold)
    assert {k: ov[k] for k in ("strategy.sizing", "strategy.kelly_clip", "strategy.stop_loss")} == {
        k: STAGE1_RULE[k] for k in ("strategy.sizing", "strategy.kelly_clip", "strategy.stop_loss")}
    sharpe, trades = _direct(r.panel, r.predictions, r.cfg)
    assert t0.value == pytest.approx(sharpe, rel=1e-9, abs=1e-12) and t0.user_attrs["trades"] == trades
    # the sampled trials searched the widened space: the base sizing is among the choices they could take
    dist = t0.distributions["strategy.sizing"]
    assert "kelly_binary" in dist.choices and t0.distributions["strategy.threshold_quantile"].low == 0.3
    # the choice: never below trial 0; counted among the trials deflated by
    row = RunFolder(r.folder, strict=False).read_json("stage2")[0]
    assert row["best_sharpe"] >= t0.value
    assert row["strategy_trials"] == N == len(completed(r.s2))


def test_stage2_json_and_hpo_best_show_both(runs):
    "stage2.json carries the stage-1 strategy's figures beside the choice; `hnn hpo best --stage2`'s record and table too."
    r = runs
    t0 = min(r.s2.trials, key=lambda t: t.number)
    row = RunFolder(r.folder, strict=False).read_json("stage2")[0]
    assert row["stage1_strategy_sharpe"] == pytest.approx(t0.value) and row["stage1_strategy_trades"] == t0.user_attrs[
        "trades"], row
    assert row["chosen"] is not None and "stage-1 strategy" in r.out, r.out
    sc = best.open_choice(r.url, "s", None, True)
    cfg, sel = best.chosen_config(sc, best.choose_trial(sc, None, True), True)
    tab = best.stage2_table(sel)
    assert tab.loc["stage-1 strategy", "sharpe"] == pytest.approx(t0.value)
    assert tab.loc["chosen strategy", "sharpe"] >= tab.loc["stage-1 strategy", "sharpe"]
    assert sel["configurations"][f"stage 2 on trial {r.trial.number}"] == N  # trial 0 counted in the deflated Sharpe


def test_an_absolute_threshold_base_and_the_fallback(runs):
    """A base gating on an absolute threshold under the shipped quantile space: trial 0 runs exactly it (its threshold in
    `overrides`, no quantile parameter); under a space whose every sampled strategy is infeasible, the choice falls back
    to trial 0."""
    r = runs
    cfg = r.cfg.override({"strategy.threshold_quantile": None, "strategy.threshold": 0.5, "strategy.sizing": "fixed",
                          "strategy.stop_loss": 0.0})
    sharpe, trades = _direct(r.panel, r.predictions, cfg)
    url = f"sqlite:///{r.ws / 'direct.db'}"
    st, db = stage2_search("abs", url, cfg, r.panel, r.predictions,
                           SearchSpace.from_yaml(resource("configs/search/stage2.yaml")), 6)
    t0 = min(st.trials, key=lambda t: t.number)
    assert t0.user_attrs.get(BASELINE) and "strategy.threshold_quantile" not in t0.params
    assert t0.user_attrs["overrides"]["strategy.threshold"] == 0.5 and t0.value == pytest.approx(sharpe)
    assert db["best_sharpe"] >= t0.value and db["n_trials"] == 6
    never = SearchSpace.from_dict({"objective": "sharpe", "min_trades": 10 ** 6,
                                   "params": {"strategy.threshold": {"type": "float", "low": 0.5, "high": 0.9}}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        st, db = stage2_search("never", url, cfg, r.panel, r.predictions, never, 5)
    assert db["chosen"] == "the stage-1 strategy (trial 0)" and db["chosen_trial"] == 0
    assert db["best_sharpe"] == pytest.approx(sharpe) and db["stage1_strategy_trades"] == trades
    assert db["tradeable"] == 1 and db["n_trials"] == 5


def test_shipped_stage2_spaces_hold_the_shipped_base_strategies():
    """Fast: every shipped campaign's stage-2 space, and the default and demo stage-2 spaces under each shipped config,
    hold the base strategy's values as they are (no range needs widening for trial 0)."""
    from hnn_trading.config import RunConfig
    from hnn_trading.hpo import base_strategy, containing
    pairs = []
    for f in sorted(Path(resource("configs/campaigns")).glob("*.yaml")):
        camp = yaml.safe_load(f.read_text())
        if camp.get("stage2"):
            pairs.append((f.name, RunConfig.from_dict(camp["base"]), camp["stage2"]["space"]))
    for f in sorted(Path(resource("configs")).glob("*.yaml")):
        for sp in ("configs/search/stage2.yaml", "configs/search/demo_stage2.yaml"):
            pairs.append((f.name, RunConfig.from_yaml(f), sp))
    assert len(pairs) >= 8
    for name, cfg, sp in pairs:
        space = SearchSpace.from_yaml(resource(sp))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a widened range warns
            wide, first = containing(space, base_strategy(cfg, space))
        assert wide.params == space.params, (name, sp)
        held = {k: v for k, v in base_strategy(cfg, space).items() if k in space.params and v is not None}
        assert first == held, (name, sp, first, held)

"""The phase-3 objective tells a planted signal from a random walk (issue 28, deliverable 5).

The phase-3 search space (configs/search/phase3.yaml) is run as a user runs it, `hnn hpo stage1` with one trial, on the
phase-3 campaign's own market and settings (its `base` and `quick` blocks) twice: with `signal_strength` 0 (a random walk
with regimes) and with the planted signal of the quick campaign. The same seed samples the same model settings for both.

The margin: each trial's objective is the mean over folds of a per-fold skill (informedness, recall - false-positive rate)
computed on its out-of-fold predictions. Its standard error is computed from those predictions, clustered by timestamp (the
market factor makes the symbols' labels on one bar move together), so the check is "the signal's score exceeds the random
walk's by more than 3 standard errors of the difference": under no real difference that happens about once in 700 runs
(measured: informedness 0.012 +/- 0.015 on the random walk, 0.107 +/- 0.011 on the planted signal, 5.2 standard errors
apart; raw F1 0.546 and 0.581, both below always-up's 0.678). Slow (about 2 minutes: two one-trial studies).

Raw F1 could not do this: the constant "always up" predictor, which knows nothing, scores a raw F1 of 2 pi / (1 + pi) on
the random walk, above the planted-signal model's raw F1, while its skill is exactly 0, below the signal model's."""
import os, subprocess, sys
from pathlib import Path
import numpy as np, optuna, pandas as pd, pytest, yaml
from hnn_trading.files import resource
from hnn_trading.hpo import SearchSpace
from hnn_trading.metrics import confusion, constant_scores, recall_skill
from hnn_trading.runs import RunFolder

BIN = Path(sys.executable).parent
optuna.logging.set_verbosity(optuna.logging.WARNING)
SPACE = str(resource("configs/search/phase3.yaml"))


def _config(signal: float) -> dict:
    "The phase-3 campaign's base with its quick settings (143 symbols x 500 hourly bars), the signal set."
    camp = yaml.safe_load(Path(resource("configs/campaigns/phase3.yaml")).read_text())
    cfg = camp["base"]
    for k, v in camp["quick"]["set"].items():
        sec, key = k.split(".", 1)
        cfg.setdefault(sec, {})[key] = v
    cfg["data"]["synthetic"] = {**cfg["data"]["synthetic"], "signal_strength": signal}
    cfg["report"] = {"templates": []}
    return cfg


def _trial(ws: Path, name: str, signal: float):
    "(the trial, its out-of-fold predictions) of a one-trial phase-3 study on that market, run by `hnn hpo stage1`."
    (ws / f"{name}.yaml").write_text(yaml.safe_dump(_config(signal)))
    url = f"sqlite:///{ws / (name + '.db')}"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run([str(BIN / "hnn"), "hpo", "stage1", "--config", f"{name}.yaml", "--space", SPACE, "--trials", "1",
                        "--storage", url, "--study", name, "--no-prune", "--seed", "0", "--output-dir", "hpo"],
                       cwd=ws, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    t = optuna.load_study(study_name=name, storage=url).trials[0]
    assert t.state.name == "COMPLETE", t.user_attrs
    return t, RunFolder(t.user_attrs["trial_dir"]).predictions


def _se(P: pd.DataFrame) -> float:
    """Standard error of the fold-mean informedness of predictions `P`, clustered by timestamp: per fold, each row's
    influence on TPR - FPR summed per bar, squared and added; the folds are disjoint, their variances add."""
    v = []
    for _, f in P.groupby("fold"):
        y, call = f["label"].to_numpy(float), (f["p_up"].to_numpy() > 0.5).astype(float)
        pos, neg = y == 1, y == 0
        tpr, fpr = call[pos].mean(), call[neg].mean()
        psi = np.where(pos, (call - tpr) / pos.sum(), -(call - fpr) / neg.sum())
        v.append(float((pd.Series(psi).groupby(f["timestamp"].to_numpy()).sum() ** 2).sum()))
    return float(np.sqrt(sum(v)) / len(v))


@pytest.fixture(scope="module")
def trials(tmp_path_factory):
    ws = tmp_path_factory.mktemp("skill")
    signal = yaml.safe_load(Path(resource("configs/campaigns/phase3.yaml")).read_text())["quick"]["set"]["data.synthetic"][
        "signal_strength"]
    return {"walk": _trial(ws, "walk", 0.0), "signal": _trial(ws, "signal", signal)}


def test_f1_and_recall_objectives_read_the_skill_metrics():
    "Fast: the f1 and recall objectives score each fold's skill over the constant predictor, not the raw metric."
    from hnn_trading.hpo import fold_means, fold_score, stage1_score
    folds = [dict(val_auc=0.5, val_dir_acc=0.5, val_f1=0.67, val_f1_skill=-0.2, val_recall=1.0, val_recall_skill=0.0),
             dict(val_auc=0.6, val_dir_acc=0.55, val_f1=0.6, val_f1_skill=0.1, val_recall=0.6, val_recall_skill=0.2)]
    assert fold_score(folds[0], "f1") == -0.2 and fold_score(folds[0], "recall") == 0.0  # always up: no skill
    assert stage1_score(folds, "f1") == pytest.approx(-0.05) and stage1_score(folds, "recall") == pytest.approx(0.1)
    m = fold_means(folds, "f1")
    assert m["f1_fold_mean"] == pytest.approx(0.635) and m["f1_skill_fold_mean"] == pytest.approx(-0.05)
    sp = SearchSpace.from_dict({"objective": "f1", "params": {}})
    assert sp.metric_names == ["f1_skill"]


@pytest.mark.slow
def test_the_phase3_objective_is_skill_over_the_constant(trials):
    assert SearchSpace.from_yaml(SPACE).objective == "recall"
    for t, P in trials.values():
        skill = np.mean([recall_skill(f["label"], f["p_up"]) for _, f in P.groupby("fold")])
        assert t.value == pytest.approx(skill, abs=1e-9) == t.user_attrs["recall_skill_fold_mean"]


@pytest.mark.slow
def test_the_objective_separates_a_planted_signal_from_a_random_walk(trials):
    (tw, Pw), (ts, Ps) = trials["walk"], trials["signal"]
    assert tw.params == ts.params  # the same model settings: only the market differs
    margin = 3 * np.hypot(_se(Pw), _se(Ps))
    assert ts.value - tw.value > margin, (ts.value, tw.value, margin)
    assert abs(tw.value) < 3 * _se(Pw)  # the random walk scores no skill
    # raw F1 cannot: always up, knowing nothing, beats the signal model's raw F1 on the random walk; its skill is 0
    f1_const = np.mean([constant_scores(f["label"])["f1"] for _, f in Pw.groupby("fold")])
    assert f1_const > _raw_f1(Ps), (f1_const, _raw_f1(Ps), _raw_f1(Pw))
    assert recall_skill(Pw["label"], np.ones(len(Pw))) == 0.0 < ts.value


def _raw_f1(P: pd.DataFrame) -> float:
    "The fold-mean raw F1 at P(up) > 1/2, as the seed's campaigns scored it."
    return float(np.mean([confusion(f["label"], f["p_up"])["f1"] for _, f in P.groupby("fold")]))

"""Multi-fidelity stage 1 (issue #17): pruning after the first epochs, an early-stopping rule that fires, warm-started folds
that see nothing later than a cut."""
import json, subprocess, sys, warnings
from pathlib import Path
import numpy as np, optuna, pytest, torch, yaml
from hnn_trading.config import RunConfig
from hnn_trading.data import load_data
from hnn_trading.features import perturb_future
from hnn_trading.training import run_walk_forward, load_checkpoint

BASE = {"data.source": "synthetic", "data.synthetic": dict(n_symbols=3, n_bars=700, freq="1D", signal_strength=0.3, seed=5),
        "features.set": "basic", "model.name": "mlp", "model.hidden_dim": 16, "model.feature_window": 4, "training.epochs": 6,
        "training.patience": 6, "training.progress": False, "splits.n_folds": 3, "splits.val_block": 80, "splits.calib_size": 60}

def _wf(cfg, panel, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_walk_forward(cfg, panel, progress=False, **kw)

@pytest.fixture(scope="module")
def panel(): return load_data(RunConfig().override(BASE).data)

def test_min_delta_stops_a_loss_that_only_creeps(panel):
    "With min_delta an epoch must beat the best loss by that share: a 50% bar stops every fold after patience + 1 epochs; without it the folds run on."
    a = _wf(RunConfig().override(BASE | {"training.patience": 2}), panel)
    b = _wf(RunConfig().override(BASE | {"training.patience": 2, "training.min_delta": 0.5}), panel)
    assert [f["epochs_run"] for f in b.folds] == [3, 3, 3] and [f["best_epoch"] for f in b.folds] == [1, 1, 1]
    assert sum(f["epochs_run"] for f in a.folds) > 9

def test_a_warm_started_fold_begins_where_the_previous_one_ended(panel, tmp_path):
    "At a learning rate of 1e-8 training moves nothing: a warm-started fold 2 keeps fold 1's weights; a fresh one does not."
    cfg = RunConfig().override(BASE | {"training.learning_rate": 1e-8, "training.epochs": 1})
    for warm in (True, False):
        _wf(cfg.override({"training.warm_start_folds": warm}), panel, checkpoint_dir=tmp_path/str(warm))
        w1, w2 = (load_checkpoint(tmp_path/str(warm)/f"fold{k}.pt")["model"].state_dict() for k in (1, 2))
        same = all(torch.allclose(w1[k], w2[k], atol=1e-5) for k in w1)
        assert same == warm

def test_warm_started_predictions_before_a_cut_ignore_bars_after_it(panel):
    "Garbage after a cut 2 bars into the last validation block leaves every earlier prediction bit-identical with warm-started folds."
    cfg = RunConfig().override(BASE | {"training.warm_start_folds": True, "training.epochs": 2})
    a = _wf(cfg, panel)
    t = panel.index.get_level_values("timestamp").unique()
    cut = t[t.get_loc(a.folds[-1]["val_start"]) + 2]
    b = _wf(cfg, perturb_future(panel, cut, 1))
    pa, pb = (x.predictions[x.predictions["timestamp"] <= cut] for x in (a, b))
    assert len(pa) > 400 and all(np.array_equal(pa[c].to_numpy(), pb[c].to_numpy()) for c in ("mu", "sigma", "p_up", "p_up_raw"))

def test_a_poor_trial_is_pruned_after_its_first_epochs(hnn, tmp_path):
    "hnn hpo stage1 with Hyperband (the default): good (lr 3e-3) and useless (lr 1e-8) settings alternate; the 5 start-up trials run to the end, then useless ones stop at the first rung (2 epochs of 3 folds x 6); the best trial is a good one."
    cfg = {k0: {} for k0 in ("data", "features", "model", "training", "splits", "hpo")}
    for k, v in (BASE | {"hpo.min_resource": 2}).items():
        sec, key = k.split("."); cfg[sec][key] = v
    (tmp_path/"c.yaml").write_text(yaml.safe_dump(cfg))
    (tmp_path/"space.yaml").write_text(yaml.safe_dump({"objective": "stage1", "params": {
        "training.learning_rate": {"type": "categorical", "choices": [3e-3, 1e-8]}, "model.dropout": {"type": "float", "low": 0.0, "high": 0.3}}}))
    sets = [{"training.learning_rate": 3e-3 if i % 2 == 0 else 1e-8, "model.dropout": 0.01 * i} for i in range(11)]
    (tmp_path/"sets.yaml").write_text(yaml.safe_dump(sets))
    r = subprocess.run([hnn, "hpo", "stage1", "--config", "c.yaml", "--space", "space.yaml", "--warm-start", "sets.yaml", "--trials", "11",
                        "--study", "mf"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    st = optuna.load_study(study_name="mf", storage=f"sqlite:///{tmp_path}/reports/hpo/mf/study.db")
    by = {t.number: t for t in st.trials}
    late = [by[i] for i in range(5, 11)]
    pruned = [t for t in late if t.state == optuna.trial.TrialState.PRUNED]
    useless = [t for t in late if t.params["training.learning_rate"] == 1e-8 and t.state == optuna.trial.TrialState.PRUNED]
    assert len(useless) >= 2 and all(t.last_step == 2 for t in useless)            # stopped at the first rung: 2 epochs of 18
    assert sum(t.last_step for t in st.trials) < 0.8 * 11 * 18
    assert st.best_trial.params["training.learning_rate"] == 3e-3
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in st.trials[:5])

def test_batched_stage2_trials_run_together_and_a_seed_gives_the_same_study(tmp_path):
    "optimize_batched asks each batch in order, so two studies with one seed sample the same parameters; the trials of a batch overlap in time (threads)."
    import threading, time
    from hnn_trading.hpo import SearchSpace, optimize_batched
    from hnn_trading.studies import make_study, make_storage
    space = SearchSpace.from_yaml("configs/search/stage2.yaml")
    runs = []
    for k in range(2):
        active, peak, lock = [0], [0], threading.Lock()
        def obj(trial):
            v = space.sample(trial)
            with lock: active[0] += 1; peak[0] = max(peak[0], active[0])
            time.sleep(0.02)
            with lock: active[0] -= 1
            if v["strategy.kelly_clip"] < 0.3: raise optuna.TrialPruned("too small")
            trial.set_user_attr("kelly", v["strategy.kelly_clip"])
            return v["strategy.threshold_quantile"] - v["strategy.stop_loss"]
        st = make_study(f"s{k}", f"journal:///{tmp_path}/s{k}.log", 40, 0, prune=False, sampler="tpe")
        optimize_batched(st, obj, 40, space, jobs=2)
        runs.append(([t.params for t in st.trials], [t.state for t in st.trials]))
        assert peak[0] == 2 and len(st.trials) == 40
    assert runs[0] == runs[1]
    assert optuna.trial.TrialState.PRUNED in runs[0][1]
    again = optuna.load_study(study_name="s0", storage=make_storage(f"journal:///{tmp_path}/s0.log"))      # written to the file, whole
    assert [t.params for t in again.trials] == runs[0][0] and all(t.user_attrs["kelly"] == t.params["strategy.kelly_clip"] for t in again.trials if t.state.name == "COMPLETE")

@pytest.mark.parametrize("screen, words", [({"study": "gru"}, "a study listed before it: ['mlp']"), ({"study": "mlp", "top_k": 0}, "top_k"),
                                           ({"study": "mlp", "k": 3}, "got {'study': 'mlp', 'k': 3}")])
def test_a_bad_screen_names_the_study_and_what_is_wrong(screen, words):
    from hnn_trading.campaign import Campaign
    from hnn_trading.config import ConfigError
    d = yaml.safe_load(Path("configs/campaigns/phase3.yaml").read_text())
    d["studies"]["lstm"]["screen"] = screen
    with pytest.raises(ConfigError, match="study 'lstm': screen needs") as e: Campaign.from_dict(d)
    assert words in str(e.value)


def test_batched_writes_hold_only_finished_trials(tmp_path):
    "Written every 5 trials while the next batch is already asked: the storage holds every trial, each finished, none left RUNNING."
    from hnn_trading.hpo import SearchSpace, optimize_batched
    from hnn_trading.studies import make_study, make_storage
    space = SearchSpace.from_yaml("configs/search/stage2.yaml")
    st = make_study("w", f"journal:///{tmp_path}/w.log", 23, 0, prune=False, sampler="tpe")
    optimize_batched(st, lambda t: space.sample(t)["strategy.scale"], 23, space, jobs=2, flush=5)
    again = optuna.load_study(study_name="w", storage=make_storage(f"journal:///{tmp_path}/w.log"))
    assert len(again.trials) == 23 and all(t.state == optuna.trial.TrialState.COMPLETE for t in again.trials)

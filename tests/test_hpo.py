"""Studies spread over processes, survive a SIGKILL, and export a config that reproduces its trial (issue 6)."""
import glob, json, os, shutil, signal, socket, subprocess, sys, time
from pathlib import Path
import numpy as np, optuna, pytest, yaml
from hnn_trading.hpo import quick_config, stage1_score
from hnn_trading.studies import make_storage, make_study
from hnn_trading.files import redact
from hnn_trading.config import RunConfig
from hnn_trading.training import run_walk_forward
from hnn_trading.data import load_data

optuna.logging.set_verbosity(optuna.logging.WARNING)

def _create(storage, name, d):
    "Create the study as a user does: `hnn hpo stage1 --quick --workers 0` stores its config, space and folder; workers join it."
    r = subprocess.run([str(Path(sys.executable).parent/"hnn"), "hpo", "stage1", "--quick", "--workers", "0", "--storage", storage, "--study", name,
                        "--output-dir", str(d)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "created; join it" in r.stdout, r.stderr[-3000:]

def _workers(hnn, storage, name, n_workers, trials, extra=()):
    cmd = [hnn, "hpo", "worker", "--storage", storage, "--study", name, "--trials", str(trials), "--no-prune", *extra]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    ps = [subprocess.Popen(cmd + ["--seed", str(i)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env) for i in range(n_workers)]
    out = [p.communicate(timeout=900) for p in ps]
    for p, (_, err) in zip(ps, out): assert p.returncode == 0, err.decode()[-3000:]

def _check_20(storage, name):
    st = optuna.load_study(study_name=name, storage=make_storage(storage))
    nums = [t.number for t in st.trials]
    assert len(nums) == len(set(nums)), "duplicate trial numbers"
    done = [t for t in st.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 20, [t.state.name for t in st.trials]
    assert all(np.isfinite(t.value) and "auc_fold_mean" in t.user_attrs for t in done)

def test_four_workers_on_a_journal_file(hnn, tmp_path):
    url = f"journal:///{tmp_path}/study.log"
    _create(url, "j4", tmp_path/"trials")
    _workers(hnn, url, "j4", 4, 5)
    _check_20(url, "j4")

def test_four_workers_on_postgresql(hnn, postgres, tmp_path):
    _create(postgres, "pg4", tmp_path/"trials")
    _workers(hnn, postgres, "pg4", 4, 5)
    _check_20(postgres, "pg4")
    assert "not-a-secret" not in redact(postgres)

def test_the_lgbm_campaign_on_postgresql_resumes(hnn, postgres, tmp_path):
    "The seed-002 campaign with its studies on a PostgreSQL server (--storage); run again, it resumes: no trial is added, the same choice is made."
    cmd = [hnn, "campaign", "configs/campaigns/lgbm_two_stage.yaml", "--quick", "--storage", postgres, "--no-report", "--quiet", "--output-dir", str(tmp_path)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    root = Path(__file__).resolve().parents[1]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env, cwd=root)
    assert first.returncode == 0, first.stderr[-3000:]
    names = {s.study_name: s.n_trials for s in optuna.get_all_study_summaries(make_storage(postgres))}
    assert names["lgbm_two_stage-lightgbm"] == 2 and names["lgbm_two_stage-lightgbm-stage2"] == 20
    info = json.loads((tmp_path/"lgbm_two_stage/studies.json").read_text())
    assert "not-a-secret" not in json.dumps(info) and info["storage"].startswith("postgresql://postgres:***@")
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env, cwd=root)
    assert again.returncode == 0, again.stderr[-3000:]
    assert {s.study_name: s.n_trials for s in optuna.get_all_study_summaries(make_storage(postgres))} == names
    assert json.loads((tmp_path/"lgbm_two_stage/studies.json").read_text())["selection"] == info["selection"]
    rep = subprocess.run([hnn, "report", "hpo_study", "-p", "storage", postgres, "-p", "study", "lgbm_two_stage-lightgbm", "--output-dir", str(tmp_path),
                          "--run-id", "rep"], capture_output=True, text=True, timeout=600, env=env, cwd=root)
    assert rep.returncode == 0, rep.stderr[-3000:]
    for f in (tmp_path/"rep").iterdir(): assert "not-a-secret" not in f.read_text(errors="ignore"), f   # the parameter cell holds the redacted URL
    assert "postgresql://postgres:***@" in (tmp_path/"rep/hpo_study.ipynb").read_text()

def test_a_killed_worker_loses_nothing_and_the_study_completes(hnn, tmp_path):
    url = f"sqlite:///{tmp_path}/study.db"
    _create(url, "kill", tmp_path/"trials")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [hnn, "hpo", "worker", "--storage", url, "--study", "kill", "--no-prune", "--heartbeat", "1"]
    p = subprocess.Popen(cmd + ["--trials", "8"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    storage = make_storage(url)
    deadline = time.time() + 300
    while time.time() < deadline:
        st = optuna.load_study(study_name="kill", storage=storage)
        states = [t.state for t in st.trials]
        if states.count(optuna.trial.TrialState.COMPLETE) >= 2 and optuna.trial.TrialState.RUNNING in states: break
        time.sleep(0.2)
    else: p.kill(); pytest.fail("the worker never got two trials done")
    os.kill(p.pid, signal.SIGKILL); p.wait()
    st = optuna.load_study(study_name="kill", storage=storage)
    before = {t.number: t.value for t in st.trials if t.state == optuna.trial.TrialState.COMPLETE}
    killed = [t.number for t in st.trials if t.state == optuna.trial.TrialState.RUNNING]
    assert killed, "no trial was running when the worker was killed"
    time.sleep(4)                                                   # past the grace period (3 x 1 s heartbeat)
    r = subprocess.run(cmd + ["--trials", "3"], capture_output=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    st = optuna.load_study(study_name="kill", storage=storage)
    after = {t.number: t.value for t in st.trials if t.state == optuna.trial.TrialState.COMPLETE}
    assert all(after[k] == v for k, v in before.items())            # every completed trial intact
    assert all(st.trials[k].state == optuna.trial.TrialState.FAIL for k in killed)
    retried = [t for t in st.trials if t.system_attrs.get("failed_trial") in killed]
    assert retried and retried[0].state == optuna.trial.TrialState.COMPLETE
    k = st.trials[killed[0]].params                                 # what was sampled before the kill (all, or some when killed mid-sampling)
    assert {n: retried[0].params[n] for n in k} == k                # the retry keeps them, and samples only the rest
    assert len(after) == len(before) + 3

@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_a_worker_killed_before_its_first_heartbeat_leaves_no_trial_running(hnn, tmp_path, db, request):
    "Optuna fails only the trials whose heartbeat went stale: a worker killed between creating its trial and its first heartbeat left it RUNNING for ever."
    url = f"sqlite:///{tmp_path}/study.db" if db == "sqlite" else request.getfixturevalue("postgres")
    name = f"zombie-{tmp_path.name}"
    _create(url, name, tmp_path/"trials")
    plain = url.replace("postgresql://", "postgresql+psycopg2://")       # Optuna's own storage, no heartbeat thread
    zombie = optuna.load_study(study_name=name, storage=plain).ask()   # what such a worker leaves: a RUNNING trial with no heartbeat row
    time.sleep(4)                                                      # past the grace period (3 x 1 s heartbeat)
    r = subprocess.run([hnn, "hpo", "worker", "--storage", url, "--study", name, "--no-prune", "--heartbeat", "1", "--trials", "1"],
                       capture_output=True, env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=600)
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    st = optuna.load_study(study_name=name, storage=make_storage(url))
    assert st.trials[zombie.number].state == optuna.trial.TrialState.FAIL
    retried = [t for t in st.trials if t.system_attrs.get("failed_trial") == zombie.number]
    assert len(retried) == 1 and retried[0].state == optuna.trial.TrialState.COMPLETE
    assert [t.state.name for t in st.trials].count("RUNNING") == 0

def test_exported_best_config_reproduces_its_trial(hnn, tmp_path):
    url = f"sqlite:///{tmp_path}/study.db"
    _create(url, "rep", tmp_path/"trials")
    _workers(hnn, url, "rep", 1, 3)
    r = subprocess.run([hnn, "hpo", "export", "--storage", url, "--study", "rep", "--out", str(tmp_path/"export")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    st = optuna.load_study(study_name="rep", storage=make_storage(url))
    cfg = RunConfig.from_yaml(tmp_path/"export"/"best_config.yaml")
    wf = run_walk_forward(cfg, load_data(cfg.data))
    assert stage1_score(wf.folds) == st.best_value
    corr = json.loads((tmp_path/"export"/"sharpe_correlation.json").read_text())
    assert corr["n_trials"] == 3 and 0 <= corr["nan_sharpe_share"] <= 1

def test_the_configs_hpo_section_sets_the_command_defaults(tmp_path):
    "hpo.study_name, n_trials and storage of the base config are the defaults of `hnn hpo stage1`; an option on the command line wins."
    from hnn_trading.config import RunConfig
    from hnn_trading.hpo import quick_config
    cfg = quick_config()[0].override({"hpo.study_name": "from-config", "hpo.n_trials": 7, "hpo.storage": f"sqlite:///{tmp_path}/cfg.db"})
    cfg.to_yaml(tmp_path/"c.yaml")
    hnn = str(Path(sys.executable).parent/"hnn")
    r = subprocess.run([hnn, "hpo", "stage1", "--config", str(tmp_path/"c.yaml"), "--workers", "0"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "study from-config on sqlite:///" in r.stdout and "0 of 7 trials finished" in r.stdout and (tmp_path/"cfg.db").exists()
    r = subprocess.run([hnn, "hpo", "stage1", "--config", str(tmp_path/"c.yaml"), "--workers", "0", "--study", "cli", "--trials", "3"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0 and "study cli on" in r.stdout and "0 of 3 trials finished" in r.stdout, r.stdout + r.stderr

def test_quick_and_config_together_is_an_error(tmp_path):
    "--quick is its own tiny configuration: with --config it would be silently dropped, so the pair is refused in one line."
    r = subprocess.run([str(Path(sys.executable).parent/"hnn"), "hpo", "stage1", "--quick", "--config", "configs/demo.yaml", "--workers", "0"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.strip() == "hnn: error: --quick is its own tiny configuration; pass --quick or --config, not both"

def test_stage1_and_stage2_show_trial_progress_on_stderr(hnn, tmp_path):
    "`hnn hpo stage1` (two workers: the study's count, from the storage) and `hnn hpo stage2` print trial counts to stderr, as plain lines when stderr is not a terminal, and still write what they wrote before."
    import re
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r1 = subprocess.run([hnn, "hpo", "stage1", "--quick", "--trials", "3", "--workers", "2", "--study", "prog", "--no-prune"],
                        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r1.returncode == 0, r1.stderr[-3000:]
    assert re.search(r"^prog: 0/3 trials finished, 00:0\d elapsed$", r1.stderr, re.M), r1.stderr
    assert re.search(r"^prog: 3/3 trials finished, best 0\.\d{4}, \d\d:\d\d elapsed$", r1.stderr, re.M), r1.stderr
    assert "\r" not in r1.stderr                                                  # a pipe gets lines, not a redrawn bar
    assert len(re.findall(r"trial +\d: 0\.\d{4}", r1.stdout)) == 3 and "3 complete trials; best score" in r1.stdout
    assert (tmp_path/"reports/hpo/prog/study.log").exists()
    r2 = subprocess.run([hnn, "hpo", "stage2", "--storage", "journal:///reports/hpo/prog/study.log", "--study", "prog", "--top-k", "1", "--trials", "12"],
                        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r2.returncode == 0, r2.stderr[-3000:]
    # trial 0, the stage-1 strategy, is evaluated before the batched search starts counting (issue 28)
    assert re.search(r"^prog-stage2-t\d: 1/12 trials finished, 00:00 elapsed$", r2.stderr, re.M), r2.stderr
    assert re.search(r"^prog-stage2-t\d: 12/12 trials finished(, best -?\d\.\d{4})?, \d\d:\d\d elapsed$", r2.stderr, re.M), r2.stderr
    assert "\r" not in r2.stderr and "deflated_sharpe" in r2.stdout and "written" in r2.stdout
    rows = json.loads((tmp_path/"reports/hpo/prog/stage2.json").read_text())
    assert len(rows) == 1 and rows[0]["strategy_trials"] == 12


# --- hybrid and Pareto: an undefined Sharpe is infeasible, not -10 (issue 26, deliverable 3) ---------------------------
from hnn_trading import studies as _studies
from hnn_trading.hpo import SearchSpace, hybrid_objective
from hnn_trading.studies import ranked

def _hybrid_space(objective):
    return SearchSpace.from_dict({"objective": objective, "weights": {"auc": 0.4, "dir_acc": 0.2, "sharpe": 0.4},
                                  "params": {"model.dropout": {"type": "float", "low": 0.0, "high": 0.5}}})

@pytest.mark.parametrize("objective", ["hybrid", "pareto"])
def test_a_trial_that_never_trades_is_infeasible_with_the_neutral_sharpe(tmp_path, objective):
    """Through the real objective: a strategy that cannot trade (threshold 1) has no Sharpe; its trial is scored with
    Sharpe 0 (not -10), is infeasible (constraint and optuna-dashboard's copy), and best-trial selection skips it."""
    base, _ = quick_config()
    panel = load_data(base.data)
    space = _hybrid_space(objective)
    url = f"sqlite:///{tmp_path}/study.db"
    st = make_study(f"s-{objective}", url, 4, 0, directions=space.directions, prune=False)
    never = base.override({"strategy.threshold": 1.0})               # P(up) > 1 never holds: no trade
    st.optimize(hybrid_objective(never, panel, space, tmp_path/"never", pareto=objective == "pareto"), n_trials=1)
    t = st.trials[0]
    assert t.state == optuna.trial.TrialState.COMPLETE
    assert t.user_attrs["trades"] == 0 and np.isnan(t.user_attrs["sharpe"])
    ua = t.user_attrs
    if objective == "pareto": assert t.values == [pytest.approx(0.7 * ua["auc_fold_mean"] + 0.3 * ua["dir_acc_fold_mean"]), 0.0]
    else: assert t.value == pytest.approx(0.4 * ua["auc_fold_mean"] + 0.2 * ua["dir_acc_fold_mean"])   # Sharpe term 0
    assert t.constraints["sharpe_defined"] == 1.0
    assert t.system_attrs[_studies.DASHBOARD_CONSTRAINTS] == [1.0]
    if objective == "pareto": assert st.best_trials == []
    else:
        with pytest.raises(ValueError): st.best_trial                # no feasible trial yet
    st.optimize(hybrid_objective(base, panel, space, tmp_path/"trades", pareto=objective == "pareto"), n_trials=1)
    t1 = st.trials[1]
    assert t1.user_attrs["trades"] > 0 and np.isfinite(t1.user_attrs["sharpe"]) and t1.constraints["sharpe_defined"] == 0.0
    assert [x.number for x in ranked(st)] == [1, 0]                  # the feasible trial first, whatever the values
    if objective == "pareto": assert [x.number for x in st.best_trials] == [1]
    else: assert st.best_trial.number == 1
    st2 = optuna.load_study(study_name=f"s-{objective}", storage=make_storage(url))
    if objective == "hybrid": assert st2.best_trial.number == 1       # the storage the dashboard asks agrees

def test_ranked_puts_infeasible_trials_after_feasible_ones():
    st = optuna.create_study(direction="maximize")
    for v, c in ((0.9, 1.0), (0.5, 0.0), (0.7, 0.0)):
        st.add_trial(optuna.trial.create_trial(value=v, system_attrs={"constraints:sharpe_defined": c}))
    assert [t.value for t in ranked(st)] == [0.7, 0.5, 0.9]

"""Stage 2 is composed once (issue 25): `hnn hpo stage2`, a campaign and the demo all search the strategy through
`hpo.stage2_search`, so for the same predictions, config, space and trial count they give the same study (the same
trials with the same parameters and values) and the same deflated best (the same bar count behind it).

The CLI is driven as a user drives it (subprocesses of the installed `hnn`: a one-trial quick stage 1, then stage 2);
the campaign's and the demo's stage-2 steps are driven through their module functions on that same stage-1 trial."""
import math, os, subprocess, sys
from pathlib import Path
from types import SimpleNamespace
import optuna, pytest
from hnn_trading.data import load_data, resolve_periods
from hnn_trading.files import resource
from hnn_trading.hpo import load_context
from hnn_trading.studies import ranked
from hnn_trading.runs import RunFolder
from hnn_trading import campaign, demo

BIN = Path(sys.executable).parent
N = 12  # strategy trials: a few TPE start-up trials are enough to compare
SPACE = str(resource("configs/search/demo_stage2.yaml"))
optuna.logging.set_verbosity(optuna.logging.WARNING)


def _hnn(args, cwd):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run([str(BIN / "hnn"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def _trials(study) -> list:
    return [(t.number, t.params, t.values, t.state.name) for t in sorted(study.trials, key=lambda t: t.number)]


def _same(a, b) -> bool:
    "Equal, NaN equal to NaN and to None (the CLI writes a NaN as null)."
    nan = lambda v: v is None or (isinstance(v, float) and math.isnan(v))
    return (nan(a) and nan(b)) or a == b


@pytest.fixture(scope="module")
def stage1(tmp_path_factory):
    "A one-trial quick stage-1 study on a SQLite file, and its stage 2 run by `hnn hpo stage2`."
    ws = tmp_path_factory.mktemp("s2once")
    url = f"sqlite:///{ws / 'study.db'}"
    _hnn(["hpo", "stage1", "--quick", "--trials", "1", "--storage", url, "--study", "s", "--output-dir", "hpo"], ws)
    out = _hnn(["hpo", "stage2", "--storage", url, "--study", "s", "--top-k", "1", "--trials", str(N),
                "--space", SPACE], ws)
    st, base, _, d = load_context(url, "s")
    t = ranked(st)[0]
    tf = RunFolder(t.user_attrs["trial_dir"])
    panel = load_data(base.data)
    return SimpleNamespace(ws=ws, url=url, trial=t, study=st, folder=d, out=out, panel=panel,
                           cfg=resolve_periods(tf.config, panel), predictions=tf.predictions)


def test_the_cli_campaign_and_demo_give_the_same_stage2_study(stage1):
    s = stage1
    cli = optuna.load_study(study_name=f"s-stage2-t{s.trial.number}", storage=s.url)
    row = RunFolder(s.folder, strict=False).read_json("stage2")[0]
    assert len(cli.trials) == N and row["strategy_trials"] == N, s.out

    # the campaign's stage 2, on its own storage, as run_campaign calls it for its study `m`
    camp = SimpleNamespace(name="c", stage2=dict(space=SPACE, trials=N))
    s1 = SimpleNamespace(study_name="c-m")
    url_c = f"sqlite:///{s.ws / 'campaign.db'}"
    sel = {}
    cfg_c, _ = campaign._campaign_stage2(camp, "m", s1, s.trial, s.cfg, s.panel, url_c, sel)
    camp_st = optuna.load_study(study_name="c-m-stage2", storage=url_c)

    # the demo's stage 2, on its own storage, on the same predictions
    url_d = f"sqlite:///{s.ws / 'demo.db'}"
    demo_st, db = demo._demo_stage2(s.cfg, s.panel, url_d, s.ws / "demo", N, s.predictions)

    assert _trials(cli) == _trials(camp_st) == _trials(demo_st)
    # one deflated best: same best Sharpe, deflated Sharpe, trials counted and strategy
    for k_row, k_db in [("best_sharpe", "best_sharpe"), ("deflated_sharpe", "dsr"), ("tradeable_trials", "tradeable"),
                        ("strategy_trials", "n_trials"), ("best_params", "best_params")]:
        assert _same(row[k_row], db[k_db]), (k_row, row[k_row], db[k_db])
    if db["best_params"] is None:
        assert "stage2" in sel and cfg_c is s.cfg
    else:
        assert _same(sel["dsr"], db["dsr"]) and _same(sel["sharpe"], db["best_sharpe"])
        assert cfg_c == s.cfg.override(db["best_params"])


def test_stage2_resumes_and_never_prunes(stage1):
    "Run again, the CLI adds no trial (the study is resumed); no strategy trial was pruned."
    s = stage1
    _hnn(["hpo", "stage2", "--storage", s.url, "--study", "s", "--top-k", "1", "--trials", str(N), "--space", SPACE],
         s.ws)
    cli = optuna.load_study(study_name=f"s-stage2-t{s.trial.number}", storage=s.url)
    assert len(cli.trials) == N
    assert not [t for t in cli.trials if t.state.name == "PRUNED"]

"""A PostgreSQL server restarted under a running study (issue 27, deliverable 6).

`hnn hpo stage1 --quick --workers 2` runs on the `postgres` fixture's server (tests/conftest.py); once trials are
running, the server is stopped (`pg_ctl stop -m fast`), left down a few seconds and started again. Each worker must
ride it out: wait for the server, fail (or finish) the trial the restart interrupted, say that it reconnected, and run
its remaining trials, so the command ends with exit 0, exactly the trials asked COMPLETE and none left RUNNING.
Before, a worker died with Optuna's `UnboundLocalError: ... 'updated_state'` (or the storage error itself), leaving its
trial RUNNING and the study short."""
import os, subprocess, sys, time
from pathlib import Path
import optuna, pytest
from hnn_trading.studies import make_storage
from conftest import restart_postgres

BIN = Path(sys.executable).parent
TRIALS = 6
optuna.logging.set_verbosity(optuna.logging.WARNING)


def _states(url, name):
    "The study's trial states, or None while the server does not answer."
    try:
        return [t.state.name for t in optuna.load_study(study_name=name, storage=make_storage(url)).trials]
    except Exception:
        return None


def test_workers_survive_a_server_restart_mid_study(postgres, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [str(BIN/"hnn"), "hpo", "stage1", "--quick", "--workers", "2", "--trials", str(TRIALS), "--storage", postgres,
           "--study", "restart", "--no-prune"]
    p = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and p.poll() is None:   # mid-study: a trial done, two running
            s = _states(postgres, "restart") or []
            if s.count("COMPLETE") >= 1 and s.count("RUNNING") >= 2: break
            time.sleep(0.3)
        assert p.poll() is None, "the study ended before the restart: " + p.stderr.read()[-2000:]
        restart_postgres(postgres, down=5)
        out, err = p.communicate(timeout=600)
    finally:
        if p.poll() is None: p.kill()
    st = optuna.load_study(study_name="restart", storage=make_storage(postgres))
    states = [t.state.name for t in st.trials]
    assert p.returncode == 0, err[-3000:]
    assert states.count("COMPLETE") == TRIALS and "RUNNING" not in states, (states, err[-3000:])
    assert "reconnected" in err and "not-a-secret" not in err + out, err[-3000:]
    assert "Traceback" not in err and "UnboundLocalError" not in err, err[-3000:]
    print("\n".join(l for l in err.splitlines() if "storage" in l))


def test_a_server_that_does_not_come_back_stops_the_worker_in_one_line(tmp_path, monkeypatch):
    "wait_for_storage gives up after its limit with one line naming the storage, password redacted."
    import sqlalchemy.exc
    from hnn_trading.studies import make_study, wait_for_storage
    st = make_study("gone", f"sqlite:///{tmp_path}/g.db", 2, 0)
    def down(*a, **k): raise sqlalchemy.exc.OperationalError("SELECT", {}, Exception("connection refused"))
    monkeypatch.setattr(type(st._storage), "get_study_user_attrs", down)
    t0 = time.time()
    with pytest.raises(RuntimeError) as e: wait_for_storage(st, "postgresql://me:secret@db:5432/hnn", limit=1.5)
    assert 1.5 <= time.time() - t0 < 5
    assert str(e.value) == "storage postgresql://me:***@db:5432/hnn: no answer for 2 s (connection refused); the worker stops", str(e.value)

"""SIGKILL at random points, 20 times per storage (issue 16; `make test-slow`, a few minutes per storage).

On SQLite, a journal file and a PostgreSQL server. A stage-1 study is created by `hnn hpo stage1 --quick --workers 0`; a worker is then started and killed with SIGKILL after a
random 0.3-6 s (while it imports, loads data, samples, trains or writes), 20 times. Then the same `hnn hpo stage1` command is
run to its target: it must finish with exactly the trials asked, no duplicate trial numbers, nothing left RUNNING, every
completed trial's value and artefacts intact, and the storage readable throughout."""
import os, random, signal, subprocess, sys, time
from pathlib import Path
import optuna, pytest
from hnn_trading.studies import make_storage

BIN = Path(sys.executable).parent
optuna.logging.set_verbosity(optuna.logging.WARNING)
KILLS, TARGET = 20, 6

@pytest.mark.slow
@pytest.mark.parametrize("url", ["sqlite:///study.db", "journal:///study.log", "postgresql"])
def test_twenty_kills_lose_nothing(tmp_path, url, request):
    if url == "postgresql": url = request.getfixturevalue("postgres")          # a real server (tests/conftest.py)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    hnn = lambda *a, **kw: subprocess.run([str(BIN/"hnn"), *a], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, **kw)
    assert hnn("hpo", "stage1", "--quick", "--workers", "0", "--storage", url, "--study", "k", "--trials", str(TARGET)).returncode == 0
    full = url.replace(":///", f":///{tmp_path}/") if ":///" in url else url
    rng, seen = random.Random(0), {}
    for i in range(KILLS):
        p = subprocess.Popen([str(BIN/"hnn"), "hpo", "worker", "--storage", url, "--study", "k", "--trials", "1", "--no-prune", "--heartbeat", "1"],
                             cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 6.0)); p.send_signal(signal.SIGKILL); p.wait()
        st = optuna.load_study(study_name="k", storage=make_storage(full))      # readable after every kill (a torn journal is repaired here)
        for t in st.trials:
            if t.state.name == "COMPLETE": assert seen.setdefault(t.number, t.value) == t.value   # a completed value never changes
    time.sleep(4)                                                               # past the heartbeat grace (3 x 1 s)
    r = hnn("hpo", "stage1", "--quick", "--workers", "1", "--storage", url, "--study", "k", "--trials", str(TARGET), "--no-prune", "--heartbeat", "1")
    assert r.returncode == 0, r.stderr[-3000:]
    st = optuna.load_study(study_name="k", storage=make_storage(full))
    nums = [t.number for t in st.trials]
    done = [t for t in st.trials if t.state.name == "COMPLETE"]
    assert len(nums) == len(set(nums)) and len(done) == TARGET and not [t for t in st.trials if t.state.name == "RUNNING"]
    for t in done:
        assert (Path(t.user_attrs["trial_dir"])/"predictions.parquet").exists() and (Path(t.user_attrs["trial_dir"])/"config.yaml").exists()
        if t.number in seen: assert seen[t.number] == t.value
    print(f"{url.split(':')[0]}: {KILLS} kills, {len(st.trials)} trials in all, {len(done)} complete, "
          f"{sum(t.state.name == 'FAIL' for t in st.trials)} failed by kills and retried, {len(list(tmp_path.glob('study.log.torn-*')))} torn journal repairs")

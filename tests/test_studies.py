"""The studies room (issue 25): reading a study costs no torch; Optuna internals are used in `studies` only."""
import re, subprocess, sys
from pathlib import Path
import hnn_trading

PKG = Path(hnn_trading.__file__).parent
INTERNALS = re.compile(r"journal\._file|_rdb\b|_create_scoped_session|_get_stale_trial_ids|\._storage\b|\._trial_id\b")

def test_importing_studies_does_not_import_torch():
    code = ("import sys, hnn_trading.studies\n"
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip() == "[]", f"importing hnn_trading.studies loads torch: {r.stdout[:500]}"

def test_optuna_internals_only_in_studies():
    bad = {f.name: [i for i, l in enumerate(f.read_text().splitlines(), 1) if INTERNALS.search(l)]
           for f in sorted(PKG.glob("*.py")) if f.name not in ("studies.py", "_modidx.py")}
    bad = {k: v for k, v in bad.items() if v}
    assert not bad, f"Optuna internals outside studies.py (file: lines): {bad}"
    assert INTERNALS.search((PKG/"studies.py").read_text())  # the pattern finds what it looks for


# issue 27 (deliverable 5): folders a shared study names are confined to the study's own folder
import os
import optuna, pytest
from hnn_trading.studies import make_study, study_folder, trial_folder_of, confined

def _tampered(tmp_path, value):
    "A real SQLite study whose study_dir attribute someone set, through Optuna's API, to `value`."
    url = f"sqlite:///{tmp_path}/s.db"
    st = make_study("s", url, 5, 0)
    st.set_user_attr("study_dir", value)
    return optuna.load_study(study_name="s", storage=url), url

@pytest.mark.parametrize("value, words", [
    ("/etc", "attribute study_dir = '/etc' is outside {root}; refused"),
    ("{root}/../elsewhere", "attribute study_dir = '{root}/../elsewhere' is outside {root}; refused"),
    ("{root}/link/x", "attribute study_dir = '{root}/link/x' leads out of {root} through a symbolic link; refused"),
    ("bad\0name", "is not a usable path"),
])
def test_a_study_dir_outside_the_study_folder_is_refused_in_one_line(tmp_path, value, words):
    root = tmp_path.resolve(); (root/"link").symlink_to(root.parent)
    st, url = _tampered(tmp_path, value.format(root=root))
    with pytest.raises(ValueError) as e: study_folder(st, url)
    assert words.format(root=root) in str(e.value) and "\n" not in str(e.value) and "HNN_STUDY_ROOTS" in str(e.value), str(e.value)

def test_study_and_trial_folders_inside_are_kept_and_a_trusted_root_is_opt_in(tmp_path, monkeypatch):
    root = tmp_path.resolve()
    st, url = _tampered(tmp_path, str(root/"reports"/"s"))
    assert study_folder(st, url) == root/"reports"/"s"
    st.set_user_attr("study_dir", "reports/s")                                  # a relative value is taken inside the study's folder
    assert study_folder(st, url) == root/"reports"/"s"
    st.set_user_attr("study_dir", str(root.parent/"shared"))
    with pytest.raises(ValueError): study_folder(st, url)
    monkeypatch.setenv("HNN_STUDY_ROOTS", str(root.parent))
    assert study_folder(st, url) == root.parent/"shared"
    for v, ok in [(str(root/"reports/s/trial_0001"), True), ("trial_0002", True), ("/tmp", False), ("../x", False)]:
        st.add_trial(optuna.trial.create_trial(value=1.0, user_attrs={"trial_dir": v}))
        t = st.trials[-1]
        if ok: assert trial_folder_of(t, root/"reports/s").is_relative_to(root/"reports/s")
        else:
            with pytest.raises(ValueError, match=rf"trial {t.number}: attribute trial_dir = '{re.escape(v)}' is outside"): trial_folder_of(t, root/"reports/s")
    assert trial_folder_of(optuna.trial.create_trial(value=1.0), root) is None
    assert confined("a/b", root, "x") == root/"a/b"

def test_hpo_stage2_on_a_tampered_shared_study_writes_nowhere_else(tmp_path):
    "A one-trial SQLite study; its study_dir set through Optuna's API to a folder outside: `hnn hpo stage2` refuses it, creating nothing."
    hnn = str(Path(sys.executable).parent/"hnn")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    run = lambda *a: subprocess.run([hnn, *a], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    r = run("hpo", "stage1", "--quick", "--trials", "1", "--workers", "1", "--storage", "sqlite:///study.db", "--study", "s", "--no-prune")
    assert r.returncode == 0, r.stderr[-2000:]
    evil = tmp_path.parent/f"{tmp_path.name}-elsewhere"/"x"
    optuna.load_study(study_name="s", storage="sqlite:///" + str(tmp_path/"study.db")).set_user_attr("study_dir", str(evil))
    r = run("hpo", "stage2", "--storage", "sqlite:///study.db", "--study", "s", "--top-k", "1", "--trials", "2")
    assert not evil.parent.exists(), "stage 2 created the folder the tampered attribute names"
    assert r.returncode == 1 and f"attribute study_dir = '{evil}' is outside {tmp_path.resolve()}" in r.stderr, r.stderr[-1000:]
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr

def test_a_folder_elsewhere_is_the_studys_own_only_when_it_holds_its_mark(tmp_path, monkeypatch):
    "What `hnn hpo stage1 --output-dir <anywhere>` leaves (a PostgreSQL study read from another working folder): the mark names the study."
    from hnn_trading.studies import mark_folder, STUDY_MARK
    st, url = _tampered(tmp_path/"store", "")
    away = tmp_path/"away"/"s"
    st.set_user_attr("study_dir", str(away))
    with pytest.raises(ValueError, match="HNN_STUDY_ROOTS"): study_folder(st, url)   # no mark: refused
    assert not away.exists()
    mark_folder(away, "s")
    assert study_folder(st, url) == away.resolve()
    mark_folder(away, "other")                                                       # another study's folder
    with pytest.raises(ValueError, match="is outside"): study_folder(st, url)
    (away/STUDY_MARK).unlink(); mark_folder(tmp_path/"m", "s"); (away/STUDY_MARK).symlink_to(tmp_path/"m"/STUDY_MARK)
    with pytest.raises(ValueError, match="is outside"): study_folder(st, url)        # a mark that is a link is no mark
    st.set_user_attr("study_dir", "../s"); mark_folder(tmp_path/"s", "s")            # a relative value: inside the storage's folder only,
    monkeypatch.chdir(tmp_path/"store")                                              # never taken from the working folder
    with pytest.raises(ValueError, match="is outside"): study_folder(st, url)

"""Faults and hostile input (issue 16), through the commands a user runs: a journal torn by a killed writer, a trial left RUNNING
by a killed worker, bad values and unusable storages or folders (one line, nothing written), two runs with one name, a run on a
relative data path whose symbol is a script. The README's reliability table lists them."""
import json, os, signal, subprocess, sys, time
from pathlib import Path
import optuna, pytest
import pandas as pd
from optuna.storages.journal import JournalStorage, JournalFileBackend
from hnn_trading.studies import make_storage

BIN = Path(sys.executable).parent
optuna.logging.set_verbosity(optuna.logging.WARNING)

def _hnn(args, cwd, **kw):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([str(BIN/"hnn"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, **kw)

def _states(path, name="t"):
    st = optuna.load_study(study_name=name, storage=JournalStorage(JournalFileBackend(str(path))))
    return [t.state.name for t in st.trials], st

def test_a_torn_journal_is_repaired_by_the_next_reader_or_writer(tmp_path):
    url, log = "journal:///study.log", tmp_path/"study.log"
    assert _hnn(["hpo", "stage1", "--quick", "--workers", "0", "--storage", url, "--study", "t"], tmp_path).returncode == 0
    r = _hnn(["hpo", "worker", "--storage", url, "--study", "t", "--trials", "2", "--no-prune"], tmp_path); assert r.returncode == 0, r.stderr[-2000:]
    whole = log.read_bytes()
    log.write_bytes(whole + b'{"op_code":5,"worker_id":"killed-mid-wri')           # SIGKILL during a write: a partial last line
    r = _hnn(["hpo", "worker", "--storage", url, "--study", "t", "--trials", "1", "--no-prune"], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"{log}: repaired 1 torn record(s)" in r.stderr or "study.log: repaired 1 torn record(s)" in r.stderr
    states, _ = _states(log)
    assert states.count("COMPLETE") == 3 and "RUNNING" not in states
    backups = list(tmp_path.glob("study.log.torn-*"))
    assert len(backups) == 1 and backups[0].read_bytes() == b'{"op_code":5,"worker_id":"killed-mid-wri'
    # the old failure: a torn line that the next writer (here Optuna itself, without the repair) appended its record to
    before = log.read_bytes(); log.write_bytes(before + b'{"op_code":5,"worker_id":"torn')
    st = optuna.load_study(study_name="t", storage=JournalStorage(JournalFileBackend(str(log))))
    st.set_user_attr("written_after_the_tear", 1)                                # glued to the torn line
    assert "written_after_the_tear" not in optuna.load_study(study_name="t", storage=JournalStorage(JournalFileBackend(str(log)))).user_attrs   # silently lost
    with pytest.raises(ValueError): st.set_user_attr("and_after_that", 2)           # and the next write fails: the study is stuck
    r = _hnn(["hpo", "export", "--storage", url, "--study", "t"], tmp_path)             # a reader repairs it too, keeping the appended record
    assert r.returncode == 0, r.stderr[-2000:]
    assert "repaired 1 torn record(s)" in r.stderr
    states, st = _states(log)
    assert states.count("COMPLETE") == 3 and st.user_attrs["written_after_the_tear"] == 1     # the record glued to the tear is recovered

def test_a_kill_at_any_byte_of_a_journal_write(tmp_path):
    """SIGKILL inside a write leaves a prefix of the file. Cut a real study's journal at 80 points inside its last records (every
    kind of record: trial start, parameters, values, attributes, state): each reader and writer repairs it to exactly the study its
    whole records hold, and the next write makes a file that Optuna itself reads."""
    import random
    url, log = "journal:///study.log", tmp_path/"study.log"
    assert _hnn(["hpo", "stage1", "--quick", "--workers", "0", "--storage", url, "--study", "t"], tmp_path).returncode == 0
    r = _hnn(["hpo", "worker", "--storage", url, "--study", "t", "--trials", "2", "--no-prune"], tmp_path); assert r.returncode == 0, r.stderr[-2000:]
    whole = log.read_bytes(); ends = [i + 1 for i, b in enumerate(whole) if b == 10]
    tail = ends[-40]                                                              # the last 40 records: the second trial, start to finish
    cuts = sorted(random.Random(0).sample(range(tail + 1, len(whole)), 80))
    seen = lambda st: [(t.number, t.state.name, t.params, t.values, sorted(t.user_attrs)) for t in st.trials]
    opt = lambda p: optuna.load_study(study_name="t", storage=JournalStorage(JournalFileBackend(str(p))))
    for k in cuts:
        torn = tmp_path/f"cut.log"; [b.unlink() for b in tmp_path.glob("cut.log*")]
        prefix = whole[:k]; good = whole[:max(e for e in ends if e <= k)]
        (tmp_path/"good.log").write_bytes(good); torn.write_bytes(prefix)
        st = optuna.load_study(study_name="t", storage=make_storage(f"journal:///{torn}"))
        assert seen(st) == seen(opt(tmp_path/"good.log")), f"cut at byte {k}"
        assert torn.read_bytes() == good and (prefix == good or list(tmp_path.glob("cut.log.torn-*"))[0].read_bytes() == prefix[len(good):])
        st.set_user_attr("after", k)                                              # the next writer
        assert opt(torn).user_attrs["after"] == k                                 # Optuna alone reads the file again

def test_a_killed_workers_running_trial_is_failed_and_retried_on_a_journal(tmp_path):
    url, log = "journal:///study.log", tmp_path/"study.log"
    assert _hnn(["hpo", "stage1", "--quick", "--workers", "0", "--storage", url, "--study", "t"], tmp_path).returncode == 0
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.Popen([str(BIN/"hnn"), "hpo", "worker", "--storage", url, "--study", "t", "--trials", "5", "--no-prune", "--heartbeat", "1"],
                         cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline:
        time.sleep(0.3)
        try: states, st = _states(log)
        except Exception: continue
        if states.count("COMPLETE") >= 1 and "RUNNING" in states: break
    else: p.kill(); pytest.fail("no trial was running after one completed")
    p.send_signal(signal.SIGKILL); p.wait()
    states, st = _states(log)
    killed = [t for t in st.trials if t.state.name == "RUNNING"]
    assert len(killed) == 1
    done = states.count("COMPLETE")
    time.sleep(4)                                                                # past the grace period (3 heartbeats of 1 s)
    r = _hnn(["hpo", "worker", "--storage", url, "--study", "t", "--trials", "2", "--no-prune", "--heartbeat", "1"], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"trial {killed[0].number} had no heartbeat" in r.stdout
    states, st = _states(log)
    assert "RUNNING" not in states and states.count("COMPLETE") == done + 2
    old = st.trials[killed[0].number]
    assert old.state.name == "FAIL" and "worker was killed" in old.user_attrs["fail_reason"]
    retried = lambda t: all(t.params.get(k) == v for k, v in old.params.items())   # a trial killed while sampling has only some of its parameters
    assert any(retried(t) and t.state.name == "COMPLETE" for t in st.trials if t.number > old.number)   # retried with its parameters

BOMB = """training:
  epochs: &a [[[[[[[[[1, 1, 1, 1, 1, 1, 1, 1, 1, 1]]]]]]]]]
  batch_size: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
  learning_rate: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
"""

@pytest.mark.parametrize("bad, words", [
    (["--config", "bomb.yaml"], "RunConfig.training.epochs: expected an integer, got [[[[...]]]]"),
    (["--config", "configs/demo.yaml", "--set", "training.learning_rate=.nan"], "training.learning_rate = nan is not a finite number"),
    (["--config", "configs/demo.yaml", "--set", "backtest.initial_equity=.inf"], "backtest.initial_equity = inf is not a finite number"),
    (["--config", "configs/demo.yaml", "--set", "splits.test_size=2018-13-01"], "--set splits.test_size=2018-13-01: not a value"),
    (["--config", "configs/demo.yaml", "--set", "data.start=notadate"], "data.start = 'notadate' is not a date"),
    (["--config", "configs/demo.yaml", "--set", "training.epochs=[1"], "--set training.epochs=[1: not a value"),
    (["--config", "configs/demo.yaml", "--set", "model.name=nosuch"], "model.name = 'nosuch' is not a model; available:"),
    (["--config", "configs/demo.yaml", "--set", "features.set=core23+nosuch"], "features.set = 'core23+nosuch': unknown feature set(s) ['nosuch']"),
    (["--config", "configs/demo.yaml", "--set", "report.templates=[nosuch]"], "report.templates: unknown template(s) ['nosuch']"),
    (["--config", "configs/demo.yaml", "--set", "training.pos_weight=heavy"], "training.pos_weight = 'heavy': use 'auto', 'none' or a number"),
    (["--config", "configs/demo.yaml", "--set", "ensemble.models=[mlp,nosuch]"], "ensemble.models: unknown model(s) ['nosuch']"),
])
def test_bad_values_get_a_short_error_naming_the_key(tmp_path, bad, words):
    (tmp_path/"bomb.yaml").write_text(BOMB)
    (tmp_path/"configs").mkdir(); (tmp_path/"configs/demo.yaml").write_text((Path(__file__).resolve().parents[1]/"configs/demo.yaml").read_text())
    t0 = time.time()
    r = _hnn(["run", *bad, "--output-dir", "out"], tmp_path)
    assert r.returncode != 0 and words in r.stderr, r.stderr[-1000:]
    assert len(r.stderr) < 400 and "Traceback" not in r.stderr and time.time() - t0 < 60
    assert not (tmp_path/"out").exists()                                         # nothing written

def test_two_runs_with_one_name_get_two_folders(tmp_path):
    "Started together with the same --run-id (or in the same second without one), two runs never share a folder: the second gets the next free name."
    (tmp_path/"configs").mkdir(); (tmp_path/"configs/demo.yaml").write_text((Path(__file__).resolve().parents[1]/"configs/demo.yaml").read_text())
    cmd = [str(BIN/"hnn"), "run", "--config", "configs/demo.yaml", "--run-id", "same", "--no-report", "--quiet", "--set", "training.epochs=1",
           "--set", "splits.n_folds=1", "--set", "model.name=mlp", "--set", "data.start=2012-01-01"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    ps = [subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in ps]
    assert all(p.returncode == 0 for p in ps), [o[1][-1500:] for o in outs]
    folders = sorted(p.name for p in (tmp_path/"reports").iterdir())
    assert folders == ["same", "same-2"]
    printed = sorted(o[0].split("run folder: ")[1].split()[0] for o in outs)
    assert [Path(x).name for x in printed] == ["same", "same-2"]
    for f in folders: assert (tmp_path/"reports"/f/"manifest.json").exists() and (tmp_path/"reports"/f/"test_predictions.parquet").exists()

@pytest.mark.parametrize("args, words", [
    (["hpo", "export", "--storage", "sqlite:///bad.db", "--study", "x"], "storage sqlite:///bad.db: cannot open it: file is not a database"),
    (["hpo", "export", "--storage", "postgresql://u:pw@127.0.0.1:1/db", "--study", "x"], "storage postgresql://u:***@127.0.0.1:1/db: cannot open it:"),
    (["hpo", "export", "--storage", "mysql://u:pw@h/db", "--study", "x"], "use sqlite:///file.db, journal:///file.log"),
    (["run", "--config", "configs/demo.yaml", "--output-dir", "bad.db"], "output folder bad.db is a file, not a folder"),
    (["run", "--config", "configs/demo.yaml", "--run-id", "a" * 300], "run id of 300 characters: 100 at most"),
    (["report", "model_evaluation", "-p", "run_dir", "../somewhere/new"], "no such run folder"),
    (["report", "model_evaluation", "-p", "run_dir", "123"], "-p run_dir 123: no such run folder"),
])
def test_storages_and_folders_that_cannot_be_used_get_one_line(tmp_path, args, words):
    (tmp_path/"bad.db").write_text("not a database")
    (tmp_path/"configs").mkdir(); (tmp_path/"configs/demo.yaml").write_text((Path(__file__).resolve().parents[1]/"configs/demo.yaml").read_text())
    r = _hnn(args, tmp_path)
    assert r.returncode != 0 and words in r.stderr and len(r.stderr.strip().splitlines()) <= 2, r.stderr[-1500:]
    assert "pw@" not in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path.parent/"somewhere").exists() and not (tmp_path/"reports").exists()

def test_a_run_on_a_relative_file_with_a_hostile_symbol(tmp_path):
    "A config naming its data by a relative path, whose symbol is a script: the run and its reports (which run inside the run folder) work, and no page runs the script."
    from hnn_trading.data import load_sample
    p = load_sample("us_indices"); p = p[p.index.get_level_values(0) >= pd.Timestamp("2014-01-01", tz="UTC")]
    p.rename(index={"NASDAQ": "<script>alert(1)</script>"}, level="symbol").reset_index().to_csv(tmp_path/"bars.csv", index=False)
    (tmp_path/"cfg.yaml").write_text("data: {source: bars.csv}\nfeatures: {set: basic}\nmodel: {name: mlp, hidden_dim: 16}\ntraining: {epochs: 1}\n"
                                     "splits: {n_folds: 2, val_block: 126, calib_size: 126, test_size: 126}\nbacktest: {position_cap: 0.5, max_positions: 2}\n"
                                     "report: {templates: [backtest_tearsheet, model_evaluation]}\n")
    r = _hnn(["run", "--config", "cfg.yaml", "--run-id", "h", "--quiet"], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    d = tmp_path/"reports/h"
    assert yaml_load(d/"config.yaml")["data"]["source"] == str(tmp_path/"bars.csv")          # reads the same data from inside the folder
    pages = list(d.glob("*.html")) + list(d.glob("*.ipynb"))
    assert len(pages) >= 5 and not [f.name for f in pages if "<script>alert(1)" in f.read_text(errors="ignore")]
    assert "&lt;script&gt;alert(1)" in (d/"backtest_tearsheet.html").read_text()             # shown, escaped
    r = _hnn(["report", "backtest_tearsheet", "-p", "run_dir", "reports/h", "-p", "title", "<script>alert(2)</script>"], tmp_path)   # the README's relative form
    assert r.returncode == 0, r.stderr[-2000:]
    page = (d/"backtest_tearsheet.html").read_text()
    assert "<script>alert(2)" not in page and "&lt;script&gt;alert(2)&lt;/script&gt;" in page and sorted(p.name for p in (tmp_path/"reports").iterdir()) == ["h"]

def yaml_load(p):
    import yaml
    return yaml.safe_load(Path(p).read_text())

def test_a_study_with_a_hostile_name_and_parameter_is_shown_not_run(tmp_path):
    "A study made with Optuna's own API (the hnn commands refuse such names) whose name and categorical choice are HTML: the hpo_study page shows them as text."
    bad = "<img src=x onerror=alert(1)>"
    st = optuna.create_study(study_name=bad, storage=f"sqlite:///{tmp_path}/s.db", direction="maximize")
    st.optimize(lambda t: {"a": 0.1, bad: 0.3}[t.suggest_categorical("kind", ["a", bad])] + t.suggest_float("x", 0, 1), n_trials=12)
    r = _hnn(["report", "hpo_study", "-p", "storage", "sqlite:///s.db", "-p", "study", bad, "--output-dir", "out"], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    page = next((tmp_path/"out").rglob("hpo_study.html")).read_text()
    import re
    assert not re.search(r"<img[^>]*onerror", page) and "&lt;img src=x onerror=alert(1)&gt;" in page   # no live tag (nbconvert reorders attributes)
    r = _hnn(["report", "hpo_study", "-p", "storage", "sqlite:///s.db", "-p", "study", "nosuch", "--output-dir", "out"], tmp_path)
    assert r.returncode != 0 and "no study 'nosuch' in sqlite:///" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr                   # the names there, escaped nowhere: a terminal line

# issue 27, deliverable 2: configs that would surprise are refused by `hnn run` in one line naming the file, the key and the
# line(s), before any folder exists
SURPRISES = {
    "dup_section.yaml": ("training:\n  epochs: 2\n  batch_size: 8\nmodel:\n  name: mlp\ntraining:\n  epochs: 3\n",
                         "dup_section.yaml: duplicate key training at lines 1 and 6"),
    "dup_key.yaml": ("training:\n  epochs: 2\n  epochs: 3\n", "dup_key.yaml: duplicate key training.epochs at lines 2 and 3"),
    "octal.yaml": ("seed: 010\n", "octal.yaml: seed = 010 (line 1) has a leading zero, which YAML 1.1 reads as octal (8); write 10"),
    "base60.yaml": ("seed: 1:30\n", "base60.yaml: seed = 1:30 (line 1) is a YAML 1.1 base-60 number (90)"),
    "equity0.yaml": ("backtest:\n  initial_equity: 0\n", "equity0.yaml: RunConfig.backtest.initial_equity = 0.0 must be above 0"),
    "cap.yaml": ("backtest:\n  position_cap: 2.01\n  leverage: 1.0\n",
                 "cap.yaml: RunConfig.backtest.position_cap = 2.01 x backtest.min_entry = 0.5 is above backtest.leverage = 1.0"),
}

@pytest.mark.parametrize("name", list(SURPRISES))
def test_configs_that_would_surprise_are_refused_before_any_folder(tmp_path, name):
    text, words = SURPRISES[name]
    (tmp_path/name).write_text(text)
    r = _hnn(["run", "--config", name, "--output-dir", "out"], tmp_path)
    assert r.returncode != 0 and words in r.stderr, r.stderr[-1000:]
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr[-1000:]
    assert not (tmp_path/"out").exists() and not (tmp_path/"reports").exists()  # nothing written

@pytest.mark.parametrize("sets, words", [
    (["backtest.initial_equity=0"], "backtest.initial_equity = 0.0 must be above 0"),
    (["backtest.position_cap=2.01", "backtest.leverage=1"], "keep position_cap <= leverage / min_entry = 2"),
])
def test_cross_field_conflicts_from_set_are_refused_before_any_folder(tmp_path, sets, words):
    (tmp_path/"configs").mkdir(); (tmp_path/"configs/demo.yaml").write_text((Path(__file__).resolve().parents[1]/"configs/demo.yaml").read_text())
    r = _hnn(["run", "--config", "configs/demo.yaml", *[a for s in sets for a in ("--set", s)], "--output-dir", "out"], tmp_path)
    assert r.returncode != 0 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr[-1000:]
    assert not (tmp_path/"out").exists()


# issue 27 (deliverable 3): data that is right or refused, through `hnn data validate` (today each of these says OK, blocks or reads whole)
_HDR = "Date,Open,High,Low,Close,Volume\n"
_ROW = "2024-01-02,10,11,9,10.5,100\n"

def _bad_data(d: Path, kind: str) -> str:
    "Make hostile data `kind` in folder `d`; return the path to validate."
    import gzip
    if kind == "dmy_block_after_iso":
        (d/"m.csv").write_text(_HDR + "2009-12-30,10,11,9,10.5,1\n2009-12-31,10,11,9,10.5,1\n05/01/2010,10,11,9,10.5,1\n06/01/2010,10,11,9,10.5,1\n"); return "m.csv"
    if kind == "two_time_columns":
        (d/"t.csv").write_text("timestamp,date,open,high,low,close,volume\n2024-01-02,2023-01-02,10,11,9,10.5,1\n"); return "t.csv"
    if kind == "epoch":
        (d/"e.csv").write_text("timestamp,open,high,low,close,volume\n1704153600,10,11,9,10.5,1\n"); return "e.csv"
    (d/"data").mkdir(); (d/"data/A.csv").write_text(_HDR + _ROW)
    if kind == "dangling_link": os.symlink(d/"gone.csv", d/"data/B.csv"); return "data"
    if kind == "folder_named_csv": (d/"data/B.csv").mkdir(); return "data"
    if kind == "fifo": os.mkfifo(d/"data/B.csv"); return "data/B.csv"
    with gzip.open(d/"data/bomb.csv.gz", "wb") as g:                       # 80 MB of text in ~0.2 MB
        g.write(_HDR.encode())
        for _ in range(300): g.write(_ROW.encode() * 10000)
    return "data/bomb.csv.gz"

@pytest.mark.parametrize("kind, words", [
    ("dmy_block_after_iso", "m.csv, row 3 (line 4), column 'date': day/month order is ambiguous in the 2 rows written d/m/y or m/d/y (rows 3 to 4"),
    ("two_time_columns", "t.csv, row 1 (line 2), column 'timestamp': the time columns 'timestamp' ('2024-01-02') and 'date' ('2023-01-02') disagree"),
    ("epoch", "e.csv, row 1 (line 2), column 'timestamp': '1704153600' looks like an epoch timestamp"),
    ("dangling_link", "data/B.csv: a symbolic link to"),
    ("folder_named_csv", "data/B.csv: a folder, not a data file"),
    ("fifo", "data/B.csv: a named pipe (FIFO), not a data file"),
    ("gzip_bomb", "data/bomb.csv.gz: decompresses to more than 67,108,864 bytes"),
])
def test_data_that_would_be_read_wrong_or_hang_is_refused_in_one_line(tmp_path, kind, words):
    r = subprocess.run([str(BIN/"hnn"), "data", "validate", _bad_data(tmp_path, kind)], cwd=tmp_path, capture_output=True, text=True,
                       timeout=120, env=dict(os.environ, OMP_NUM_THREADS="1"))              # a FIFO blocked for ever before
    assert r.returncode == 1 and words in r.stderr, (r.returncode, r.stdout[-500:], r.stderr[-1000:])
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr and "OK:" not in r.stdout, r.stderr[-1000:]


def test_a_config_that_does_not_fit_the_data_leaves_nothing(tmp_path):
    """Issue 27 (7): a valid config the bars cannot satisfy failed after claiming its folder, leaving one holding only
    config.yaml. Now the folder goes, and the folders made for it; a folder the user made stays."""
    (tmp_path/"configs").mkdir(); (tmp_path/"configs/demo.yaml").write_text((Path(__file__).resolve().parents[1]/"configs/demo.yaml").read_text())
    (tmp_path/"mine").mkdir()
    for out in ("out/deeper", "mine"):
        r = _hnn(["run", "--config", "configs/demo.yaml", "--set", "splits.min_train=100000", "--output-dir", out], tmp_path)
        assert r.returncode != 0 and "not enough bars" in r.stderr and "min_train 100000" in r.stderr, r.stderr[-1000:]
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr[-1000:]
    assert not (tmp_path/"out").exists() and (tmp_path/"mine").is_dir() and not any((tmp_path/"mine").iterdir())


# issue 27 (deliverable 7): times pandas cannot hold, or a local time a daylight-saving change skipped or repeated: one line
# naming the file, row and value (before: pandas' 'Out of bounds nanosecond timestamp' or its DST text, no file named)
@pytest.mark.parametrize("rows, tz, words", [
    (["2262-04-10", "2262-04-12"], "UTC", "late.csv, row 2 (line 3), column 'date': '2262-04-12' is outside the dates"),
    (["2024-03-10 01:00", "2024-03-10 02:30"], "America/New_York",
     "late.csv, row 2 (line 3), column 'date': '2024-03-10 02:30' does not exist (the clocks skipped it) in time zone America/New_York"),
    (["2024-11-03 00:30", "2024-11-03 01:30"], "America/New_York", "'2024-11-03 01:30' happens twice (the clocks went back)"),
])
def test_times_out_of_range_or_in_a_dst_change_are_refused_in_one_line(tmp_path, rows, tz, words):
    (tmp_path/"late.csv").write_text(_HDR + "".join(f"{t},10,11,9,10.5,1\n" for t in rows))
    r = _hnn(["data", "validate", "late.csv", "--tz", tz], tmp_path)
    assert r.returncode == 1 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr[-1000:]


@pytest.mark.parametrize("args", [["run", "--config", "configs/demo.yaml", "--run-id", "abc\n"],
                                  ["hpo", "stage1", "--quick", "--trials", "1", "--study", "s\n"]])
def test_a_name_ending_in_a_newline_is_refused(tmp_path, args):
    "Issue 27: run ids and study names were matched with `$`, which accepts a final newline."
    (tmp_path/"configs").mkdir(); (tmp_path/"configs/demo.yaml").write_text((Path(__file__).resolve().parents[1]/"configs/demo.yaml").read_text())
    r = _hnn(args, tmp_path)
    assert r.returncode != 0 and "letters, digits, '.', '_' and '-' only" in r.stderr and "Traceback" not in r.stderr, r.stderr[-1000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["configs"]          # nothing written


def test_set_values_search_spaces_and_empty_studies_get_one_line(tmp_path):
    """Issue 27: `--set` values and search spaces were read with plain yaml.safe_load (`--set seed=010` became 8, a
    duplicate key's last value won); `hnn hpo export` on a study without a complete trial said `StopIteration:`."""
    (tmp_path/"configs").mkdir(); (tmp_path/"configs/demo.yaml").write_text((Path(__file__).resolve().parents[1]/"configs/demo.yaml").read_text())
    (tmp_path/"sp.yaml").write_text("params:\n  model.hidden_dim: [8, 16]\n  model.hidden_dim: [4, 8]\n")
    cases = [(["run", "--config", "configs/demo.yaml", "--set", "seed=010", "--output-dir", "out"],
              "--set seed=010: seed = 010 (line 1) has a leading zero, which YAML 1.1 reads as octal (8); write 10"),
             (["hpo", "stage1", "--quick", "--space", "sp.yaml", "--trials", "1", "--storage", "sqlite:///x.db"],
              "sp.yaml: duplicate key params.model.hidden_dim at lines 2 and 3")]
    for args, words in cases:
        r = _hnn(args, tmp_path)
        assert r.returncode != 0 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr[-1000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["configs", "sp.yaml"]   # nothing written
    r = _hnn(["hpo", "stage1", "--quick", "--workers", "0", "--storage", "sqlite:///e.db", "--study", "e"], tmp_path)
    assert r.returncode == 0, r.stderr[-1000:]
    r = _hnn(["hpo", "export", "--storage", "sqlite:///e.db", "--study", "e"], tmp_path)
    assert r.returncode != 0 and r.stderr.strip() == "hnn: error: study 'e' has no complete trial to export", r.stderr[-1000:]
    assert not (tmp_path/"reports/hpo/e/top_trials.csv").exists()


@pytest.mark.parametrize("args", [["run", "--config", "{p}"], ["hpo", "stage1", "--quick", "--space", "{p}", "--trials", "1"],
                                  ["campaign", "{p}"]])
@pytest.mark.parametrize("kind", ["fifo", "dev_zero", "folder"])
def test_a_pipe_device_or_folder_named_as_a_yaml_file_is_refused(tmp_path, args, kind):
    "Review of issue 27: data paths were guarded, YAML files were not: a FIFO as --config hung, /dev/zero filled the memory."
    p = {"fifo": tmp_path/"c.yaml", "dev_zero": Path("/dev/zero"), "folder": tmp_path/"d.yaml"}[kind]
    if kind == "fifo": os.mkfifo(p)
    if kind == "folder": p.mkdir()
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run([str(BIN/"hnn"), *[a.format(p=p) for a in args]], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode not in (0, 124, 137) and f"{p}: not a regular file" in r.stderr, r.stderr[-1000:]
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr[-1000:]


def test_a_study_report_on_a_missing_storage_or_an_empty_study_writes_nothing(tmp_path):
    "Review of issue 27: a mistyped sqlite URL created an empty database and a folder; an empty study said StopIteration."
    r = _hnn(["report", "hpo_study", "-p", "storage", "sqlite:///nonexist.db", "-p", "study", "x"], tmp_path)
    assert r.returncode != 0 and "no study storage at" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr[-1000:]
    assert not any(tmp_path.iterdir())
    assert _hnn(["hpo", "stage1", "--quick", "--workers", "0", "--storage", "sqlite:///e.db", "--study", "e"], tmp_path).returncode == 0
    r = _hnn(["report", "hpo_study", "-p", "storage", "sqlite:///e.db", "-p", "study", "e"], tmp_path)
    assert r.returncode != 0 and r.stderr.strip() == "hnn: error: study 'e' has no complete trial to report on", r.stderr[-1000:]
    assert not (tmp_path/"reports").exists() or not any((tmp_path/"reports").rglob("*.ipynb"))


def test_a_date_window_outside_the_data_says_so(tmp_path):
    "Review of issue 27: data.start after the data's end said 'cannot infer bars per year from 0 timestamps'."
    (tmp_path/"configs").mkdir(); (tmp_path/"configs/demo.yaml").write_text((Path(__file__).resolve().parents[1]/"configs/demo.yaml").read_text())
    r = _hnn(["run", "--config", "configs/demo.yaml", "--set", "data.start=2019-01-01", "--output-dir", "out"], tmp_path)
    assert r.returncode != 0 and "data.start = 2019-01-01, data.end = None leaves no bars: the data runs from 1999-01-04" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path/"out").exists()


def test_a_link_to_another_file_of_the_data_folder_is_refused(tmp_path):
    "Review of issue 27: a symbolic link to a good file of the same folder was followed silently: one symbol, twice."
    import shutil
    root = Path(__file__).resolve().parents[1]
    d = tmp_path/"d"; d.mkdir()
    for f in ("nasdaq.csv.gz", "sp500.csv.gz"): shutil.copy(root/"data"/f, d/f)
    os.symlink("nasdaq.csv.gz", d/"nq_link.csv.gz")
    r = _hnn(["data", "validate", "d"], tmp_path)
    assert r.returncode != 0 and "nq_link.csv.gz and nasdaq.csv.gz are one file (a symbolic link)" in r.stdout + r.stderr, r.stdout + r.stderr
    (d/"nq_link.csv.gz").unlink(); os.symlink(root/"data"/"vix.csv.gz", d/"vix.csv.gz")    # a link to a file elsewhere is fine
    r = _hnn(["data", "validate", "d"], tmp_path)
    assert "one file" not in r.stdout + r.stderr

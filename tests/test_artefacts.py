"""Damaged artefacts and late errors (issue 27, deliverables 5 and 7), through the commands a user runs: a run folder's
equity.csv cut mid-line, its config.yaml or a trial's cut at a line boundary, a byte of its predictions changed: each
refused in one line naming the file (the artefact index, artefacts.json, records every file's size, sha256 and rows as
written), while an untouched copy still reads. A full disk names the file being written; epoch timestamps read with
data.time_unit."""
import os, shutil, subprocess, sys
from pathlib import Path
import pandas as pd
import pytest

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]
QUICK = ["--set", "training.epochs=1", "--set", "splits.n_folds=1", "--set", "model.name=mlp", "--set", "data.start=2012-01-01"]


def _hnn(args, cwd, timeout=600):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([str(BIN/"hnn"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    "One small real run (`hnn run`, no reports), copied by each test before it damages anything."
    d = tmp_path_factory.mktemp("made")
    shutil.copy(ROOT/"configs/demo.yaml", d/"demo.yaml")
    r = _hnn(["run", "--config", "demo.yaml", "--run-id", "r", "--no-report", "--quiet", *QUICK], d)
    assert r.returncode == 0, r.stderr[-2000:]
    return d/"reports/r"


def _copy(made, tmp_path) -> Path:
    shutil.copytree(made, tmp_path/"reports/r")
    return tmp_path/"reports/r"


def _refused(r, name, *words):
    "The command failed, and its error's first line names the file and what differs; no traceback."
    first = r.stderr.strip().splitlines()[0] if r.stderr.strip() else ""
    assert r.returncode != 0, (r.returncode, r.stdout[-1500:], r.stderr[-1500:])
    assert f"{name}: " in first and all(w in first for w in words), r.stderr[-2000:]
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr[-2000:]


def test_an_untouched_run_folder_still_reports(made, tmp_path):
    d = _copy(made, tmp_path)
    assert (d/"artefacts.json").exists()
    r = _hnn(["report", "backtest_tearsheet", "-p", "run_dir", "reports/r"], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (d/"backtest_tearsheet.html").exists()


def test_equity_cut_mid_line_is_refused_by_the_report(made, tmp_path):
    "Today: exit 0 on the cut curve next to the whole one's metrics."
    d = _copy(made, tmp_path)
    eq = d/"equity.csv"
    whole = eq.read_bytes()
    cut = whole[: len(whole) // 3 + 7]                       # mid-line, as a full disk or a broken copy leaves it
    eq.write_bytes(cut)
    rows = len(pd.read_csv(made/"equity.csv"))
    r = _hnn(["report", "backtest_tearsheet", "-p", "run_dir", "reports/r"], tmp_path)
    _refused(r, "equity.csv", f"{len(cut):,} bytes", f"written with {len(whole):,} bytes ({rows:,} rows)", "cut or changed since")


def test_config_cut_at_a_line_boundary_is_refused(made, tmp_path):
    "Still valid YAML: today the missing keys silently take their defaults."
    d = _copy(made, tmp_path)
    lines = (d/"config.yaml").read_text().splitlines(keepends=True)
    (d/"config.yaml").write_text("".join(lines[: len(lines) // 2]))
    r = _hnn(["report", "backtest_tearsheet", "-p", "run_dir", "reports/r"], tmp_path)
    _refused(r, "config.yaml", "cut or changed since")


def test_one_byte_of_the_predictions_changed_is_refused(made, tmp_path):
    d = _copy(made, tmp_path)
    p = d/"predictions.parquet"
    b = bytearray(p.read_bytes())
    b[len(b) // 2] ^= 0x01
    p.write_bytes(bytes(b))
    r = _hnn(["report", "model_evaluation", "-p", "run_dir", "reports/r"], tmp_path)
    _refused(r, "predictions.parquet", "sha256 differs", "changed since")


def test_a_trials_config_cut_at_a_line_boundary_is_refused_by_hpo_best(tmp_path):
    "Today `hnn hpo best` re-runs the trial with defaults for the missing keys and calls it trial N."
    url = "journal:///study.log"
    assert _hnn(["hpo", "stage1", "--quick", "--workers", "0", "--storage", url, "--study", "t"], tmp_path).returncode == 0
    r = _hnn(["hpo", "worker", "--storage", url, "--study", "t", "--trials", "1", "--no-prune"], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    cfg = next(tmp_path.rglob("trial_0000/config.yaml"))
    assert (cfg.parent/"artefacts.json").exists()           # a trial folder has no manifest: the index is per folder
    lines = cfg.read_text().splitlines(keepends=True)
    cfg.write_text("".join(lines[: len(lines) - 12]))
    r = _hnn(["hpo", "best", "--storage", url, "--study", "t", "--run-id", "b"], tmp_path)
    _refused(r, "config.yaml", "cut or changed since")
    assert "trial_0000" in r.stderr and not (tmp_path/"reports/b").exists()


def test_a_full_disk_names_the_file_being_written(tmp_path):
    "ENOSPC from the disk (os.fsync made to raise it, as a full tmpfs would): one line naming the path, no temp file left."
    shutil.copy(ROOT/"configs/demo.yaml", tmp_path/"demo.yaml")
    code = ("import errno, os, sys\n"
            "def full(fd): raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))\n"
            "os.fsync = full\n"
            "from hnn_trading.cli import main\n"
            f"sys.exit(main(['run', '--config', 'demo.yaml', '--run-id', 'full', '--no-report', '--quiet', *{QUICK!r}]))\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert r.returncode == 1, r.stderr[-2000:]
    line = r.stderr.strip().splitlines()
    assert len(line) == 1 and f"no space left on device writing {tmp_path/'reports/full'}" in line[0], r.stderr[-2000:]
    assert not list(tmp_path.rglob("*.tmp"))


def test_epoch_timestamps_read_with_data_time_unit(tmp_path):
    from hnn_trading.config import RunConfig, ConfigError
    from hnn_trading.data import load_data
    (tmp_path/"e.csv").write_text("timestamp,open,high,low,close,volume\n1704153600000,10,11,9,10.5,1\n1704240000000,10,11,9,10.6,1\n")
    c = RunConfig().override({"data.source": str(tmp_path/"e.csv"), "data.time_unit": "ms"})
    t = load_data(c.data).index.get_level_values("timestamp")
    assert [str(x.date()) for x in t] == ["2024-01-02", "2024-01-03"]
    with pytest.raises(ConfigError, match=r"data\.time_unit = 'minutes' is not allowed"):
        RunConfig().override({"data.time_unit": "minutes"})
    (tmp_path/"cfg.yaml").write_text("data: {source: e.csv, time_unit: minutes}\n")
    r = _hnn(["run", "--config", "cfg.yaml", "--output-dir", "out"], tmp_path)
    assert r.returncode != 0 and "data.time_unit" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr[-1000:]
    assert not (tmp_path/"out").exists()


def test_a_deleted_index_does_not_turn_the_checks_off(made, tmp_path):
    "Review of issue 27: deleting artefacts.json made the folder read as one from before the index, unchecked."
    d = _copy(made, tmp_path)
    (d/"artefacts.json").unlink()
    eq = d/"equity.csv"
    eq.write_text("".join(eq.read_text().splitlines(keepends=True)[:11]))       # 10 rows left
    r = _hnn(["report", "backtest_tearsheet", "-p", "run_dir", "reports/r"], tmp_path)
    _refused(r, "artefacts.json", "missing, but the run's manifest.json lists it")

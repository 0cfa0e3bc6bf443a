"""A package that installs (issue #13): build the wheel, install it into a fresh virtual environment outside the
checkout, and run `hnn demo --quick` and `hnn report` there, as a user who ran `pip install hnn-trading` would.

The fresh environment takes its dependencies (torch, optuna, ...) from the project's environment through a .pth
line instead of downloading them again, and links nbconvert's templates into its share/jupyter as nbconvert's own
install would; hnn_trading itself comes only from the wheel (checked), and reports run on the fresh environment's
Python (no kernelspec is shared)."""
import json, os, subprocess, sys, sysconfig, zipfile
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]

def sh(*cmd, cwd=None, env=None, timeout=900):
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout

@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", out, ROOT)
    (whl,) = out.glob("hnn_trading-*.whl")
    return whl

def test_wheel_carries_configs_templates_and_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for rel in ["configs/demo.yaml", "configs/search/stage1.yaml", "configs/search/stage2.yaml", "configs/search/demo_stage1.yaml",
                "data/sp500.csv.gz", "data/nasdaq.csv.gz", "data/vix.csv.gz", "templates/backtest_tearsheet.ipynb", "templates/overfitting.ipynb"]:
        assert f"hnn_trading/resources/{rel}" in names, rel
    assert not any(n.startswith(("nbs/", "tests/", "configs/")) for n in names)

def test_installed_wheel_runs_the_demo_and_a_report_outside_the_checkout(wheel, tmp_path):
    venv, work = tmp_path/"venv", tmp_path/"work"
    sh(sys.executable, "-m", "venv", venv); work.mkdir()
    py = venv/"bin"/"python"
    site = Path(sh(py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    (site/"project_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")   # dependencies only: no .pth of the checkout is read from there
    sh(py, "-m", "pip", "install", "--no-deps", "--no-index", "-q", wheel)
    (venv/"share"/"jupyter").mkdir(parents=True)                                 # nbconvert's HTML templates, as its own install would place them
    (venv/"share"/"jupyter"/"nbconvert").symlink_to(Path(sys.prefix)/"share"/"jupyter"/"nbconvert")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HNN_TEMPLATES", "HNN_DATA_DIR", "VIRTUAL_ENV")}
    env.update(PATH=f"{venv/'bin'}:{env['PATH']}", OMP_NUM_THREADS="1")
    where = sh(py, "-c", "import hnn_trading, hnn_trading.files as f; from hnn_trading.config import RunConfig; RunConfig.from_yaml('configs/demo.yaml'); print(hnn_trading.__file__); print(f.shipped('configs/demo.yaml'))", cwd=work, env=env).split()
    assert all(Path(w).is_relative_to(venv) for w in where), where                 # the installed copy, not the checkout
    hnn = venv/"bin"/"hnn"
    out = sh(hnn, "demo", "--quick", "--run-id", "w", "--set", "training.epochs=1", "--set", "splits.n_folds=2", cwd=work, env=env, timeout=1200)
    d = work/"reports"/"w"
    assert "index page:" in out and (d/"index.html").exists() and (d/"verdict.csv").exists()
    assert not list(d.glob("*.failed.ipynb")), "a report failed in the installed package"
    assert {"backtest_tearsheet.html", "overfitting.html", "hpo_study.html"} <= {p.name for p in d.iterdir()}
    manifest = json.loads((d/"manifest.json").read_text())
    assert manifest["git_commit"] is None                                          # an installed package is not a checkout
    out = sh(hnn, "report", "backtest_tearsheet", "-p", "run_dir", "reports/w", "--run-id", "again", cwd=work, env=env)
    assert (work/"reports"/"again"/"backtest_tearsheet.html").exists(), out
    out = sh(hnn, "data", "validate", "data/", cwd=work, env=env)               # the README's command, with no data/ here
    note = out.splitlines()[0]
    assert note.startswith("data/ not found here; validating the shipped copy at ") and Path(note.rsplit(" ", 1)[1]).is_relative_to(venv), note
    assert "OK: 2 symbols, 10,062 bars" in out
    assert not (work/"configs").exists() and not (work/"nbs").exists() and not (work/"data").exists()

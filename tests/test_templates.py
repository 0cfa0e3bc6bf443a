"""Every report template renders on a LightGBM run, as a user runs it (issue 28, deliverable 1).

A small LightGBM run on the bundled S&P 500 and NASDAQ data (`hnn run`, a config written here) and a two-trial LightGBM
study on IC (`hnn hpo stage1`), then `hnn report NAME -p run_dir RUN` for EVERY template `hnn report` lists (the study's
templates also get `-p storage URL -p study NAME`), each as a subprocess in a temporary folder. A template that assumes a
torch run (per-epoch losses, an AUC/DirAcc score) fails here: `hnn report overfitting` on any LightGBM run stopped with
KeyError: 'train_loss' before issue 28, and sharpe_correlation called an IC study's score "0.7 x AUC + 0.3 x DirAcc".
The torch, ensemble and multi-horizon runs are covered by tests/test_reports_cli.py (a demo run) and, whole, by the slow
tests/test_shipped_campaigns.py."""

import os, re, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CONFIG = """\
data: {source: us_indices, start: "2012-01-01"}
features: {set: core23}
labels: {kind: direction, horizon: 1}
splits: {n_folds: 2, val_block: 252, calib_size: 126, test_size: "2018-01-01"}
model: {name: lightgbm}
training: {progress: false}
strategy: {threshold_quantile: 0.5}
report: {templates: []}
"""


def _hnn(args, cwd, timeout=600):
    env = dict(os.environ, OMP_NUM_THREADS="1", PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    r = subprocess.run([str(BIN / "hnn"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"hnn {' '.join(args)} failed:\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"
    return r


def _templates() -> dict:
    "{name: [parameter names]} as `hnn report` lists them (a template added later is tested the day it lands)."
    out = _hnn(["report"], ROOT, timeout=120).stdout
    return {m[1]: re.findall(r"(\w+)=", m[2]) for m in re.finditer(r"^(\w+): (.*)$", out, re.M)}


TEMPLATES = _templates()


@pytest.fixture(scope="module")
def lgbm(tmp_path_factory):
    "(workspace, run folder, study storage, study name): a LightGBM run and a two-trial LightGBM study."
    ws = tmp_path_factory.mktemp("lgbm")
    (ws / "lgbm.yaml").write_text(CONFIG)
    _hnn(["run", "--config", "lgbm.yaml", "--run-id", "lgbm", "--output-dir", "reports", "--no-report", "--quiet"], ws)
    space = str(ROOT / "configs/search/lgbm_ic.yaml")
    _hnn(
        [
            "hpo",
            "stage1",
            "--config",
            "lgbm.yaml",
            "--space",
            space,
            "--trials",
            "2",
            "--study",
            "lg",
            "--output-dir",
            "hpo",
        ],
        ws,
    )
    return ws, ws / "reports/lgbm", "sqlite:///hpo/lg/study.db", "lg"


def test_the_templates_are_found():
    assert {
        "backtest_tearsheet",
        "model_evaluation",
        "overfitting",
        "hpo_study",
        "distribution_shift",
        "sharpe_correlation",
    } <= set(TEMPLATES)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_template_renders_on_a_lightgbm_run(lgbm, name):
    ws, run, storage, study = lgbm
    args = ["report", name, "-p", "run_dir", "reports/lgbm"]
    if "study" in TEMPLATES[name]:
        args += ["-p", "storage", storage, "-p", "study", study]
    out = _hnn(args, ws).stdout
    html = (run / f"{name}.html").read_text()
    assert f"html: {run / f'{name}.html'}" in out and not (run / f"{name}.failed.ipynb").exists()
    body = re.sub(r"<script.*?</script>|<style.*?</style>", "", html, flags=re.S)
    assert len(re.findall(r"<h1[ >]", body)) == 1 and "Traceback" not in body, name
    if name == "overfitting":  # LightGBM trains no epochs: said, not a KeyError
        assert "lightgbm trains no epochs" in body
    if name == "hpo_study":
        assert "Study <strong>lg</strong>" in body and "2 trials" in body
    if name == "sharpe_correlation":  # an IC study's score is its IC, not the AUC/DirAcc blend
        assert "objective <strong>ic</strong>" in body


def test_hpo_study_reads_a_pareto_study(tmp_path):
    "A two-objective study (configs/search/pareto.yaml makes one) is read on its first objective; it was refused."
    import optuna

    url = f"sqlite:///{tmp_path / 'p.db'}"
    st = optuna.create_study(study_name="p", storage=url, directions=["maximize", "maximize"])
    st.set_metric_names(["score", "sharpe"])
    st.optimize(lambda t: (t.suggest_float("model.dropout", 0, 0.5), -t.suggest_float("x", 0, 1)), n_trials=4)
    _hnn(
        ["report", "hpo_study", "-p", "storage", url, "-p", "study", "p", "--output-dir", "out", "--run-id", "p"],
        tmp_path,
    )
    body = (tmp_path / "out/p/hpo_study.html").read_text()
    best = max(st.trials, key=lambda t: t.values[0])
    assert (
        "2 objectives (score, sharpe); read here: the first" in body
        and f"best value <strong>{best.values[0]:.4f}</strong>" in body
    )

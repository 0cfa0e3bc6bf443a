"""Every shipped campaign file completes with its own report templates (issue 28, deliverable 1; slow, minutes each).

Each file in configs/campaigns/ runs as a user runs it: `hnn campaign configs/campaigns/FILE --quick` as a subprocess in a
temporary folder holding `configs/` (the quick block cuts the market and the trials, not the report templates: the ones
the file's `base.report.templates` lists are rendered, as the full campaign renders them). Then the campaign's folder is
read: results.csv (out of fold and held out, a row per study, the ensemble, buy and hold), studies.json (a selection
per study, the configurations counted, both periods), index.html (one page linking every report), and each report's
HTML page (one title, no error, no `.failed.ipynb`). Before issue 28 the LightGBM campaign stopped at its end with
`report 'overfitting' failed: KeyError: 'train_loss'` and wrote none of them; the suite ran only [backtest_tearsheet].

`hnn campaign FILE --quick --workers 2` runs each study's trials in two `hnn hpo worker` processes (issue 28, deliverable
6): their per-trial lines are printed, and the study holds the quick block's trials, no more."""

import json, os, re, shutil, subprocess, sys
from pathlib import Path
import optuna, pandas as pd, pytest, yaml
from hnn_trading.campaign import Campaign
from hnn_trading.studies import make_storage

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FILES = sorted(p.name for p in (ROOT / "configs/campaigns").glob("*.yaml"))
pytestmark = pytest.mark.slow


def _campaign(ws: Path, file: str, *extra) -> subprocess.CompletedProcess:
    "`hnn campaign configs/campaigns/FILE --quick ...` in `ws` (a copy of configs/ beside it, no data/)."
    shutil.copytree(ROOT / "configs", ws / "configs", dirs_exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    cmd = [str(BIN / "hnn"), "campaign", f"configs/campaigns/{file}", "--quick", "--quiet", *extra]
    r = subprocess.run(cmd, cwd=ws, env=env, capture_output=True, text=True, timeout=3000)
    assert r.returncode == 0, f"{file}: {r.stdout[-3000:]}\n{r.stderr[-5000:]}"
    return r


def _page(path: Path) -> str:
    "An HTML page's text without scripts and styles; it has exactly one title."
    body = re.sub(r"<script.*?</script>|<style.*?</style>", "", path.read_text(), flags=re.S)
    assert len(re.findall(r"<h1[ >]", body)) == 1, path
    return body


def test_the_quick_blocks_keep_the_files_own_templates():
    "The quick form cuts data and trials only: a campaign's quick run renders what its full run renders."
    for f in FILES:
        shipped = yaml.safe_load((ROOT / "configs/campaigns" / f).read_text())["base"]["report"]["templates"]
        assert Campaign.from_yaml(ROOT / "configs/campaigns" / f, quick=True).base.report.templates == shipped, f
        assert "overfitting" in shipped and "model_evaluation" in shipped, f


@pytest.mark.parametrize("file", FILES)
def test_a_shipped_campaign_completes_with_its_own_templates(tmp_path, file):
    camp = Campaign.from_yaml(ROOT / "configs/campaigns" / file, quick=True)
    out = _campaign(tmp_path, file).stdout
    d = tmp_path / "reports" / camp.name
    assert f"campaign folder: {d}" in out and "Held-out test" in out
    rows = list(camp.studies) + (["ensemble"] if camp.ensemble and len(camp.studies) > 1 else []) + ["buy and hold"]
    R = pd.read_csv(d / "results.csv", index_col=[0, 1])
    for period in ("out of fold", "held-out test"):
        assert list(R.loc[period].index[: len(rows)]) == rows, (period, list(R.loc[period].index))
        assert R.loc[period].loc[rows[:-1], "sharpe"].notna().all(), period
    info = json.loads((d / "studies.json").read_text())
    assert set(info["selection"]) == set(camp.studies) and info["main"] == (
        "ensemble" if "ensemble" in rows else rows[0]
    )
    assert info["n_configurations"] >= sum(s["trials"] for s in camp.studies.values())
    assert info["out_of_fold"]["bars"] > 0 and info["held_out_test"]["bars"] > 0
    for name, sel in info["selection"].items():
        assert sel["study"] == f"{camp.name}-{name}" and sel["trials"] >= 1, sel
    # the reports: the main run's (the campaign folder with an ensemble, else each chosen model's run folder)
    runs = [d] if "ensemble" in rows else [d / "models" / k for k in camp.studies]
    index = _page(d / "index.html")
    for run in runs:
        assert not list(run.glob("*.failed.ipynb")), run
        for name in camp.base.report.templates:
            body = _page(run / f"{name}.html")
            assert "Traceback" not in body, (run, name)
            href = f"{run.relative_to(d)}/{name}.html".removeprefix("./")
            assert f'href="{href}"' in index, (href, "not linked from the campaign's index page")
        over = _page(run / "overfitting.html")
        assert "Verdict." in over
        if run != d and camp.stage2:  # a chosen model's report finds its campaign's stage-2 study: PBO over its trials
            assert re.search(r"Over \d+ stage-2 strategy trials, the probability of backtest overfitting", over), run


def test_a_campaign_runs_its_studies_on_local_workers(tmp_path):
    "`--workers 2`: each study's trials run in `hnn hpo worker` processes (their trial lines), the trial count as asked."
    file = "lgbm_two_stage.yaml"
    camp = Campaign.from_yaml(ROOT / "configs/campaigns" / file, quick=True)
    out = _campaign(tmp_path, file, "--workers", "2", "--no-report").stdout
    assert re.search(r"^trial +\d+: ", out, re.M), out[-2000:]  # printed by the workers, not by the campaign itself
    url = f"journal:///{tmp_path / 'reports' / camp.name / 'hpo/studies.log'}"
    for name, spec in camp.studies.items():
        st = optuna.load_study(study_name=f"{camp.name}-{name}", storage=make_storage(url))
        done = [t for t in st.trials if t.state.name in ("COMPLETE", "PRUNED")]
        assert len(done) == spec["trials"], (name, [t.state.name for t in st.trials])
        trials = (tmp_path / "reports" / camp.name / "hpo" / name / "trials").resolve()
        assert all(Path(t.user_attrs["trial_dir"]).resolve().parent == trials for t in done), name
    assert (tmp_path / "reports" / camp.name / "results.csv").exists()

"""Issue 26, deliverable 5: the number of configurations a search looked at travels with the result it chose.

`hnn hpo stage1`, `hnn hpo stage2` and `hnn hpo best --stage2` run as a user runs them (subprocesses, in a temp folder,
tiny settings), then `hnn report overfitting` on the chosen run: the report's deflated Sharpe and its count are the ones
`selection.json` holds, and the count is every stage-1 trial plus every strategy trial of each top-k stage-2 search."""
import json, os, shutil, subprocess, sys
from pathlib import Path
import numpy as np, optuna, pytest
from hnn_trading.studies import make_storage
from hnn_trading.reports import period_table

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
URL = "journal:///reports/hpo/hnn-stage1/study.log"
S1, S2, K = 4, 12, 2

def _hnn(ws, *args):
    env = dict(os.environ, OMP_NUM_THREADS="1", PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    r = subprocess.run([str(BIN/"hnn"), *args], cwd=ws, env=env, capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, f"hnn {' '.join(args)}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout

@pytest.fixture(scope="module")
def chosen(tmp_path_factory):
    ws = tmp_path_factory.mktemp("dsr")
    shutil.copytree(ROOT/"configs", ws/"configs")
    _hnn(ws, "hpo", "stage1", "--storage", URL, "--quick", "--trials", str(S1))
    _hnn(ws, "hpo", "stage2", "--storage", URL, "--study", "hnn-stage1", "--top-k", str(K), "--trials", str(S2))
    out = _hnn(ws, "hpo", "best", "--storage", URL, "--study", "hnn-stage1", "--stage2", "--run-id", "best", "--no-report")
    _hnn(ws, "report", "overfitting", "-p", "run_dir", "reports/best")
    return ws, ws/"reports/best", out

def _study(ws, name):
    return optuna.load_study(study_name=name, storage=make_storage(URL.replace("journal:///", f"journal:///{ws}/")))

def test_the_count_is_every_configuration_looked_at(chosen):
    ws, d, _ = chosen
    sel = json.loads((d/"selection.json").read_text())
    s1 = [t for t in _study(ws, "hnn-stage1").trials if t.state.name == "COMPLETE"]
    rows = json.loads((ws/"reports/hpo/hnn-stage1/stage2.json").read_text())
    s2 = {r["stage1_trial"]: [t for t in _study(ws, f"hnn-stage1-stage2-t{r['stage1_trial']}").trials if t.state.name == "COMPLETE"] for r in rows}
    assert len(s2) == K and all(len(v) == S2 for v in s2.values())
    assert sel["n_configurations"] == len(s1) + sum(len(v) for v in s2.values()) == S1 + K * S2
    assert sel["configurations"] == {"stage 1": len(s1), **{f"stage 2 on trial {k}": len(v) for k, v in s2.items()}}
    want = sorted([np.nan_to_num(t.user_attrs["sharpe"]) / np.sqrt(t.user_attrs["periods_per_year"]) for t in s1]
                  + [np.nan_to_num(t.user_attrs.get("sr_per_bar", np.nan)) for v in s2.values() for t in v])
    np.testing.assert_allclose(sorted(sel["sr_trials"]), want, atol=1e-12)
    assert sel["n_configurations"] > sel["trials"] == S2                          # more than the chosen trial's own search

def test_the_run_and_the_overfitting_report_show_the_selection_dsr(chosen):
    ws, d, out = chosen
    sel, m = json.loads((d/"selection.json").read_text()), json.loads((d/"metrics.json").read_text())["strategy"]
    assert m["n_configurations"] == sel["n_configurations"]
    assert m["dsr"] == pytest.approx(sel["dsr"], abs=1e-9)                      # same Sharpe on the same bars, same count
    assert m["sharpe"] == pytest.approx(sel["sharpe"], abs=1e-9)
    nb = json.loads((d/"overfitting.ipynb").read_text())
    text = "".join("".join(o.get("data", {}).get("text/markdown", "")) for c in nb["cells"] for o in c.get("outputs", []))
    assert f"deflated Sharpe ratio of {sel['dsr']:.3f} over {sel['n_configurations']:,} configurations" in text
    assert "no deflation possible" not in text
    PT = period_table(d)
    oof = PT[(PT["configuration"] == "strategy") & (PT["period"] == "out of fold")].iloc[0]
    ins = PT[PT["period"] == "in-sample (selection)"].iloc[0]
    assert oof["dsr"] == pytest.approx(sel["dsr"], abs=1e-9) and oof["n_configurations"] == sel["n_configurations"]
    assert ins["dsr"] == sel["dsr"] and ins["n_configurations"] == sel["n_configurations"]
    assert oof["dsr"] != pytest.approx(m["psr"])                                 # not the PSR of a single look

def test_the_explorer_counts_its_looks_after_the_search(chosen):
    from hnn_trading.explorer import StrategyExplorer, metrics_line
    from hnn_trading.stats import deflated_sharpe, moments
    ws, d, _ = chosen
    sel = json.loads((d/"selection.json").read_text())
    ex = StrategyExplorer(d)
    N, own = sel["n_configurations"], ex.config.strategy.threshold
    t1, t2 = [t for t in (0.5, 0.52, 0.54) if t != own][:2]
    o = ex.evaluate()                                                            # the run's own settings: the search counted them
    a = ex.evaluate(threshold=t1); b = ex.evaluate(threshold=t2); c = ex.evaluate(threshold=t1)    # the last is no new look
    assert (o["n_looks"], a["n_looks"], b["n_looks"], c["n_looks"]) == (N, N + 1, N + 2, N + 2)
    srs = sel["sr_trials"] + [np.nan_to_num(moments(x["returns"].values)["sr"]) for x in (a, b)]
    assert b["dsr"] == pytest.approx(deflated_sharpe(b["returns"].values, srs), abs=1e-12)
    if b["trades"]: assert f"over {sel['n_configurations'] + 2:,} settings looked at" in metrics_line(b, html=False)

def test_an_ensemble_of_chosen_trials_counts_itself_and_its_members_carry_the_count(chosen):
    ws, d, _ = chosen
    _hnn(ws, "hpo", "best", "--storage", URL, "--study", "hnn-stage1", "--stage2", "--ensemble", "2", "--run-id", "top2", "--no-report")
    e, n = ws/"reports/top2", json.loads((d/"selection.json").read_text())["n_configurations"]
    for k in json.loads((e/"ensemble.json").read_text())["weights"]:
        sel, m = json.loads((e/f"models/{k}/selection.json").read_text()), json.loads((e/f"models/{k}/metrics.json").read_text())["strategy"]
        assert sel["n_configurations"] == m["n_configurations"] == n and m["dsr"] != m["psr"]
    sel, m = json.loads((e/"selection.json").read_text()), json.loads((e/"metrics.json").read_text())["strategy"]
    assert sel["n_configurations"] == m["n_configurations"] == n + 1 and sel["configurations"]["ensembles"] == 1
    oof = period_table(e).set_index("period").loc["out of fold"]
    oof = oof[oof["configuration"] == "strategy"].iloc[0]
    assert oof["n_configurations"] == n + 1 and oof["dsr"] == pytest.approx(m["dsr"])

"""optuna-dashboard on a stage-2 study made with the `hnn` command (issue 24): infeasible trials are marked, and which trial the
dashboard crowns "Best Trial" -- the project's best through `studies.serve_dashboard`, the highest value, feasible or not, through the
plain `optuna-dashboard URL` command (its storage does not read constraints: the documented limit)."""
import json, os, re, shutil, socket, subprocess, sys, time, urllib.request
from pathlib import Path
import optuna, pytest

pytest.importorskip("optuna_dashboard", reason="optuna-dashboard is not installed (pip install optuna-dashboard)")
BIN = Path(sys.executable).parent
SPACE = """objective: sharpe
min_trades: 50               # many trials trade less: infeasible, each keeping its real Sharpe
params:
  strategy.threshold_quantile: {type: float, low: 0.50, high: 0.995}
  strategy.sizing:            {type: categorical, choices: [fixed, confidence]}
  strategy.max_hold:          {type: int, low: 0, high: 20}
"""

def _hnn(args, cwd):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run([str(BIN/"hnn"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return r

@pytest.fixture(scope="module")
def study(tmp_path_factory):
    "A stage-2 study made as a user makes it: `hnn hpo stage1 --quick`, then `hnn hpo stage2 --space` with a strict min_trades."
    ws = tmp_path_factory.mktemp("dashboard")
    (ws/"space.yaml").write_text(SPACE)
    _hnn(["hpo", "stage1", "--quick", "--trials", "2", "--workers", "1", "--storage", "sqlite:///study.db", "--study", "dash", "--no-prune"], ws)
    _hnn(["hpo", "stage2", "--storage", "sqlite:///study.db", "--study", "dash", "--top-k", "1", "--trials", "20", "--space", "space.yaml"], ws)
    row = json.loads((ws/"reports/hpo/dash/stage2.json").read_text())[0]
    s2 = optuna.load_study(study_name=f"dash-stage2-t{row['stage1_trial']}", storage=f"sqlite:///{ws}/study.db")
    done = [t for t in s2.trials if t.state.name == "COMPLETE"]
    top = max(done, key=lambda t: t.value)
    assert top.constraints["min_trades"] > 0, "no infeasible trial outranks the feasible ones: this study cannot show the difference"
    assert s2.best_trial.value == row["best_sharpe"]                    # the project's choice (stage2.json) is study.best_trial
    return ws, s2, top

def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]

def _get(url):
    with urllib.request.urlopen(url, timeout=30) as r: return json.loads(r.read())

def _serve(cmd, cwd, port):
    "Start a dashboard server; return the process once its API answers."
    p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(240):
        try: _get(f"http://127.0.0.1:{port}/api/studies"); return p
        except OSError: time.sleep(0.5)
        if p.poll() is not None: break
    p.kill(); pytest.fail("the dashboard did not start: " + p.stderr.read().decode()[-2000:])

def _look(study, port, browser, png):
    "The study's detail as the dashboard's page fetches it, the trial its page names Best Trial, and a screenshot."
    ws, s2, _ = study
    sid = next(s["study_id"] for s in _get(f"http://127.0.0.1:{port}/api/studies")["study_summaries"] if s["study_name"] == s2.study_name)
    detail = _get(f"http://127.0.0.1:{port}/api/studies/{sid}")
    page = f"http://127.0.0.1:{port}/dashboard/studies/{sid}"
    dom = browser.dom(page, budget=20000)
    shown = re.search(r"Best Trial \(number=(\d+)\)", dom)
    assert shown, dom[-1500:]
    assert "Infeasible" in dom                                           # the timeline's legend: infeasible trials drawn apart
    browser.screenshot(page, png, size="1400,1400", budget=20000)
    return detail, int(shown.group(1))

def _marked(detail, s2):
    "Every trial carries the constraint list the dashboard reads, with Optuna's feasibility."
    by = {t.number: t for t in s2.trials}
    for t in detail["trials"]:
        if t["state"] != "Complete": continue
        assert t["constraints"] == [by[t["number"]].constraints["min_trades"]], t["number"]

def _stop(p):
    p.terminate()
    try: p.wait(timeout=20)
    except subprocess.TimeoutExpired: p.kill()

def test_project_dashboard_crowns_the_project_best(study, browser, shots):
    "`studies.serve_dashboard`: the dashboard's Best Trial is study.best_trial (the feasible one stage2.json chose); infeasible trials marked."
    ws, s2, top = study
    port = _port()
    code = f"from hnn_trading.studies import serve_dashboard; serve_dashboard('sqlite:///study.db', {port})"
    p = _serve([sys.executable, "-c", code], ws, port)
    try: detail, shown = _look(study, port, browser, shots/"project_dashboard.png")
    finally: _stop(p)
    _marked(detail, s2)
    assert [t["number"] for t in detail["best_trials"]] == [s2.best_trial.number] and shown == s2.best_trial.number
    assert shown != top.number

def test_plain_optuna_dashboard_marks_infeasible_trials_but_crowns_the_highest_value(study, browser, shots):
    "The limit, proven: `optuna-dashboard URL` marks infeasible trials (grey, \"Infeasible\") but its Best Trial is the highest value."
    ws, s2, top = study
    exe = shutil.which("optuna-dashboard", path=str(BIN)) or shutil.which("optuna-dashboard")
    if exe is None: pytest.skip("the optuna-dashboard command is not installed")
    port = _port()
    p = _serve([exe, "sqlite:///study.db", "--host", "127.0.0.1", "--port", str(port), "--quiet"], ws, port)
    try: detail, shown = _look(study, port, browser, shots/"plain_optuna_dashboard.png")
    finally: _stop(p)
    _marked(detail, s2)
    assert shown == top.number and top.number != s2.best_trial.number    # if this fails, the dashboard learnt constraints: drop the limit note

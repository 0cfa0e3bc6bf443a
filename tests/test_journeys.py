"""Journeys (issue 11): every command the README and the `--help` texts show, run as a user runs it.

The commands are collected at test time from README.md's ```sh blocks and from the `Examples:` block that ends each
subcommand's `--help`, so an example is tested the day it is written. Each runs as a subprocess of the installed `hnn`,
in a clean folder holding `configs/` and NO `data/` (the bundled data comes from the package's shipped copy, as for a user
of an installed package), with quick-sized settings (SIZE).
The tests then read the artefacts the commands wrote: trial counts, files, numbers. Nothing here writes a study's or a
run's internals by hand."""
import collections, fcntl, json, math, os, pty, re, shlex, shutil, signal, struct, subprocess, sys, termios, threading, time
from pathlib import Path
import numpy as np, pandas as pd, optuna, pytest, yaml
from hnn_trading.cli import commands, groups
from hnn_trading.studies import make_storage

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
optuna.logging.set_verbosity(optuna.logging.WARNING)

# Quick-sized settings per subcommand: a flag's value is replaced (or the flag added); --set pairs are appended.
SIZE = {"demo": [("--quick", None)],
        "run": [("--set", "training.epochs=1"), ("--set", "splits.n_folds=2"), ("--set", "report.templates=[backtest_tearsheet]")],   # the demo runs every template
        "hpo stage1": [("--quick", None), ("--trials", "4")],
        "hpo worker": [("--trials", "2")],
        "hpo stage2": [("--trials", "30"), ("--top-k", "2")],
        "hpo best": [("--no-report", None)]}
# The order a user follows: a report on a run comes after the run, stage 2 after stage 1, ...
PHASES = ["data validate", "report", "run", "report NAME", "demo", "hpo stage1", "hpo worker", "hpo stage2", "hpo export", "hpo best", "campaign"]

def _env():
    return dict(os.environ, OMP_NUM_THREADS="1", PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")

def _hnn(args, cwd, timeout=900, **kw):
    return subprocess.run([str(BIN/"hnn"), *args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout, **kw)

def _sh_commands(text:str) -> list:
    "The `hnn ...` lines of the ```sh blocks of a Markdown text, comments stripped."
    out = []
    for block in re.findall(r"```(?:sh|bash|shell)\n(.*?)```", text, re.S):
        out += [l.split(" #")[0].strip() for l in block.splitlines() if l.strip().startswith("hnn ")]
    return out

def _help_examples(path:str) -> list:
    "The commands of the Examples block of `hnn PATH --help` (a command continued with ` \\` is one command)."
    r = _hnn([*path.split(), "--help"], cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    block = r.stdout.split("Examples:\n", 1)[1] if "Examples:\n" in r.stdout else ""
    block = re.sub(r" \\\n\s*", " ", block)
    return [l.split(" #")[0].strip() for l in block.splitlines() if l.strip().startswith("hnn ")]

def _path_of(argv:list) -> str:
    "The subcommand an argv runs (the longest registered path it starts with)."
    words = argv[1:]
    hits = [p for p in commands() if words[:len(p.split())] == p.split()]
    assert hits, f"{shlex.join(argv)}: not a registered hnn subcommand"
    return max(hits, key=len)

def _phase(argv) -> int:
    p = _path_of(argv)
    if p == "report" and len(argv) > 2 and not argv[2].startswith("-"): p = "report NAME"
    return PHASES.index(p)

def _sized(argv:list) -> list:
    a = list(argv)
    for flag, val in SIZE.get(_path_of(argv), []):
        if flag == "--set": a += [flag, val]
        elif flag in a:
            if val is not None: a[a.index(flag) + 1] = val
        else: a += [flag] + ([val] if val is not None else [])
    return a

def documented() -> list:
    "Every documented command (README, then each --help), de-duplicated, as argv lists."
    cmds = _sh_commands((ROOT/"README.md").read_text())
    for p in commands(): cmds += _help_examples(p)
    seen, out = set(), []
    for c in cmds:
        if c not in seen: seen.add(c); out.append(shlex.split(c))
    return out

@pytest.fixture(scope="module")
def journey(tmp_path_factory):
    "A clean folder with configs/ and no data/, and every documented command run there in a user's order."
    ws = tmp_path_factory.mktemp("user")
    shutil.copytree(ROOT/"configs", ws/"configs")                               # no data/: `hnn data validate data/` reads the shipped copy
    log, seen = [], {}
    for argv in sorted(documented(), key=_phase):                     # sorted() is stable: examples keep their order within a phase
        a = _sized(argv)
        if _canonical(a) in seen:                                     # e.g. `hnn demo` and `hnn demo --quick` are one command once sized
            seen[_canonical(a)]["documented"] += " | " + shlex.join(argv); continue
        t0 = time.time(); r = _hnn(a[1:], cwd=ws)
        log.append(dict(documented=shlex.join(argv), argv=a, path=_path_of(argv), rc=r.returncode, out=r.stdout, err=r.stderr, secs=time.time() - t0))
        seen[_canonical(a)] = log[-1]
    return ws, log

def _canonical(a:list) -> tuple:
    "An argv as a set of (flag, value) pairs, so the same command with its options in another order is one command."
    words, out, i = a[1:], [], 0
    while i < len(words):
        if words[i].startswith("-") and i + 1 < len(words) and not words[i + 1].startswith("-"): out.append((words[i], words[i + 1])); i += 2
        else: out.append((words[i],)); i += 1
    return tuple(sorted(out))

def _ran(log, path, *must):
    "Log entries of `path` whose argv holds every string of `must`."
    return [e for e in log if e["path"] == path and all(m in e["argv"] for m in must)]

def _study(ws, url, name):
    return optuna.load_study(study_name=name, storage=make_storage(url.replace("journal:///", f"journal:///{ws}/").replace("sqlite:///", f"sqlite:///{ws}/")))

JOURNAL = "journal:///reports/hpo/hnn-stage1/study.log"

def test_every_subcommand_documents_examples_and_the_readme_lists_commands():
    for p in commands(): assert _help_examples(p), f"`hnn {p} --help` has no Examples: block"
    readme = _sh_commands((ROOT/"README.md").read_text())
    assert len(readme) >= 8 and all(_path_of(shlex.split(c)) for c in readme)
    assert not re.search(r"^# #|^#$", (ROOT/"README.md").read_text(), re.M), "README has commented-markdown lines"

def test_every_documented_command_succeeds(journey):
    ws, log = journey
    assert {e["path"] for e in log} >= {"demo", "run", "data validate", "report", "hpo stage1", "hpo worker", "hpo stage2", "hpo export", "hpo best"}
    bad = [f"$ {shlex.join(e['argv'])}  (documented as `{e['documented']}`)\nexit {e['rc']}\n{e['err'][-2500:]}" for e in log if e["rc"] != 0]
    assert not bad, "\n\n".join(bad)
    assert not any("Traceback" in e["err"] for e in log), [e["documented"] for e in log if "Traceback" in e["err"]]
    print("\n".join(f"{e['secs']:6.1f} s  {shlex.join(e['argv'])}" for e in log))

def test_data_validate_and_report_list(journey):
    ws, log = journey
    v = _ran(log, "data validate", "data/")[0]
    assert not (ws/"data").exists()
    assert v["out"].startswith("data/ not found here; validating the shipped copy at "), v["out"][:300]
    assert "OK: 2 symbols, 10,062 bars" in v["out"] and "series VIX" in v["out"]
    from hnn_trading.reports import available_reports
    lst = [e for e in _ran(log, "report") if len(e["argv"]) == 2][0]
    for n in available_reports(): assert f"{n}:" in lst["out"], n

def test_run_and_its_report(journey):
    ws, log = journey
    d = ws/"reports"/"my-run"
    for f in ["config.yaml", "manifest.json", "metrics.json", "equity.csv", "trades.csv", "folds.csv", "predictions.parquet", "backtest_tearsheet.html", "index.html"]:
        assert (d/f).exists(), f
    assert len(pd.read_csv(d/"folds.csv")) == 2                                  # the sized run: 2 folds
    m = json.loads((d/"metrics.json").read_text())
    assert 0 < m["walk_forward"]["auc"] < 1 and math.isfinite(m["benchmark"]["sharpe"])
    assert "Verdict" in (d/"model_evaluation.html").read_text()                   # `hnn report model_evaluation -p run_dir reports/my-run`
    assert (d/"model_evaluation.html").stat().st_mode & 0o044, "artefacts must follow the umask, not be 0600"
    man = json.loads((d/"manifest.json").read_text())
    assert man["periods_per_year"] == 252 and man["periods_per_year_source"].startswith("inferred: 1 bar a day x 252 days")   # daily bars, not set in demo.yaml
    assert yaml.safe_load((d/"config.yaml").read_text())["data"]["periods_per_year"] == 252

def test_output_a_person_can_read(journey):
    "No kernel noise, no warning tracebacks interleaved with progress: warnings end up summarised, and all of them in the run folder."
    ws, log = journey
    for e in log: assert "Kernel is running over TCP" not in e["err"] + e["out"], e["documented"]
    for e in _ran(log, "run") + _ran(log, "demo"):
        assert "warnings.warn(" not in e["err"], e["documented"]                   # the source line Python prints under each raw warning
        d = Path(re.search(r"^run folder: (.*)$", e["out"], re.M).group(1))
        if (d/"warnings.txt").exists(): assert f"warnings (all in {d/'warnings.txt'})" in e["err"]

def test_stage1_worker_and_numbers_that_agree(journey):
    ws, log = journey
    st = _study(ws, JOURNAL, "hnn-stage1")
    done = [t for t in st.trials if t.state.name == "COMPLETE"]
    nums = [t.number for t in st.trials]
    assert len(nums) == len(set(nums))
    n_stage1 = 4                                                                  # every stage-1 example on this study is sized to 4 trials: the later ones resume it
    n_workers = len(_ran(log, "hpo worker", "hnn-stage1"))
    assert len([t for t in st.trials if t.state.name in ("COMPLETE", "PRUNED")]) == n_stage1 + 2 * n_workers
    for t in done:
        ua = t.user_attrs
        assert (Path(ua["trial_dir"])/"predictions.parquet").exists() and (Path(ua["trial_dir"])/"config.yaml").exists()
        assert abs(t.value - (0.7 * ua["auc_fold_mean"] + 0.3 * ua["dir_acc_fold_mean"])) < 1e-12   # the score is what its parts say
        assert 0 < ua["auc_pooled"] < 1 and ua["n_bars"] > 0
    assert "objective" in st.user_attrs and "auc_fold_mean" in st.user_attrs["objective"]
    out = _ran(log, "hpo stage1", "--workers")[0]["out"]
    assert "hnn hpo stage2 --storage" in out and re.search(r"trial +\d+: 0\.\d+", out)   # a line per trial, and the next step

def test_hybrid_and_pareto_from_the_command_line(journey):
    ws, log = journey
    hy = _study(ws, "sqlite:///reports/hpo/hybrid/study.db", "hybrid")
    w = yaml.safe_load((ws/"configs/search/hybrid.yaml").read_text())["weights"]
    done = [t for t in hy.trials if t.state.name == "COMPLETE"]
    assert len(done) == 4
    for t in done:                                                                # the hybrid objective ran, not stage 1
        ua = t.user_attrs; sr = 0.0 if ua["sharpe"] is None or np.isnan(ua["sharpe"]) else ua["sharpe"]   # no trade: Sharpe 0, infeasible
        assert abs(t.value - (w["auc"] * ua["auc_fold_mean"] + w["dir_acc"] * ua["dir_acc_fold_mean"] + w["sharpe"] * np.clip(sr, -3, 3) / 3)) < 1e-12
    pa = _study(ws, "sqlite:///reports/hpo/pareto/study.db", "pareto")
    assert len(pa.directions) == 2 and pa.metric_names == ["score", "sharpe"]
    done = [t for t in pa.trials if t.state.name == "COMPLETE"]
    assert len(done) == 4 and all(len(t.values) == 2 for t in done)
    feasible = [t for t in done if t.constraints.get("sharpe_defined", 0) <= 0]
    assert {t.number for t in pa.best_trials} <= {t.number for t in feasible} and bool(pa.best_trials) == bool(feasible)

def test_stage2_over_the_top_k_and_export(journey):
    ws, log = journey
    d = ws/"reports/hpo/hnn-stage1"
    rows = json.loads((d/"stage2.json").read_text(), parse_constant=lambda c: pytest.fail(f"stage2.json holds {c}"))
    st = _study(ws, JOURNAL, "hnn-stage1")
    top = sorted([t for t in st.trials if t.state.name == "COMPLETE"], key=lambda t: -t.value)[:2]
    assert [r["stage1_trial"] for r in rows] == [t.number for t in top]           # each of the K best, best first
    for r in rows:
        s2 = _study(ws, JOURNAL, f"hnn-stage1-stage2-t{r['stage1_trial']}")
        assert r["strategy_trials"] == len(s2.trials) == 30
    e = d/"export"
    for f in ["top_trials.csv", "history.csv", "best_config.yaml", "importances.json", "sharpe_correlation.json"]: assert (e/f).exists(), f
    sc = json.loads((e/"sharpe_correlation.json").read_text(), parse_constant=lambda c: pytest.fail(f"sharpe_correlation.json holds {c}"))
    done = [t for t in st.trials if t.state.name == "COMPLETE"]; n = len(done)
    with_sharpe = [t for t in done if t.user_attrs.get("sharpe") is not None and np.isfinite(t.user_attrs["sharpe"])]   # a trial that never traded has none
    assert sc["n_trials"] == n and sc["group_size"] == len(with_sharpe) // 2 and "half" in sc["groups"]   # fewer than 20 trials: halves that do not overlap
    assert sc["nan_sharpe_share"] == pytest.approx(1 - len(with_sharpe) / n)
    assert len(pd.read_csv(e/"top_trials.csv")) == min(10, n)

def test_best_reruns_the_chosen_configuration(journey):
    ws, log = journey
    rows = {r["stage1_trial"]: r for r in json.loads((ws/"reports/hpo/hnn-stage1/stage2.json").read_text())}
    d = ws/"reports/best"
    cfg = yaml.safe_load((d/"config.yaml").read_text())
    chosen = [r for r in rows.values() if r["best_params"] and all(cfg["strategy"][k.split(".")[1]] == v for k, v in r["best_params"].items())]
    assert len(chosen) == 1
    m = json.loads((d/"metrics.json").read_text())
    assert abs(m["strategy"]["sharpe"] - chosen[0]["best_sharpe"]) < 1e-9         # the re-run reproduces the stage-2 number it was chosen for
    sel = json.loads((d/"selection.json").read_text())
    assert sel["sharpe"] == chosen[0]["best_sharpe"] and sel["dsr_stage2"] == chosen[0]["deflated_sharpe"] and sel["trials"] == 30
    assert sel["n_configurations"] == sum(sel["configurations"].values()) == len(sel["sr_trials"]) > 30  # every look counted
    out = _ran(log, "hpo best", "--stage2")[0]["out"]
    assert "in-sample (selection)" in out and "out of fold" in out
    e = ws/"reports/top2"                                                          # --ensemble 2: the two best trials and their ensemble
    ens = json.loads((e/"ensemble.json").read_text())
    st = _study(ws, JOURNAL, "hnn-stage1")
    top = sorted([t for t in st.trials if t.state.name == "COMPLETE"], key=lambda t: -t.value)[:2]
    assert sorted(ens["weights"]) == sorted(f"trial{t.number}" for t in top) and abs(sum(ens["weights"].values()) - 1) < 1e-12
    aucs = {k: json.loads((e/f"models/{k}/metrics.json").read_text())["walk_forward"]["auc"] for k in ens["weights"]}
    edge = {k: max(a - 0.5, 0) for k, a in aucs.items()}
    if sum(edge.values()) > 0: assert all(abs(ens["weights"][k] - edge[k] / sum(edge.values())) < 1e-12 for k in edge)   # AUC out of fold
    P = pd.read_parquet(e/"predictions.parquet"); M = {k: pd.read_parquet(e/f"models/{k}/predictions.parquet") for k in ens["weights"]}
    fw = {int(f): w for f, w in ens["fold_weights"].items()}                     # out of fold: fold k weighted by the folds before it
    assert all(abs(v - 1 / len(M)) < 1e-12 for v in fw[min(fw)].values())          # the first fold has no past: equal weights
    for f, w in fw.items():
        mine = lambda k: M[k].loc[M[k]["fold"] == f, "p_up"].values
        np.testing.assert_allclose(P.loc[P["fold"] == f, "p_up"].values, sum(w[k] * mine(k) for k in M), atol=1e-12)

def test_a_stage1_study_resumes_after_an_interruption(journey):
    ws, _ = journey
    n = 16                                                                        # enough that a loaded machine still interrupts it mid-way
    cmd = ["hpo", "stage1", "--quick", "--workers", "2", "--trials", str(n), "--study", "resume", "--no-prune"]
    p = subprocess.Popen([str(BIN/"hnn"), *cmd], cwd=ws, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))   # as a terminal starts it: a test runner may ignore SIGINT, and hnn honours an inherited SIG_IGN
    url, deadline = "journal:///reports/hpo/resume/study.log", time.time() + 300
    while time.time() < deadline:
        time.sleep(0.5)
        try: st = _study(ws, url, "resume")
        except Exception: continue
        if len([t for t in st.trials if t.state.name == "COMPLETE"]) >= 2: break
    else: os.killpg(p.pid, signal.SIGKILL); pytest.fail("no two trials completed")
    os.killpg(p.pid, signal.SIGINT); p.wait(timeout=120)                          # Ctrl-C in the terminal
    st = _study(ws, url, "resume")
    before = {t.number: t.value for t in st.trials if t.state.name == "COMPLETE"}
    assert 2 <= len(before) < n, "the interruption came too late to test a resume"
    r = _hnn(cmd, cwd=ws)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"{len(before)} of {n} trials finished" in r.stdout
    st = _study(ws, url, "resume")
    after = {t.number: t.value for t in st.trials if t.state.name == "COMPLETE"}
    assert len(after) == n and all(after[k] == v for k, v in before.items())       # exactly the trials asked; nothing completed was lost
    assert not [t for t in st.trials if t.state.name == "RUNNING"]

# The demo's run folder, as `hnn demo --quick` wrote it in the journey (moved here from test_reports_cli: one demo run, not two).
@pytest.fixture(scope="module")
def cli_demo(journey):
    "`hnn demo --quick` as the journey ran it (a documented command), and the run folder it wrote."
    ws, log = journey
    e = _ran(log, "demo", "--quick")[0]
    d = Path(re.search(r"^run folder: (.*)$", e["out"], re.M).group(1))
    return subprocess.CompletedProcess(e["argv"], e["rc"], e["out"], e["err"]), d

def test_demo_end_to_end_through_the_cli(cli_demo):
    """Models, studies, verdict table, artefacts, manifest, every report template executed by papermill, the index page."""
    from hnn_trading.reports import available_reports
    r, d = cli_demo
    assert r.returncode == 0, r.stderr[-3000:]
    for f in ["config.yaml", "metrics.json", "equity.csv", "trades.csv", "folds.csv", "predictions.parquet", "manifest.json", "equity.png",
              "tearsheet.html", "verdict.csv", "studies.json", "index.html", "hpo/study.json", "hpo/studies.log", "hpo/stage1/top_trials.csv",
              "hpo/stage2/best_config.yaml", "models/mlp/metrics.json", "models/mlp/predictions.parquet"]:
        assert (d/f).exists(), f
    assert len(available_reports()) >= 6
    for name in available_reports():                    # every template ran through papermill, with a verdict and at least one figure
        html = (d/f"{name}.html").read_text()
        assert "Verdict" in html and "<img" in html, name
        assert not (d/f"{name}.failed.ipynb").exists(), name
    V = pd.read_csv(d/"verdict.csv", index_col=0)
    assert list(V.index) == ["hermite", "mlp", "hermite + stage-2 strategy (chosen on the out-of-fold bars)", "buy and hold"]
    assert V[["sharpe", "sharpe_se", "dsr", "max_drawdown", "trades"]].notna().all().all() and V.loc["hermite", "auc"] > 0
    assert ((V["dsr"] >= 0) & (V["dsr"] <= 1)).all()
    held = V.drop(index="hermite + stage-2 strategy (chosen on the out-of-fold bars)")      # its threshold may pass nothing in 2018
    assert held[["test_sharpe", "test_sharpe_se", "test_dsr", "test_trades"]].notna().all().all() and V.loc["hermite", "test_auc"] > 0
    assert "Held-out test, 2018-01-02 to 2018-12-31" in r.stdout and "On the held-out test period, which no choice saw" in r.stdout
    for k in ["hermite", "mlp", "buy and hold", "DSR", "index page: " + str(d/"index.html")]: assert k in r.stdout, k
    m = json.loads((d/"metrics.json").read_text())
    man = json.loads((d/"manifest.json").read_text())
    assert man["seed"] == 42 and man["data_fingerprint"] and man["timings"]["walk_forward"] > 0
    assert m["strategy"]["costs"] > 0 and m["benchmark"]["costs"] > 0       # fills at the next open, with costs, for both
    P, PT = pd.read_parquet(d/"predictions.parquet"), pd.read_parquet(d/"test_predictions.parquet")
    assert P.timestamp.min() >= pd.Timestamp("2014-12-01", tz="UTC") and P.timestamp.max() < pd.Timestamp("2018-01-01", tz="UTC") <= PT.timestamp.min()
    assert 2 * 3 * 252 - 3 <= len(P) <= 2 * 3 * 252          # three yearly blocks x two indices, less any bar whose core23 features are NaN
    assert 2 * 251 - 3 <= len(PT) <= 2 * 251 and m["test"]["bars"] == 251    # 2018, held out (less any bar without a prediction)
    assert abs(V.loc["hermite", "test_sharpe"] - m["test"]["strategy"]["sharpe"]) < 1e-9
    # the verdict's rows are the runs' own numbers
    assert abs(V.loc["hermite", "sharpe"] - m["strategy"]["sharpe"]) < 1e-9 and abs(V.loc["buy and hold", "sharpe"] - m["benchmark"]["sharpe"]) < 1e-9

def test_failing_template_exits_nonzero_and_keeps_the_earlier_report(cli_demo):
    r, d = cli_demo
    before = (d/"overfitting.html").read_bytes(), (d/"overfitting.ipynb").read_bytes()
    bad = _hnn(["report", "overfitting", "-p", "run_dir", str(d), "-p", "n_groups", "3", "--output-dir", str(d.parent), "--run-id", d.name], cwd=d.parent)
    assert bad.returncode != 0 and "must be even" in bad.stderr, bad.stderr[-2000:]
    assert ((d/"overfitting.html").read_bytes(), (d/"overfitting.ipynb").read_bytes()) == before
    assert "must be even" in (d/"overfitting.failed.ipynb").read_text()
    (d/"overfitting.failed.ipynb").unlink()

INDEX_JS = """{imgs: [...document.images].map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0]),
  links: [...document.links].map(a => a.getAttribute('href')), verdict: !!document.getElementById('verdict')}"""

def test_index_page_renders_in_headless_chromium(cli_demo, browser, shots):
    """Open the demo's index.html in Debian's chromium: every image decodes, every link resolves, the screenshot is not blank."""
    from conftest import Browser, probed_copy
    from hnn_trading.reports import available_reports
    _, d = cli_demo
    browser.screenshot((d/"index.html").as_uri(), shots/"index.png", size="1280,2400")
    probe = probed_copy(d/"index.html", INDEX_JS)          # a copy of the page with a script that reports what the browser loaded
    try: got = Browser.probe_dom(browser.dom(probe.as_uri()))
    finally: probe.unlink()
    assert got["verdict"] and len(got["imgs"]) >= 2          # the main equity figure and each baseline's
    assert all(ok for _, ok in got["imgs"]), [s for s, ok in got["imgs"] if not ok]
    for name in available_reports(): assert f"{name}.html" in got["links"], name
    assert all((d/h).exists() for h in got["links"]), [h for h in got["links"] if not (d/h).exists()]

def test_reports_and_index_page_read_as_a_quant_reads_them(cli_demo):
    "One title per report; counts as integers, no NaN shown as a number; the index page opens with the verdict, one overlaid equity chart, the tearsheet link."
    from hnn_trading.reports import available_reports
    _, d = cli_demo
    for name in available_reports():
        page = (d/f"{name}.html").read_text()
        body = re.sub(r"<script.*?</script>|<style.*?</style>", "", page, flags=re.S)
        assert len(re.findall(r"<h1[ >]", body)) == 1, name
        cells = re.findall(r"<td[^>]*>\s*([^<]*?)\s*</td>", body)
        counts = [c for c in cells if re.fullmatch(r"-?[1-9][\d,]+\.0{4}", c)]               # 309.0000: a count printed as a float (1.0000 may be a recall)
        assert not counts, (name, counts[:5])
        assert not [c for c in cells if c.lower() in ("nan", "nat")], name          # ("none" is a calibration method's name)
        assert "dir_acc" not in "".join(re.findall(r"<th[^>]*>(.*?)</th>", body)), name           # readable column names
    idx = (d/"index.html").read_text()
    assert re.search(r'<p class="verdict-sentence"><strong>Verdict.</strong> (No model beat|The best|\w+ beat)', idx)
    assert 'src="equity_all.png"' in idx and (d/"equity_all.png").exists() and 'href="tearsheet.html"' in idx
    assert (d/"tearsheet.html").read_text().count('<a href="index.html">&larr; run index</a>') == 1   # quantstats' page leads back
    assert len(re.findall(r"<h1[ >]", idx)) == 1

def test_campaigns_run_from_one_command(journey):
    """Both shipped campaigns, as their --help examples run them (--quick): 143 symbols traded with the seeds' portfolio, studies on the
    objectives the seeds used, the results table out of fold and on the held-out test, the threshold grid, an ensemble weighted out of fold."""
    ws, log = journey
    ph = ws/"reports/phase3"
    R = pd.read_csv(ph/"results.csv", index_col=[0, 1])
    assert list(R.loc["out of fold"].index) == ["mlp", "lstm", "gru", "ensemble", "buy and hold"]
    assert list(R.loc["held-out test"].index) == ["mlp", "lstm", "gru", "ensemble", "buy and hold"]
    for c in ["total_return", "cagr", "sharpe", "sharpe_se", "dsr", "sortino", "max_drawdown", "calmar", "trades", "trade_win_rate", "trade_profit_factor"]: assert c in R, c
    assert (R.loc[("held-out test", "ensemble"), "trades"] > 0) and R.loc[("out of fold", "buy and hold"), "trades"] == 143
    tr = pd.read_csv(ph/"trades.csv", parse_dates=["entry_time", "exit_time"])
    most = max(int(((tr.entry_time <= x) & (tr.exit_time > x)).sum()) for x in tr.entry_time.unique())
    assert tr["symbol"].nunique() > 20 and 10 <= most <= 20                       # many symbols, never more than 20 positions at once
    ens = json.loads((ph/"ensemble.json").read_text())
    m = {k: json.loads((ph/f"models/{k}/metrics.json").read_text())["walk_forward"] for k in ("mlp", "lstm", "gru")}
    edge = {k: max(v["recall_skill"], 0) for k, v in m.items()}
    edge = edge if sum(edge.values()) > 0 else dict.fromkeys(m, 1.0)             # no member above no skill: equal weights
    assert all(abs(ens["weights"][k] - edge[k] / sum(edge.values())) < 1e-12 for k in m)   # recall skill out of fold, never the held-out period
    for k in ("mlp", "lstm", "gru"):
        st = _study(ws, f"journal:///reports/phase3/hpo/studies.log", f"phase3-{k}")
        assert st.metric_names == ["recall_skill"] and "held out" in st.user_attrs["description"]
        assert json.loads((ph/f"models/{k}/selection.json").read_text())["study"] == f"phase3-{k}"
    mlp = _study(ws, "journal:///reports/phase3/hpo/studies.log", "phase3-mlp")
    for k in ("lstm", "gru"):                                                      # screened: each starts from the MLP study's best settings
        st = _study(ws, "journal:///reports/phase3/hpo/studies.log", f"phase3-{k}")
        assert st.trials[0].params == mlp.best_trial.params
        assert "phase3-mlp" in json.loads((ph/f"models/{k}/selection.json").read_text())["screened_by"]
    grid = pd.read_csv(ph/"threshold_grid.csv", index_col=0)
    assert list(grid.index) == [0.5, 0.52, 0.54, 0.56, 0.58, 0.6]
    out = _ran(log, "campaign", "configs/campaigns/phase3.yaml")[0]["out"]
    assert "Held-out test" in out and "shown, not chosen from" in out
    page = (ph/"index.html").read_text()                                          # the campaign's page: its runs' reports, its count
    assert "<h2>Reports</h2><ul>\n</ul>" not in page and 'href="model_evaluation.html"' in page   # the ensemble's reports
    n = json.loads((ph/"studies.json").read_text())["n_configurations"]
    assert f"Here that is {n} configurations" in page
    lg = ws/"reports/lgbm_two_stage"
    R = pd.read_csv(lg/"results.csv", index_col=[0, 1])
    assert list(R.loc["held-out test"].index) == ["lightgbm", "buy and hold", "sp500 (external)"]
    st = _study(ws, "journal:///reports/lgbm_two_stage/hpo/studies.log", "lgbm_two_stage-lightgbm")
    assert st.metric_names == ["ic"] and all("model.lgbm_learning_rate" in t.params for t in st.trials)
    assert all(abs(t.value - t.user_attrs["ic_fold_mean"]) < 1e-12 for t in st.trials if t.state.name == "COMPLETE")
    s2 = _study(ws, "journal:///reports/lgbm_two_stage/hpo/studies.log", "lgbm_two_stage-lightgbm-stage2")
    assert s2.metric_names == ["sharpe"] and len(s2.trials) == 20
    infeasible = [t for t in s2.trials if t.state.name == "COMPLETE" and t.constraints.get("min_trades", 0) > 0]
    assert all(t.value > -10 for t in s2.trials if t.state.name == "COMPLETE")          # no -10 penalties; infeasible trials keep their Sharpe
    sel = json.loads((lg/"models/lightgbm/selection.json").read_text())
    assert sel["trials"] == 20 if sel["chosen_by"].startswith("stage 2") else "stage2" in sel     # chosen by stage 2, or told why not

def test_the_cross_sectional_demo_config(journey):
    "`hnn run --config configs/cross_section.yaml` (sized: 1 epoch, 2 folds): both members on whole-day batches, weighted by their daily rank-IC, a top-5 long-short book, a head per horizon (1, 5, 20 days) and the report's horizons section."
    ws, log = journey
    d = ws/"reports"/"cross-section"
    assert (d/"models"/"patchtst").is_dir() and (d/"models"/"hermite").is_dir() and (d/"ensemble.json").exists()
    m = json.loads((d/"metrics.json").read_text())
    wf = m["walk_forward"]
    assert wf["days"] >= 250 and math.isfinite(wf["daily_rank_ic"]) and wf["daily_rank_ic_se"] > 0
    h = json.loads((d/"models"/"patchtst"/"history.json").read_text())
    ep = h["0"][0]                                                                 # fold 0, epoch 1
    assert ep["rows_per_timestamp"] == 50 and ep["grad_norm_encoder"] > 0 and ep["grad_norm_heads"] > 0   # whole days; gradients per layer group
    t = pd.read_csv(d/"trades.csv")
    assert set(t["side"]) == {"long", "short"}
    per_day = t.groupby(["entry_time", "side"]).size()
    assert per_day.max() <= 5                                                      # top-5 and bottom-5 at most each day
    out = _ran(log, "run", "configs/cross_section.yaml")[0]["out"]
    assert "rank-IC per bar" in out
    assert sorted(map(int, wf["horizons"])) == [1, 5, 20] and all(v["days"] > 200 for v in wf["horizons"].values())     # every horizon scored
    P = pd.read_parquet(d/"predictions.parquet")
    assert {"mu_h20", "p_up_h5", "fwd_return_h20"} <= set(P.columns) and (P["mu"] == P["mu_h1"]).all()    # the traded horizon is 1
    r = _hnn(["report", "model_evaluation", "-p", "run_dir", "reports/cross-section"], cwd=ws)           # the sized run made the tearsheet only
    assert r.returncode == 0, r.stderr[-2000:]
    ev = (ws/re.search(r"html: (\S+)", r.stdout).group(1)).read_text()
    assert 'id="Horizons"' in ev and "horizon 1 (traded)" in ev and "horizon 20" in ev

# Issue 24 (terminal): each check below runs `hnn` as a subprocess in a clean, empty folder, as a user types it.
def _help_words(text:str) -> collections.Counter:
    "The words of a help text, whatever its width: continuations (` \\`) and comment marks (`#`) are layout, not words."
    return collections.Counter(w for w in re.sub(r" \\\n", " ", text).split() if w != "#")

@pytest.mark.parametrize("columns", [80, 120])
def test_help_wraps_at_the_terminal_width_on_word_boundaries(tmp_path, columns):
    "Every command's --help fits COLUMNS and has the very words it has unwrapped: no word, path or hyphenated name is split."
    for path in ["", *groups(), *commands()]:
        argv = [*path.split(), "--help"]
        got = subprocess.run([str(BIN/"hnn"), *argv], cwd=tmp_path, env=dict(_env(), COLUMNS=str(columns)), capture_output=True, text=True)
        wide = subprocess.run([str(BIN/"hnn"), *argv], cwd=tmp_path, env=dict(_env(), COLUMNS="1000"), capture_output=True, text=True)
        assert got.returncode == 0 and wide.returncode == 0, got.stderr
        long = [l for l in got.stdout.splitlines() if len(l) > columns]
        assert not long, f"hnn {path} --help at COLUMNS={columns}: lines wider than the terminal: {long}"
        assert _help_words(got.stdout) == _help_words(wide.stdout), \
            f"hnn {path} --help at COLUMNS={columns} splits words: {(_help_words(got.stdout) - _help_words(wide.stdout)).most_common(5)}"

def test_a_group_alone_prints_its_own_help_with_examples(tmp_path):
    "`hnn hpo` and `hnn data` show their own commands and examples (a usage error: exit 2); `hnn` alone its help (exit 0)."
    assert groups() == ["data", "hpo"]
    for g in groups():
        r = _hnn([g], cwd=tmp_path, timeout=120)
        assert r.returncode == 2, (g, r.returncode)
        assert r.stdout.startswith(f"usage: hnn {g} [-h] COMMAND"), r.stdout[:200]
        members = [c.split()[-1] for c in commands() if c.startswith(g + " ")]
        assert all(re.search(rf"^    {m} ", r.stdout, re.M) for m in members), r.stdout
        assert r.stderr.startswith(f"hnn {g}: error: choose a command: ") and "Traceback" not in r.stderr
        ex = r.stdout.split("Examples:\n", 1)[1]
        assert all(f"hnn {g} {m}" in ex for m in members), ex                    # an example of each of its commands
        h = _hnn([g, "--help"], cwd=tmp_path, timeout=120)
        assert h.returncode == 0 and h.stdout == r.stdout
    top = _hnn([], cwd=tmp_path, timeout=120)
    assert top.returncode == 0 and top.stdout.startswith("usage: hnn ") and "hnn COMMAND --help" in top.stdout

def test_data_validate_reads_the_shipped_copy_only_where_there_is_no_data_folder(tmp_path):
    "No data/ here: the package's copy, said on the first line; a data/ of the user's own always wins, even a bad one."
    from hnn_trading.files import resource
    r = _hnn(["data", "validate", "data/sp500.csv.gz"], cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    first = r.stdout.splitlines()[0]
    assert first == f"data/sp500.csv.gz not found here; validating the shipped copy at {resource('data/sp500.csv.gz')}", first
    assert "OK: 1 symbol, 5,031 bars" in r.stdout
    missing = _hnn(["data", "validate", "data/ftse.csv"], cwd=tmp_path, timeout=300)
    assert missing.returncode == 1 and "data/ftse.csv: no such file" in missing.stderr and "shipped" not in missing.stdout
    (tmp_path/"data").mkdir()
    (tmp_path/"data"/"mine.csv").write_text("Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9,10.5,100\n2024-01-03,10,11,9,10.2,100\n")
    own = _hnn(["data", "validate", "data/"], cwd=tmp_path, timeout=300)
    assert own.returncode == 0 and "shipped" not in own.stdout and "OK: 1 symbol, 2 bars" in own.stdout, own.stdout + own.stderr

BAR = re.compile(r"demo (\d+)/(\d+) \|[^|]*\| (?:\d\d:)?\d\d:\d\d elapsed(?:, (running .+?|done))?\s*$")

def test_demo_bar_names_the_running_step_without_an_eta(tmp_path):
    "`hnn demo` in a terminal (a pty): at n steps done the bar names step n+1, the one running; it shows elapsed time, no ETA."
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    argv = [str(BIN/"hnn"), "demo", "--quick", "--no-report", "--set", "training.epochs=1", "--set", "splits.n_folds=2", "--run-id", "bar"]
    p = subprocess.Popen(argv, cwd=tmp_path, env=dict(_env(), COLUMNS="160"), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    chunks = []
    def read():
        while True:
            try: b = os.read(master, 65536)
            except OSError: return
            if not b: return
            chunks.append(b)
    t = threading.Thread(target=read, daemon=True); t.start()
    out, _ = p.communicate(timeout=900); t.join(timeout=10); os.close(master)
    term = b"".join(chunks).decode(errors="replace")
    assert p.returncode == 0, term[-3000:]
    lines = [re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", l) for l in re.split(r"[\r\n]", term)]
    seen = [m.groups() for l in lines if (m := BAR.search(l))]
    assert seen, term[-3000:]
    shown = list(dict.fromkeys((int(n), what) for n, total, what in seen if what))
    steps = ["hermite", "mlp", "stage 1", "stage 2", "verdict"]
    assert shown == [(i, f"running {s}") for i, s in enumerate(steps)] + [(len(steps), "done")], shown
    assert {int(total) for _, total, _ in seen} == {len(steps)}
    assert not [l for l in lines if l.startswith("demo ") and ("<" in l or "?" in l or "it/s" in l or "s/it" in l)]   # no ETA, no rate
    assert "run folder:" in out.decode()

# Issue 28: `hnn data audit` (any time) and `hnn predict` (after the run and the studies it reads) join the user's order.
PHASES += ["data audit", "predict"]

def test_predict_and_data_audit_journeys(journey):
    "`hnn predict` reproduces the run's held-out predictions and the best trial's out-of-fold ones; `hnn data audit` prints its sections."
    ws, log = journey
    cols = ["mu", "sigma", "p_up", "p_up_raw"]
    held = [e for e in _ran(log, "predict", "reports/my-run") if "--data" not in e["argv"]][0]
    assert held["rc"] == 0 and "(held-out period)" in held["out"], held["err"][-2000:]
    got, want = pd.read_parquet(ws/"predictions.parquet"), pd.read_parquet(ws/"reports"/"my-run"/"test_predictions.parquet")
    assert len(got) == len(want) and np.abs(got[cols].values - want[cols].values).max() < 1e-6
    new = _ran(log, "predict", "--data")[0]
    assert new["rc"] == 0 and "history before the first predicted bar" in new["out"], new["err"][-2000:]
    assert pd.read_csv(ws/"new.csv").timestamp.min() >= want.timestamp.min().isoformat()[:10]
    trial = _ran(log, "predict", "hnn-stage1")[0]
    assert trial["rc"] == 0 and "(out of fold)" in trial["out"], trial["err"][-2000:]
    audit = _ran(log, "data audit")
    assert audit and all(e["rc"] == 0 for e in audit) and (ws/"audit.csv").exists()
    assert set(pd.read_csv(ws/"audit.csv").section) >= {"fold", "held-out", "year", "symbol", "summary"}

def test_data_audit_and_campaign_flags_on_their_own(tmp_path):
    "Fast checks of the issue-28 plumbing without the whole journey: `hnn data audit` on a synthetic market, the campaign's --workers and --set refused in one line."
    (tmp_path/"c.yaml").write_text(yaml.safe_dump({"data": {"source": "synthetic", "synthetic": {"n_symbols": 2, "n_bars": 800, "seed": 1}, "periods_per_year": 6048},
                                                    "splits": {"n_folds": 2, "val_block": 150, "calib_size": 100, "test_size": 150}}))
    r = _hnn(["data", "audit", "c.yaml", "--set", "labels.horizon=3", "--csv", "out/audit.csv"], tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert all(s in r.stdout for s in ("fold:", "held-out:", "year:", "symbol:")), r.stdout
    t = pd.read_csv(tmp_path/"out/audit.csv")
    assert {"fold", "held-out", "summary"} <= set(t.section) and (t[t.section == "fold"].n > 0).all()
    shutil.copytree(ROOT/"configs", tmp_path/"configs")
    for extra, said in ((["--workers", "0"], "--workers 0"), (["--set", "data.nonsense=1"], "nonsense")):
        r = _hnn(["campaign", "configs/campaigns/lgbm_two_stage.yaml", "--quick", *extra], tmp_path, timeout=300)
        assert r.returncode == 1 and said in r.stderr and len(r.stderr.strip().splitlines()) == 1, (r.stdout[-500:], r.stderr[-1500:])
    assert not (tmp_path/"reports").exists()

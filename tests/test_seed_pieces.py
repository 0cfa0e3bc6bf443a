"""Issue 28, deliverable 7: the seeds' planned pieces -- data.min_coverage (no look-ahead), the refused ATFT keys
(ListNet tau/top-k implemented, the coverage/turnover/exposure penalties refused with what replaces them), the
label audit from a config, the shipped warm-start file and permutation feature importance."""
import subprocess, sys
from pathlib import Path

import numpy as np, pandas as pd, pytest, torch

from hnn_trading.config import ConfigError, RunConfig, TrainingConfig
from hnn_trading.data import DataError, apply_min_coverage, coverage, load_data
from hnn_trading.losses import composite_loss, listnet_loss


def _bars(sym, times):
    idx = pd.MultiIndex.from_product([times, [sym]], names=["timestamp", "symbol"])
    return pd.DataFrame({c: 1.0 for c in ["open", "high", "low", "close", "volume"]}, index=idx)


BIN = Path(sys.executable).parent
T = pd.date_range("2021-01-01", periods=20, tz="UTC")


@pytest.fixture
def panel():
    return pd.concat([_bars("FULL", T), _bars("DIES", T[:14]), _bars("LATE", T[16:])]).sort_index()


def _syms(p):
    return sorted(p.index.get_level_values("symbol").unique())


def test_coverage_counts_only_the_bars_before_the_held_out_period(panel):
    "DIES stops 2 bars into the 6 held-out bars: complete over the 14 selection bars, 70% over all 20."
    assert coverage(panel)["DIES"] == pytest.approx(0.7)
    assert coverage(panel, T[14])["DIES"] == 1.0 and coverage(panel, T[14])["LATE"] == 0.0
    assert _syms(apply_min_coverage(panel, 0.9, test_size=6, echo=lambda s: None)) == ["DIES", "FULL"]
    assert _syms(apply_min_coverage(panel, 0.9, test_size=None, echo=lambda s: None)) == ["FULL"]


def test_min_coverage_ignores_the_held_out_bars(panel):
    "Perturb-the-future: removing every held-out bar of DIES (it 'dies' earlier) changes neither coverage nor choice."
    cut = panel[~((panel.index.get_level_values("timestamp") >= T[14]) & (panel.index.get_level_values("symbol") == "DIES"))]
    a = apply_min_coverage(panel, 0.9, test_size=6, echo=lambda s: None)
    b = apply_min_coverage(cut, 0.9, test_size=6, echo=lambda s: None)
    assert a.attrs["coverage"] == b.attrs["coverage"] and _syms(a) == _syms(b)


def test_a_dropped_symbol_is_named_with_its_coverage(panel):
    said = []
    apply_min_coverage(panel, 0.9, test_size=6, echo=said.append)
    assert len(said) == 1 and "LATE 0.0%" in said[0] and "held-out period" in said[0] and "DIES" not in said[0]


def test_min_coverage_from_a_config(tmp_path, panel):
    for s in _syms(panel):
        g = panel.xs(s, level="symbol").reset_index()
        g.to_csv(tmp_path / f"{s}.csv", index=False)
    cfg = RunConfig().override({"data.source": str(tmp_path), "data.min_coverage": 0.9, "splits.test_size": 6})
    assert _syms(load_data(cfg)) == ["DIES", "FULL"]
    with pytest.raises(DataError, match="needs the whole RunConfig"):
        load_data(cfg.data)
    assert _syms(load_data(cfg.override({"data.min_coverage": None}).data)) == ["DIES", "FULL", "LATE"]


@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan"), "most"])
def test_min_coverage_is_checked_in_one_line(bad):
    with pytest.raises(ConfigError, match="data.min_coverage") as e:
        RunConfig().override({"data.min_coverage": bad})
    assert "\n" not in str(e.value)


def test_the_min_coverage_cli_error_is_one_line(tmp_path):
    (tmp_path / "c.yaml").write_text("data:\n  min_coverage: 2\n")
    r = subprocess.run([str(BIN / "hnn"), "run", "--config", "c.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode != 0 and "Traceback" not in r.stderr and "min_coverage = 2" in r.stderr + r.stdout


@pytest.mark.parametrize("key,says", [
    ("coverage_penalty", "strategy.top_k"), ("turnover_penalty", "backtest.commission"),
    ("exposure_penalty", "backtest.leverage"), ("turnover_weight", "stage 2"),
])
def test_refused_atft_penalties_say_what_replaces_them(key, says):
    with pytest.raises(ConfigError, match=f"training.{key} is not a setting here") as e:
        RunConfig.from_dict({"training": {key: 0.1}})
    assert says in str(e.value)


def test_listnet_tau_and_top_k_reach_the_loss():
    g = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    torch.manual_seed(0)
    out = dict(logit=torch.zeros(8), mu=torch.randn(8), sigma=torch.ones(8), p_up=torch.full((8,), 0.5))
    y, r = torch.ones(8), torch.randn(8)
    plain = composite_loss(out, y, r, TrainingConfig(reg_weight=0.0), groups=g)
    for tau, k in [(0.2, 2), (3.0, None), (1.0, 1)]:
        tc = TrainingConfig(reg_weight=0.0, listnet_weight=1.0, listnet_tau=tau, listnet_top_k=k)
        got = composite_loss(out, y, r, tc, groups=g) - plain
        assert torch.allclose(got, listnet_loss(out["mu"], r, g, tau, k), atol=1e-6)
    assert not torch.allclose(listnet_loss(out["mu"], r, g, 0.2, 2), listnet_loss(out["mu"], r, g))


# --- the label audit from a config ---------------------------------------------------------------------------------
from hnn_trading.labels import audit_lines, audit_table

AUD = {"data.source": "synthetic", "data.synthetic": {"n_symbols": 3, "n_bars": 700, "seed": 3},
       "splits.n_folds": 3, "splits.val_block": 100, "splits.calib_size": 50, "splits.test_size": 150,
       "labels.horizon": 4}


def test_audit_table_sections_and_rates():
    cfg = RunConfig().override(AUD)
    tb = audit_table(cfg)
    assert list(tb.section.unique()) == ["fold", "held-out", "year", "symbol", "summary"]
    s = tb.set_index("item")
    assert s.loc["label horizon (bars)", "n"] == 4 and s.loc["overlap (bars)", "n"] == 3
    assert s.loc["NaN labels", "n"] == 3 * 4 * 2   # each symbol's last 4 bars, before the held-out period and at the end
    held = tb[tb.section == "held-out"].iloc[0]
    assert held.n == 3 * (150 - 4)
    assert tb[tb.section == "symbol"].n.sum() == 3 * (550 - 4)   # the selection bars only
    assert tb[(tb.section == "fold") & tb.item.str.endswith("val")].shape[0] == 3
    text = "\n".join(audit_lines(tb))
    assert "held-out:" in text and "purge (bars)" in text and "covers the horizon" in text


def test_audit_of_the_selection_ignores_the_held_out_bars():
    "Perturb-the-future: other held-out bars change only the held-out row."
    from hnn_trading.data import load_data
    from hnn_trading.features import perturb_future
    cfg = RunConfig().override(AUD)
    p = load_data(cfg)
    cut = p.index.get_level_values("timestamp").unique().sort_values()[550]
    a, b = audit_table(cfg, p), audit_table(cfg, perturb_future(p, cut))
    keep = a.section != "held-out"
    pd.testing.assert_frame_equal(a[keep].reset_index(drop=True), b[keep].reset_index(drop=True))
    assert not a[~keep].pos_rate.equals(b[~keep].pos_rate)


def test_audit_flags_a_purge_shorter_than_the_horizon():
    tb = audit_table(RunConfig().override(dict(AUD, **{"splits.purge": 1})))
    assert "SHORTER than the horizon 4" in tb.set_index("item").loc["purge (bars)", "note"]


# --- the shipped warm-start file --------------------------------------------------------------------------------------
from hnn_trading.config import read_warm_start


def test_the_shipped_warm_start_holds_the_seeds_v4_values_inside_the_stage1_space(tmp_path, monkeypatch):
    from hnn_trading.hpo import SearchSpace
    from hnn_trading.files import resource
    monkeypatch.chdir(tmp_path)   # outside a checkout: the bare name is read from the package
    (s,) = read_warm_start("warm_start.yaml")
    assert s["training.reg_weight"] == 2.95 and s["training.sign_hinge_weight"] == 0.62
    space = SearchSpace.from_yaml(resource("configs/search/stage1.yaml"))
    for k, v in s.items():
        spec = space.params[k]
        assert (v in spec["choices"]) if "choices" in spec else spec["low"] <= v <= spec["high"], (k, v)


def test_a_bad_warm_start_file_is_refused_naming_set_and_key(tmp_path):
    (tmp_path / "w.yaml").write_text("- training.reg_weight: 2\n- training.sign_hinge_wieght: 1\n")
    with pytest.raises(ConfigError, match=r"w.yaml: parameter set 2: unknown key 'sign_hinge_wieght'"):
        read_warm_start(tmp_path / "w.yaml")
    with pytest.raises(ConfigError, match="not found .*warm_start.yaml"):
        read_warm_start(tmp_path / "missing.yaml")


def _stage1(tmp_path, *args):
    "`hnn hpo stage1 --workers 0`: create the study (and enqueue), run no trial."
    return subprocess.run([str(BIN / "hnn"), "hpo", "stage1", "--quick", "--workers", "0", *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)


def test_hpo_stage1_refuses_a_bad_warm_start_before_making_a_study(tmp_path):
    (tmp_path / "bad.yaml").write_text("- training.reg_wieght: 2\n")
    r = _stage1(tmp_path, "--warm-start", "bad.yaml")
    assert r.returncode != 0 and "Traceback" not in r.stderr and "reg_wieght" in r.stderr, r.stderr[-2000:]
    assert not list(tmp_path.rglob("study.db")) and not list(tmp_path.rglob("study.log"))


def test_hpo_stage1_reads_the_shipped_warm_start_by_its_bare_name_outside_a_checkout(tmp_path):
    import optuna
    r = subprocess.run([str(BIN / "hnn"), "hpo", "stage1", "--workers", "0", "--warm-start", "warm_start.yaml"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=600)   # the shipped HermiteNet space
    assert r.returncode == 0 and "enqueued 1 of 1 warm-start parameter sets" in r.stdout, r.stderr[-2000:]
    (db,) = tmp_path.rglob("study.db")
    st = optuna.load_study(study_name="hnn-stage1", storage=f"sqlite:///{db}")
    assert [t.state.name for t in st.trials] == ["WAITING"]
    r = _stage1(tmp_path, "--study", "quick", "--warm-start", "warm_start.yaml")   # --quick's MLP space searches none of its keys
    assert r.returncode == 0 and "enqueued 0 of 1 warm-start parameter sets: none sets a key" in r.stdout, r.stdout
    st = optuna.load_study(study_name="quick", storage=f"sqlite:///{tmp_path}/reports/hpo/quick/study.db")
    assert st.trials == []


# --- permutation feature importance on out-of-fold predictions -----------------------------------------------------
from hnn_trading import features as _F
from hnn_trading.diagnostics import importance_summary, lightgbm_gain, oof_inputs, permutation_importance


def _oracle_market(n_symbols=3, n_bars=600, seed=0):
    "Daily bars whose next close moves (4 times in 5) the way this bar's volume says."
    rng = np.random.default_rng(seed)
    t = pd.date_range("2020-01-01", periods=n_bars, freq="D", tz="UTC")
    parts = []
    for i in range(n_symbols):
        x = rng.standard_normal(n_bars)
        r = 0.01 * np.sign(x[:-1]) * (rng.random(n_bars - 1) < 0.8) + 0.003 * rng.standard_normal(n_bars - 1)
        c = 100 * np.exp(np.r_[0, np.cumsum(r)])
        o = np.r_[c[0], c[:-1]]
        ix = pd.MultiIndex.from_product([t, [f"S{i}"]], names=["timestamp", "symbol"])
        parts.append(pd.DataFrame(dict(open=o, high=np.maximum(o, c) * 1.001, low=np.minimum(o, c) * 0.999, close=c,
                                       volume=np.exp(5 + x)), index=ix))
    return pd.concat(parts).sort_index()


@_F.register("oracle_test", version="1")
@_F.per_symbol
def _oracle_features(b, ex=None):
    "noise, ret1 and the oracle: this bar's log volume, the label shifted back to where it is seen (causal)"
    noise = np.random.default_rng(len(b)).standard_normal(len(b))
    return pd.DataFrame(dict(noise=noise, ret1=np.log(b.close).diff(), oracle=np.log(b.volume) - 5), index=b.index)


@pytest.mark.parametrize("model,extra", [
    ("lightgbm", {"model.lgbm_n_estimators": 40}),
    ("mlp", {"training.epochs": 3, "model.feature_window": 3, "training.batch_size": 64}),
])
def test_permutation_importance_ranks_the_causally_shifted_label_first(tmp_path, model, extra):
    from hnn_trading.predict import load_models
    from hnn_trading.training import run_walk_forward
    panel = _oracle_market()
    cfg = RunConfig().override({"model.name": model, "features.set": "oracle_test", "splits.n_folds": 2,
                                "splits.val_block": 120, "splits.calib_size": 50, **extra})
    wf = run_walk_forward(cfg, panel, progress=False, checkpoint_dir=tmp_path)
    ms = load_models(tmp_path)
    feats, y = oof_inputs(ms, panel)
    imp = permutation_importance(ms, feats, y, n_repeats=2)
    s = importance_summary(imp)
    assert s.index[0] == "oracle" and s.loc["oracle", "folds_helped"] == 2 and s.loc["oracle", "importance"] > 0.1
    from sklearn.metrics import roc_auc_score     # the unpermuted score is the walk-forward's own out-of-fold AUC
    for k, g in wf.predictions.dropna(subset=["label"]).groupby("fold"):
        assert imp[imp.fold == k].score.iloc[0] == pytest.approx(roc_auc_score(g["label"], g["p_up"]), abs=1e-6)
    gain = lightgbm_gain(ms)
    if model == "lightgbm":
        assert gain.groupby("feature")["share"].mean().idxmax() == "oracle"
    else:
        assert gain.empty


def test_permutation_importance_shuffles_only_the_folds_own_validation_rows(tmp_path):
    "Perturb-the-future: garbage after fold 0's last label is known leaves fold 0's importances bit-identical."
    from hnn_trading.features import perturb_future
    from hnn_trading.predict import load_models
    from hnn_trading.training import make_labels, run_walk_forward
    panel = _oracle_market()
    cfg = RunConfig().override({"model.name": "lightgbm", "features.set": "oracle_test", "splits.n_folds": 2,
                                "splits.val_block": 120, "splits.calib_size": 50, "model.lgbm_n_estimators": 30})
    run_walk_forward(cfg, panel, progress=False, checkpoint_dir=tmp_path)
    ms = load_models(tmp_path)
    known = make_labels(panel, cfg.labels)["known_at"]
    late = perturb_future(panel, known[ms[0].val_rows(known.to_frame())].max())
    a = permutation_importance(ms, *oof_inputs(ms, panel), n_repeats=2)
    b = permutation_importance(ms, *oof_inputs(ms, late), n_repeats=2)
    pd.testing.assert_frame_equal(a[a.fold == 0].reset_index(drop=True), b[b.fold == 0].reset_index(drop=True))
    assert not a[a.fold == 1].importance.equals(b[b.fold == 1].importance)


def test_hnn_data_audit_with_min_coverage_names_the_dropped_symbol(tmp_path):
    "Journey: a folder of three symbols, one listed only in the held-out period; `hnn data audit` drops it, says so."
    rng = np.random.default_rng(0)
    T2 = pd.date_range("2021-01-01", periods=120, tz="UTC")
    for s, times in [("FULL", T2), ("DIES", T2[:100]), ("LATE", T2[95:])]:
        c = 100 * np.exp(np.cumsum(0.01 * rng.standard_normal(len(times))))
        pd.DataFrame(dict(timestamp=times, open=c, high=c * 1.01, low=c * 0.99, close=c, volume=1000.0)).to_csv(
            tmp_path / f"{s}.csv", index=False)
    (tmp_path / "c.yaml").write_text(f"data:\n  source: {tmp_path}\n  min_coverage: 0.9\nsplits:\n  n_folds: 2\n"
                                     "  val_block: 20\n  calib_size: 10\n  test_size: 30\n")
    r = subprocess.run([str(BIN / "hnn"), "data", "audit", "c.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "dropped 1 of 3 symbols" in r.stderr and "LATE 0.0%" in r.stderr and "DIES" not in r.stderr
    sym = r.stdout.split("symbol:")[1].split("summary:")[0]
    assert "FULL" in sym and "DIES" in sym and "LATE" not in sym

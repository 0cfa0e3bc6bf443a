"""Issue 28 (deliverables 3, 5): the held-out test evaluated beside out of fold, and nothing out of fold reads it.

The look-ahead test perturbs the held-out labels and predictions of a real run folder and checks that the threshold
chosen out of fold and every out-of-fold number of `model_evaluation` are unchanged, while the held-out section moves.
"""

import json, re, shutil
import numpy as np, pandas as pd, pytest
from sklearn import metrics as skm
from hnn_trading.metrics import heldout_table, heldout_thresholds, threshold_grid, constant_scores, f1_skill
from hnn_trading.reports import run_report
from hnn_trading.runs import RunFolder

HELD = ("has_test",)  # the held-out section's cells read `has_test`
VARIES = ("inference_speed",)  # timings differ between two runs of the same report


def _frame(rng, n, s):
    y = (rng.random(n) < 0.55).astype(float)
    p = np.clip(0.5 + s * (y - 0.5) + 0.15 * rng.standard_normal(n), 0.01, 0.99)
    return pd.DataFrame(dict(label=y, p_up=p, fwd_return=np.where(y > 0, 0.01, -0.01)))


def test_heldout_tables_by_hand_and_blind_to_the_test():
    rng = np.random.default_rng(11)
    oof, test = _frame(rng, 4000, 0.2), _frame(rng, 1000, 0.1)
    H, T = heldout_table(oof, test, 0.5), heldout_thresholds(oof, test, 0.5)
    yt, pt = test["label"], test["p_up"]
    assert H.at["precision", "held-out test"] == pytest.approx(skm.precision_score(yt, pt > 0.5), abs=1e-12)
    assert H.at["auc", "held-out test"] == pytest.approx(skm.roc_auc_score(yt, pt), abs=1e-12)
    assert H.at["pr_auc", "held-out test"] == pytest.approx(skm.average_precision_score(yt, pt), abs=1e-12)
    assert H.at["log_loss", "held-out test"] == pytest.approx(skm.log_loss(yt, pt), abs=1e-9)
    # the test's constant: p = the OUT-OF-FOLD base rate (known before the test), scored on the test's labels
    assert H.at["brier", "constant, held-out test"] == pytest.approx(
        skm.brier_score_loss(yt, np.full(len(yt), oof["label"].mean())), abs=1e-12
    )
    chosen = threshold_grid(oof["label"], oof["p_up"]).attrs["best_f1_threshold"]
    assert T.attrs["chosen"] == chosen
    r = T.loc[("F1-best out of fold (no hindsight)", "held-out test")]
    assert r["f1"] == pytest.approx(skm.f1_score(yt, pt > chosen), abs=1e-12)
    assert r["f1_skill"] == pytest.approx(f1_skill(yt, pt, chosen), abs=1e-12)
    hind = T.loc[("F1-best on the test (hindsight, not chosen)", "held-out test")]
    assert hind["f1"] >= r["f1"] - 1e-12  # hindsight is the best the grid offers on the test
    # another held-out period: labels flipped, predictions shuffled
    bad = test.assign(label=1 - test["label"], p_up=rng.permutation(test["p_up"].to_numpy()))
    H2, T2 = heldout_table(oof, bad, 0.5), heldout_thresholds(oof, bad, 0.5)
    pd.testing.assert_frame_equal(H2.filter(like="out of fold"), H.filter(like="out of fold"))
    assert T2.attrs["chosen"] == T.attrs["chosen"]
    oof_rows = lambda t: t.xs("out of fold", level="period").iloc[:2]  # the two thresholds chosen without the test
    pd.testing.assert_frame_equal(oof_rows(T2), oof_rows(T))
    assert not np.allclose(H2["held-out test"], H["held-out test"])  # the test's section does move


def test_constant_scores_match_sklearn_for_always_up():
    y = np.r_[np.ones(61), np.zeros(39)]
    c = constant_scores(y)
    assert c["f1"] == pytest.approx(skm.f1_score(y, np.ones(100)), abs=1e-12) == pytest.approx(2 * 0.61 / 1.61)
    assert c["log_loss"] == pytest.approx(skm.log_loss(y, np.full(100, 0.61)), abs=1e-12)


@pytest.fixture(scope="module")
def run_with_test(tmp_path_factory):
    "A small LightGBM run with a held-out test period (the quick demo config's 2018)."
    from hnn_trading.demo import demo_config
    from hnn_trading.pipeline import run

    cfg = demo_config(quick=True).override({"model.name": "lightgbm", "splits.n_folds": 2})
    res = run(cfg, output_dir=tmp_path_factory.mktemp("held"), run_id="r", reports=False, progress=False)
    assert RunFolder(res.run_dir).has("test_predictions")
    return res.run_dir


def _styler_ids(html: str) -> str:
    "pandas' Styler names each table T_<random>: the same table, the same text."
    return re.sub(r"T_[0-9a-f]{5}", "T_", html)


def _outputs(nb_path) -> list:
    "(source, text outputs) of every cell outside the held-out section and the timings."
    nb = json.loads(nb_path.read_text())
    out = []
    for c in nb["cells"]:
        s = "".join(c["source"])
        if (
            c["cell_type"] != "code"
            or any(k in s for k in HELD + VARIES)
            or "injected-parameters" in str(c["metadata"])
        ):
            continue
        texts = [
            "".join(o.get("data", {}).get(k, "")) for o in c.get("outputs", []) for k in ("text/markdown", "text/html")
        ] + ["".join(o.get("text", "")) for o in c.get("outputs", []) if o.get("name") == "stdout"]
        out.append((s, [_styler_ids(t) for t in texts]))
    return out


def _held(nb_path) -> str:
    nb = json.loads(nb_path.read_text())
    return _styler_ids(
        "".join(
            "".join(o.get("data", {}).get("text/markdown", "")) + "".join(o.get("data", {}).get("text/html", ""))
            for c in nb["cells"]
            if any(k in "".join(c["source"]) for k in HELD)
            for o in c.get("outputs", [])
        )
    )


def test_model_evaluation_heldout_section_and_no_lookahead(run_with_test, tmp_path):
    "Perturbed held-out labels and predictions leave every out-of-fold output and the chosen threshold as they were."
    a = run_report("model_evaluation", {"run_dir": str(run_with_test)}, run_dir=run_with_test, html=False)["notebook"]
    held = _held(a)
    assert "## Held-out test" in held and "Thresholds" in held and "hindsight" in held
    assert "F1-best out of fold (no hindsight)" in held and "constant, held-out test" in held
    d = tmp_path / "perturbed"
    shutil.copytree(run_with_test, d)
    rf = RunFolder(d)
    T = rf.test_predictions
    rng = np.random.default_rng(0)
    T["label"] = 1.0 - T["label"]
    T["p_up"] = rng.permutation(T["p_up"].to_numpy())
    rf.write_predictions(T, "test_predictions")
    b = run_report("model_evaluation", {"run_dir": str(d)}, run_dir=d, html=False)["notebook"]
    oa, ob = _outputs(a), _outputs(b)
    assert len(oa) == len(ob) and len(oa) >= 8
    for (sa, ta), (_, tb) in zip(oa, ob):
        assert ta == tb, f"an out-of-fold output changed with the held-out labels: {sa[:80]!r}"
    hb = _held(b)
    assert hb != held  # the held-out section reads the perturbed test
    pick = lambda h: h.split("F1-best out of fold (**")[1].split("**")[0]
    assert pick(hb) == pick(held)  # the threshold chosen out of fold


def test_a_run_without_a_held_out_period_says_so_in_one_line(tmp_path):
    from hnn_trading.demo import demo_config
    from hnn_trading.pipeline import run

    cfg = demo_config(quick=True).override({"model.name": "lightgbm", "splits.n_folds": 2, "splits.test_size": None})
    res = run(cfg, output_dir=tmp_path, run_id="nt", reports=False, progress=False)
    nb = run_report("model_evaluation", {"run_dir": str(res.run_dir)}, run_dir=res.run_dir, html=False)["notebook"]
    held = _held(nb)
    assert "no held-out test period" in held and "## Held-out test" not in held
    assert held.count("\n") <= 2
    ts = run_report("backtest_tearsheet", {"run_dir": str(res.run_dir)}, run_dir=res.run_dir, html=False)["notebook"]
    md = _markdown(ts)
    assert "no held-out test period" in md and "## Held-out test" not in md


def _markdown(nb_path) -> str:
    nb = json.loads(nb_path.read_text())
    return "".join(
        "".join(o.get("data", {}).get("text/markdown", "")) for c in nb["cells"] for o in c.get("outputs", [])
    )


def test_tearsheet_shows_the_held_out_test_beside_out_of_fold(run_with_test):
    nb = run_report("backtest_tearsheet", {"run_dir": str(run_with_test)}, run_dir=run_with_test, html=False)[
        "notebook"
    ]
    md = _markdown(nb)
    assert "## Held-out test" in md and "which no choice saw" in md
    assert "for always up" in md and "a constant predictor: AUC 0.5" in md  # the constant beside the metric

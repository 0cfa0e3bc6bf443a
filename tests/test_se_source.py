"""Issue 26: every Sharpe standard error a run shows comes from one function, `stats.sharpe_se` (non-normal, Mertens).

`stats.sharpe_se` is replaced by a marker for the length of one real run (LightGBM, out of fold and held out); every
`*sharpe_se` value the run writes must then be the marker, annualised, or NaN where no Sharpe exists. A second SE
formula anywhere in the run's path would write a different number."""
import json, math, re
from pathlib import Path
import numpy as np, pytest

MARK = 0.123456789

def _se_values(d, path=""):
    "Every (path, value) whose key ends in sharpe_se, anywhere in a nested dict/list."
    if isinstance(d, dict):
        for k, v in d.items():
            p = f"{path}.{k}" if path else str(k)
            if str(k).endswith("sharpe_se") and not isinstance(v, (dict, list)):
                yield p, v
            else:
                yield from _se_values(v, p)
    elif isinstance(d, list):
        for i, v in enumerate(d):
            yield from _se_values(v, f"{path}[{i}]")

def test_every_se_a_run_writes_comes_from_stats_sharpe_se(tmp_path, monkeypatch):
    from hnn_trading import stats
    from hnn_trading.demo import demo_config
    from hnn_trading.pipeline import run
    calls = []
    def marker(sr, n, skew=0.0, kurtosis=3.0):
        calls.append(n)
        return MARK
    monkeypatch.setattr(stats, "sharpe_se", marker)
    cfg = demo_config(quick=True).override({"model.name": "lightgbm", "splits.n_folds": 2})
    res = run(cfg, output_dir=tmp_path, run_id="se", reports=False, progress=False)
    m = json.loads((Path(res.run_dir) / "metrics.json").read_text())
    ppy = m.get("periods_per_year") or json.loads((Path(res.run_dir) / "manifest.json").read_text())["periods_per_year"]
    found = dict(_se_values(m))
    assert len(found) >= 4 and calls, found                        # strategy, benchmark, held-out strategy, benchmark
    assert any(k.startswith("test") or ".test" in k for k in found), found
    for k, v in found.items():
        assert v is None or (isinstance(v, float) and math.isnan(v)) or v == pytest.approx(MARK * np.sqrt(ppy), rel=1e-12), (k, v)

def test_no_second_se_formula_in_the_package_or_the_reports():
    "Every `sharpe_se = ...` in the package and the report templates takes a value computed by sharpe_se or stored by it."
    root = Path(__file__).resolve().parents[1]
    texts = {p: p.read_text() for p in (root / "hnn_trading").glob("*.py") if p.name != "_modidx.py"}
    for p in (root / "nbs" / "reports").glob("*.ipynb"):
        texts[p] = "\n".join("".join(c["source"]) for c in json.loads(p.read_text())["cells"] if c["cell_type"] == "code")
    bad = []
    for p, t in texts.items():
        for line in t.splitlines():
            line = line.split("  #")[0]                              # comments may name the function
            hit = re.search(r"""(?:\bsharpe_se\b["']?\s*[:=](?!=)\s*)(.+)""", line)
            if hit and "def " not in line and "sharpe_se" not in hit.group(1) and not hit.group(1).strip().startswith(('"', "'", 'f"', "f'")):
                bad.append(f"{p.name}: {line.strip()}")
    assert not bad, bad

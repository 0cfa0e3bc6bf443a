"""The studies room (issue 25): reading a study costs no torch; Optuna internals are used in `studies` only."""
import re, subprocess, sys
from pathlib import Path
import hnn_trading

PKG = Path(hnn_trading.__file__).parent
INTERNALS = re.compile(r"journal\._file|_rdb\b|_create_scoped_session|_get_stale_trial_ids|\._storage\b|\._trial_id\b")

def test_importing_studies_does_not_import_torch():
    code = ("import sys, hnn_trading.studies\n"
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip() == "[]", f"importing hnn_trading.studies loads torch: {r.stdout[:500]}"

def test_optuna_internals_only_in_studies():
    bad = {f.name: [i for i, l in enumerate(f.read_text().splitlines(), 1) if INTERNALS.search(l)]
           for f in sorted(PKG.glob("*.py")) if f.name not in ("studies.py", "_modidx.py")}
    bad = {k: v for k, v in bad.items() if v}
    assert not bad, f"Optuna internals outside studies.py (file: lines): {bad}"
    assert INTERNALS.search((PKG/"studies.py").read_text())  # the pattern finds what it looks for

import os, sys, warnings
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

@pytest.fixture(scope="session")
def root(): return ROOT

@pytest.fixture(scope="session")
def hnn():
    "Path of the installed `hnn` command (in the same environment as pytest)."
    p = BIN/"hnn"
    if not p.exists(): pytest.fail(f"the hnn command is not installed in {BIN}; run `make setup`")
    return str(p)

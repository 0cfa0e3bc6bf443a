"""The house's size and style checks (`make lint`, tools/check_cells.py) can fail: each rule is shown a breach."""

import importlib.util, json, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("check_cells", ROOT / "tools" / "check_cells.py")
cc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cc)


def test_attached_methods_are_found(tmp_path, monkeypatch):
    monkeypatch.setattr(cc, "ROOT", tmp_path)
    f = tmp_path / "m.py"
    f.write_text("class A:\n    pass\n\ndef _f(self): pass\n\nA.f = _f\nA.g, A.h = _f, _f\nx = 1\n")
    assert cc.attached_methods(f) == ["m.py:6", "m.py:7"]


def test_long_package_lines_are_found_but_nbdevs_all_wrap_is_not(tmp_path, monkeypatch):
    monkeypatch.setattr(cc, "ROOT", tmp_path)
    f = tmp_path / "m.py"
    f.write_text('"""' + "x" * 130 + '"""\n__all__ = [' + "'a', " * 24 + "]\ny = 1\n")
    hits = cc.long_lines(f)
    assert len(hits) == 1 and hits[0].startswith("m.py:1: 136 characters")


def test_export_cells_count_code_lines_only(tmp_path):
    nb = {
        "cells": [
            {"cell_type": "code", "source": ["#| export\n", "def f():\n", "\n", "    return 1\n"]},
            {"cell_type": "code", "source": ["f()\n"]},
            {"cell_type": "markdown", "source": ["#| export\n"]},
        ]
    }
    p = tmp_path / "x.ipynb"
    p.write_text(json.dumps(nb))
    assert list(cc.export_cells(p)) == [(0, 2)]


def test_the_repository_passes_its_own_checks():
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "check_cells.py")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout
    ruff = Path(sys.executable).parent / "ruff"
    for args in (["format", "--check", "--quiet", "nbs"], ["check", "--quiet", "nbs", "hnn_trading"]):
        r = subprocess.run([str(ruff), *args], cwd=ROOT, capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr


def test_a_notebook_cell_that_attaches_a_method_is_named(tmp_path, monkeypatch):
    nb = {"cells": [{"cell_type": "code", "source": ["#| export\n", "def _x(self): pass\n", "RunFolder.x = _x\n"]}]}
    p = tmp_path / "x.ipynb"
    p.write_text(json.dumps(nb))
    assert [cc.attachments(s) for _, s in cc.export_sources(p)] == [[3]]


def test_a_parameter_comment_after_the_closing_parenthesis_is_found(tmp_path, monkeypatch):
    monkeypatch.setattr(cc, "ROOT", tmp_path)
    f = tmp_path / "m.py"
    f.write_text(
        "def f(\n    a,  # the a\n    b=1,\n):  # the b\n    return a\n\n\ndef g(\n    a,\n) -> int:  # returned\n    return a\n"
    )
    hits = cc.stray_docments(f)
    assert len(hits) == 1 and hits[0].startswith("m.py:4:")

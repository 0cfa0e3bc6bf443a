"""The house's size rules, checked by `make lint`: export cells small (median <= 12 code lines, none over 60), no
method attached to a class by assignment after its body (write it in the class or with fastcore's `@patch`), and no
package line over 120 characters (ruff checks the notebooks' code; this also covers what nbdev writes from Markdown,
such as module docstrings)."""
import argparse, ast, json, re, statistics, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIRECTIVE = re.compile(r"^\s*#\|\s*(export|exports|exporti)\b")


def code_lines(source: str) -> int:
    "Lines of an export cell that hold code: not blank, not a `#|` directive."
    return sum(1 for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#|"))


def export_sources(nb_path: Path):
    "Yield (cell number, source) for every export cell of a notebook (cells counted from 0, as nbformat does)."
    cells = json.loads(nb_path.read_text())["cells"]
    for i, cell in enumerate(cells):
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and any(DIRECTIVE.match(line) for line in source.splitlines()[:3]):
            yield i, source


def export_cells(nb_path: Path):
    "Yield (cell number, code lines) for every export cell of a notebook."
    for i, source in export_sources(nb_path):
        yield i, code_lines(source)


def attachments(source: str) -> list:
    "Line numbers of module-level assignments to class attributes (`Cls.name = _name`) in `source`."
    try:
        tree = ast.parse(source)
    except SyntaxError:  # a cell with IPython syntax: not exported code
        return []
    hits = []
    for node in tree.body:
        if not isinstance(node, ast.Assign):
            continue
        targets = [e for t in node.targets for e in (t.elts if isinstance(t, ast.Tuple) else [t])]
        if any(isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id[:1].isupper()
               for t in targets):
            hits.append(node.lineno)
    return hits


def attached_methods(py_path: Path) -> list:
    "Module-level assignments of functions to class attributes (`Cls.name = _name`) in a module."
    return [f"{py_path.relative_to(ROOT)}:{n}" for n in attachments(py_path.read_text())]


def stray_docments(py_path: Path) -> list:
    """Functions whose signature closes with `):  # comment`: nbdev's docments read that comment as no parameter's,
    so the last parameter loses its documentation (ruff format moves it there when the last parameter has no
    trailing comma). A `) -> T:  # comment` is the return's docment and is fine."""
    lines = py_path.read_text().splitlines()
    hits = []
    for node in ast.walk(ast.parse("\n".join(lines))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            for n in range(node.lineno, node.body[0].lineno):
                if re.match(r"^\s*\):\s+#", lines[n - 1]):
                    hits.append(f"{py_path.relative_to(ROOT)}:{n}: a parameter's comment after the closing "
                                "parenthesis; put it on the last parameter's line, after a trailing comma")
    return hits


def long_lines(py_path: Path, limit: int = 120) -> list:
    """Package lines over `limit` characters. nbdev-export wraps `__all__` at 120 characters after `__all__ = `, so
    its first line may reach 130: that one line is nbdev's, not ours, and is let through."""
    hits = []
    for n, line in enumerate(py_path.read_text().splitlines(), 1):
        if len(line) > limit and not line.startswith("__all__ = ["):
            hits.append(f"{py_path.relative_to(ROOT)}:{n}: {len(line)} characters (at most {limit})")
    return hits


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--median", type=float, default=12)
    p.add_argument("--max", type=int, default=60)
    p.add_argument("--report", action="store_true", help="print every notebook's figures")
    a = p.parse_args(argv)
    sizes, errors = [], []
    for nb in sorted((ROOT / "nbs").glob("*.ipynb")):
        mine = list(export_cells(nb))
        sizes += [n for _, n in mine]
        errors += [f"{nb.relative_to(ROOT)}, cell {i}, line {n}: method attached after the class body; define it "
                   "in the class or with @patch" for i, source in export_sources(nb) for n in attachments(source)]
        errors += [f"{nb.relative_to(ROOT)}, cell {i}: {n} code lines in one export cell (at most {a.max})"
                   for i, n in mine if n > a.max]
        if a.report and mine:
            print(f"{nb.name:28} {len(mine):3} cells, median {statistics.median(n for _, n in mine):5.1f}, "
                  f"max {max(n for _, n in mine)}")
    median = statistics.median(sizes) if sizes else 0
    if median > a.median:
        errors.append(f"export cells: median {median} code lines over {len(sizes)} cells (at most {a.median})")
    for py in sorted((ROOT / "hnn_trading").glob("*.py")):
        errors += [f"{h}: method attached after the class body; define it in the class or with @patch"
                   for h in attached_methods(py)]
        if py.name != "_modidx.py":
            errors += long_lines(py) + stray_docments(py)
    for e in errors:
        print("FAIL:", e)
    print(f"{'ok' if not errors else 'FAIL'}: {len(sizes)} export cells, median {median} code lines, "
          f"largest {max(sizes, default=0)}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

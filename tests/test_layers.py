"""The module picture (issue #13): no import cycle between hnn_trading modules, counting imports inside functions too,
and no private name (a leading underscore) imported from another module."""
import ast
from pathlib import Path
import hnn_trading

PKG = Path(hnn_trading.__file__).parent

def imports():
    "module -> [(imported module, names)] for every hnn_trading import in the package, at any depth."
    out = {}
    for f in sorted(PKG.glob("*.py")):
        if f.stem in ("__init__", "_modidx"): continue
        edges = []
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom):
                mod = node.module or ""
                if node.level == 1: target = mod or None
                elif mod.startswith("hnn_trading."): target = mod.split(".", 1)[1]
                elif mod == "hnn_trading": target = None
                else: continue
                names = [a.name for a in node.names]
                if target is None: edges += [(n, []) for n in names if (PKG/f"{n}.py").exists()]
                else: edges.append((target.split(".")[0], names))
            elif isinstance(node, ast.Import):
                edges += [(a.name.split(".")[1], []) for a in node.names if a.name.startswith("hnn_trading.")]
        out[f.stem] = edges
    return out

def private_uses(f:Path) -> list:
    "Private names of other hnn_trading modules a file reaches for: imported by name, or as `module_alias._name`."
    tree, aliases, out = ast.parse(f.read_text()), {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level == 1 and not node.module or node.module == "hnn_trading"):
            aliases.update({(a.asname or a.name): a.name for a in node.names})
        if isinstance(node, ast.ImportFrom) and (node.level == 1 and node.module or (node.module or "").startswith("hnn_trading.")):
            out += [(node.module.split(".")[-1], a.name) for a in node.names if a.name.startswith("_")]
    out += [(aliases[n.value.id], n.attr) for n in ast.walk(tree) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
            and n.value.id in aliases and n.attr.startswith("_") and not n.attr.startswith("__")]
    return [(t, n) for t, n in out if t != f.stem]

def test_no_private_imports_across_modules():
    bad = {f.stem: u for f in sorted(PKG.glob("*.py")) if f.stem != "_modidx" and (u := private_uses(f))}
    assert not bad, f"private names used across modules: {bad}"

def cycles(graph:dict) -> list:
    "Every cycle a depth-first walk meets in {module: {imported modules}}."
    seen, stack, found = set(), [], []
    def visit(m):
        if m in stack: found.append(stack[stack.index(m):] + [m]); return
        if m in seen: return
        seen.add(m); stack.append(m)
        for t in sorted(graph.get(m, ())): visit(t)
        stack.pop()
    for m in sorted(graph): visit(m)
    return found

def test_no_import_cycles():
    mods = imports()
    graph = {m: {t for t, _ in edges if t != m and t in mods} for m, edges in mods.items()}
    assert not cycles(graph), f"import cycles: {cycles(graph)}"

def test_the_detector_sees_cycles():
    "The check can fail: the cycle the package had (hpo -> pipeline -> hpo) and a longer one are reported; a layered graph is not."
    assert cycles({"hpo": {"pipeline"}, "pipeline": {"hpo", "data"}, "data": set()}) == [["hpo", "pipeline", "hpo"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []

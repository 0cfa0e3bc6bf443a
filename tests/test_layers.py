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


# The Hermite layers' maths, written out as they were before the fused series (issue #29, the model at its floor):
# the stacked basis by recurrence, (B * c).sum(-1), the derivative basis by cat, the sign applied to h. The product's
# HermiteActivation / SymmetricHermiteBlock / HermiteNet must give the same outputs and gradients on random inputs.
import math, pytest, torch
from hnn_trading.hermite import HermiteActivation, SymmetricHermiteBlock
from hnn_trading.config import ModelConfig, RunConfig
from hnn_trading.models import build
from hnn_trading.losses import composite_loss

def ref_basis(x, degree, version, normalized):
    B = [torch.ones_like(x)]
    if degree >= 1:
        phys = version == "physicist"
        B.append((math.sqrt(2) if normalized else 2.0) * x if phys else x)
        for n in range(1, degree):
            if normalized: nxt = ((math.sqrt(2) if phys else 1.0) * x * B[n] - math.sqrt(n) * B[n - 1]) / math.sqrt(n + 1)
            else: nxt = (2 * x * B[n] - 2 * n * B[n - 1]) if phys else (x * B[n] - n * B[n - 1])
            B.append(nxt)
    return torch.stack(B, dim=-1)

def ref_activation(act, z):
    "(h, h') of a HermiteActivation's parameters by the old arithmetic."
    if act.preset == "default":
        t = torch.tanh(z / act.kappa); u = act.kappa * t; du = 1 - t * t
    else:
        u = z.clamp(-10, 10); du = ((z > -10) & (z < 10)).to(z.dtype)
    norm_ = act.preset == "default"
    B = ref_basis(u, act.degree, act.version, norm_)
    c = act.c.to(z.dtype)
    h = (B * c).sum(-1) + act.d0 + act.d1 * z
    n = torch.arange(1, act.degree + 1, dtype=B.dtype)
    phys = act.version == "physicist"
    k = (torch.sqrt(2 * n) if phys else torch.sqrt(n)) if norm_ else ((2 * n) if phys else n)
    dB = torch.cat([torch.zeros_like(B[..., :1]), k * B[..., :-1]], dim=-1)
    return h, (dB * c).sum(-1) * du + act.d1

def ref_block(blk, s):
    h, dh = ref_activation(blk.act, s @ blk.W.T)
    return blk.scale * (blk.sign * h) @ blk.W + blk.bias, blk.scale * (blk.sign * dh) @ (blk.W**2).sum(1)

def grads(outs, params, seed=1):
    "Gradients of a fixed random linear functional of `outs` with respect to `params`."
    g = torch.Generator().manual_seed(seed)
    total = sum((o * torch.randn(o.shape, generator=g, dtype=o.dtype)).sum() for o in outs)
    return torch.autograd.grad(total, params, allow_unused=True, retain_graph=True)

def assert_same(a, b, tol):
    for x, y in zip(a, b):
        if x is None or y is None: assert x is None and y is None; continue
        x, y = x.detach(), y.detach()
        assert torch.allclose(x, y, rtol=tol, atol=tol * max(1.0, float(y.abs().max()))), float((x - y).abs().max())

CASES = [(p, v, d) for p in ("default", "legacy") for v in ("probabilist", "physicist") for d in (0, 1, 2, 3, 7)]

@pytest.mark.parametrize("preset,version,degree", CASES)
def test_hermite_block_matches_the_reference_maths(preset, version, degree):
    "Outputs and every gradient (input, W, bias, c, d0, d1) equal the old arithmetic's: 1e-6 in float64 and float32."
    for dtype, tol in ((torch.float64, 1e-10), (torch.float32, 1e-6)):
        torch.manual_seed(degree)
        blk = SymmetricHermiteBlock(9, 5, 3, 2, degree, version, preset).to(dtype)
        if preset == "default":
            with torch.no_grad(): blk.act.d0.normal_(); blk.act.d1.normal_()
        s = (3 * torch.randn(17, 9, dtype=dtype)).requires_grad_()
        ps = [s] + [p for p in blk.parameters()]
        new, ref = blk(s), ref_block(blk, s)
        assert_same(new, ref, tol)
        assert_same(grads(new, ps), grads(ref, ps), tol)

@pytest.mark.parametrize("preset", ["default", "legacy"])
def test_hermite_activation_matches_the_reference_maths(preset):
    "h alone (no derivative asked) and (h, h') with 3-d inputs, large |z| (the legacy clamp) included."
    act = HermiteActivation(6, 7, "probabilist", preset).double()
    z = (6 * torch.randn(4, 3, 6, dtype=torch.float64)).requires_grad_()
    ps = [z] + list(act.parameters())
    h_ref, dh_ref = ref_activation(act, z)
    assert_same([act(z)], [h_ref], 1e-10)
    assert_same(grads([act(z)], ps), grads([h_ref], ps), 1e-10)
    assert_same(grads(act(z, with_derivative=True), ps), grads([h_ref, dh_ref], ps), 1e-10)

def test_hermitenet_step_matches_the_reference_maths(monkeypatch):
    "The whole legacy HermiteNet (LSTM encoder, block, trunk, heads, loss): loss and gradients equal the reference's."
    cfg = ModelConfig(name="hermite", feature_window=12, hermite_preset="legacy", prob_source="legacy_pdf", use_lstm=True,
                      lstm_hidden=8, hermite_hidden_dim=6, hermite_degree=7, hermite_maps_a=5, hermite_maps_b=1)
    torch.manual_seed(0)
    m = build(cfg, 5).double().eval(); tc = RunConfig().training
    x = torch.randn(32, 12, 5, dtype=torch.float64); y = (torch.rand(32) > 0.5).double(); r = torch.randn(32, dtype=torch.float64)
    ps = list(m.parameters())
    loss = composite_loss(m(x), y, r, tc, cfg); g_new = torch.autograd.grad(loss, ps)
    monkeypatch.setattr(type(m.block), "forward", lambda self, s: ref_block(self, s))
    loss_ref = composite_loss(m(x), y, r, tc, cfg); g_ref = torch.autograd.grad(loss_ref, ps)
    assert abs(float(loss - loss_ref)) <= 1e-10 * max(1.0, abs(float(loss_ref)))
    assert_same(g_new, g_ref, 1e-10)

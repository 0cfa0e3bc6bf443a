"""Build the documentation site into _docs/ from the notebooks and docs/*.md (`make docs`).

nbdev 3's `nbdev-docs` needs Quarto, which these machines cannot install, so the site is built with nbconvert. Sidebar:
the home page (nbs/index.ipynb, the README's notebook), the tutorial (nbs/21_tutorial), the guides in docs/*.md, then
the numbered notebooks in data-flow order. Every page shows its prose and committed outputs (tables, plots), with maths
turned into MathML at build time (browsers render it with no script and no network). Each exported function, class or
method becomes an API card, as nbdev's `show_doc` renders one: signature, docstring and a parameters table (types,
defaults and docments, the trailing comments on parameters), with the cell's source folded in a <details> element.
Each page opens with a contents list (its sections and cards); a search box in the sidebar searches a prebuilt index
(search.js, written here) in the page, so it works offline from file:// too.

    python tools/make_docs.py [OUT_DIR]        (default: _docs)"""
import ast, html, importlib, inspect, json, re, shutil, sys
from pathlib import Path

root = Path(__file__).resolve().parents[1]
TUTORIAL = "21_tutorial"
# docs/*.md in this order, then any other guide by name
GUIDES = ["install", "usage", "honesty", "cross_section", "reliability", "speed", "how_it_is_built"]


def md_notebook(text:str) -> dict:
    "A Markdown file as a notebook: one markdown cell per `## ` section (fenced code left whole)."
    cells, cur, fence = [], [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
        if line.startswith("## ") and not fence and cur:
            cells.append("\n".join(cur))
            cur = []
        cur.append(line)
    cells.append("\n".join(cur))
    cells = [{"cell_type": "markdown", "id": f"md{i}", "metadata": {}, "source": c}
             for i, c in enumerate(cells) if c.strip()]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def pages() -> list:
    "(source file, page name) in sidebar order: home, tutorial, guides (docs/*.md), the numbered notebooks."
    nbs = sorted(p for p in (root/"nbs").glob("*.ipynb") if p.stem != "index" and not p.name.startswith("_"))
    order = lambda p: (GUIDES.index(p.stem) if p.stem in GUIDES else len(GUIDES), p.stem)
    guides = sorted((root/"docs").glob("*.md"), key=order)
    first = [p for p in nbs if p.stem == TUTORIAL]
    rest = [p for p in nbs if p.stem != TUTORIAL]
    return [(root/"nbs"/"index.ipynb", "index")] + [(p, p.stem) for p in first + guides + rest]


def load(path:Path) -> dict:
    if path.suffix == ".md":
        return md_notebook(path.read_text())
    return json.loads(path.read_text())


def title(nb:dict, default:str) -> str:
    for c in nb["cells"]:
        if c["cell_type"] == "markdown":
            m = re.match(r"#\s+(.+)", "".join(c["source"]).strip())
            if m:
                return re.sub(r"`", "", m.group(1)).strip()
    return default


_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.S)          # fenced blocks and inline code spans: no maths inside
_MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$\w])\$(?!\s)([^$\n]+?)(?<!\s)\$(?![\w$])", re.S)


def to_mathml(tex:str, display:bool) -> str:
    from latex2mathml.converter import convert
    try:
        return convert(tex.strip(), display="block" if display else "inline")
    except Exception:
        return f"<code>{html.escape(tex)}</code>"          # a formula latex2mathml cannot read stays visible as code


def math_to_mathml(md:str) -> str:
    "Markdown with $...$ and $$...$$ replaced by MathML, code left alone."
    parts = _CODE.split(md)
    sub = lambda p: _MATH.sub(lambda m: to_mathml(m.group(1) or m.group(2), m.group(1) is not None), p)
    return "".join(p if i % 2 else sub(p) for i, p in enumerate(parts))


# ---------------------------------------------------------------- API cards

def inline_md(text:str) -> str:
    "A docstring as HTML: escaped, `code` spans, paragraphs on blank lines."
    out = []
    for para in re.split(r"\n\s*\n", text.strip()):
        parts = re.split(r"`([^`]*)`", html.escape(para))
        out.append("".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts)))
    return "".join(f"<p>{p}</p>" for p in out if p)


def _anno(a) -> str:
    if a is inspect.Parameter.empty:
        return ""
    return a if isinstance(a, str) else inspect.formatannotation(a)


def _default(d) -> str:
    if d is inspect.Parameter.empty:
        return ""
    r = repr(d)
    return r if len(r) <= 60 else r[:57] + "..."


def _unwrap(obj):
    "The Python function behind a property, a numba dispatcher or a decorator."
    if isinstance(obj, property):
        return obj.fget
    obj = getattr(obj, "py_func", obj)
    return inspect.unwrap(obj) if callable(obj) else obj


def _params(obj, drop_self:bool) -> tuple:
    "([(name, type, default, docment)], return type) of a callable, from its signature and fastcore's docments."
    from fastcore.docments import docments
    f = obj.__init__ if inspect.isclass(obj) else obj
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return [], ""
    try:
        docs = docments(f, full=True)
    except Exception:
        docs = {}
    out = []
    for i, (n, p) in enumerate(sig.parameters.items()):
        if i == 0 and drop_self and n in ("self", "cls"):
            continue
        star = "*" if p.kind == p.VAR_POSITIONAL else "**" if p.kind == p.VAR_KEYWORD else ""
        out.append((star + n, _anno(p.annotation), _default(p.default), (docs.get(n) or {}).get("docment") or ""))
    ret = "" if sig.return_annotation is inspect.Signature.empty else _anno(sig.return_annotation)
    return out, ret


def params_table(params:list) -> str:
    "The parameters table, without the columns no parameter fills; none when only the names would show."
    heads = ["parameter", "type", "default", "details"]
    keep = [0] + [j for j in (1, 2, 3) if any(p[j] for p in params)]
    if len(keep) == 1:
        return ""
    cell = lambda j, v: inline_md(v) if j == 3 else f"<code>{html.escape(v)}</code>" if v else ""
    head = "".join(f"<th>{heads[j]}</th>" for j in keep)
    rows = "".join("<tr>" + "".join(f"<td>{cell(j, p[j])}</td>" for j in keep) + "</tr>" for p in params)
    return f'<table class="hnn-params"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def card(name:str, obj, kind:str, src:str="", level:int=3, inner:str="") -> dict:
    "One API card: {name, kind, doc (first line), html}; `inner` (method cards) and `src` (folded) inside it."
    f = obj if kind == "class" else _unwrap(obj)
    doc = inspect.getdoc(f) or ""
    if kind == "class" and not doc:
        doc = inspect.getdoc(obj.__init__) or ""
    params, ret = _params(f, drop_self=kind in ("method", "property"))
    args = ", ".join(f"{n}{':' + t if t else ''}{'=' + d if d else ''}" for n, t, d, _ in params)
    tail = f" -> {ret}" if ret and kind != "class" else ""
    sig = f"{name}{tail}" if kind == "property" else f"{name}({args}){tail}"
    table = params_table(params)
    h = f"h{level}"
    a = html.escape(name)
    body = (f'<div class="hnn-card hnn-{kind}" id="{a}">'
            f'<{h} class="hnn-card-title"><a href="#{a}">{a}</a> <span class="hnn-kind">{kind}</span></{h}>'
            f'<pre class="hnn-sig"><code>{html.escape(sig)}</code></pre>'
            f'<div class="hnn-doc">{inline_md(doc)}</div>{table}{inner}'
            f'{source_block(src, "source") if src else ""}</div>')
    return {"name": name, "kind": kind, "doc": doc.split("\n")[0], "html": body}


def _targets(node) -> list:
    "(class name, attribute, value name) of `A.x, A.y = _x, _y` assignments."
    out = []
    for t in node.targets:
        ts = t.elts if isinstance(t, ast.Tuple) else [t]
        vs = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
        if len(ts) != len(vs):
            continue
        for a, v in zip(ts, vs):
            if isinstance(a, ast.Attribute) and isinstance(a.value, ast.Name) and isinstance(v, ast.Name):
                if not a.attr.startswith("_"):
                    out.append((a.value.id, a.attr, v.id))
    return out


def _segment(src:str, node) -> str:
    "The source lines of a statement, decorators included."
    lines = src.splitlines()
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return "\n".join(lines[first - 1:node.end_lineno])


def _member_cards(cls_node, obj) -> list:
    "Cards of a class's public methods and properties defined in its body."
    out = []
    for m in cls_node.body:
        if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)) and not m.name.startswith("_"):
            raw = inspect.getattr_static(obj, m.name, None)
            if raw is None:
                continue
            kind = "property" if isinstance(raw, property) else "method"
            target = raw if kind == "property" else getattr(obj, m.name)
            out.append(card(f"{cls_node.name}.{m.name}", target, kind, level=4))
    return out


def _patched(node, mod):
    "(class name, attribute) of a function written with fastcore's `@patch` on a class of `mod`; None otherwise."
    deco = [d.func if isinstance(d, ast.Call) else d for d in getattr(node, "decorator_list", [])]
    if not any(isinstance(d, ast.Name) and d.id == "patch" for d in deco) or not node.args.args:
        return None
    ann = node.args.args[0].annotation
    cls = ann.id if isinstance(ann, ast.Name) else getattr(ann, "value", None)
    owner = getattr(mod, cls, None) if isinstance(cls, str) else None
    if not (inspect.isclass(owner) and hasattr(owner, node.name)):
        return None
    return cls, inspect.getattr_static(owner, node.name)


def cell_cards(src:str, mod) -> tuple:
    """(cards, leftover source) of one exported cell: its public functions and classes (with their public methods) and
    the methods it attaches to a class (`@patch` or `A.x = _x`), in source order; leftover is the rest that is not
    imports."""
    tree = ast.parse(src)
    defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    cards, used = [], set()
    for node in tree.body:
        named = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        public = named and not node.name.startswith("_")
        patched = _patched(node, mod) if public else None
        obj = getattr(mod, node.name, None) if public and patched is None else None
        if patched is not None:                                   # fastcore's `@patch def name(self: Cls, ...)`
            cls, raw = patched
            kind = "property" if isinstance(raw, property) else "method"
            target = raw if kind == "property" else getattr(getattr(mod, cls), node.name)
            cards.append(card(f"{cls}.{node.name}", target, kind, _segment(src, node)))
            used.add(id(node))
        elif obj is not None:
            subs = _member_cards(node, obj) if isinstance(node, ast.ClassDef) else []
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            inner = "".join(s["html"] for s in subs)
            cards.append(card(node.name, obj, kind, _segment(src, node), inner=inner))
            cards += [{**s, "html": None} for s in subs]         # in the index and contents, drawn in the class card
            used.add(id(node))
        elif isinstance(node, ast.Assign) and _targets(node):
            used.add(id(node))
            for cls, attr, fn in _targets(node):
                owner = getattr(mod, cls, None)
                if not (inspect.isclass(owner) and hasattr(owner, attr)):
                    continue
                raw = inspect.getattr_static(owner, attr)
                kind = "property" if isinstance(raw, property) else "method"
                fsrc = _segment(src, defs[fn]) if fn in defs else ""
                if fn in defs:
                    used.add(id(defs[fn]))
                cards.append(card(f"{cls}.{attr}", raw if kind == "property" else getattr(owner, attr), kind, fsrc))
    rest = [n for n in tree.body if id(n) not in used and not isinstance(n, (ast.Import, ast.ImportFrom))]
    return cards, "\n\n".join(_segment(src, n) for n in rest)


def highlight(src:str) -> str:
    from pygments import highlight as hl
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer
    return hl(src, PythonLexer(), HtmlFormatter(cssclass="hnn-src"))


def source_block(src:str, label:str) -> str:
    return f'<details class="hnn-source"><summary>{html.escape(label)}</summary>{highlight(src)}</details>'


def api_html(src:str, mod) -> tuple:
    """(HTML of an exported cell, its cards): a card per public name, each with its source folded, then the cell's other
    code (private helpers, constants) folded; None when the cell holds only imports."""
    try:
        cards, rest = cell_cards(src, mod) if mod is not None else ([], src)
    except SyntaxError:
        cards, rest = [], src
    shown = "".join(c["html"] for c in cards if c["html"] is not None)
    if rest.strip():
        label = "more source in this cell (module internals)" if cards else "source (module internals)"
        shown += source_block(rest, label)
    return (shown or None), cards


# ---------------------------------------------------------------- pages

def module_of(nb:dict):
    "The imported module a notebook exports to (`#| default_exp`), or None."
    for c in nb["cells"]:
        m = re.search(r"^#\|\s*default_exp\s+(\S+)", "".join(c["source"]), re.M)
        if m:
            try:
                return importlib.import_module(f"hnn_trading.{m.group(1)}")
            except Exception as e:
                msg = f"warning: hnn_trading.{m.group(1)} does not import ({e}); its cards are left out"
                print(msg, file=sys.stderr)
                return None
    return None


def prepare(nb:dict, slots:list) -> dict:
    "The notebook as the page shows it: hidden cells out, exported cells as API cards (in `slots`), maths as MathML."
    mod = module_of(nb)
    cells = []
    toc_done = False
    for c in nb["cells"]:
        src = "".join(c["source"])
        if c["cell_type"] == "code":
            lines = src.splitlines()
            if any(re.match(r"#\|\s*(hide|default_exp)\b", l) for l in lines[:3]):
                continue
            exported = any(re.match(r"#\|\s*exports?\b", l) for l in lines[:3])
            src = "\n".join(l for l in lines if not l.startswith("#|")).strip("\n")
            if exported:
                body, cards = api_html(src, mod)
                if body is None:
                    continue
                slots.append((body, cards))
                cells.append(raw(f"@@HNN-SLOT-{len(slots) - 1}@@"))
                continue
            if not src and not c.get("outputs"):
                continue
        elif c["cell_type"] == "markdown":
            src = math_to_mathml(src)
        cells.append({**c, "source": src})
        if c["cell_type"] == "markdown" and not toc_done:
            cells.append(raw("@@HNN-TOC@@"))                                # the contents list after the title cell
            toc_done = True
    return {**nb, "cells": cells}


def raw(text:str) -> dict:
    "A raw HTML cell holding a placeholder that `render` replaces (nbconvert sanitises raw cells' HTML)."
    key = re.sub(r"\W", "", text).lower()
    return {"cell_type": "raw", "id": key, "metadata": {}, "source": f'<div class="hnn-slot">{text}</div>'}


CSS = """
body { margin: 0; }
nav.hnn-sidebar { position: fixed; top: 0; left: 0; bottom: 0; width: 250px; overflow-y: auto; padding: 18px 14px;
  background: #f6f8fa; border-right: 1px solid #d0d7de;
  font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; box-sizing: border-box; }
nav.hnn-sidebar .brand { font-weight: 700; font-size: 16px; margin-bottom: 10px; display: block; color: #1f2328;
  text-decoration: none; }
nav.hnn-sidebar a { display: block; padding: 3px 6px; color: #0969da; text-decoration: none; border-radius: 4px; }
nav.hnn-sidebar a.current { background: #ddf4ff; font-weight: 600; }
nav.hnn-sidebar .group { margin: 10px 0 2px 6px; font-size: 11px; text-transform: uppercase; color: #57606a;
  letter-spacing: .05em; }
.hnn-search { position: relative; margin-bottom: 12px; }
.hnn-search input { width: 100%; box-sizing: border-box; padding: 6px 8px; border: 1px solid #d0d7de;
  border-radius: 6px; font-size: 14px; }
ul.hnn-results { list-style: none; margin: 4px 0 0; padding: 0; background: #fff; border: 1px solid #d0d7de;
  border-radius: 6px; max-height: 70vh; overflow-y: auto; }
ul.hnn-results:empty { display: none; }
ul.hnn-results li a { display: block; padding: 5px 8px; border-radius: 0; border-bottom: 1px solid #eaeef2; }
ul.hnn-results li a .k { color: #57606a; font-size: 11px; }
ul.hnn-results li a .d { display: block; color: #57606a; font-size: 12px; line-height: 1.3; font-weight: normal; }
main.hnn-page { margin-left: 278px; max-width: 1100px; padding: 8px 24px 60px; }
math[display="block"] { margin: 0.8em 0; }
.hnn-toc { border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 14px; margin: 10px 0 18px; background: #fbfcfd;
  font: 13px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
.hnn-toc summary { font-weight: 600; cursor: pointer; }
.hnn-toc ul { margin: 4px 0; padding-left: 18px; columns: 2; column-gap: 28px; }
.hnn-toc ul ul { columns: 1; }
.hnn-toc li { break-inside: avoid; }
.hnn-toc a { color: #0969da; text-decoration: none; }
.hnn-toc code { font-size: 12px; }
.hnn-card { border: 1px solid #d0d7de; border-left: 4px solid #0969da; border-radius: 6px; padding: 4px 16px 10px;
  margin: 14px 0; background: #fff; font: 14px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
  color: #1f2328; }
.hnn-doc p { margin: 6px 0; }
.hnn-doc code, table.hnn-params code { background: #f6f8fa; padding: 0 3px; border-radius: 3px; font-size: 12.5px; }
.hnn-card .hnn-card { border-left-color: #8c959f; margin: 10px 0 4px; }
.hnn-card-title { margin: 10px 0 4px; font-family: SFMono-Regular, Consolas, monospace; }
.hnn-card-title a { color: #1f2328; text-decoration: none; }
.hnn-kind { font: 11px -apple-system, "Segoe UI", sans-serif; color: #57606a; border: 1px solid #d0d7de;
  border-radius: 10px; padding: 1px 7px; vertical-align: middle; }
pre.hnn-sig { background: #f6f8fa; padding: 6px 10px; border-radius: 4px; white-space: pre-wrap; margin: 4px 0; }
table.hnn-params { border-collapse: collapse; margin: 6px 0; font-size: 13px; }
table.hnn-params th, table.hnn-params td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left;
  vertical-align: top; }
table.hnn-params th { background: #f6f8fa; }
table.hnn-params td p { margin: 0; }
details.hnn-source { margin: 6px 0; }
details.hnn-source summary { cursor: pointer; color: #57606a;
  font: 13px -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
.hnn-src pre { background: #f6f8fa; padding: 8px 10px; border-radius: 4px; overflow-x: auto; font-size: 12.5px; }
.jp-RenderedMarkdown pre { background: #f6f8fa; padding: 8px 12px; border-radius: 6px; overflow-x: auto;
  margin: 0.6em 0 1em; }
.jp-RenderedMarkdown img { border: 1px solid #d0d7de; border-radius: 4px; }
:target { scroll-margin-top: 12px; }
.hnn-card:target { box-shadow: 0 0 0 3px #ddf4ff; }
"""

SEARCH_JS = r"""
(function () {
  const index = window.HNN_INDEX || [];
  const box = document.getElementById('hnn-search');
  const list = document.getElementById('hnn-results');
  if (!box || !list) return;
  function score(e, terms) {
    const name = e.t.toLowerCase();
    const hay = (e.t + ' ' + (e.d || '') + ' ' + (e.p || '')).toLowerCase();
    let s = 0;
    for (const w of terms) {
      if (!hay.includes(w)) return 0;
      s += name === w ? 100 : name.startsWith(w) ? 40 : name.includes(w) ? 20 : 2;
    }
    return s + (e.k === 'class' || e.k === 'function' ? 5 : e.k === 'page' ? 3 : 0);
  }
  function esc(s) { const d = document.createElement('span'); d.textContent = s; return d.innerHTML; }
  function run() {
    const terms = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    if (!terms.length) { list.innerHTML = ''; return; }
    const hits = index.map(e => [score(e, terms), e]).filter(x => x[0] > 0)
      .sort((a, b) => b[0] - a[0] || a[1].t.length - b[1].t.length).slice(0, 20);
    list.innerHTML = hits.length ? hits.map(([_, e]) =>
      '<li><a href="' + esc(e.u) + '"><b>' + esc(e.t) + '</b> <span class="k">' + esc(e.k) +
      (e.p ? ' · ' + esc(e.p) : '') + '</span>' + (e.d ? '<span class="d">' + esc(e.d) + '</span>' : '') + '</a></li>'
    ).join('') : '<li class="none">no match</li>';
  }
  box.addEventListener('input', run);
  box.addEventListener('keydown', ev => {
    if (ev.key === 'Enter') { const a = list.querySelector('a'); if (a) window.location.href = a.href; }
    if (ev.key === 'Escape') { box.value = ''; run(); }
  });
  if (box.value) run();
})();
"""


def sidebar(current:str, entries:list) -> str:
    cur = ' class="current"'
    links, last = [], None
    for name, t, group in entries:
        if group != last and group:
            links.append(f'<div class="group">{html.escape(group)}</div>')
        last = group
        links.append(f'<a href="{name}.html"{cur if name == current else ""}>{html.escape(t)}</a>')
    search = ('<div class="hnn-search"><input id="hnn-search" type="search" placeholder="Search the docs"'
              ' aria-label="Search the docs" autocomplete="off"><ul id="hnn-results" class="hnn-results"></ul></div>')
    body = "\n".join(links)
    return f'<nav class="hnn-sidebar"><a class="brand" href="index.html">hnn_trading</a>\n{search}\n{body}\n</nav>'


def _text(h:str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", h)).replace("¶", "").strip()


def toc(body:str, cards:dict) -> tuple:
    "(contents HTML, [(kind, text, anchor)]) from the page's h2/h3 headings and its cards, in page order."
    items = []
    pat = r'<h([23])[^>]*\bid="([^"]+)"[^>]*>(.*?)</h\1>|<div class="hnn-card hnn-(\w+)" id="([^"]+)"'
    for m in re.finditer(pat, body, re.S):
        if m.group(1):
            if "hnn-card-title" in m.group(0):
                continue
            items.append(("h" + m.group(1), _text(m.group(3)), html.unescape(m.group(2))))
        else:
            items.append((m.group(4), html.unescape(m.group(5)), html.unescape(m.group(5))))
    if not items:
        return "", items
    out, open_sub = ["<ul>"], False
    for kind, text, anchor in items:
        if kind == "h2":
            if open_sub:
                out.append("</ul></li>")
                open_sub = False
            out.append(f'<li><a href="#{html.escape(anchor)}">{html.escape(text)}</a>')
            out.append("<ul>")
            open_sub = True
            continue
        label = f"<code>{html.escape(text)}</code>" if kind not in ("h3",) else html.escape(text)
        out.append(f'<li><a href="#{html.escape(anchor)}">{label}</a></li>')
    if open_sub:
        out.append("</ul></li>")
    out.append("</ul>")
    html_toc = "".join(out).replace("<ul></ul>", "")
    return f'<details class="hnn-toc" open><summary>On this page</summary>{html_toc}</details>', items


def rewrite_links(body:str, names:set) -> str:
    "Links to notebooks (X.ipynb) and guides (docs/X.md) point to their pages; docs/images/ to images/."
    def page(m):
        return f'href="{m.group(1)}.html{m.group(2) or ""}"' if m.group(1) in names else m.group(0)
    body = re.sub(r'href="(?:\.\./)?(?:nbs/|docs/)?([\w.-]+)\.(?:ipynb|md)(#[^"]*)?"', page, body)
    body = body.replace('href="README.md"', 'href="index.html"').replace('href="../README.md"', 'href="index.html"')
    return re.sub(r'src="(?:\.\./)?(?:docs/)?images/', 'src="images/', body)


def render(nb:dict, name:str, entries:list, names:set) -> tuple:
    "(page HTML, index entries) of one notebook."
    import nbformat
    from nbconvert import HTMLExporter
    slots = []
    ex = HTMLExporter(template_name="lab", exclude_input_prompt=True, exclude_output_prompt=True)
    node = nbformat.reads(json.dumps(prepare(nb, slots)), as_version=4)       # reads joins multi-line outputs
    body, _ = ex.from_notebook_node(node)
    body = re.sub(r"<script[^>]*>[^<]*</script>\s*",
                  lambda m: "" if "mathjax" in m.group(0).lower() else m.group(0), body)
    body = re.sub(r'<script[^>]*src="[^"]*mathjax[^"]*"[^>]*>\s*</script>', "", body, flags=re.I)
    for i, (h, _) in enumerate(slots):
        body = body.replace(f"@@HNN-SLOT-{i}@@", h, 1)
    body = rewrite_links(body, names)
    t = {n: tt for n, tt, _ in entries}[name]
    contents, items = toc(body, {})
    body = body.replace('<div class="hnn-slot">@@HNN-TOC@@</div>', contents, 1).replace("@@HNN-TOC@@", contents, 1)
    body = re.sub(r"<title>.*?</title>", f"<title>{html.escape(t)} - hnn_trading</title>", body, count=1, flags=re.S)
    body = body.replace("</head>", f"<style>{CSS}</style>\n</head>", 1)
    nav = sidebar(name, entries)
    body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + nav + '\n<main class="hnn-page">', body, count=1)
    body = body.replace("</body>", '</main>\n<script src="search.js"></script>\n</body>', 1)
    docs = {c["name"]: c for _, cs in slots for c in cs}
    index = [{"t": t, "u": f"{name}.html", "k": "page", "p": "", "d": ""}]
    for kind, text, anchor in items:
        c = docs.get(anchor)
        k = "section" if kind.startswith("h") else kind
        doc = c["doc"].replace("`", "") if c else ""
        index.append({"t": text, "u": f"{name}.html#{anchor}", "k": k, "p": t, "d": doc[:160]})
    return body, index


def build(out=root/"_docs") -> list:
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    srcs = [(p, name, load(p)) for p, name in pages()]
    entries = []
    for p, name, nb in srcs:
        group = "Guides" if p.suffix == ".md" else "Modules" if re.match(r"\d", name) and name != TUTORIAL else None
        entries.append((name, "Home" if name == "index" else title(nb, name), group))
    names = {n for n, _, _ in entries}
    written, index = [], []
    for p, name, nb in srcs:
        page, idx = render(nb, name, entries, names)
        (out/f"{name}.html").write_text(page)
        written.append(out/f"{name}.html")
        index += idx
    js = "window.HNN_INDEX = " + json.dumps(index, ensure_ascii=False, separators=(",", ":")) + ";\n" + SEARCH_JS
    (out/"search.js").write_text(js)
    if (root/"docs"/"images").is_dir():
        shutil.copytree(root/"docs"/"images", out/"images")
    return written


if __name__ == "__main__":
    ws = build(Path(sys.argv[1]) if len(sys.argv) > 1 else root/"_docs")
    print(f"wrote {len(ws)} pages and search.js to {ws[0].parent}; open {ws[0]}")

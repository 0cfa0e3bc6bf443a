"""Build the documentation site into _docs/ from the notebooks (`make docs`).

nbdev 3's `nbdev-docs` needs Quarto, which these machines cannot install, so the site is built with nbconvert:
one page per notebook in data-flow order (the README's notebook, nbs/index.ipynb, is the home page), a sidebar,
the committed outputs (tables and plots), and maths turned into MathML at build time, which browsers render with
no script and no network. Cells marked `#| hide` are left out and `#|` directives are dropped from code cells;
links to notebooks (`X.ipynb`) point to their pages.

    python tools/make_docs.py [OUT_DIR]        (default: _docs)"""
import html, json, re, shutil, sys
from pathlib import Path

root = Path(__file__).resolve().parents[1]

def pages() -> list:
    "(notebook, page name) in sidebar order: the home page, then the numbered notebooks, then the tutorial."
    nbs = sorted(p for p in (root/"nbs").glob("*.ipynb") if p.name != "index.ipynb" and not p.name.startswith("_"))
    return [(root/"nbs"/"index.ipynb", "index")] + [(p, p.stem) for p in nbs]

def title(nb:dict, default:str) -> str:
    for c in nb["cells"]:
        if c["cell_type"] == "markdown":
            m = re.match(r"#\s+(.+)", "".join(c["source"]).strip())
            if m: return re.sub(r"`", "", m.group(1)).strip()
    return default

_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.S)                    # fenced blocks and inline code spans: no maths inside
_MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$\w])\$(?!\s)([^$\n]+?)(?<!\s)\$(?![\w$])", re.S)

def to_mathml(tex:str, display:bool) -> str:
    from latex2mathml.converter import convert
    try: return convert(tex.strip(), display="block" if display else "inline")
    except Exception: return f"<code>{html.escape(tex)}</code>"            # a formula latex2mathml cannot read stays visible as code

def math_to_mathml(md:str) -> str:
    "Markdown with $...$ and $$...$$ replaced by MathML, code left alone."
    parts = _CODE.split(md)
    return "".join(p if i % 2 else _MATH.sub(lambda m: to_mathml(m.group(1) or m.group(2), m.group(1) is not None), p) for i, p in enumerate(parts))

def prepare(nb:dict) -> dict:
    "The notebook as the page shows it: hidden cells out, directives dropped, maths as MathML."
    cells = []
    for c in nb["cells"]:
        src = "".join(c["source"])
        if c["cell_type"] == "code":
            lines = src.splitlines()
            if any(re.match(r"#\|\s*(hide|default_exp)\b", l) for l in lines[:3]): continue
            src = "\n".join(l for l in lines if not l.startswith("#|")).strip("\n")
            if not src and not c.get("outputs"): continue
        elif c["cell_type"] == "markdown": src = math_to_mathml(src)
        cells.append({**c, "source": src})
    return {**nb, "cells": cells}

CSS = """
body { margin: 0; }
nav.hnn-sidebar { position: fixed; top: 0; left: 0; bottom: 0; width: 240px; overflow-y: auto; padding: 18px 14px;
  background: #f6f8fa; border-right: 1px solid #d0d7de; font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
nav.hnn-sidebar .brand { font-weight: 700; font-size: 16px; margin-bottom: 10px; display: block; color: #1f2328; text-decoration: none; }
nav.hnn-sidebar a { display: block; padding: 3px 6px; color: #0969da; text-decoration: none; border-radius: 4px; }
nav.hnn-sidebar a.current { background: #ddf4ff; font-weight: 600; }
main.hnn-page { margin-left: 268px; max-width: 1100px; padding: 8px 24px 60px; }
math[display="block"] { margin: 0.8em 0; }
"""

def sidebar(current:str, entries:list) -> str:
    cur = ' class="current"'
    links = "\n".join(f'<a href="{name}.html"{cur if name == current else ""}>{html.escape(t)}</a>' for name, t in entries)
    return f'<nav class="hnn-sidebar"><a class="brand" href="index.html">hnn_trading</a>\n{links}\n</nav>'

def render(nb:dict, name:str, entries:list) -> str:
    import nbformat
    from nbconvert import HTMLExporter
    ex = HTMLExporter(template_name="lab", exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = ex.from_notebook_node(nbformat.reads(json.dumps(prepare(nb)), as_version=4))   # reads joins multi-line outputs
    body = re.sub(r"<script[^>]*>[^<]*</script>\s*", lambda m: "" if "mathjax" in m.group(0).lower() or "MathJax" in m.group(0) else m.group(0), body)
    body = re.sub(r'<script[^>]*src="[^"]*mathjax[^"]*"[^>]*>\s*</script>', "", body, flags=re.I)
    body = re.sub(r'href="(?:\.\./)?(?:nbs/)?([\w.-]+)\.ipynb"', r'href="\1.html"', body)
    t = dict(entries)[name]
    body = re.sub(r"<title>.*?</title>", f"<title>{html.escape(t)} - hnn_trading</title>", body, count=1, flags=re.S)
    body = body.replace("</head>", f"<style>{CSS}</style>\n</head>", 1)
    body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + sidebar(name, entries) + '\n<main class="hnn-page">', body, count=1)
    return body.replace("</body>", "</main>\n</body>", 1)

def build(out=root/"_docs") -> list:
    out = Path(out)
    if out.exists(): shutil.rmtree(out)
    out.mkdir(parents=True)
    nbs = [(p, name, json.loads(p.read_text())) for p, name in pages()]
    entries = [(name, "Home" if name == "index" else title(nb, name)) for _, name, nb in nbs]
    written = []
    for p, name, nb in nbs:
        (out/f"{name}.html").write_text(render(nb, name, entries)); written.append(out/f"{name}.html")
    return written

if __name__ == "__main__":
    ws = build(Path(sys.argv[1]) if len(sys.argv) > 1 else root/"_docs")
    print(f"wrote {len(ws)} pages to {ws[0].parent}; open {ws[0]}")

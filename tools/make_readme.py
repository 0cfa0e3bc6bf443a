"""Write README.md from nbs/index.ipynb (or check it is current with --check).

nbdev 3's `nbdev-readme` renders through Quarto, a binary these machines cannot download, so the
README is rendered here from the same notebook: markdown cells as they are, code cells as fenced
blocks, their text outputs below them (stdout and results; stderr, such as warnings, is left out); cells marked
`#| hide` are left out.

    python tools/make_readme.py [--check]"""
import sys, json
from pathlib import Path

root = Path(__file__).resolve().parents[1]

def render(nb_path=root / "nbs" / "index.ipynb"):
    nb = json.loads(nb_path.read_text())
    out = ["<!-- Generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, then `make readme`. -->", ""]
    for c in nb["cells"]:
        src = "".join(c["source"])
        if c["cell_type"] == "markdown": out += [src, ""]
        elif c["cell_type"] == "code":
            if any(l.strip().startswith(("#| hide", "#|hide", "#| export", "#| exporti")) for l in src.splitlines()[:3]): continue
            out += ["```python", src, "```", ""]
            for o in c.get("outputs", []):
                if o.get("name") == "stderr": continue          # warnings carry local paths; the prose names them
                txt = o.get("text") or o.get("data", {}).get("text/plain")
                if txt: out += ["```", "".join(txt).rstrip(), "```", ""]
    return "\n".join(out).rstrip() + "\n"

if __name__ == "__main__":
    txt, readme = render(), root / "README.md"
    if "--check" in sys.argv:
        if not readme.exists() or readme.read_text() != txt:
            sys.exit("FAIL: README.md is not what nbs/index.ipynb renders to: run `make readme` and commit it.")
        print("ok: README.md matches nbs/index.ipynb")
    else:
        readme.write_text(txt); print("wrote", readme)

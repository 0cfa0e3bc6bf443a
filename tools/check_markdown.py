"""Fail when a markdown cell of nbs/, README.md or a page in docs/ holds commented-script markdown.

Jupyter, JupyterLab and GitHub render `# # Title`, `# ## Section` and a lone `#` as top-level headings: prose written
as commented script lines becomes a wall of headings. Markdown cells are real Markdown (`# Title`, `> description`,
`## Section`, paragraphs). Lines inside fenced code blocks are not checked."""
import json, re, sys
from pathlib import Path

root = Path(__file__).resolve().parents[1]
BAD = re.compile(r"^(# #|#$)")

def bad_lines(text:str) -> list:
    out, fence = [], False
    for i, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"): fence = not fence; continue
        if not fence and BAD.match(line.rstrip()): out.append((i, line))
    return out

def main() -> int:
    problems = []
    for nb in sorted(root.glob("nbs/**/*.ipynb")):
        if ".ipynb_checkpoints" in nb.parts: continue
        for k, c in enumerate(json.loads(nb.read_text())["cells"]):
            if c["cell_type"] == "markdown":
                problems += [f"{nb.relative_to(root)}, cell {k} (id {c.get('id')}), line {i}: {l!r}" for i, l in bad_lines("".join(c["source"]))]
    for md in [root/"README.md", *sorted((root/"docs").glob("*.md"))]:
        problems += [f"{md.relative_to(root)}, line {i}: {l!r}" for i, l in bad_lines(md.read_text())]
    if problems:
        print("FAIL: commented-script markdown (renders as a heading per line); write real Markdown:\n  " + "\n  ".join(problems))
        return 1
    print("ok: every markdown cell, the README and docs/*.md are real Markdown")
    return 0

if __name__ == "__main__": sys.exit(main())

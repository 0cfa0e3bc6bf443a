"""The notebooks carry the outputs of a clean top-to-bottom run, and those outputs are current.

  python tools/check_outputs.py snapshot   # before `nbdev-test --save`: keep the committed notebooks aside
  python tools/check_outputs.py compare    # after it: compare, then put the committed notebooks back

`compare` checks, for every notebook that ran: the same cells, and in each code cell the same kinds of output
(text, table, image, ...; numbers may differ in their last digits, so values are not compared); every notebook
with plotting code has at least one image. The committed files are restored whatever the result, so `make test`
never rewrites a developer's notebooks. `python tools/check_outputs.py images` runs only the image check."""
import json, re, shutil, sys
from pathlib import Path

root = Path(__file__).resolve().parents[1]
snap = root/".outputs-snapshot"
PLOTS = re.compile(r"\bplt\.|\.plot\(|sns\.|plot_[a-z_]*\(|\.show\(\)")

def notebooks() -> list:
    "Notebooks executed by nbdev-test (report templates are run by pytest instead, and carry no outputs)."
    return sorted(p for p in (root/"nbs").glob("*.ipynb") if not p.name.startswith("_"))

def signature(nb:dict) -> list:
    "Per cell: its type and, for code, the sorted kinds of its outputs (streams and errors left out: they vary with warnings and timing)."
    out = []
    for c in nb["cells"]:
        kinds = set()
        for o in c.get("outputs", []):
            if o["output_type"] in ("display_data", "execute_result"):
                kinds |= {k for k in o.get("data", {}) if k != "text/plain" or len(o["data"]) == 1}
        out.append((c["cell_type"], sorted(kinds)))
    return out

def has_plot_code(nb:dict) -> bool:
    "Plotting code outside exported cells (an exported function that can plot is a definition, not a figure)."
    src = lambda c: "".join(c["source"])
    return any(c["cell_type"] == "code" and not src(c).startswith("#| export") and PLOTS.search(src(c)) for c in nb["cells"])

def has_image(nb:dict) -> bool:
    return any(k.startswith("image/") for c in nb["cells"] for o in c.get("outputs", []) for k in o.get("data", {}))

def check_images(paths) -> list:
    return [f"{p.relative_to(root)}: has plotting code but no image output (run `make outputs` and commit)"
            for p in paths if has_plot_code(nb := json.loads(p.read_text())) and not has_image(nb)]

def main(cmd:str) -> int:
    if cmd == "images":
        bad = check_images(notebooks())
        print("\n".join(bad) or "ok: every notebook with plotting code shows an image"); return 1 if bad else 0
    if cmd == "snapshot":
        shutil.rmtree(snap, ignore_errors=True); snap.mkdir()
        for p in notebooks(): shutil.copy2(p, snap/p.name)
        return 0
    if cmd != "compare": sys.exit(f"usage: {sys.argv[0]} snapshot|compare|images")
    problems = []
    try:
        for p in notebooks():
            old = json.loads((snap/p.name).read_text()); new = json.loads(p.read_text())
            so, sn = signature(old), signature(new)
            if len(so) != len(sn): problems.append(f"{p.name}: {len(so)} cells committed, {len(sn)} after the run"); continue
            if not any(c.get("outputs") for c in old["cells"] if c["cell_type"] == "code"):
                problems.append(f"{p.name}: committed without outputs (run `make outputs` and commit)"); continue
            diff = [i for i, (a, b) in enumerate(zip(so, sn)) if a != b]
            if diff: problems.append(f"{p.name}: outputs of cells {diff} are not what a clean run gives ({[so[i][1] for i in diff]} committed, "
                                     f"{[sn[i][1] for i in diff]} now): run `make outputs` and commit")
        problems += check_images([snap/p.name for p in notebooks()])
    finally:
        for p in notebooks(): shutil.copy2(snap/p.name, p)                 # the committed notebooks, back in place
        shutil.rmtree(snap, ignore_errors=True)
    print("\n".join(problems) or "ok: every notebook carries current outputs, with an image where it plots")
    return 1 if problems else 0

if __name__ == "__main__": sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ""))

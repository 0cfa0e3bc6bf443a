"""Run the notebooks the way JupyterLab runs them, and check what a reader sees.

    python tools/run_notebooks.py [--save] [--flags slow] [--workers 2] [NOTEBOOK ...]

Each notebook of nbs/ (the numbered ones, the tutorial, the explorer and the home page; not the report templates,
which pytest runs through papermill) runs top to bottom in a fresh Jupyter kernel started from the kernelspec the
notebook names, the one `make setup` installs, with the inline matplotlib backend that JupyterLab uses and the
notebook's folder as working directory. Cells flagged `#| slow` run only with `--flags slow`; `#| eval: false`
cells never run. Then, per notebook:

- no cell raised;
- every code cell that plots shows an image, and every cell that makes a widget shows a widget view (in a live
  kernel a plot can vanish while a script-style runner still sees it: that is what this catches);
- without `--save`: each code cell gives the same kinds of output as the committed one (text, table, image, widget;
  values are not compared), and every committed notebook carries outputs. The committed files are not touched;
- with `--save` (`make outputs`): the fresh outputs and the kernel's `language_info` are written into the
  notebooks (run nbdev-clean after, which keeps both). JupyterLab writes `language_info` when it opens a notebook;
  a notebook that already has it is not marked modified, so autosave leaves nbs/ alone.

Exit status 1 when any check fails, with one line per problem."""
import argparse, json, multiprocessing, re, sys, time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

root = Path(__file__).resolve().parents[1]
PLOTS = re.compile(r"\bplt\.|\.plot\(|sns\.|plot_[a-z_]*\(|\.show\(\)")
WIDGETS = re.compile(r"\.widget\(\)\s*$")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
KERNEL = "python3"


def notebooks() -> list:
    "The notebooks a reader runs: every nbs/*.ipynb but scratch ones (`_*`); report templates live in nbs/reports/."
    return sorted(p for p in (root/"nbs").glob("*.ipynb") if not p.name.startswith("_"))


def src(c) -> str:
    return "".join(c["source"])


def directives(c) -> list:
    "The `#|` directives heading a code cell, e.g. ['export'], ['slow'], ['eval: false']."
    out = []
    for line in src(c).splitlines():
        if not line.startswith("#|"):
            break
        out.append(line[2:].strip())
    return out


def runs(c, flags:set) -> bool:
    "Whether a code cell runs: not `eval: false`, and every tst flag it carries (nbdev's `tst_flags`) is asked for."
    d = directives(c)
    if any(re.fullmatch(r"eval:\s*false", x) for x in d):
        return False
    return all(x in flags for x in d if x == "slow")


def plots(c) -> bool:
    "Plotting code outside exported cells (an exported function that can plot is a definition), not drawn off-screen."
    offscreen = "agg_figure(" in src(c)                                 # drawn for a file on purpose: files.agg_figure
    exported = "export" in " ".join(directives(c))
    return c["cell_type"] == "code" and not exported and bool(PLOTS.search(src(c))) and not offscreen


def makes_widget(c) -> bool:
    lines = [l for l in src(c).splitlines() if l.strip() and not l.lstrip().startswith("#")]
    return c["cell_type"] == "code" and bool(lines) and bool(WIDGETS.search(lines[-1]))


def kinds(c) -> list:
    "The sorted kinds of a code cell's rich outputs (streams and errors left out: they vary with warnings and timing)."
    k = set()
    for o in c.get("outputs", []):
        if o["output_type"] in ("display_data", "execute_result"):
            k |= {m for m in o.get("data", {}) if m != "text/plain" or len(o["data"]) == 1}
    return sorted(k)


def check_kernel(name:str=KERNEL) -> str:
    "The kernelspec's Python must be this environment's: a `python3` kernel of another Python would test other code."
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    try:
        spec = KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        sys.exit(f"no Jupyter kernel named {name!r} is installed: run `make setup`")
    exe = Path(spec.argv[0])
    if exe.resolve() != Path(sys.executable).resolve() and exe.parent != Path(sys.executable).parent:
        sys.exit(f"the kernel {name!r} runs {exe}, not this environment's {sys.executable}: run `make setup`")
    return spec.display_name


def run_one(path:str, flags:tuple, save:bool) -> dict:
    "Execute one notebook in a fresh kernel; return its problems and time (with `save`, write its outputs in place)."
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    p = Path(path)
    committed = json.loads(p.read_text())
    nb = nbformat.read(p, as_version=4)
    name = nb.metadata.get("kernelspec", {}).get("name", KERNEL)
    client = NotebookClient(nb, timeout=900, kernel_name=name, store_widget_state=False,
                            resources={"metadata": {"path": str(p.parent)}})
    client.widget_registry = {}     # no client-side Output-widget mirror: its state syncs hung nbclient now and then
    problems, t0 = [], time.time()
    try:
        with client.setup_kernel():
            info = client.wait_for_reply(client.kc.kernel_info())            # as nbclient's own execute() does
            nb.metadata["language_info"] = info["content"]["language_info"]
            for i, c in enumerate(nb.cells):
                if c.cell_type != "code":
                    continue
                if not runs(c, set(flags)):
                    continue
                try:
                    client.execute_cell(c, i)
                except CellExecutionError as e:
                    last = str(e).strip().splitlines()[-1][:300]
                    problems.append(f"{p.name}, cell {i} (id {c.get('id')}) raised: {last}")
                    break
    except Exception as e:                                              # the kernel died or would not start
        problems.append(f"{p.name}: the kernel failed: {type(e).__name__}: {e}"[:400])
    fresh = json.loads(nbformat.writes(nb))
    ran = [i for i, c in enumerate(fresh["cells"]) if c["cell_type"] == "code" and runs(c, set(flags))]
    if not problems:
        for i in ran:
            c = fresh["cells"][i]
            where = f"{p.name}, cell {i} (id {c.get('id')})"
            if plots(c) and not any(k.startswith("image/") for k in kinds(c)):
                problems.append(f"{where}: plots but showed no image in a live kernel")
            if makes_widget(c) and WIDGET_VIEW not in kinds(c):
                problems.append(f"{where}: makes a widget but showed no widget view")
    if not save and not problems:                       # slow-flagged cells run only on demand: not committed
        always = [i for i in ran if runs(fresh["cells"][i], set())]
        problems += compare(p.name, committed, fresh, always)
    if save and not problems:
        for i in ran:
            committed["cells"][i]["outputs"] = [relative_paths(o) for o in fresh["cells"][i]["outputs"]]
            committed["cells"][i]["execution_count"] = fresh["cells"][i].get("execution_count")
        committed["metadata"]["language_info"] = fresh["metadata"]["language_info"]   # what JupyterLab would write
        p.write_text(json.dumps(committed, indent=1, ensure_ascii=False) + "\n")
    return dict(name=p.name, seconds=time.time() - t0, problems=problems)


def relative_paths(o:dict) -> dict:
    "A stream output with this checkout's absolute path cut to a repository-relative one (warnings name their file)."
    if o.get("output_type") == "stream":
        text = "".join(o["text"]) if isinstance(o["text"], list) else o["text"]
        o = dict(o, text=text.replace(f"{root}/", "").splitlines(keepends=True))
    return o


def compare(name:str, committed:dict, fresh:dict, ran:list) -> list:
    "Problems where the committed outputs are not what this run gives (kinds of output per cell)."
    cc, fc = committed["cells"], fresh["cells"]
    lang = lambda nb: {k: v for k, v in nb["metadata"].get("language_info", {}).items() if k != "version"}
    if lang(committed) != lang(fresh):
        return [f"{name}: its metadata lacks the kernel's language_info, so opening it in JupyterLab marks it "
                "modified: run `make outputs` and commit"]
    if len(cc) != len(fc):
        return [f"{name}: {len(cc)} cells committed, {len(fc)} after the run"]
    code = [c for c in cc if c["cell_type"] == "code"]
    if code and not any(c.get("outputs") for c in code):
        return [f"{name}: committed without outputs (run `make outputs` and commit)"]
    diff = [i for i in ran if kinds(cc[i]) != kinds(fc[i])]
    if not diff:
        return []
    was, now = [kinds(cc[i]) for i in diff], [kinds(fc[i]) for i in diff]
    return [f"{name}: outputs of cells {diff} are not what a clean run gives ({was} committed, {now} now): "
            "run `make outputs` and commit"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", help="notebooks to run (default: every notebook of nbs/)")
    ap.add_argument("--save", action="store_true", help="write the fresh outputs into the notebooks")
    ap.add_argument("--flags", default="", help="tst flags to run too, e.g. slow")
    ap.add_argument("--workers", type=int, default=2, help="notebooks run at once, each in its own kernel")
    a = ap.parse_args(argv)
    check_kernel()
    paths = [Path(n).resolve() for n in a.notebooks] or notebooks()
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        sys.exit(f"no such notebook: {', '.join(missing)}")
    flags = tuple(f for f in a.flags.split(",") if f)
    problems, t0 = [], time.time()
    spawn = multiprocessing.get_context("spawn")                        # fork + zmq can hang
    with ProcessPoolExecutor(a.workers, mp_context=spawn) as pool:
        jobs = [pool.submit(run_one, str(p), flags, a.save) for p in paths]
        for r in (j.result() for j in as_completed(jobs)):
            print(f"{'FAIL' if r['problems'] else 'ok  '} {r['seconds']:6.1f} s  {r['name']}", flush=True)
            problems += r["problems"]
    print(f"{len(paths)} notebooks in a live kernel, {time.time() - t0:.0f} s")
    ok = "ok: every notebook ran in a live kernel, with an image where it plots and a widget where it makes one"
    print("\n".join(problems) or ok)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

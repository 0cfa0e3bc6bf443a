"""Multi-fidelity stage 1 on the old system's workload (issue #17): what pruning saves, and what it costs in selection quality.

The workload of bench_seed_trial.py (1,500 hourly bars, 5 folds, <= 25 epochs, patience 10, HermiteNet legacy preset) and
the seeds' stage-1 space (configs/search/stage1.yaml, 17 parameters). K parameter sets are drawn once (seeded, at random
from the space) and the same sets, in the same order, are run as studies that differ only in how they stop trials:
  none         every trial runs to the end (the reference)
  hyperband    the default: hpo.pruner hyperband, min_resource 3 epochs, reduction factor 3 (idle until 5 trials are complete)
  +warm start  hyperband with training.warm_start_folds (fold k+1 starts from fold k's weights)
Printed per study: wall time, epochs trained, trials pruned; and against the reference: the Spearman rank correlation of the
final scores over the trials both completed, how many of the reference's top 5 completed, and whether the winner is the same.
Then a 2,500-trial study projected from the measured time per trial (an underestimate of pruning's share: Hyperband prunes
more of a long study than of K trials), against the target (<= 12 hours on 2 cores).

With --stopping, the early-stopping pair of issue 29 instead, both unpruned, on the same K parameter sets:
  loss rule    training.stop_on loss, min_delta 0: the rule before issue 29 (the calibration loss; at small learning rates
               it falls every epoch and patience never runs out)
  default      today's default (training.stop_on score: 0.7 x AUC + 0.3 x DirAcc on the calibration slice)
The two run interleaved, set by set, each trial's line printed as it ends; then per rule the epochs trained, wall and CPU
seconds (this process, all threads), and against the loss rule: the Spearman correlation of the final trial scores, the
overlap of the top 10 and top 20, and whether the winner is the same. The load average is printed at the start and end.
With `--noise-floor`, also each rule's mean paired score change against the loss rule (with its standard error) and
its top 5 and winner re-scored by the independent run (the loss rule on another seed): what a study would get from the
configurations each rule selects, measured on numbers neither selection saw.

`--signal S` sets the synthetic market's planted signal (default 0.05, the workload's). `--workload demo` swaps the old
system's workload for a cheaper one with a signal the models can learn: configs/demo.yaml and its stage-1 space
(configs/search/demo_stage1.yaml: HermiteNet degree, width, dropout, learning rate) on a synthetic daily market of 4
symbols x 2,520 bars with a planted signal (`--signal`, default there 0.3; no held-out period). `--noise-floor` adds a
third study to the --stopping pair: the loss rule again with another training seed, so the rank agreement between the
two rules can be read against the agreement of one rule with itself when only the training noise differs.

    python benchmarks/bench_pruning.py [K] [--data FILE | --signal 0.2] [--workload seed|demo] [--stopping [--noise-floor]]
        [--threads 2]
Prints figures; asserts nothing about time.
"""
import argparse, os, sys, tempfile, time, warnings
from pathlib import Path
import numpy as np, optuna, torch
from scipy.stats import spearmanr
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_seed_trial import seed_config, seed_panel
from hnn_trading.config import RunConfig
from hnn_trading.data import load_data
from hnn_trading.hpo import SearchSpace, stage1_objective
from hnn_trading.studies import make_study, completed
warnings.filterwarnings("ignore"); optuna.logging.set_verbosity(optuna.logging.WARNING)
ROOT = Path(__file__).resolve().parents[1]

def draw(space, k, seed=0):
    "K parameter sets drawn at random from the space."
    st = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    out = []
    for _ in range(k):
        t = st.ask(); space.sample(t); out.append(t.params); st.tell(t, 0.0)
    return out

def run(name, cfg, panel, space, sets, d):
    st = make_study(name, f"sqlite:///{d}/{name}.db", len(sets), 0, space.directions, prune=cfg.hpo.pruner != "none", hpo=cfg.hpo)
    for p in sets: st.enqueue_trial(p)
    obj = stage1_objective(cfg, panel, space, Path(d)/name); epochs = {}
    def counted(trial):
        try: return obj(trial)
        finally: epochs[trial.number] = trial.study._storage.get_trial(trial._trial_id).last_step or 0
    t0 = time.perf_counter(); st.optimize(counted, n_trials=len(sets)); wall = time.perf_counter() - t0
    vals = {t.number: t.value for t in completed(st)}
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in st.trials)
    print(f"  {name:12s} {wall:7.0f} s  {sum(epochs.values()):5d} epochs trained  {pruned:2d} of {len(sets)} pruned  best {max(vals.values()):.4f}", flush=True)
    return dict(wall=wall, epochs=sum(epochs.values()), vals=vals, pruned=pruned)

STOPPING = {"loss rule": {"hpo.pruner": "none", "training.stop_on": "loss", "training.min_delta": 0.0},
            "default": {"hpo.pruner": "none"}}

def overlap(a, b, n):
    "How many of `a`'s top n trials are in `b`'s top n (over the sets both completed)."
    top = lambda v: set(sorted(v, key=v.get, reverse=True)[:n])
    return len(top(a) & top(b))

def stopping(base, panel, space, sets, d, floor=False):
    "The loss rule and today's default (and with `floor` the loss rule on another seed), unpruned, interleaved set by set."
    print(f"load average {os.getloadavg()[0]:.2f}; {len(sets)} sets, {torch.get_num_threads()} torch threads", flush=True)
    rules = {**STOPPING, **({"loss seed+1": {**STOPPING["loss rule"], "seed": base.seed + 1}} if floor else {})}
    sts, objs, res = {}, {}, {n: dict(wall=0.0, cpu=0.0, epochs=0, vals={}) for n in rules}
    for n, o in rules.items():
        cfg = base.override(o); key = n.replace(" ", "_").replace("+", "p")
        sts[n] = make_study(key, f"sqlite:///{d}/{key}.db", len(sets), 0, space.directions, prune=False, hpo=cfg.hpo)
        for p in sets: sts[n].enqueue_trial(p)
        objs[n] = stage1_objective(cfg, panel, space, Path(d)/key)
    for i in range(len(sets)):
        for n, st in sts.items():
            w0, c0 = time.perf_counter(), time.process_time(); st.optimize(objs[n], n_trials=1)
            w, c, t = time.perf_counter() - w0, time.process_time() - c0, st.trials[i]  # enqueued: trial i is set i
            r = res[n]; r["wall"] += w; r["cpu"] += c; r["epochs"] += t.last_step or 0
            if t.value is not None: r["vals"][i] = t.value
            sc = "pruned" if t.value is None else f"{t.value:.4f}"
            print(f"  set {i:3d} {n:10s} {t.last_step or 0:4d} epochs {w:6.1f} s wall {c:6.1f} s CPU  score {sc}", flush=True)
        if i >= 2: compare(res, i + 1)  # so far: a run cut short still says something

def compare(res, k):
    "Per rule its epochs, wall and CPU seconds; against the loss rule: Spearman, top-10/20 overlap, same winner."
    print(f"after {k} sets (load average {os.getloadavg()[0]:.2f}):")
    for n, r in res.items():
        print(f"  {n:11s} {r['epochs']:6d} epochs {r['wall']:8.0f} s wall {r['cpu']:8.0f} s CPU  best {max(r['vals'].values()):.4f}")
    for n in [n for n in res if n != "loss rule"]:
        agree(res, n)
    if "loss seed+1" in res:
        rescored(res)

def rescored(res, n=5):
    "Each rule's paired score change, and its top n and winner re-scored by the independent run (the loss rule, seed+1)."
    ind, ref = res["loss seed+1"]["vals"], res["loss rule"]["vals"]
    for r in ("loss rule", "default"):
        v = {i: x for i, x in res[r]["vals"].items() if i in ind and i in ref}
        if len(v) < n:
            print(f"  (the re-scoring of each rule's top {n} needs {n} sets or more; {len(v)} so far)")
            return
        top = sorted(v, key=v.get, reverse=True)[:n]
        d = np.array([v[i] - ref[i] for i in v])
        print(f"  {r:10s} its top {n} re-scored by loss seed+1: {np.mean([ind[i] for i in top]):.4f}, its winner "
              f"{ind[top[0]]:.4f} (best there {max(ind[i] for i in v):.4f}); paired change against the loss rule "
              f"{d.mean():+.4f} +- {d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float('nan'):.4f} (SE, {len(d)} sets)")

def agree(res, n):
    "How study `n` ranks the sets both it and the loss rule completed, against the loss rule."
    ref, new = res["loss rule"]["vals"], res[n]["vals"]
    both = sorted(set(ref) & set(new)); a, b = {i: ref[i] for i in both}, {i: new[i] for i in both}
    rho = spearmanr([a[i] for i in both], [b[i] for i in both])[0] if len(both) > 2 else float("nan")
    print(f"  {n} / loss rule ({len(both)} sets): epochs {res[n]['epochs'] / max(1, res['loss rule']['epochs']):.2f}x, CPU "
          f"{res[n]['cpu'] / res['loss rule']['cpu']:.2f}x; Spearman of the scores {rho:.3f}; top-10 overlap "
          f"{overlap(a, b, 10)}/{min(10, len(both))}, top-20 {overlap(a, b, 20)}/{min(20, len(both))}; same winner: "
          f"{max(a, key=a.get) == max(b, key=b.get)}; mean score {np.mean(list(a.values())):.4f} -> {np.mean(list(b.values())):.4f}",
          flush=True)

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("k", nargs="?", type=int, default=24, help="parameter sets (trials per study)")
    ap.add_argument("--data", default=None)
    ap.add_argument("--stopping", action="store_true", help="the early-stopping pair (loss rule, default) instead")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--signal", type=float, default=None, help="the synthetic market's planted signal (no --data)")
    ap.add_argument("--workload", choices=("seed", "demo"), default="seed", help="the old system's (default) or the demo's")
    ap.add_argument("--noise-floor", action="store_true", help="with --stopping: the loss rule again on another seed")
    a = ap.parse_args()
    if a.data and a.signal is not None:
        ap.error("--signal sets the synthetic market's planted signal; with --data FILE there is none to set")
    if a.noise_floor and not a.stopping:
        ap.error("--noise-floor is a third study for --stopping; add --stopping")
    torch.set_num_threads(a.threads)
    if a.workload == "demo":
        space = SearchSpace.from_yaml(ROOT/"configs/search/demo_stage1.yaml")
        syn = dict(n_symbols=4, n_bars=2520, freq="1D", signal_strength=0.3 if a.signal is None else a.signal, seed=0)
        base = RunConfig.from_yaml(ROOT/"configs/demo.yaml").override(
            {"data.source": "synthetic", "data.synthetic": syn, "splits.test_size": None})
        panel = load_data(base.data)
    else:
        space = SearchSpace.from_yaml(ROOT/"configs/search/stage1.yaml")
        syn = {} if a.signal is None else {"data.synthetic": dict(n_symbols=1, n_bars=1500, freq="1h", signal_strength=a.signal, seed=0)}
        base = seed_config(a.data, syn); panel = seed_panel(base)
    sets = draw(space, a.k)
    print(f"workload {a.workload}; data: {a.data or 'synthetic'}; signal {a.signal if a.signal is not None else 'default'}", flush=True)
    if a.stopping:
        with tempfile.TemporaryDirectory() as d: return stopping(base, panel, space, sets, d, a.noise_floor)
    studies = {"none": base.override({"hpo.pruner": "none"}), "hyperband": base,
               "+warm start": base.override({"training.warm_start_folds": True})}
    print(f"{a.k} parameter sets of the seeds' stage-1 space on the old system's workload, the same sets in each study:")
    with tempfile.TemporaryDirectory() as d:
        res = {n: run(n.replace(" ", "").replace("+", "w"), c, panel, space, sets, d) for n, c in studies.items()}
    ref = res["none"]; top5 = sorted(ref["vals"], key=ref["vals"].get, reverse=True)[:5]
    print(f"\n{'study':12s} {'time':>8s} {'epochs':>8s} {'spearman':>9s} {'top-5 kept':>11s} {'same winner':>12s} {'2,500 trials':>14s}")
    for n, r in res.items():
        both = sorted(set(r["vals"]) & set(ref["vals"]))
        rho = spearmanr([ref["vals"][i] for i in both], [r["vals"][i] for i in both])[0] if len(both) > 2 else float("nan")
        proj = r["wall"] / a.k * 2500 / 3600
        print(f"{n:12s} {r['wall'] / ref['wall']:7.2f}x {r['epochs'] / ref['epochs']:7.2f}x {rho:9.2f} {sum(i in r['vals'] for i in top5):>9d}/5 "
              f"{str(max(r['vals'], key=r['vals'].get) == top5[0]):>12s} {proj:10.1f} h (target <= 12 h: {'ok' if proj <= 12 else 'MISSED'})")

if __name__ == "__main__": main()

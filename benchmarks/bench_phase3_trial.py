"""One full-size study trial of the shipped phase-3 campaign, end to end and timed (issue 28, deliverable 6).

The trial is the campaign's own: configs/campaigns/phase3.yaml as shipped (143 synthetic symbols x 17,520 hourly bars,
core23 features, 24-bar windows, 3 walk-forward folds, the held-out last 2,920 bars carved off, 10 epochs with patience 3,
training.samples_per_epoch windows drawn afresh each epoch), one study's model (`--study`: its `set`, e.g. model.name lstm)
and one parameter set of the study's search space (`--hidden` and the space's other parameters at the middle of their
range), run through `hpo.make_objective` in an Optuna study without a pruner: data, features, labels, walk-forward
training, calibration, out-of-fold predictions, checkpoints and the backtest, as a campaign worker runs it. Nothing is
projected from a sample of batches: the time is the trial's wall time.

Printed: torch's threads (intra-op, inter-op), OMP/MKL threads, the allocator and denormal settings, the trial's settings,
wall time, epochs run per fold, windows trained, the score; then the projection to the campaign's trial counts: each
study's trials x this trial's time (an upper bound when the trial measured is the costliest model at the largest hidden
size, which is the default), plus one re-run per chosen model with its held-out fit, and stage 2 (300 strategy trials per
study on cached predictions, minutes; from docs/speed.md, not measured here), for 1 worker and for `--workers` workers
sharing the cores.
`--epochs N` (< the campaign's) runs a stated fraction of the trial (N epochs per fold, early stopping off) and labels the
projection as scaled from that fraction.

    nice -n 10 python benchmarks/bench_phase3_trial.py [--study lstm] [--hidden 128] [--epochs N] [--threads 2]
Asserts nothing about time.
"""

import argparse, os, resource, sys, tempfile, time, warnings


def _args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--campaign", default="configs/campaigns/phase3.yaml", help="campaign file (default: the shipped phase3)"
    )
    ap.add_argument(
        "--study", default="lstm", help="which of the campaign's studies (its model); default lstm, the costliest"
    )
    ap.add_argument("--hidden", type=int, default=None, help="model.hidden_dim (default: the space's largest)")
    ap.add_argument(
        "--epochs", type=int, default=None, help="epochs per fold (default: the campaign's; fewer: a stated fraction)"
    )
    ap.add_argument("--threads", type=int, default=None, help="torch/OMP threads (default: OMP_NUM_THREADS, else 2)")
    ap.add_argument("--workers", type=int, default=2, help="workers sharing the cores, for the second projection")
    return ap.parse_args()


def _params(space, hidden):
    "One parameter set of the space: hidden as given (default the largest), every other parameter at its middle."
    import math

    out = {}
    for k, p in space.params.items():
        if k == "model.hidden_dim":
            out[k] = hidden or p["high"]
        elif p["type"] == "categorical":
            out[k] = p["choices"][0]
        elif p.get("log"):
            out[k] = math.exp((math.log(p["low"]) + math.log(p["high"])) / 2)
        else:
            out[k] = (p["low"] + p["high"]) / 2 if p["type"] == "float" else int((p["low"] + p["high"]) // 2)
    return out


def _cpu() -> float:
    "CPU seconds (user + system) this process and its threads used so far."
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def hms(s):
    return f"{s / 3600:,.1f} h" if s >= 3600 else f"{s / 60:,.1f} min" if s >= 60 else f"{s:,.0f} s"


def main():
    a = _args()
    threads = a.threads or int(os.environ.get("OMP_NUM_THREADS", "2"))
    for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[v] = str(threads)
    import optuna, torch
    from hnn_trading import training
    from hnn_trading.campaign import Campaign
    from hnn_trading.data import load_data, load_exog, resolve_periods
    from hnn_trading.hpo import SearchSpace, make_objective

    warnings.filterwarnings("ignore")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(threads)
    camp = Campaign.from_yaml(a.campaign)
    spec = camp.studies[a.study]
    space = SearchSpace.from_yaml(spec["space"])
    base = camp.base.override(spec["set"])
    full_epochs = base.training.epochs
    if a.epochs and a.epochs < full_epochs:
        base = base.override({"training.epochs": a.epochs, "training.patience": a.epochs})
    params = _params(space, a.hidden)
    t = base.training
    print(f"campaign {camp.name} ({a.campaign}), study {a.study}: {spec['set']}, {spec['trials']} trials as shipped")
    print(
        f"runtime: torch {torch.__version__}, intra-op threads {torch.get_num_threads()}, inter-op "
        f"{torch.get_num_interop_threads()}, OMP/MKL/OpenBLAS {threads}, mkldnn "
        f"{torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled}, {training.tune_cpu()}; "
        f"{len(os.sched_getaffinity(0))} cores visible; load average {os.getloadavg()[0]:.2f} at the start"
    )
    print(
        f"trial: data {base.data.synthetic}, {base.splits.n_folds} folds, val_block {base.splits.val_block}, "
        f"test_size {base.splits.test_size}; epochs {t.epochs} (of {full_epochs}), patience {t.patience}, batch "
        f"{t.batch_size}, samples_per_epoch {t.samples_per_epoch}; window {base.model.feature_window}; params {params}",
        flush=True,
    )
    t0 = time.perf_counter()
    panel = load_data(base.data)
    b = resolve_periods(base, panel)
    exog = load_exog(b.data)
    t_data = time.perf_counter() - t0
    st = optuna.create_study(
        direction="maximize", pruner=optuna.pruners.NopPruner()
    )  # every epoch early stopping allows
    st.enqueue_trial(params)
    with tempfile.TemporaryDirectory() as d:
        obj = make_objective(b, panel, space, d, exog=exog)
        t1, c1 = time.perf_counter(), _cpu()
        st.optimize(obj, n_trials=1)
        wall, cpu = time.perf_counter() - t1, _cpu() - c1
    tr = st.trials[0]
    if tr.state.name != "COMPLETE":
        sys.exit(f"the trial ended {tr.state.name}: {tr.user_attrs.get('fail_reason', tr.system_attrs)}")
    folds = tr.user_attrs.get("folds", [])
    ep = [f.get("epochs_run") for f in folds]
    spe = t.samples_per_epoch or float("inf")  # each epoch draws at most this many of a fold's training windows
    n_tr = int(sum(min(f.get("n_train") or 0, spe) * (f.get("epochs_run") or 0) for f in folds))
    print(
        f"\ntrial: {wall:,.0f} s wall ({hms(wall)}), {cpu:,.0f} CPU s, after {t_data:,.0f} s of data; epochs run per "
        f"fold {ep}; {n_tr:,} windows trained; score {tr.value:.4f}; load average {os.getloadavg()[0]:.2f} at the end"
    )
    busy = wall > 1.15 * cpu / threads  # the cores were shared: the wall time says more about the load than the trial
    if busy:
        print(
            f"THE MACHINE WAS LOADED: {cpu / wall:.2f} of {threads} cores on average. On {threads} idle cores the trial "
            f"would take between {hms(cpu / threads)} (its CPU time spread over {threads} threads, perfect scaling) and "
            f"{hms(cpu)} (no scaling); the projection below uses the upper figure, {hms(cpu)}"
        )
        wall = cpu
    frac = 1.0
    if a.epochs and a.epochs < full_epochs:
        frac = a.epochs / full_epochs
        print(
            f"MEASURED A FRACTION: {a.epochs} of {full_epochs} epochs per fold; the full trial is projected as "
            f"{hms(wall)} / {frac:.2f} = {hms(wall / frac)} (an upper bound: the predictions and setup are scaled too)"
        )
    trial = wall / frac
    n_trials = sum(s["trials"] for s in camp.studies.values())
    refits = len(camp.studies)
    stage2 = 4.2 * 60 * (camp.stage2["trials"] / 2500) * len(camp.studies) if camp.stage2 else 0.0
    one = (n_trials + refits) * trial + stage2
    print(
        f"\nprojection ({'from the full trial' if frac == 1 else f'scaled from {frac:.0%} of a trial'}; every trial "
        f"costed as this one, {a.study} at hidden {params.get('model.hidden_dim')}, no pruning):"
    )
    print(f"  {n_trials} study trials + {refits} re-runs with the held-out fit: {hms((n_trials + refits) * trial)}")
    print(
        f"  stage 2 ({camp.stage2 and camp.stage2['trials']} trials x {len(camp.studies)}, from docs/speed.md): {hms(stage2)}"
    )
    print(f"  the campaign, 1 worker at {threads} threads: {hms(one)}   (target <= 24 h on 2 cores)")
    print(
        "  with --workers N on the same cores, each worker gets cores // N threads: the total is about the same "
        "when training scales with threads, less when it does not (not measured here)"
    )


if __name__ == "__main__":
    main()

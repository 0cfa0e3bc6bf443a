"""A whole stage-1 study on the old system's workload, timed end to end through `hnn hpo stage1` (issue 29).

The workload of bench_seed_trial.py (1,500 hourly bars of a synthetic market with a planted signal, core23 features,
5 expanding folds, <= 25 epochs a fold with patience 10, the old system's v4-best values as the base config) searched
over the seeds' stage-1 space (configs/search/stage1.yaml, 17 parameters) by the product's own command, as a user runs
it, in a fresh folder:

    hnn hpo stage1 --config seed.yaml --space configs/search/stage1.yaml --trials N --workers W --storage journal:///...

with the product's defaults: TPE, Hyperband pruning, early stopping on the stage-1 score. `--threads T` sets
OMP_NUM_THREADS for the workers (default: unset, so each of W workers gets cores // W threads, as a user's would).

Printed: the wall time of the command; trials complete, pruned and failed; epochs trained in all (each trial's last
reported step, the pruner's count); the wall time per finished trial over the whole study and over its second half
(Hyperband prunes more as the study grows); and the projection of a 2,500-trial study: the second half's time per trial
x 2,500 x `--cores` / 2, against the target (<= 6 h on 2 cores; the old system: 10-12 h on its GPU). `--cores C` is how
many cores the measured study had to itself: with C = 1 (one worker of 1 thread while the other core is busy) the
projection assumes a second worker doubles the throughput (bench_workers.py measures how far two workers scale). The
projection is linear in trials: TPE's own cost per trial (milliseconds against seconds of training) grows with the
study, and Hyperband prunes a larger share of a longer study.

    python benchmarks/bench_study.py [N] [--workers 2] [--threads T] [--cores 2] [--keep DIR]
Prints figures; asserts nothing about time.
"""

import argparse, os, shutil, subprocess, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_seed_trial import seed_config

ROOT = Path(__file__).resolve().parents[1]
TARGET_H = 6.0  # a 2,500-trial study on 2 cores (issue 29)


def summary(log: Path, name: str) -> dict:
    "Per finished trial: its state, epochs (last step), start and end; from the study's journal file."
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    st = optuna.load_study(study_name=name, storage=JournalStorage(JournalFileBackend(str(log))))
    done = [t for t in st.trials if t.datetime_complete is not None]
    return dict(
        trials=done,
        states={s: sum(t.state.name == s for t in done) for s in ("COMPLETE", "PRUNED", "FAIL")},
        epochs=sum(t.last_step or 0 for t in done),
        best=max((t.value for t in done if t.state.name == "COMPLETE"), default=float("nan")),
    )


def per_trial(trials: list, t0: float, t1: float) -> float:
    "Wall seconds per trial between two moments of the study, from the trials that ended in between."
    ends = sorted(t.datetime_complete.timestamp() for t in trials)
    k = [e for e in ends if t0 < e <= t1]
    return (t1 - t0) / max(1, len(k))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("n", nargs="?", type=int, default=100, help="trials (default 100)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS for the workers (default: unset)")
    ap.add_argument("--cores", type=int, default=2, help="cores the study had to itself, for the projection")
    ap.add_argument("--keep", default=None, help="run in this folder and keep it (default: a temporary one)")
    a = ap.parse_args()
    d = Path(a.keep or tempfile.mkdtemp(prefix="bench_study_")).resolve()
    d.mkdir(parents=True, exist_ok=True)
    seed_config(None).to_yaml(d / "seed.yaml")
    env = dict(os.environ)
    for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env.pop(v, None)
        if a.threads:
            env[v] = str(a.threads)
    log = d / "study.log"
    cmd = [str(Path(sys.executable).parent / "hnn"), "hpo", "stage1", "--config", "seed.yaml", "--space"]
    cmd += [str(ROOT / "configs/search/stage1.yaml"), "--trials", str(a.n), "--workers", str(a.workers)]
    cmd += ["--study", "seed", "--storage", f"journal:///{log}", "--output-dir", "out"]
    print(f"load average {os.getloadavg()[0]:.2f}; {' '.join(cmd[1:])}; threads {a.threads or 'cores // workers'}")
    print(f"in {d}", flush=True)
    t0 = time.time()
    rc = subprocess.run(cmd, cwd=d, env=env, stdout=subprocess.DEVNULL).returncode
    t1 = time.time()
    s = summary(log, "seed")
    half = sorted(t.datetime_complete.timestamp() for t in s["trials"])[len(s["trials"]) // 2 - 1]
    whole, second = (t1 - t0) / max(1, len(s["trials"])), per_trial(s["trials"], half, t1)
    proj = second * 2500 * a.cores / 2 / 3600
    print(f"exit {rc}; load average {os.getloadavg()[0]:.2f}; {t1 - t0:.0f} s wall for {len(s['trials'])} trials: "
          f"{s['states']['COMPLETE']} complete, {s['states']['PRUNED']} pruned, {s['states']['FAIL']} failed; "
          f"{s['epochs']} epochs trained; best score {s['best']:.4f}")
    print(f"per trial: {whole:.1f} s over the study, {second:.1f} s over its second half")
    print(f"2,500 trials on 2 cores, projected: {proj:.1f} h (target <= {TARGET_H:.0f} h: "
          f"{'met' if proj <= TARGET_H else 'MISSED'}; the old system: 10-12 h on its GPU)")
    if len(s["trials"]) < 50:
        print(f"  (from {len(s['trials'])} trials only: Hyperband prunes nothing until 5 trials are complete and little "
              "before dozens, so this projects an unpruned study; measure 100 trials for the figure docs/speed.md quotes)")
    if not a.keep:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()

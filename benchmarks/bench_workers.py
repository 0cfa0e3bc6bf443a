"""`hnn hpo stage1 --workers N` on an N-core machine (issue 29, deliverable 1): workers that do not fight over the cores.

The command a user runs, as a subprocess: a 4-trial stage-1 study (--no-prune, so every trial trains to its own early
stop) on the old system's workload (bench_seed_trial.py: 1,500 hourly bars of a synthetic market with a planted signal, 5
folds, <= 25 epochs, the v4-best HermiteNet), over a space that varies only the learning rate and dropout, so the trials
cost about the same whatever the sampler draws. Each study runs with 1 worker (which takes every core's thread) and with
`--workers 2` (each worker gets cores // 2 threads: `hpo.worker_env`), interleaved A B A B, each in a fresh folder and
storage. Printed: the wall time of each command, medians (min-max), the ratio 2 workers / 1 worker against the issue's
target (<= 0.6x on 2 cores), the machine's load before and after. No thread variable is set here: the product's defaults.

    python benchmarks/bench_workers.py [--rounds 2] [--trials 4]
Prints figures; asserts nothing about time.
"""

import argparse, os, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_seed_trial import seed_config

HNN = str(Path(sys.executable).with_name("hnn"))
TARGET = 0.6
SPACE = """objective: stage1
params:
  training.learning_rate: {type: float, low: 1.0e-5, high: 3.0e-5, log: true}
  model.dropout:          {type: float, low: 0.0, high: 0.3}
"""


def study(d: Path, workers: int, trials: int) -> float:
    "Wall seconds of one `hnn hpo stage1` study with `workers` local workers, in its own folder."
    d.mkdir(parents=True)
    (d / "config.yaml").write_text(seed_config(None).to_yaml())
    (d / "space.yaml").write_text(SPACE)
    cmd = [HNN, "hpo", "stage1", "--config", "config.yaml", "--space", "space.yaml", "--trials", str(trials)]
    cmd += ["--workers", str(workers), "--storage", "journal:///study.log", "--output-dir", "out", "--no-prune"]
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=d, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
    return wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds (each: 1 worker, then 2)")
    ap.add_argument("--trials", type=int, default=4, help="trials per study")
    a = ap.parse_args()
    print(f"{os.cpu_count()} cores; load before: {os.getloadavg()[0]:.2f}", flush=True)
    walls = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            for w in (1, 2):
                walls[w].append(study(Path(tmp) / f"r{r}w{w}", w, a.trials))
                print(f"round {r + 1}, {w} worker(s): {a.trials} trials in {walls[w][-1]:.1f} s", flush=True)
    med = {w: float(np.median(v)) for w, v in walls.items()}
    for w, v in walls.items():
        print(f"{w} worker(s): {med[w]:.1f} s ({min(v):.1f}-{max(v):.1f}), {len(v)} runs")
    ratio = med[2] / med[1]
    print(f"2 workers / 1 worker: {ratio:.2f}x (target <= {TARGET}x: {'met' if ratio <= TARGET else 'missed'})")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

"""The CPU runtime settings (issue #17): glibc's allocator keeps the recurrent layers' large buffers instead of mapping fresh
pages every step, and denormal floats are flushed on every OpenMP thread, not only the calling one. Fresh processes: both are
process-wide settings that a test process cannot undo."""
import json, os, subprocess, sys

STEPS = """
import json, resource, sys, torch
from hnn_trading.config import RunConfig, ModelConfig
from hnn_trading.models import build
from hnn_trading.losses import composite_loss
from hnn_trading.training import seed_everything, tune_cpu
torch.set_num_threads(2); seed_everything(0)
cfg = ModelConfig(name="hermite", feature_window=227, use_lstm=True, lstm_hidden=48, hermite_hidden_dim=64)
m = build(cfg, 23); opt = torch.optim.AdamW(m.parameters(), lr=1e-3); tc = RunConfig().training
x = torch.randn(512, 227, 23); y = (torch.rand(512) > 0.5).float(); r = torch.randn(512)
def step():
    loss = composite_loss(m(x), y, r, tc, cfg); opt.zero_grad(); loss.backward(); opt.step()
faults = []
for _ in range(8):
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt; step()
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
faults = sorted(faults[2:])                      # after two warm-up steps (the heap grows to its working size once)
print(json.dumps(dict(faults=(faults[2] + faults[3]) / 2, **tune_cpu())))       # the median step
"""

def _run(code, **env):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "2", **env}, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])

def test_training_steps_reuse_memory_instead_of_faulting_pages():
    tuned, system = _run(STEPS), _run(STEPS, HNN_MALLOC="system")
    print(f"minor page faults per training step (LSTM 48 over 227 x 23, batch 512): tuned {tuned['faults']:,.0f}, glibc defaults {system['faults']:,.0f}")
    assert tuned["allocator"] and not system["allocator"]
    assert system["faults"] > 20_000, "glibc's defaults no longer thrash at this shape: the test cannot tell the settings apart"
    assert tuned["faults"] < system["faults"] / 10

DENORMALS = """
import json, sys, torch
torch.set_num_threads(2); torch.full((1 << 20,), 1.0).sum()      # torch's OpenMP pool exists before any setting
from hnn_trading.training import denormals_flushed, seed_everything
torch.set_flush_denormal(True); alone = denormals_flushed()
seed_everything(0)
print(json.dumps(dict(alone=alone, product=denormals_flushed())))
"""

def test_denormals_are_flushed_on_every_worker_thread():
    r = _run(DENORMALS)
    assert r["alone"] is False, "torch.set_flush_denormal now reaches the worker threads by itself: flush_denormals is not needed"
    assert r["product"] is True

def test_hpo_stage1_says_the_threads_per_worker_and_warns_when_a_set_count_oversubscribes(hnn, tmp_path):
    "Each local worker gets cores // workers threads; an OMP_NUM_THREADS that gives more threads than cores is named."
    cores = len(os.sched_getaffinity(0))
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    run = lambda env: subprocess.run([hnn, "hpo", "stage1", "--quick", "--workers", "2", "--trials", "0"], cwd=tmp_path,
                                     capture_output=True, text=True, env={**base, **env}, timeout=300)
    r = run({})
    assert r.returncode == 0, r.stderr[-2000:]
    n = max(1, cores // 2)
    assert f"2 worker(s) of {n} thread{'s' * (n > 1)} each;" in r.stdout and "warning" not in r.stdout, r.stdout
    r = run({"OMP_NUM_THREADS": str(cores)})
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"warning: OMP_NUM_THREADS={cores} gives {2 * cores} threads on {cores} cores" in r.stdout, r.stdout

def test_the_threads_note_reads_openmps_nested_form_and_refuses_nothing_it_cannot_read(hnn, tmp_path):
    "OMP_NUM_THREADS='N,1' (OpenMP's nested form) counts N; a value that is no count is named, and the study still starts."
    cores = len(os.sched_getaffinity(0))
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    run = lambda env: subprocess.run([hnn, "hpo", "stage1", "--quick", "--workers", "2", "--trials", "0"], cwd=tmp_path,
                                     capture_output=True, text=True, env={**base, **env}, timeout=300)
    r = run({"OMP_NUM_THREADS": f"{cores},1"})
    assert r.returncode == 0 and f"2 worker(s) of {cores} thread" in r.stdout and "warning" in r.stdout, r.stdout + r.stderr[-2000:]
    r = run({"OMP_NUM_THREADS": "many"})
    assert r.returncode == 0 and "OMP_NUM_THREADS='many' is not a thread count" in r.stdout, r.stdout + r.stderr[-2000:]
    r = run({"MKL_NUM_THREADS": "1"})  # the product leaves the threads to the user; torch takes one per core
    assert r.returncode == 0 and f"2 worker(s) of {cores} thread" in r.stdout, r.stdout + r.stderr[-2000:]

"""Stage 2's TPE converting each finished trial once (`hpo._CachedTPE`, issue 29): the same samples as Optuna's TPE."""

import warnings
from pathlib import Path

import numpy as np
import optuna
import pytest

from hnn_trading.hpo import SearchSpace, optimize_batched, _CachedTPE, _fast_sampler
from hnn_trading.studies import constrain

warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
optuna.logging.set_verbosity(optuna.logging.WARNING)
SPACE = SearchSpace.from_yaml(Path(__file__).resolve().parents[1] / "configs/search/stage2.yaml")


def _objective(trial):
    "The stage-2 space (floats, an int, a categorical), the min-trades constraint, some trials pruned."
    v = SPACE.sample(trial)
    q = v["strategy.threshold_quantile"]
    constrain(trial, "min_trades", float(q > 0.9) - 0.5)
    if v["strategy.max_hold"] == 7:
        raise optuna.TrialPruned()
    return float(np.sin(6 * q) + v["strategy.kelly_clip"] - (v["strategy.stop_loss"] - 0.03) ** 2)


@pytest.mark.parametrize("multivariate", [False, True])
def test_cached_tpe_samples_what_tpe_samples(multivariate):
    "Seeded alike, Optuna's TPE and the cached one sample the same 150 trials, and the cache holds the finished ones."
    make = lambda: optuna.samplers.TPESampler(n_startup_trials=15, seed=4, multivariate=multivariate)
    plain, cached = (optuna.create_study(direction="maximize", sampler=s) for s in (make(), _CachedTPE(make())))
    plain.optimize(_objective, 150)
    cached.optimize(_objective, 150)
    assert [t.params for t in plain.trials] == [t.params for t in cached.trials]
    assert [t.state for t in plain.trials] == [t.state for t in cached.trials]
    assert max(len(s[0]) for s in cached.sampler._rows.values()) >= 140  # converted once, kept
    assert len(cached.sampler._keys) >= 140  # infeasibility and value read once, kept


def test_optimize_batched_gives_the_study_plain_tpe_gives():
    """optimize_batched runs a TPE study with the cached sampler (sharing the study's sampler's random state): the
    trials equal the same batched loop run on Optuna's own TPE (the sampler wrapped in a subclass, so not cached)."""

    class Plain(optuna.samplers.TPESampler):  # a subclass: _fast_sampler leaves it as it is
        pass

    runs = []
    for cls in (optuna.samplers.TPESampler, Plain):
        st = optuna.create_study(direction="maximize", sampler=cls(n_startup_trials=10, seed=2))
        assert isinstance(_fast_sampler(st.sampler), _CachedTPE) == (cls is optuna.samplers.TPESampler)
        optimize_batched(st, _objective, 80, SPACE, jobs=2, progress=False)
        runs.append([(t.params, t.state, t.value) for t in st.trials])
    assert runs[0] == runs[1]


def test_other_samplers_are_left_alone():
    "Random, QMC and subclasses of TPE run as given."
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qmc = optuna.samplers.QMCSampler(seed=0)
    for s in (optuna.samplers.RandomSampler(seed=0), qmc):
        assert _fast_sampler(s) is s

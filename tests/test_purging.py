"""Purging checked from its definition, not from the code: bar t's label is known at t + span, so its label interval is
the closed interval [t, t + span] and `purge` = span. No training bar's interval may meet any test bar's interval
(AFML's getTrainTimes), the `embargo` bars after each test block's purge stay out of training, and nothing else is
dropped. The same interval test checks the walk-forward folds of `RollingOriginSplitter`."""
from itertools import combinations
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck
from hnn_trading.splits import CombinatorialPurgedCV, RollingOriginSplitter

HS = dict(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def meets(a, b, span):
    "For each bar of `a`: does its label interval [t, t + span] meet the interval [s, s + span] of some bar s of `b`?"
    a_lo, a_hi = a[:, None], a[:, None] + span
    b_lo, b_hi = b[None, :], b[None, :] + span
    return ((a_lo <= b_hi) & (b_lo <= a_hi)).any(1)


def blocks(idx):
    "Contiguous runs of a sorted index array, as (first, last) pairs."
    cuts = np.flatnonzero(np.diff(idx) > 1)
    return list(zip(idx[np.r_[0, cuts + 1]], idx[np.r_[cuts, len(idx) - 1]]))


def expected_train(n, test, span, embargo):
    "Training bars by the definition: not test, no label meeting a test label, not embargoed after a test block."
    t = np.arange(n)
    out = ~np.isin(t, test) & ~meets(t, test, span)
    for _, b in blocks(test):
        out[b + span + 1:b + span + 1 + embargo] = False
    return t[out]


def overlapping_train_bars(cv, n, span):
    "Training bars, summed over splits, whose label interval meets a test label interval."
    return sum(int(meets(s["train"], s["test"], span).sum()) for s in cv.split(n))


@settings(**HS)
@given(n=st.integers(60, 700), groups=st.integers(3, 10), k=st.integers(1, 4), span=st.integers(0, 6),
       embargo=st.integers(0, 4))
def test_cpcv_purges_both_sides_and_embargoes_after(n, groups, k, span, embargo):
    k = min(k, groups - 1)
    cv = CombinatorialPurgedCV(n_groups=groups, k_test=k, purge=span, embargo=embargo)
    tests = [np.concatenate([cv.groups(n)[g] for g in tg]) for tg in combinations(range(groups), k)]
    if any(len(expected_train(n, t, span, embargo)) == 0 for t in tests):
        with pytest.raises(ValueError, match="leave no training bar"):
            cv.split(n)
        return
    for s in cv.split(n):
        train, test = s["train"], s["test"]
        assert not np.isin(train, test).any()
        assert not meets(train, test, span).any(), f"test groups {s['test_groups']}: a train label meets a test label"
        for a, b in blocks(test):
            after = np.arange(b + 1, min(n, b + span + embargo + 1))
            assert not np.isin(after, train).any(), f"test block {a}..{b}: purge/embargo bars after it are in train"
        np.testing.assert_array_equal(train, expected_train(n, test, span, embargo))   # and nothing more is dropped


@pytest.mark.parametrize("n, groups, k, span, embargo", [(1200, 6, 2, 5, 0), (1003, 10, 3, 20, 10)])
def test_cpcv_has_no_overlapping_training_labels(n, groups, k, span, embargo):
    "Issue 26's cases: the one-sided purge left 100 and 2,520 such training bars (80 and 2,268 without touching ends)."
    assert overlapping_train_bars(CombinatorialPurgedCV(groups, k, span, embargo), n, span) == 0


def test_cpcv_matches_a_hand_built_case():
    "n = 12 in groups [0, 3], [4, 7], [8, 11], k = 1, span 1, embargo 1: train drops [a - 1, b + 2] of the test group."
    got = [s["train"].tolist() for s in CombinatorialPurgedCV(3, 1, purge=1, embargo=1).split(12)]
    assert got == [[6, 7, 8, 9, 10, 11], [0, 1, 2, 10, 11], [0, 1, 2, 3, 4, 5, 6]]


@pytest.mark.parametrize("purge, embargo, trains", [
    (1, 0, [[9, 10, 11], [5, 6], [0, 1, 2]]),
    (0, 1, [[9, 10, 11], [5, 6, 7], [0, 1, 2, 3]]),
])
def test_cpcv_matches_skfolio_documented_examples(purge, embargo, trains):
    "skfolio's CombinatorialPurgedCV docstring: 12 observations, n_folds=3, n_test_folds=2, purged_size / embargo_size."
    got = [s["train"].tolist() for s in CombinatorialPurgedCV(3, 2, purge=purge, embargo=embargo).split(12)]
    assert got == trains


@settings(**HS)
@given(n=st.integers(400, 1200), folds=st.integers(1, 5), span=st.integers(0, 8), embargo=st.integers(0, 3),
       calib=st.sampled_from([0, 30]), window=st.sampled_from(["expanding", "sliding"]))
def test_rolling_origin_has_no_overlapping_labels(n, folds, span, embargo, calib, window):
    "Walk-forward folds: train labels meet neither calibration nor validation labels; calibration's miss validation's."
    sp = RollingOriginSplitter(n_folds=folds, val_block=50, calib_size=calib, purge=span, embargo=embargo,
                               min_train=100, window=window)
    for f in sp.split(n):
        assert f.train[-1] < f.val[0]
        assert not meets(f.train, f.val, span).any()
        if len(f.calib):
            assert not meets(f.train, f.calib, span).any()
            assert not meets(f.calib, f.val, span).any()
        nxt = f.calib[0] if len(f.calib) else f.val[0]
        assert f.train[-1] + span + embargo < nxt                 # the embargo sits between the parts, before each one


def test_the_interval_check_catches_a_one_sided_purge():
    "The definition test is not vacuous: a split purged only before the test group (the old rule) fails it."
    n, span = 12, 1
    test = np.arange(4, 8)
    one_sided = np.setdiff1d(np.arange(n), np.arange(4 - span, 8))
    assert meets(one_sided, test, span).tolist().count(True) == 1                # bar 8: [8, 9] meets bar 7's [7, 8]
    assert expected_train(n, test, span, 0).tolist() == [0, 1, 2, 9, 10, 11]

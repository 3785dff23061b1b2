"""The bootstrap's metrics from scores ranked once (encoders.probe_metrics.RankedScores, each
resample as how often each record was drawn) against the computation per resample it replaced
(class_metrics of the resampled records, which sorted every class of every resample) and against
scikit-learn on each resample: the same numbers, ties and cluster resamples included."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import load_benchmark
from encoders.probe_metrics import METRICS, RankedScores, Resampler, bootstrap_metrics, class_metrics

_sklearn = load_benchmark("bench_probe_metrics").sklearn_metrics   # the independent oracle


def _case(rng, n, classes, ties: bool):
    k = len(classes)
    y = classes[np.r_[np.arange(k), rng.integers(0, k, n - k)]]
    logits = rng.normal(size=(n, k)) + 1.2 * (y[:, None] == classes[None, :])
    if ties:   # coarse probabilities: many equal scores, as a weak probe gives
        logits = np.round(logits)
    return y, np.exp(logits) / np.exp(logits).sum(1, keepdims=True)


@pytest.mark.parametrize("classes", [np.array([0, 1]), np.array(["A", "N", "O", "x", "y", "~"])], ids=["2", "6-text"])
@pytest.mark.parametrize("ties", [False, True], ids=["no-ties", "ties"])
def test_ranked_resample_metrics_equal_the_old_and_scikit_learn(classes, ties):
    rng = np.random.default_rng(len(classes) + 10 * ties)
    y, proba = _case(rng, 120, classes, ties)
    ranked = RankedScores(y, proba, classes)
    draws = np.random.default_rng(3)
    for resampler in (Resampler(len(y)), Resampler(len(y), groups=np.arange(len(y)) // 4)):
        checked = 0
        while checked < 15:
            i = resampler.draw(draws)
            if not np.isin(classes, y[i]).all():
                continue
            checked += 1
            ours = ranked.metrics(np.bincount(i, minlength=len(y)))
            old, ref = class_metrics(y[i], proba[i], classes), _sklearn(y[i], proba[i], classes)
            for m in METRICS:
                assert ours[m] == old[m], m   # whole-number weights: every sum exact
                assert ours[m] == pytest.approx(ref[m], abs=1e-12), m


def test_bootstrap_values_equal_class_metrics_per_resample():
    """bootstrap_metrics' values are those of the old loop: the same draws, class_metrics of each."""
    classes = np.array([0, 1, 2])
    y, p1 = _case(np.random.default_rng(1), 60, classes, True)
    _, p2 = _case(np.random.default_rng(2), 60, classes, False)
    groups = np.arange(60) // 3
    point, boots, left_out = bootstrap_metrics({"a": (classes, p1), "b": (classes, p2)}, y, 40, 5, groups)
    rng, resampler = np.random.default_rng(5), Resampler(len(y), groups)
    old = {name: {m: [] for m in METRICS} for name in ("a", "b")}
    skipped = 0
    for _ in range(40):
        i = resampler.draw(rng)
        if not np.isin(classes, y[i]).all():
            skipped += 1
            continue
        for name, p in (("a", p1), ("b", p2)):
            for m, v in class_metrics(y[i], p[i], classes).items():
                old[name][m].append(v)
    assert left_out == skipped
    assert boots == old
    assert point["a"] == class_metrics(y, p1, classes)

"""encoders.probe_metrics against scikit-learn, the independent oracle: the probe's numbers must
not change by computing them faster."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, f1_score, roc_auc_score

from encoders.errors import EncoderError
from encoders.probe_metrics import binary_auroc, class_metrics


def _sklearn(y, proba, classes):
    pred = classes[proba.argmax(1)]
    if len(classes) == 2:
        auroc = roc_auc_score(y == classes[1], proba[:, 1])
    else:
        auroc = roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=classes)
    return {"auroc": auroc, "balanced_accuracy": balanced_accuracy_score(y, pred),
            "macro_f1": f1_score(y, pred, average="macro")}


def _case(rng, n, classes, ties: bool):
    k = len(classes)
    y = classes[np.r_[np.arange(k), rng.integers(0, k, n - k)]]   # every class present
    logits = rng.normal(size=(n, k)) + 1.5 * (y[:, None] == classes[None, :])
    if ties:   # coarse probabilities: many equal scores, as a weak probe gives
        logits = np.round(logits)
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return y, proba


@pytest.mark.parametrize("classes", [np.array([0, 1]), np.array(["A", "N"]), np.array([0, 1, 2]),
                                     np.array(["A", "N", "O", "~"])], ids=["binary", "binary-text", "3", "4-text"])
@pytest.mark.parametrize("ties", [False, True], ids=["no-ties", "ties"])
def test_metrics_equal_scikit_learn(classes, ties):
    rng = np.random.default_rng(len(classes) * 10 + ties)
    for n in (7, 40, 301):
        for _ in range(20):
            y, proba = _case(rng, n, classes, ties)
            ours, ref = class_metrics(y, proba, classes), _sklearn(y, proba, classes)
            for m in ref:
                assert ours[m] == pytest.approx(ref[m], abs=1e-12), (m, n)


def test_a_class_never_predicted_and_a_perfect_ranking():
    classes = np.array([0, 1, 2])
    y = np.array([0, 0, 1, 1, 2, 2])
    proba = np.array([[.8, .1, .1], [.7, .2, .1], [.2, .7, .1], [.6, .3, .1], [.4, .5, .1], [.1, .8, .1]])
    ours, ref = class_metrics(y, proba, classes), _sklearn(y, proba, classes)   # class 2 is never predicted
    for m in ref:
        assert ours[m] == pytest.approx(ref[m], abs=1e-12)
    assert binary_auroc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert binary_auroc([0, 0, 1, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5
    assert binary_auroc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4]) == 0.0


def test_one_class_or_unknown_labels_are_an_error():
    with pytest.raises(EncoderError, match="both classes"):
        binary_auroc([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(EncoderError, match="not among"):
        class_metrics(np.array([0, 1, 5]), np.full((3, 2), 0.5), np.array([0, 1]))

"""The probe's metrics (AUROC, balanced accuracy, macro-F1) in plain NumPy, its bootstrap
resampler (records, or whole groups: :class:`Resampler`) and the paired bootstrap itself
(:func:`bootstrap_metrics`, :func:`interval`; moved here from :mod:`encoders.probe`, which still
exports them).

The paired bootstrap of :func:`bootstrap_metrics` evaluates them 1000 times per
feature set; scikit-learn's metric functions spend ~10 ms per call validating their input, which
made a ``biosig probe`` with four baselines and ``--combined`` on 200 records take 145 s of its
160 s in input checks. These give scikit-learn's values (tests/test_probe_metrics.py compares them
on random inputs with ties, two and more classes, text labels) in a few tens of microseconds:

* AUROC is the Mann-Whitney statistic: the chance that a positive scores above a negative, ties
  counting one half, which is the area under the trapezoidal ROC curve that ``roc_auc_score``
  integrates (:func:`weighted_auroc`, also used re-weighted by :mod:`encoders.probe_subgroups`). With more than two classes: the unweighted mean of the
  one-vs-rest AUROCs (``multi_class="ovr", average="macro"``).
* balanced accuracy is the mean recall over the classes present in ``y``;
* macro-F1 is the mean of 2 TP / (2 TP + FP + FN) over the classes present in ``y`` or predicted
  (scikit-learn's label set for ``average="macro"``).

:func:`check_folds` says whether (train, test) pairs are fit for out-of-fold metrics at all.
"""
from __future__ import annotations

import numpy as np

from encoders.errors import EncoderError

METRICS = ("auroc", "balanced_accuracy", "macro_f1")


def weighted_auroc(is_positive, score, sample_weight=None) -> float:
    """AUROC of ``score`` for ``is_positive`` (ties count one half), optionally weighted: the
    weighted share of (positive, negative) pairs ranked the right way, each pair weighing the
    product of its two weights (scikit-learn's ``roc_auc_score`` with ``sample_weight``, at a
    fraction of its cost, for thousands of bootstrap resamples). NaN without both classes."""
    pos = np.asarray(is_positive, dtype=bool)
    s = np.asarray(score, dtype=np.float64)
    w = np.ones(len(s)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    order = np.argsort(s, kind="stable")
    s, pos, w = s[order], pos[order], w[order]
    start = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])          # first index of each tied score
    w_pos = np.add.reduceat(np.where(pos, w, 0.0), start)
    w_neg = np.add.reduceat(np.where(pos, 0.0, w), start)
    den = w_pos.sum() * w_neg.sum()
    if not den > 0:
        return float("nan")
    below = np.cumsum(w_neg) - w_neg                                  # negative weight at lower scores
    return float(np.sum(w_pos * (below + 0.5 * w_neg)) / den)


def binary_auroc(positive, score) -> float:
    """Area under the ROC curve of ``score`` for the boolean labels ``positive`` (the Mann-Whitney
    statistic, :func:`weighted_auroc` with unit weights); an error without both classes."""
    positive = np.asarray(positive, dtype=bool)
    if positive.all() or not positive.any():
        raise EncoderError("AUROC needs both classes among the records")
    return weighted_auroc(positive, score)


def confusion(y_index: np.ndarray, pred_index: np.ndarray, n_classes: int) -> np.ndarray:
    """(K, K) counts: row = true class, column = predicted class (indices 0 .. K-1)."""
    flat = np.bincount(y_index * n_classes + pred_index, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes)


def _class_index(y, classes) -> np.ndarray:
    """The column of ``classes`` of each label of ``y``; an error for a label not among them."""
    classes = np.asarray(classes)
    y = np.asarray(y)
    order = np.argsort(classes, kind="stable")
    y_index = order[np.searchsorted(classes, y, sorter=order).clip(0, len(classes) - 1)]
    if not np.array_equal(classes[y_index], y):
        raise EncoderError("labels that are not among the classifier's classes")
    return y_index


def class_metrics(y, proba: np.ndarray, classes) -> dict:
    """``{"auroc", "balanced_accuracy", "macro_f1"}`` of predicted class probabilities ``proba``
    (n, K), columns in the order of ``classes`` (a classifier's ``classes_``), for labels ``y``;
    the predicted class is the most probable one."""
    classes = np.asarray(classes)
    proba = np.asarray(proba, dtype=np.float64)
    y_index = _class_index(y, classes)
    k = len(classes)
    if k == 2:
        auroc = binary_auroc(y_index == 1, proba[:, 1])
    else:
        auroc = float(np.mean([binary_auroc(y_index == c, proba[:, c]) for c in range(k)]))
    cm = confusion(y_index, proba.argmax(1), k)
    tp, true_n, pred_n = np.diag(cm).astype(np.float64), cm.sum(1), cm.sum(0)
    present = true_n > 0
    balanced = float(np.mean(tp[present] / true_n[present]))
    labelled = present | (pred_n > 0)
    macro_f1 = float(np.mean(2.0 * tp[labelled] / (true_n + pred_n)[labelled]))
    return {"auroc": auroc, "balanced_accuracy": balanced, "macro_f1": macro_f1}


class RankedScores:
    """One row's out-of-fold probabilities ranked once, for the metrics of many bootstrap resamples.

    A resample draws records of the same scores, so its AUROC is :func:`weighted_auroc` of the whole
    set with each record weighing how often it was drawn (``np.bincount`` of the drawn indices):
    the columns are sorted here once, not once per class per resample (the argsort was 4.1 of a
    3000-record, 6-class, 3-row bootstrap's 10.2 s). The weights are whole numbers, so every sum is
    exact and :meth:`metrics` gives :func:`class_metrics` of the resampled records bit for bit
    (tests/test_probe_bootstrap_ranked.py, ties included, and scikit-learn's on each resample).
    1000 resamples of 6 classes, 3 rows: 3000 records 10.5 -> 0.9 s, 8528 records 34.8 -> 2.0 s
    (benchmarks/bench_probe_scale.py, one core of a quiet 2-core box)."""

    def __init__(self, y, proba: np.ndarray, classes):
        proba = np.asarray(proba, dtype=np.float64)
        self.k = len(classes)
        self.y_index = _class_index(y, classes)
        self.cell = self.y_index * self.k + proba.argmax(1)                 # (true, predicted) class
        self.scored = np.array([1]) if self.k == 2 else np.arange(self.k)   # the classes with an AUROC
        cols = proba[:, self.scored].T                                    # (classes scored, n)
        m, n = cols.shape
        order = np.argsort(cols, axis=1, kind="stable")
        s = np.take_along_axis(cols, order, 1)
        positive = self.y_index[order] == self.scored[:, None]
        idx = np.broadcast_to(np.arange(n), s.shape)
        first = np.ones(s.shape, dtype=bool)
        first[:, 1:] = s[:, 1:] != s[:, :-1]
        last = np.ones(s.shape, dtype=bool)
        last[:, :-1] = first[:, 1:]
        start = np.maximum.accumulate(np.where(first, idx, 0), axis=1)                  # first of its tie
        end = np.minimum.accumulate(np.where(last, idx, n - 1)[:, ::-1], axis=1)[:, ::-1]   # last of its tie
        # the rows laid end to end: a running sum of the negatives' weights over all of them, read at
        # each positive's tie (only the positives' terms count: n of them in all, not classes x n)
        base = np.arange(m)[:, None] * n
        self.n = n
        self.neg_order = np.where(positive, n, order).ravel()             # a positive reads a zero weight
        row, col = np.nonzero(positive)
        self.pos_row, self.pos_record = row, order[row, col]
        self.pos_start, self.pos_after = (base + start)[row, col], (base + end)[row, col] + 1
        self.row_start = base[row, 0]

    def metrics(self, counts: np.ndarray) -> dict:
        """:func:`class_metrics` of the records drawn ``counts[r]`` times each (every class drawn)."""
        weights = np.zeros(self.n + 1, dtype=np.int64)
        weights[:self.n] = counts
        neg_before = np.zeros(len(self.neg_order) + 1, dtype=np.int64)    # negatives' weight before each place
        np.cumsum(weights[self.neg_order], out=neg_before[1:])
        # twice (negatives below + half the tied ones) per positive, times its weight: whole numbers
        twice = weights[self.pos_record] * (neg_before[self.pos_start] + neg_before[self.pos_after]
                                            - 2 * neg_before[self.row_start])
        num = np.bincount(self.pos_row, weights=twice, minlength=len(self.scored)) / 2.0
        k = self.k
        per_class = np.bincount(self.y_index, weights=weights[:self.n], minlength=k)
        w_pos = per_class[self.scored]
        auc = num / (w_pos * (per_class.sum() - w_pos))
        cm = np.bincount(self.cell, weights=weights[:self.n], minlength=k * k).reshape(k, k)
        tp, true_n, pred_n = np.diag(cm), cm.sum(1), cm.sum(0)
        present = true_n > 0
        labelled = present | (pred_n > 0)
        return {"auroc": float(auc[0]) if k == 2 else float(np.mean(auc)),
                "balanced_accuracy": float(np.mean(tp[present] / true_n[present])),
                "macro_f1": float(np.mean(2.0 * tp[labelled] / (true_n + pred_n)[labelled]))}


class Resampler:
    """Bootstrap resamples of record indices 0 .. n-1: ``n`` records drawn with replacement, or,
    with ``groups`` (one id per record, e.g. the patient), a *cluster* bootstrap: as many groups as
    there are drawn with replacement, each bringing all of its records as often as it is drawn.
    Records of one patient are not independent, so resampling them one by one would make the
    intervals too narrow. With one record per group, in record order, the draws are those without
    groups (the same random numbers, the same indices)."""

    def __init__(self, n: int, groups=None):
        self.n = int(n)
        self.order = None
        if groups is None:
            return
        groups = np.asarray(groups)
        if groups.dtype == object:   # mixed ids (None, numbers, text) cannot be sorted: compare them as text
            groups = groups.astype(str)
        if groups.shape != (self.n,):
            raise EncoderError(f"{groups.size} group ids for {self.n} records; give one group id per record")
        _, first, codes = np.unique(groups, return_index=True, return_inverse=True)
        rank = np.empty(len(first), dtype=np.int64)
        rank[np.argsort(first, kind="stable")] = np.arange(len(first))   # groups in order of first appearance
        codes = rank[codes.reshape(-1)]
        self.order = np.argsort(codes, kind="stable")                   # records grouped, in record order
        self.sizes = np.bincount(codes, minlength=len(first))
        self.starts = np.concatenate([[0], np.cumsum(self.sizes)[:-1]])

    @property
    def n_units(self) -> int:
        """What is drawn: records, or groups."""
        return self.n if self.order is None else len(self.sizes)

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """One resample's record indices (with groups: each drawn group's records, group by group)."""
        if self.order is None:
            return rng.integers(0, self.n, self.n)
        g = rng.integers(0, len(self.sizes), len(self.sizes))
        sizes = self.sizes[g]
        within = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        return self.order[np.repeat(self.starts[g], sizes) + within]


def check_folds(folds, n: int, groups=None, every_record: bool = True) -> None:
    """An :class:`EncoderError` unless ``folds`` (e.g. precomputed by a caller) never train on a
    tested record, nor (``groups``) on a tested group, and (``every_record``) test each of the ``n``
    records exactly once: one on both sides is leakage, a record never tested was scored as zeros."""
    tested = np.zeros(n, dtype=np.int64)
    g = None if groups is None else np.asarray(groups)
    g = g.astype(str) if g is not None and g.dtype == object else g
    for k, (train, test) in enumerate(folds, 1):
        np.add.at(tested, np.asarray(test, dtype=np.int64), 1)
        both = np.intersect1d(train, test) if g is None else np.intersect1d(g[train], g[test])
        if both.size:
            what = "record" if g is None else "group"
            raise EncoderError(f"fold {k} trains on {both.size} {what}(s) it tests (e.g. {what} {both[0]}): give "
                               f"folds whose training and test parts share no {what}"
                               + ("" if g is None else " (cv_folds with the groups)"))
    if every_record and (tested != 1).any():
        raise EncoderError(f"the folds test {int((tested == 0).sum())} record(s) never and {int((tested > 1).sum())} "
                           f"more than once; each of the {n} records must be in exactly one test part")


def bootstrap_metrics(probas: dict, y: np.ndarray, n_boot: int = 1000, seed: int = 0,
                      groups=None, class_names: dict | None = None) -> tuple[dict, dict, int]:
    """(point ``{name: {metric: value}}``, ``{name: {metric: [value per resample]}}``, resamples left
    out) of out-of-fold predictions ``{name: (classes, proba)}``: every name gets the SAME resampled
    records (percentile bootstrap over records, ``seed``), so differences between names are paired.
    With ``groups`` (one id per record, e.g. the patient) whole groups are resampled
    (:class:`Resampler`).

    A resample without some class has no AUROC: it is left out of every name's values and counted
    (the third value; the intervals rest on the others). When more than half of the resamples are
    left out the intervals would describe the few that hold every class, not the data set: an
    :class:`EncoderError` naming the class most often missing (``class_names``: {class: name})."""
    y = np.asarray(y)
    classes = next(iter(probas.values()))[0]
    point = {name: class_metrics(y, p, classes) for name, (_, p) in probas.items()}
    rng = np.random.default_rng(seed)
    resampler = Resampler(len(y), groups)
    boots = {name: {m: [] for m in METRICS} for name in probas}
    ranked = {name: RankedScores(y, p, classes) for name, (_, p) in probas.items()}   # sorted once, not per resample
    y_index = next(iter(ranked.values())).y_index
    missed = np.zeros(len(classes), dtype=np.int64)   # resamples without each class
    for _ in range(n_boot):
        counts = np.bincount(resampler.draw(rng), minlength=len(y))   # how often each record was drawn
        lacking = np.bincount(y_index, weights=counts, minlength=len(classes)) == 0
        if lacking.any():
            missed += lacking
            continue
        for name, r in ranked.items():
            for m, v in r.metrics(counts).items():
                boots[name][m].append(v)
    left_out = n_boot - len(next(iter(boots.values()))[METRICS[0]])
    if left_out > n_boot / 2:
        c = classes[int(np.argmax(missed))]
        name = (class_names or {}).get(c.item() if hasattr(c, "item") else c, str(c))
        unit = "records" if groups is None else f"records in {len(np.unique(np.asarray(groups)[y == c].astype(str)))} groups"
        raise EncoderError(f"{left_out} of {n_boot} bootstrap resamples hold no record of some class (class {name}, "
                           f"{int((y == c).sum())} {unit}, is missing from {int(missed.max())}): confidence intervals "
                           "from the few left would not describe the data set; give more records of the rare classes"
                           + ("" if groups is None else " (or more groups)"))
    return point, boots, left_out


def interval(values) -> tuple[float, float]:
    """The 95 % percentile interval of bootstrap values (NaN, NaN when there are none)."""
    b = np.asarray(values, dtype=np.float64)
    lo, hi = np.percentile(b, [2.5, 97.5]) if len(b) else (np.nan, np.nan)
    return float(lo), float(hi)

"""Linear probe: regularised logistic regression on embeddings with stratified cross-validation.

Metrics are computed on the out-of-fold predictions (each record predicted by the model that did
not see it) with percentile bootstrap confidence intervals over records.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from encoders.errors import EncoderError
from encoders.probe_metrics import METRICS, bootstrap_metrics, interval   # noqa: F401 (their home was here)

log = logging.getLogger(__name__)


def cv_folds(y: np.ndarray, n_splits: int = 5, seed: int = 0, groups=None,
             class_names: dict | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified (train, test) index pairs, shuffled with ``seed``; with ``groups`` (one id per
    record, e.g. the patient) stratified *grouped* folds: no group is in both train and test.

    With one record per group the grouped splitter still decides the folds: they differ from the
    plain stratified ones (the numbers differ a little; the bootstrap draws are the same). Grouped
    folds that leave a training fold
    without some class (e.g. one group holds every positive) are an error that says what to do;
    ``class_names`` ({class: name}) names the classes in it (default: the class values).
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    from encoders.arguments import whole_number
    n_splits = whole_number(n_splits, "n_splits", minimum=2)
    y = np.asarray(y)
    values, counts = np.unique(y, return_counts=True)
    if len(counts) < 2:
        v = values[0].item() if len(values) and hasattr(values[0], "item") else values[0] if len(values) else "none"
        only = (class_names or {}).get(v, str(v))
        raise EncoderError(f"the labels have a single class ({only}, all {len(y)} records); a probe needs at least two")
    if counts.min() < n_splits:
        rare = np.unique(y)[int(np.argmin(counts))]
        name = (class_names or {}).get(rare.item() if hasattr(rare, "item") else rare, str(rare))
        raise EncoderError(f"the rarest class ({name}) has {counts.min()} examples, fewer than the {n_splits} folds"
                           + (f"; give --folds {counts.min()} or fewer" if counts.min() >= 2 else
                              "; a class needs 2 records at least (one to train on, one to test on): give more "
                              "labelled records of it, or --positive VALUE to probe one class against the rest"))
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != y.shape:
            raise EncoderError(f"{groups.shape[0] if groups.ndim else 0} group ids for {len(y)} labels; "
                               "give one group id per record")
        if groups.dtype == object:   # mixed ids (None, numbers, text) cannot be sorted: compare them as text
            groups = groups.astype(str)
        n_groups = len(np.unique(groups))
        if n_groups < n_splits:   # grouped folds: each group tested in one fold, so a fold per group at most
            fix = (f"give --folds {n_groups} or fewer, a finer group id, or no --group-column" if n_groups >= 2 else
                   "a grouped CV needs two groups at least: give a finer group id, or no --group-column")
            raise EncoderError(f"{n_groups} group{'s are' if n_groups != 1 else ' is'} fewer than the {n_splits} "
                               f"folds; {fix}")
        sgk = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        folds = list(sgk.split(np.zeros(len(y)), y, groups))
        _check_grouped_folds(folds, y, groups, class_names or {})
        return folds
    skf = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(skf.split(np.zeros(len(y)), y))


def _check_grouped_folds(folds, y: np.ndarray, groups: np.ndarray, class_names: dict) -> None:
    """An :class:`EncoderError` when grouped folds leave a test fold empty or a training fold
    without some class (a probe cannot be fitted there), naming the class and its groups."""
    classes = np.unique(y)
    fewer = "fewer --folds, " if len(folds) > 2 else ""
    more = f"give more groups (a finer group id), {fewer}another --seed, or no --group-column"
    for train, test in folds:
        if len(test) == 0:
            raise EncoderError(f"the groups cannot be split into {len(folds)} folds that each hold records "
                               f"({len(np.unique(groups))} groups); {more}")
        lacking = [c for c in classes if not (y[train] == c).any()]
        if lacking:
            c = lacking[0]
            name = class_names.get(c.item() if hasattr(c, "item") else c, str(c))
            in_c = np.unique(groups[y == c])
            if len(in_c) == 1:   # no number of folds helps: the fold testing that group trains without the class
                where, fix = f"one group ({in_c[0]})", "give more groups (a finer group id), or no --group-column"
            else:
                where, fix = f"{len(in_c)} groups that fall in one fold", more
            raise EncoderError(f"the groups put all {int((y == c).sum())} records of class {name} in {where}, so "
                               f"the folds cannot be formed: a fold would train without class {name}; {fix}")


# the regularisation grid of ``C="auto"`` (inverse L2 strength of the standardised features),
# fixed in advance: every feature set gets the same choice of strengths
C_GRID = (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0)
INNER_FOLDS = 5


def parse_C(text: str) -> float | str:
    """``"auto"`` or a positive strength from a command-line value (ValueError with the reason)."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        v = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is neither auto nor a number") from None
    if not v > 0:
        raise ValueError(f"{text} must be > 0")
    return v


def _logistic(C: float, seed: int):
    """Median imputation, standardisation and L2 logistic regression, each fitted on the training
    fold only: a handcrafted feature undefined for a record (NaN: too few beats for RMSSD) takes the
    training records' median (the median over every record, test folds included, was imputed before
    the folds were cut until 2026-12-05); a feature undefined everywhere is 0."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    return make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(),
                         LogisticRegression(C=C, max_iter=5000, class_weight="balanced", random_state=seed))


def choose_C(X: np.ndarray, y: np.ndarray, groups=None, seed: int = 0) -> float:
    """The strength in :data:`C_GRID` with the best mean inner cross-validated log-loss
    (scikit-learn's ``GridSearchCV`` over the scaler + logistic-regression pipeline).

    Inner folds are stratified (grouped when ``groups`` is given) and see only ``X``: called on an
    outer training fold, the choice never looks at that fold's test records. The scaler is fitted
    inside every inner fold. Ties go to the stronger regularisation (smaller C).
    """
    from sklearn.model_selection import GridSearchCV
    y = np.asarray(y)
    k = int(min(INNER_FOLDS, np.unique(y, return_counts=True)[1].min()))
    if groups is not None:
        k = min(k, len(np.unique(groups)))
    if k < 2:
        return 1.0
    try:
        inner = cv_folds(y, k, seed, groups)
    except EncoderError as exc:   # grouped inner folds of this training fold that cannot hold every class
        raise EncoderError(f"C auto (nested CV) within a training fold: {exc}, or a fixed --C") from None
    search = GridSearchCV(_logistic(1.0, seed), {"logisticregression__C": list(C_GRID)},
                          scoring="neg_log_loss", cv=inner, refit=False)
    search.fit(X, y)
    return float(search.cv_results_["param_logisticregression__C"][int(np.argmin(search.cv_results_["rank_test_score"]))])


def out_of_fold_proba(X: np.ndarray, y: np.ndarray, folds, C: float | str = 1.0, seed: int = 0,
                      groups=None, chosen: list | None = None):
    """(classes, proba (n, K)) from a standardised L2 logistic regression fitted per fold.

    ``C="auto"`` picks the strength per outer training fold with :func:`choose_C` (nested CV;
    ``groups`` keeps the inner folds grouped); the chosen values are appended to ``chosen``.
    """
    from encoders.probe_metrics import check_folds
    check_folds(folds, len(y), groups, every_record=False)   # precomputed folds: no record (group) on both sides
    return _fold_proba(X, y, folds, C, seed, groups, chosen)


def _fold_proba(X, y, folds, C, seed, groups, chosen):
    """:func:`out_of_fold_proba` on folds already checked: :func:`probe` and :func:`fit_out_of_fold`
    run the stricter :func:`encoders.probe_metrics.check_folds` (every record tested once) on the same
    folds, records and groups first, so the check here could never fail (it was run again for every
    feature set and block)."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    classes = np.unique(y)
    proba = np.zeros((len(y), len(classes)))
    for train, test in folds:
        missing = [str(k) for k in classes if not (y[train] == k).any()]
        if missing:   # precomputed folds (cv_folds checks its own): a fit needs every class
            raise EncoderError(f"a training fold holds no record of class {', '.join(missing)}; give folds "
                               "whose training part holds every class (fewer folds, or other groups)")
        c = choose_C(X[train], y[train], None if groups is None else np.asarray(groups)[train], seed) \
            if C == "auto" else float(C)
        if chosen is not None:
            chosen.append(c)
        clf = _logistic(c, seed).fit(X[train], y[train])
        proba[np.ix_(test, np.searchsorted(classes, clf.classes_))] = clf.predict_proba(X[test])
    return classes, proba


@dataclass(frozen=True)
class LateFusion:
    """Feature blocks probed one by one and combined after the fit (a :func:`compare` entry).

    Each block gets its own standardised logistic regression per fold (its own nested-CV ``C``
    under ``"auto"``); the combined prediction is the normalised geometric mean of the blocks'
    out-of-fold class probabilities, i.e. the mean of their log-odds for two classes. No weight is
    fitted, so a block of 128 embedding dimensions cannot crowd out one of 19 HRV features under a
    shared L2 penalty, as it can when the blocks are concatenated.
    """
    blocks: tuple

    def __post_init__(self):
        if len(self.blocks) < 2:
            raise EncoderError(f"late fusion needs at least two feature blocks, got {len(self.blocks)}")


def late_fusion_proba(blocks, y: np.ndarray, folds, C: float | str = 1.0, seed: int = 0,
                      groups=None, chosen: list | None = None):
    """(classes, proba (n, K)): :func:`out_of_fold_proba` per block, combined as in :class:`LateFusion`.

    ``chosen`` gets one list per block: the strength of each fold.
    """
    from encoders.probe_metrics import check_folds
    check_folds(folds, len(np.asarray(y)), groups, every_record=False)   # once for every block
    return _late_fusion_proba(blocks, y, folds, C, seed, groups, chosen)


def _late_fusion_proba(blocks, y, folds, C, seed, groups, chosen):
    """:func:`late_fusion_proba` on folds already checked (as :func:`_fold_proba`)."""
    classes, log_p = None, 0.0
    for X in blocks:
        per_fold = []
        classes, p = _fold_proba(X, y, folds, C, seed, groups, per_fold)
        if chosen is not None:
            chosen.append(per_fold)
        log_p = log_p + np.log(np.clip(p, 1e-300, 1.0))
    log_p = log_p / len(blocks)
    p = np.exp(log_p - log_p.max(axis=1, keepdims=True))
    return classes, p / p.sum(axis=1, keepdims=True)


def format_C(values) -> str:
    """The strengths per fold of a probe (``1 1 0.3``), or of a late fusion per block (``1 1 / 0.3 0.3``)."""
    if values and isinstance(values[0], list):
        return " / ".join(format_C(v) for v in values)
    return " ".join(f"{c:g}" for c in values)


def probe(X: np.ndarray, y: np.ndarray, n_splits: int = 5, seed: int = 0, n_boot: int = 1000,
          C: float | str = 1.0, folds=None, groups=None, probas_out: dict | None = None,
          class_names: dict | None = None) -> dict:
    """Cross-validated linear probe.

    Parameters
    ----------
    X : float (n, D) features (e.g. record-level mean embeddings).
    y : (n,) labels (any hashable dtype).
    folds : optional precomputed (train, test) pairs (default :func:`cv_folds`, grouped by ``groups``:
        the default folds once ignored ``groups``, putting one patient's records on both sides).
    C : inverse L2 strength, or ``"auto"``: chosen per training fold by nested CV (:func:`choose_C`).
    groups : optional group id per record (grouped outer and nested-CV inner folds; precomputed
        ``folds`` must keep them apart; the bootstrap resamples whole groups).
    probas_out : optional dict that receives ``{"X": (classes, out-of-fold proba)}``.
    class_names : optional {class: name} for messages (:func:`cv_folds`, :func:`bootstrap_metrics`).

    Returns
    -------
    dict with, per metric in :data:`METRICS`, ``{"value", "ci_low", "ci_high"}`` (95 % percentile
    bootstrap over records, or over groups, of the out-of-fold predictions), plus ``n``,
    ``classes``, ``folds``, ``C`` and ``bootstrap`` (``{"resamples", "left out"}``: resamples
    without some class are left out of the intervals, :func:`bootstrap_metrics`).
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.dtype.kind not in "biuf":
        raise EncoderError(f"features hold real numbers, got an array of dtype {X.dtype}")
    if X.ndim != 2 or len(X) != len(y):
        raise EncoderError(f"features shaped {X.shape} do not match {len(y)} labels")
    if not np.isfinite(X).all():
        raise EncoderError("features contain NaN or infinite values")
    folds = folds if folds is not None else cv_folds(y, n_splits, seed, groups, class_names)
    from encoders.probe_metrics import check_folds
    check_folds(folds, len(y), groups)   # the metrics are of every record's out-of-fold prediction
    chosen = []
    classes, proba = _fold_proba(X, y, folds, C, seed, groups, chosen)   # folds checked just above
    if probas_out is not None:
        probas_out["X"] = (classes, proba)
    point, boots, left_out = bootstrap_metrics({"X": (classes, proba)}, y, n_boot, seed, groups, class_names)
    out = {"n": int(len(y)), "classes": [str(c) for c in classes], "folds": len(folds), "C": chosen,
           "bootstrap": {"resamples": int(n_boot), "left out": left_out}}
    for m in METRICS:
        lo, hi = interval(boots["X"][m])
        out[m] = {"value": point["X"][m], "ci_low": lo, "ci_high": hi}
    return out


def fit_out_of_fold(feature_sets: dict, y: np.ndarray, folds, C: float | str = 1.0, seed: int = 0,
                    groups=None) -> tuple[dict, dict]:
    """Probe every feature set on the same ``folds``: (``{name: (classes, out-of-fold proba)}``,
    ``{name: C per fold}``). A feature set is an (n, D) array or a :class:`LateFusion` of such arrays;
    ``C`` and ``groups`` as in :func:`compare`."""
    y = np.asarray(y)
    from encoders.probe_metrics import check_folds
    check_folds(folds, len(y), groups)   # the metrics are of every record's out-of-fold prediction
    probas, chosen = {}, {}
    for name, X in feature_sets.items():
        blocks = [np.asarray(B, dtype=np.float64) for B in (X.blocks if isinstance(X, LateFusion) else (X,))]
        for B in blocks:
            if B.ndim != 2 or len(B) != len(y):
                raise EncoderError(f"{name}: features shaped {B.shape} do not match {len(y)} labels")
            if np.isinf(B).any():   # NaN: undefined (a handcrafted feature), imputed per training fold
                raise EncoderError(f"{name}: features contain infinite values")
            if B.size and np.isnan(B).all():
                raise EncoderError(f"{name}: every feature is NaN (undefined for every record)")
        chosen[name] = []
        if isinstance(X, LateFusion):
            probas[name] = _late_fusion_proba(blocks, y, folds, C, seed, groups, chosen[name])
        else:   # folds checked above, once for every feature set
            probas[name] = _fold_proba(blocks[0], y, folds, C, seed, groups, chosen[name])
    return probas, chosen


def compare(feature_sets: dict, y: np.ndarray, folds, reference: str, n_boot: int = 1000, seed: int = 0,
            C: float | str = 1.0, groups=None, probas_out: dict | None = None,
            class_names: dict | None = None) -> dict:
    """Probe every feature set on the same ``folds`` and compare each with ``reference``.

    A feature set is an (n, D) array, or a :class:`LateFusion` of such arrays (one probe per block).

    Returns ``{name: probe-style dict}`` where every entry other than ``reference`` also has
    ``diff`` = ``{metric: {"value", "ci_low", "ci_high"}}``: the metric of ``reference`` minus the
    metric of that entry, with a 95 % *paired* bootstrap CI (the same resampled records for both
    out-of-fold prediction sets). ``C`` and ``groups`` as in :func:`probe` (``"auto"``: each
    feature set gets its own nested-CV strength per fold, from the same grid); ``C`` lists the
    strengths used per fold (for a :class:`LateFusion`, one such list per block). ``probas_out``, if
    given, receives the out-of-fold predictions ``{name: (classes, proba)}`` (e.g. for
    :func:`encoders.probe_subgroups.subgroup_table`, which then refits nothing). Every entry has
    ``bootstrap`` as in :func:`probe` (the same resamples, so the same count); ``class_names`` as there.
    """
    y = np.asarray(y)
    probas, chosen = fit_out_of_fold(feature_sets, y, folds, C, seed, groups)
    if probas_out is not None:
        probas_out.update(probas)
    classes = probas[reference][0]
    point, boots, left_out = bootstrap_metrics(probas, y, n_boot, seed, groups, class_names)
    out = {}
    for name in probas:
        r = {"n": int(len(y)), "classes": [str(c) for c in classes], "folds": len(folds), "C": chosen[name],
             "bootstrap": {"resamples": int(n_boot), "left out": left_out}}
        for m in METRICS:
            lo, hi = interval(boots[name][m])
            r[m] = {"value": point[name][m], "ci_low": lo, "ci_high": hi}
        if name != reference:
            r["diff"] = {}
            for m in METRICS:
                lo, hi = interval(np.asarray(boots[reference][m]) - np.asarray(boots[name][m]))
                r["diff"][m] = {"value": point[reference][m] - point[name][m], "ci_low": lo, "ci_high": hi}
        out[name] = r
    return out


COMBINATIONS = ("concatenated", "late fusion")


def compare_combined(base_name: str, base: np.ndarray, ours: np.ndarray, names: dict, y: np.ndarray, folds,
                     controls: dict | None = None, **compare_kw) -> dict:
    """Handcrafted features ``base`` + the embedding ``ours`` against ``base`` alone, on the same
    ``folds``, two ways (:data:`COMBINATIONS`): ``"concatenated"`` into one probe, and ``"late
    fusion"`` (:class:`LateFusion`). ``names[how]`` names each combination (the reference of its
    table); ``controls`` ({name: (n, D)}, e.g. random-weight embeddings) are fused with ``base`` the
    same way and added to the late fusion's table. ``compare_kw`` as in :func:`compare`.

    Returns ``{how: compare result}``.
    """
    out = {}
    for how, X in zip(COMBINATIONS, (np.hstack([base, ours]), LateFusion((base, ours)))):
        sets = {names[how]: X, base_name: base}
        if how == "late fusion":
            sets.update({name: LateFusion((base, C)) for name, C in (controls or {}).items()})
        out[how] = compare(sets, y, folds, reference=names[how], **compare_kw)
    return out


def format_rows(results: dict, reference: str, metric: str = "auroc") -> list[str]:
    """``baseline | ours | diff [CI]`` table rows (``reference`` is *ours*)."""
    ours = results[reference][metric]
    names = [name for name in results if name != reference]
    wn = max([44, *map(len, names)])                        # the columns line up under their headings
    wv = max(20, len("baseline " + metric))                 # "0.840 [0.783, 0.894]" is 20 wide
    ours_text = f"{ours['value']:.3f} [{ours['ci_low']:.3f}, {ours['ci_high']:.3f}]"
    rows = [f"{'baseline':{wn}s} | {'baseline ' + metric:{wv}s} | {'ours ' + metric:{wv}s} | "
            "diff (ours - baseline) [95% paired CI]"]
    for name in names:
        b, d = results[name][metric], results[name]["diff"][metric]
        base_text = f"{b['value']:.3f} [{b['ci_low']:.3f}, {b['ci_high']:.3f}]"
        rows.append(f"{name:{wn}s} | {base_text:{wv}s} | {ours_text:{wv}s} | "
                    f"{d['value']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]")
    return rows

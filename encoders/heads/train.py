"""Train, cross-validate and write a measure-only logistic head (``head.json``, card, reliability plot).

Windows are cut and measured exactly as in ``serve``/``score`` (:mod:`encoders.heads.features`);
each window is one training row, weighted 1 / (usable windows of its record) so every record
counts once; a record's probability is the mean over its usable windows. Cross-validation is
stratified k-fold *by record* (no window of a test record is ever seen in training).

Run ``python -m encoders.heads.train_af --help`` for the shipped heads.
"""
from __future__ import annotations

import datetime
import logging
import pathlib

import numpy as np

from biosig import json_text
from encoders.heads.head import Head

log = logging.getLogger(__name__)


def design(window_measures: list[list[dict]], features) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X (N, F), record index (N,), weight (N,)) of the usable windows of every record."""
    X, g, w = [], [], []
    for i, ms in enumerate(window_measures):
        ok = [m for m in ms if m["ok"] and all(m.get(f) is not None for f in features)]
        for m in ok:
            X.append([m[f] for f in features])
            g.append(i)
            w.append(1.0 / len(ok))
    return np.array(X, dtype=np.float64).reshape(-1, len(features)), np.array(g, int), np.array(w)


def fit(X, y, w, features, transforms, C: float, eps: float = 1e-3, **meta) -> Head:
    """L2-regularised weighted logistic regression on transformed, standardised features."""
    from sklearn.linear_model import LogisticRegression
    proto = Head(name="", version=0, modality="", output="", features=tuple(features),
                 transforms=tuple(transforms), eps=eps, mean=(0.0,) * len(features),
                 scale=(1.0,) * len(features), coef=(0.0,) * len(features), intercept=0.0)
    T = proto.transform(X)
    mean, scale = T.mean(axis=0), T.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    clf = LogisticRegression(C=C, max_iter=1000).fit((T - mean) / scale, y, sample_weight=w)
    return Head(features=tuple(features), transforms=tuple(transforms), eps=eps, mean=tuple(mean.tolist()),
                scale=tuple(scale.tolist()), coef=tuple(clf.coef_[0].tolist()),
                intercept=float(clf.intercept_[0]), **meta)


def record_probs(head: Head, X, g, n_records: int) -> np.ndarray:
    """Mean window probability per record (nan for a record without a usable window)."""
    p = head.predict_matrix(X) if len(X) else np.zeros(0)
    out = np.full(n_records, np.nan)
    for i in np.unique(g):
        out[i] = float(np.nanmean(p[g == i]))
    return out


def auroc(y, p) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count one half; NaN without both classes, as
    before it was :func:`encoders.probe_metrics.weighted_auroc`)."""
    from encoders.probe_metrics import weighted_auroc
    return weighted_auroc(y, p)


def sens_at_spec(y, p, spec: float = 0.95) -> float:
    """Sensitivity at the threshold that keeps ``spec`` of the negatives below it."""
    y = np.asarray(y, bool)
    thr = np.quantile(p[~y], spec, method="higher")
    return float(np.mean(p[y] > thr))


def bootstrap_ci(y, p, fn, n: int = 2000, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n):
        i = rng.integers(0, len(y), len(y))
        if 0 < y[i].sum() < len(i):
            vals.append(fn(y[i], p[i]))
    return float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))


def cross_validate(measures, labels, features, transforms, C, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold record probabilities (nan: no usable window)."""
    from sklearn.model_selection import StratifiedKFold
    labels = np.asarray(labels, bool)
    X, g, w = design(measures, features)
    oof = np.full(len(labels), np.nan)
    for trn, tst in StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(labels)), labels):
        m = np.isin(g, trn)
        head = fit(X[m], labels[g[m]], w[m], features, transforms, C, name="cv", version=0, modality="",
                   output="")
        t = np.isin(g, tst)
        oof[tst] = record_probs(head, X[t], g[t], len(labels))[tst]
    return oof


def reliability(y, p, png: pathlib.Path, title: str, bins: int = 10) -> list[dict]:
    """Reliability table (bins of predicted probability) and its plot."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    edges = np.linspace(0, 1, bins + 1)
    rows = []
    for a, b in zip(edges[:-1], edges[1:]):
        m = (p >= a) & ((p < b) if b < 1 else (p <= b))
        if m.any():
            rows.append({"bin": f"{a:.1f}-{b:.1f}", "n": int(m.sum()), "mean_pred": float(p[m].mean()),
                         "observed": float(np.mean(y[m]))})
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect")
    ax.plot([r["mean_pred"] for r in rows], [r["observed"] for r in rows], "o-", label="head (out of fold)")
    for r in rows:
        ax.annotate(str(r["n"]), (r["mean_pred"], r["observed"]), fontsize=7, xytext=(3, -9),
                    textcoords="offset points")
    ax.set(xlabel="predicted probability", ylabel="observed frequency", title=title, xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return rows


def evaluate(y, oof, prior: float, seeds_oof: list[np.ndarray] | None = None) -> dict:
    """Metrics of out-of-fold record probabilities; records without a usable window get ``prior``."""
    y = np.asarray(y, bool)
    covered = np.isfinite(oof)
    p = np.where(covered, oof, prior)
    out = {"n_records": int(len(y)), "n_positive": int(y.sum()), "coverage": float(covered.mean()),
           "auroc": auroc(y, p), "auroc_ci95": bootstrap_ci(y, p, auroc),
           "auroc_covered": auroc(y[covered], p[covered]),
           "sens_at_95_spec": sens_at_spec(y, p), "sens_at_95_spec_ci95": bootstrap_ci(y, p, sens_at_spec),
           "brier": float(np.mean((p - y) ** 2)), "brier_prevalence_baseline": float(np.mean((y.mean() - y) ** 2))}
    if seeds_oof:
        out["auroc_over_cv_seeds"] = [auroc(y, np.where(np.isfinite(o), o, prior)) for o in seeds_oof]
    return out


def fit_population(y, g, w) -> dict:
    """The records a head is fitted on (those with a usable window, each weighing 1 in total, as
    :func:`design` weighs them) and their share of positives: the prevalence its probabilities are
    calibrated to (:attr:`Head.training_prevalence`), which differs from the share among all training
    records where positives have usable windows more (or less) often than negatives."""
    y, g, w = np.asarray(y), np.asarray(g), np.asarray(w, dtype=np.float64)
    return {"n_fit_records": int(len(np.unique(g))),
            "fit_prevalence": float((w * y[g]).sum() / w.sum()) if len(w) else float("nan")}


def prior_shift(p, from_prevalence: float, to_prevalence: float):
    """A probability calibrated at one prevalence, read at another: Bayes' rule with the evidence's
    likelihood ratio unchanged, i.e. the odds times ``[to/(1-to)] / [from/(1-from)]``. A head fitted
    on a set with 25 % AF says 0.50 where, among records like these with 8.7 % AF, 0.22 is right."""
    p = np.asarray(p, dtype=np.float64)
    for v in (from_prevalence, to_prevalence):
        if not 0.0 < v < 1.0:
            raise ValueError(f"a prevalence must be in (0, 1), got {v}")
    k = (to_prevalence / (1 - to_prevalence)) / (from_prevalence / (1 - from_prevalence))
    return p * k / (p * k + 1 - p)


def write_head(head: Head, out_dir: pathlib.Path) -> pathlib.Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "head.json"
    path.write_text(head.to_json())
    return path


def today() -> str:
    return datetime.date.today().isoformat()


def dumps(obj) -> str:
    return json_text.dumps(obj, indent=1, default=float)

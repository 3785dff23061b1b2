"""The probe's bootstrap metrics: scikit-learn (baseline) vs encoders.probe_metrics (ours).

``biosig probe`` and ``eval_probe.py`` evaluate AUROC, balanced accuracy and macro-F1 once per
bootstrap resample and feature set (1000 x every row). Prints ``baseline | ours | ratio`` per
call for the sizes of the shared CinC subset (200) and of the whole CinC 2017 training set (8528),
two and four classes, and checks that both give the same values.

    python benchmarks/bench_probe_metrics.py [--min-seconds S]
"""
from __future__ import annotations

import time

import numpy as np


def sklearn_metrics(y, proba, classes):
    from sklearn.metrics import balanced_accuracy_score, f1_score, roc_auc_score
    pred = classes[proba.argmax(1)]
    if len(classes) == 2:
        auroc = roc_auc_score(y == classes[1], proba[:, 1])
    else:
        auroc = roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=classes)
    return {"auroc": float(auroc), "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
            "macro_f1": float(f1_score(y, pred, average="macro"))}


def per_call_ms(fn, *args, min_s: float = 1.0) -> float:
    fn(*args)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < min_s:
        fn(*args)
        n += 1
    return 1e3 * (time.perf_counter() - t0) / n


def main(argv=None) -> None:
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--min-seconds", type=float, default=1.0,
                    help="time each implementation on each case for at least this long (default 1)")
    args = ap.parse_args(argv)
    from encoders.probe_metrics import class_metrics
    rng = np.random.default_rng(0)
    print(f"{'case':34s} | {'baseline ms':>11s} | {'ours ms':>8s} | ratio")
    for n in (200, 8528):
        for k in (2, 4):
            classes = np.array(["A", "N", "O", "~"][:k])
            y = classes[rng.integers(0, k, n)]
            logits = rng.normal(size=(n, k)) + (y[:, None] == classes[None, :])
            proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
            ref, ours = sklearn_metrics(y, proba, classes), class_metrics(y, proba, classes)
            assert all(abs(ref[m] - ours[m]) < 1e-12 for m in ref), (ref, ours)
            base = per_call_ms(sklearn_metrics, y, proba, classes, min_s=args.min_seconds)
            fast = per_call_ms(class_metrics, y, proba, classes, min_s=args.min_seconds)
            print(f"{f'{n} records, {k} classes, per call':34s} | {base:11.3f} | {fast:8.3f} | {base / fast:5.0f}x")


if __name__ == "__main__":
    main()

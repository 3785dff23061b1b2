"""Model selection for audio encoders WITHOUT the cough set: held-out synthetic scenes.

The audio-tiny checkpoints of issue 14 are chosen here, never on ``../shared/data/cough`` (the
evaluation set). For each model (checkpoint dir or name; ``random:DIR:SEED`` = that architecture
with random weights) on 2 s windows (1 s hop) of synthetic scenes (``biosig.synthetic_sounds``,
``kind="scene"``; seeds from ``--seed``, far from the pretraining seeds 0 .. N-1):

* ``desc R2``: mean over the 27 audio descriptors (encoders/audio_descriptors.py) of the
  cross-validated R^2 of a ridge regression from the window embedding (5 folds grouped by record, alpha by an inner
  grouped CV);
* ``content R2``: the same for what the sound source did, whatever the room and channel: the
  number of coughs starting in the window, the fraction of the window covered by coughs and the
  fraction covered by voiced coughs (from the simulator's ground truth);
* ``lung R2`` (``--lung-records``, 0 to skip): the same for lung sounds in held-out synthetic
  auscultation records (``biosig.synthetic_lung``, seeds ``--lung-seed``+): the fraction of the
  window covered by wheezes or rhonchi, log(1 + crackles in the window) and whether the window
  holds any adventitious sound; ``lung AUROC``: record-mean embedding, logistic probe (5-fold),
  records with any adventitious sound vs none (the synthetic analogue of normal vs disease);
* ``channel acc``: cross-validated accuracy of a logistic probe of the recording channel
  (wideband / telephone / lowpass / colour; reported, not a selection criterion);
* ``mse`` / ``desc``: the held-out pretraining loss terms (trained checkpoints only; the masking
  noise is seeded, so every model sees the same masks).

Usage: ``python benchmarks/audio_pretext.py DIR [DIR ...] [--random-seeds 0 1 2] [--mfcc]``.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _windows_with_targets(config, pipeline, kind, n_records, seconds, seed, targets, window_s, hop_s):
    """Windows (N, 1, T) of ``n_records`` synthetic records of ``kind``, record ids (N,), the rows
    ``targets(truth, start_s, stop_s)`` of every window (N, k) and the records' truths."""
    from biosig.synthetic import simulate
    from encoders.data import record_windows
    outside, _ = pipeline.split_in_model()
    xs, groups, rows, truths = [], [], [], []
    for i in range(n_records):
        rec = simulate("audio", seconds, seed=seed + i, kind=kind)
        x, _ = record_windows(rec, config, outside, window_s, hop_s)
        truth = rec.metadata["truth"]
        rows += [targets(truth, k * hop_s, k * hop_s + window_s) for k in range(len(x))]
        xs.append(x)
        groups += [i] * len(x)
        truths.append(truth)
    return np.concatenate(xs), np.asarray(groups), np.asarray(rows, float), truths


def _cough_targets(truth, a, b):
    window_s = b - a
    ev = [(max(s, a), min(e, b), lab) for s, e, lab in truth["events"] if s < b and e > a]
    n_start = sum(1 for s, _, _ in truth["events"] if a <= s < b)
    cover = sum(e - s for s, e, _ in ev) / window_s
    voiced = sum(e - s for s, e, lab in ev if lab == "cough-voiced") / window_s
    return n_start, cover, voiced


def _lung_targets(truth, a, b):
    adv = [(s, e, lab) for s, e, lab in truth["events"] if lab not in ("inhale", "exhale")]
    wheeze = sum(min(e, b) - max(s, a) for s, e, lab in adv if lab in ("wheeze", "rhonchus") and s < b and e > a)
    crackles = sum(1 for s, _, lab in adv if lab.startswith("crackle") and a <= s < b)
    return min(wheeze / (b - a), 1.0), np.log1p(crackles), float(any(s < b and e > a for s, e, _ in adv))


def held_out_windows(config, pipeline, n_records: int, seconds: float, seed: int, window_s=2.0, hop_s=1.0):
    """Windows (N, 1, T), record ids (N,), content targets (N, 3), channel labels (N,)."""
    from biosig.synthetic_sounds import CHANNELS
    x, groups, content, truths = _windows_with_targets(config, pipeline, "scene", n_records, seconds, seed,
                                                       _cough_targets, window_s, hop_s)
    chans = np.array([CHANNELS.index(truths[g]["channel"]) for g in groups])
    return x, groups, content, chans


def held_out_lung_windows(config, pipeline, n_records: int, seconds: float, seed: int, window_s=2.0, hop_s=1.0):
    """Auscultation windows (N, 1, T), record ids (N,), lung targets (N, 3: wheeze/rhonchus cover,
    log(1 + crackles starting in the window), any adventitious sound), record labels (n_records,)."""
    x, groups, content, truths = _windows_with_targets(config, pipeline, "auscultation", n_records, seconds, seed,
                                                       _lung_targets, window_s, hop_s)
    return x, groups, content, np.array([int(bool(t["adventitious"])) for t in truths])


def record_auroc(emb, groups, labels, folds=5, seed=0):
    """Out-of-fold AUROC of the project's linear probe (encoders.probe: standardised, class-balanced
    L2 logistic regression, C = 0.1) on record-mean embeddings, stratified folds."""
    from sklearn.metrics import roc_auc_score
    from encoders.probe import cv_folds, out_of_fold_proba
    X = np.stack([emb[groups == g].mean(0) for g in range(len(labels))])
    classes, proba = out_of_fold_proba(X, labels, cv_folds(labels, folds, seed), C=0.1, seed=seed)
    return float(roc_auc_score(labels == classes[1], proba[:, 1]))


def embed_windows(model, x):
    """Window embeddings (N, D) of ``model`` (torch, batches of 64), or with ``model=None`` the
    handcrafted baseline of every probe (encoders.baselines.mfcc_features: mean and std of 20
    MFCCs) of each 16 kHz window."""
    import torch
    if model is None:
        from biosig.record import Record
        from encoders.baselines import mfcc_features
        return np.asarray([mfcc_features(Record(samples=w, fs_hz=16000.0, channels=("mono",))) for w in x.numpy()])
    with torch.no_grad():
        return torch.cat([model.embed_forward(x[i:i + 64]) for i in range(0, len(x), 64)]).numpy()


def _ridge_nested(X, Y, groups, tr, alphas, folds=4):
    """Ridge on rows ``tr`` with the alpha of least inner grouped-CV error (standardised X, Y)."""
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    err = np.zeros(len(alphas))
    for itr, ite in GroupKFold(folds).split(X[tr], Y[tr], groups[tr]):
        for j, a in enumerate(alphas):
            m = make_pipeline(StandardScaler(), Ridge(alpha=a)).fit(X[tr][itr], Y[tr][itr])
            err[j] += ((m.predict(X[tr][ite]) - Y[tr][ite]) ** 2).sum()
    return make_pipeline(StandardScaler(), Ridge(alpha=alphas[int(np.argmin(err))])).fit(X[tr], Y[tr])


def cv_r2(X, Y, groups, folds=5):
    """Per-column R^2 of out-of-fold ridge predictions (folds grouped by record; alpha chosen by
    an inner grouped CV on the training folds; targets standardised on the training folds)."""
    from sklearn.model_selection import GroupKFold
    alphas = np.logspace(-1, 5, 13)
    pred = np.zeros_like(Y)
    for tr, te in GroupKFold(folds).split(X, Y, groups):
        mu, sd = Y[tr].mean(0), Y[tr].std(0) + 1e-12
        m = _ridge_nested(X, (Y - mu) / sd, groups, tr, alphas)
        pred[te] = m.predict(X[te]) * sd + mu
    ss = ((Y - Y.mean(0)) ** 2).sum(0)
    return 1 - ((Y - pred) ** 2).sum(0) / np.maximum(ss, 1e-12)


def cv_acc(X, y, groups, folds=5):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    hit = 0
    for tr, te in GroupKFold(folds).split(X, y, groups):
        m = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000)).fit(X[tr], y[tr])
        hit += int((m.predict(X[te]) == y[te]).sum())
    return hit / len(y)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="checkpoint dirs or names")
    ap.add_argument("--random-seeds", type=int, nargs="*", default=[0],
                    help="also rows for the first model's architecture with random weights")
    ap.add_argument("--records", type=int, default=40, help="held-out synthetic scenes (default 40)")
    ap.add_argument("--seconds", type=float, default=12.0, help="length of each held-out scene and auscultation record, s (default 12)")
    ap.add_argument("--seed", type=int, default=500_000, help="first scene seed (pretraining uses 0 .. N-1)")
    ap.add_argument("--mfcc", action="store_true", help="also a row for the MFCC mean/std baseline")
    ap.add_argument("--lung-records", type=int, default=60,
                    help="held-out auscultation records (0: no lung columns; default 60)")
    ap.add_argument("--lung-seed", type=int, default=550_000,
                    help="first auscultation seed (pretraining uses 50000 + 0 .. N-1)")
    args = ap.parse_args(argv)
    import torch

    import encoders
    from encoders.audio_descriptors import compute
    from encoders.baselines import random_encoder
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    first = encoders.load(args.models[0])
    x, groups, content, chans = held_out_windows(first.config, first.pipeline, args.records, args.seconds, args.seed)
    xt = torch.from_numpy(x)
    with torch.no_grad():
        desc = compute(first.model.frontend, xt).numpy().astype(np.float64)
    desc[:, 24] = np.log(desc[:, 24] + 0.05)   # encoders.audio_descriptors.LOG_FLOORS
    print(f"# held-out synthetic scenes: {args.records} records x {args.seconds:g} s, seeds {args.seed}+, "
          f"{len(x)} windows of 2 s ({time.perf_counter() - t0:.0f} s)")
    lung = None
    if args.lung_records:
        lx, lg, lc, ll = held_out_lung_windows(first.config, first.pipeline, args.lung_records, args.seconds,
                                               args.lung_seed)
        lung = (torch.from_numpy(lx), lg, lc, ll)
        print(f"# held-out synthetic auscultation: {args.lung_records} records ({int(ll.sum())} with adventitious "
              f"sounds), seeds {args.lung_seed}+, {len(lx)} windows")
    print("| model | desc R2 | content R2 (n coughs, cough cover, voiced cover) | channel acc | mse | desc "
          "| lung R2 (wheeze cover, crackles, any) | lung AUROC |")
    print("|---|---|---|---|---|---|---|---|")
    rows = [(m, encoders.load(m).model.eval()) for m in args.models]
    rows += [(f"random weights seed {s}", random_encoder(args.models[0], s).model.eval()) for s in args.random_seeds]
    if args.mfcc:
        rows.append(("mfcc mean/std (20 coefficients, per window)", None))
    for name, model in rows:
        emb = embed_windows(model, xt)
        loss = {}
        if model is not None and not name.startswith("random"):
            from encoders.objectives import objective_loss
            g = torch.Generator().manual_seed(12345)
            with torch.no_grad():
                parts = [objective_loss(model, xt[i:i + 64], generator=g) for i in range(0, len(xt), 64)]
            loss = {k: float(np.mean([float(p[k]) for p in parts])) for k in ("mse", "desc") if k in parts[0]}
        r2d = cv_r2(emb, desc, groups)
        r2c = cv_r2(emb, content, groups)
        acc = cv_acc(emb, chans, groups)
        lung_cols = "- | -"
        if lung is not None:
            lemb = embed_windows(model, lung[0])
            r2l = cv_r2(lemb, lung[2], lung[1])
            lung_cols = (f"{r2l.mean():.3f} ({', '.join(f'{v:.2f}' for v in r2l)}) | "
                         f"{record_auroc(lemb, lung[1], lung[3]):.3f}")
        print(f"| {name} | {r2d.mean():.3f} | {r2c.mean():.3f} ({', '.join(f'{v:.2f}' for v in r2c)}) | {acc:.2f} | "
              f"{loss.get('mse', float('nan')):.3f} | {loss.get('desc', float('nan')):.3f} | {lung_cols} |", flush=True)
    print(f"# {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

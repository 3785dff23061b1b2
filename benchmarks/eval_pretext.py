"""Model selection for the descriptor objective without CinC 2017: how linearly the embedding
encodes the rhythm/morphology descriptors of windows it never saw.

Data: the SYNTHETIC rhythm-only AF/sinus ECG of ``eval_probe.synthetic_rhythm_ecg`` (80 records of
30 s, seeds 2000+) and the SYNTHETIC AF vs irregular non-AF ECG of ``eval_probe.synthetic_atrial_ecg``
(80 records of 30 s, seeds 3000+; same RR model, atrial activity only), none used in pretraining,
cut into the model's 10 s windows (hop 5 s). Targets: the 17 descriptors of the ``atrial`` set of
:mod:`encoders.descriptors` (13 rhythm/morphology + 4 atrial), computed by the model's own beat
tokenizer, whatever set the model was trained on.
Features: the embedding of each window (``embed_forward``). Score: out-of-fold R^2 of a ridge
regression per descriptor, 5 folds grouped by record, for the checkpoint(s) and the same
architecture with random weights. Also the AUROC of the record-mean embedding on each of the two
synthetic tasks (``eval_probe --tasks ecg-syn ecg-atrial-syn`` measures the same with CIs and HRV rows).

``--noise LEVEL`` embeds each window with acquisition noise (encoders/acquisition_noise.py, the same
noise for every model: a fixed generator per batch) while the targets stay the clean window's: how
well the embedding reports the descriptors of a noisy recording.

Run: ``python benchmarks/eval_pretext.py CKPT [CKPT ...] [--random-seeds 0] [--noise 0.5]``. Prints one row per
model: ``model | mean R^2 rhythm (0-6) | morphology (7-12) | atrial (13-16) | AUROC syn | AUROC atrial-syn``.
"""
from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def windows(records, n: int, hop: int):
    xs, rec = [], []
    for i, r in enumerate(records):
        s = r.samples[0]
        for a in range(0, len(s) - n + 1, hop):
            xs.append(s[a:a + n])
            rec.append(i)
    return np.stack(xs).astype(np.float32)[:, None], np.asarray(rec)


def ridge_r2(X, Y, groups, alpha=1.0, k=5):
    """Out-of-fold R^2 per column of Y (ridge on standardised X, folds grouped by record)."""
    uniq = np.unique(groups)
    fold_of = {g: i % k for i, g in enumerate(uniq)}
    f = np.array([fold_of[g] for g in groups])
    pred = np.zeros_like(Y)
    for i in range(k):
        tr, te = f != i, f == i
        mu, sd = X[tr].mean(0), X[tr].std(0) + 1e-8
        A = (X[tr] - mu) / sd
        ym = Y[tr].mean(0)
        W = np.linalg.solve(A.T @ A + alpha * len(A) * np.eye(A.shape[1]), A.T @ (Y[tr] - ym))
        pred[te] = ((X[te] - mu) / sd) @ W + ym
    ss = ((Y - Y.mean(0)) ** 2).sum(0)
    return 1 - ((Y - pred) ** 2).sum(0) / np.maximum(ss, 1e-12)


def evaluate(model, x, rec, y_rec, task_rec, noise: float = 0.0):
    import torch
    from encoders.acquisition_noise import acquisition_noise
    from encoders.descriptors import compute
    from encoders.probe import cv_folds, out_of_fold_proba
    from sklearn.metrics import roc_auc_score
    model.eval()
    embs, descs = [], []
    with torch.no_grad():
        for a in range(0, len(x), 64):
            xb = torch.from_numpy(x[a:a + 64])
            xn = acquisition_noise(xb, 250.0, noise, torch.Generator().manual_seed(12345 + a))
            embs.append(model.embed_forward(xn).numpy())
            tok, valid = model.frontend(xb)
            fe = model.frontend
            descs.append(compute(tok, valid, fe.fs_hz, fe.before, fe.r, "atrial").numpy())
    E, D = np.concatenate(embs), np.concatenate(descs)
    r2 = ridge_r2(E.astype(np.float64), D.astype(np.float64), rec)
    Xr = np.stack([E[rec == i].mean(0) for i in range(len(y_rec))])
    aucs = []
    for t in np.unique(task_rec):   # one AUROC per synthetic task, its records only
        sel = task_rec == t
        folds = cv_folds(y_rec[sel], 5, 0, None)
        _, proba = out_of_fold_proba(Xr[sel], y_rec[sel], folds)
        aucs.append(roc_auc_score(y_rec[sel], proba[:, 1]))
    return r2, aucs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+", help="checkpoint directories or shipped names")
    ap.add_argument("--random-seeds", type=int, nargs="*", default=[0],
                    help="also score the first checkpoint's architecture with random weights")
    ap.add_argument("--noise", type=float, default=0.0,
                    help="acquisition noise level on the embedded windows (targets stay clean; default 0)")
    args = ap.parse_args(argv)
    if not 0 <= args.noise <= 2:
        ap.error(f"--noise {args.noise} must be in [0, 2]")
    import torch
    torch.set_num_threads(1)
    import encoders
    from encoders.baselines import random_encoder
    from encoders.descriptors import DESCRIPTOR_SETS
    from eval_probe import synthetic_atrial_ecg, synthetic_rhythm_ecg
    r1, y1 = synthetic_rhythm_ecg()
    r2, y2 = synthetic_atrial_ecg()
    records, y = r1 + r2, np.concatenate([y1, y2])
    task_rec = np.array([0] * len(r1) + [1] * len(r2))
    x, rec = windows(records, 2500, 1250)
    rows = []
    for ck in args.checkpoints:
        enc = encoders.load(ck)
        rows.append((f"{ck} ({enc.model_id})", *evaluate(enc.model, x, rec, y, task_rec, args.noise)))
    for s in args.random_seeds:
        enc = random_encoder(str(args.checkpoints[0]), seed=s)
        rows.append((f"random weights seed {s} ({pathlib.Path(str(args.checkpoints[0])).name})",
                     *evaluate(enc.model, x, rec, y, task_rec, args.noise)))
    print(f"# {len(records)} synthetic records, {len(x)} windows, acquisition noise {args.noise:g}; R^2 per descriptor: "
          f"{', '.join(DESCRIPTOR_SETS['atrial'])}")
    print("model | mean R^2 rhythm | mean R^2 morphology | mean R^2 atrial | AUROC syn | AUROC atrial-syn "
          "| per-descriptor R^2")
    for name, r2, auc in rows:
        print(f"{name} | {r2[:7].mean():.3f} | {r2[7:13].mean():.3f} | {r2[13:].mean():.3f} | {auc[0]:.3f} | "
              f"{auc[1]:.3f} | " + " ".join(f"{v:.2f}" for v in r2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

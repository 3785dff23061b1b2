"""Model selection for ppg-tiny WITHOUT eval_probe's ``ppg`` task: a SYNTHETIC AF-like vs non-AF
PPG task from held-out seeds of the pretraining generator (biosig/synthetic_pulse.py).

Records: ``pulse_records`` with seed 900000 (the pretraining records use seed 0 .. and
``default_rng([seed, 30_000 + i])``; these use ``default_rng([900000, 30_000 + i])``, never seen in
training), 30 s at 100 Hz (the rate of eval_probe's task, resampled by the checkpoint's pipeline),
kinds in turn af, sinus, af, ectopy, af, bigeminy, af, brady_tachy: half AF-like (label 1), half
non-AF with regular or regularly irregular rhythms (ectopy and bigeminy are irregular but not AF).
Also the descriptor R^2 of the ``pulse`` set (encoders/descriptors.py) from the window embeddings
(out-of-fold ridge, folds grouped by record; eval_pretext.ridge_r2).

Features per model: record-mean embedding; the same linear probe, the same stratified 5-fold
folds and paired bootstrap as eval_probe (encoders.probe.compare), against the same architecture
with random weights and IBI statistics. This is the dev task: an in-domain check, not evidence of
transfer (eval_probe's ``ppg`` task uses another pulse and RR model).

``--arrhythmia``: instead, a 9-class task of the same generator's ``ARRHYTHMIA_PULSE_KINDS`` (the five
rhythms plus premature atrial and ventricular beats, SVT and VT; ``default_rng([900000, 40_000 + i])``,
held out from ``--synthetic-pulse-arrhythmia``'s seed 0 records), label = kind, macro one-vs-rest AUROC,
and the R^2 of the 15 ``arrhythmia`` descriptors (the 10 ``pulse`` ones plus 5 arrhythmia ones).

Run: ``python benchmarks/eval_ppg_dev.py CKPT [CKPT ...] [--random-seeds 0 1] [--n 120] [--arrhythmia]``.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
DEV_SEED = 900_000
DEV_KINDS = ("af", "sinus", "af", "ectopy", "af", "bigeminy", "af", "brady_tachy")


def dev_task(n: int = 120, seconds: float = 30.0, fs_hz: float = 100.0, arrhythmia: bool = False):
    """(records, labels, kinds) of the dev task: labels 1 = AF-like, or with ``arrhythmia`` the index
    of the kind in ``ARRHYTHMIA_PULSE_KINDS``."""
    from biosig.synthetic_pulse import ARRHYTHMIA_PULSE_KINDS, pulse_records
    if arrhythmia:
        out = list(pulse_records(n, seconds, DEV_SEED, fs_hz, salt=40_000, kinds=ARRHYTHMIA_PULSE_KINDS,
                                 prefix="synthetic:ppg-arrhythmia-dev"))
        return [r for _, r, _ in out], np.array([ARRHYTHMIA_PULSE_KINDS.index(k) for _, _, k in out]), \
            [k for _, _, k in out]
    out = list(pulse_records(n, seconds, DEV_SEED, fs_hz, kinds=DEV_KINDS, prefix="synthetic:ppg-dev"))
    return [r for _, r, _ in out], np.array([int(k == "af") for _, _, k in out]), [k for _, _, k in out]


def window_r2(enc, records, descriptor_set: str = "pulse") -> np.ndarray:
    """Out-of-fold ridge R^2 of each descriptor of ``descriptor_set`` from the window embeddings."""
    import torch
    from encoders.descriptors import compute
    from eval_pretext import ridge_r2
    from biosig.windows import window_array
    outside, _ = enc.pipeline.split_in_model()
    m = enc.model.eval()
    fe = m.frontend
    T = int(round(enc.window_s * enc.config.input_fs_hz))
    E, D, g = [], [], []
    with torch.no_grad():
        for i, r in enumerate(records):
            w = window_array(outside.apply(r), enc.window_s, enc.window_s / 2)
            x = torch.from_numpy(np.nan_to_num(w.x[:, :1, :T]).astype(np.float32))
            E.append(m.embed_forward(x).numpy())
            tok, valid = fe(x)
            D.append(compute(tok, valid, fe.fs_hz, fe.before, fe.r, descriptor_set).numpy())
            g += [i] * len(x)
    return ridge_r2(np.concatenate(E).astype(np.float64), np.concatenate(D).astype(np.float64), np.asarray(g))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+", help="checkpoint directories or shipped names")
    ap.add_argument("--random-seeds", type=int, nargs="*", default=[0, 1],
                    help="also the first checkpoint's architecture with random weights from these seeds")
    ap.add_argument("--n", type=int, default=120, help="number of dev records (half AF-like)")
    ap.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the CIs (default 1000)")
    ap.add_argument("--arrhythmia", action="store_true",
                    help="the 9-class arrhythmia dev task and the 15 arrhythmia descriptors instead")
    args = ap.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    import encoders
    from encoders.baselines import baseline_features, embedding_mean, undefined_rows, random_encoder
    from encoders.descriptors import DESCRIPTOR_SETS
    from encoders.probe import compare, cv_folds
    t0 = time.perf_counter()
    dset = "arrhythmia" if args.arrhythmia else "pulse"
    names = DESCRIPTOR_SETS[dset]
    records, y, kinds = dev_task(args.n, arrhythmia=args.arrhythmia)
    folds = cv_folds(y, 5, 0, None)
    encs = {}
    for ck in args.checkpoints:
        enc = encoders.load(ck)
        encs[f"{ck} ({enc.model_id})"] = enc
    for s in args.random_seeds:
        encs[f"random weights seed {s}"] = random_encoder(str(args.checkpoints[0]), seed=s)
    feats = {name: np.stack([embedding_mean(e, r) for r in records]) for name, e in encs.items()}
    feats["ibi features"] = undefined_rows(baseline_features("ibi", records, modality="ppg"))[0]
    r2 = {name: window_r2(e, records, dset) for name, e in encs.items()}
    if args.arrhythmia:
        print(f"# SYNTHETIC 9-class PPG arrhythmia dev task (biosig/synthetic_pulse.py, seed {DEV_SEED}): {len(y)} "
              f"records of 30 s at 100 Hz, kinds {', '.join(sorted(set(kinds), key=kinds.index))}; macro "
              f"one-vs-rest AUROC, stratified 5-fold; paired bootstrap {args.bootstrap}")
    else:
        print(f"# SYNTHETIC PPG dev task (biosig/synthetic_pulse.py, seed {DEV_SEED}): {len(y)} records of 30 s at "
              f"100 Hz, {int(y.sum())} AF-like vs {int((1 - y).sum())} non-AF (sinus / ectopy / bigeminy / "
              f"brady-tachy); stratified 5-fold; paired bootstrap {args.bootstrap}")
    print("model | AUROC [95% CI] | vs random seeds: diff [paired CI] | vs ibi: diff [paired CI] "
          "| mean R^2 rhythm (7) | mean R^2 pulse (3)" + (" | mean R^2 arrhythmia (5)" if args.arrhythmia else ""))
    rand = [k for k in feats if k.startswith("random")]
    for name in feats:
        others = {k: feats[k] for k in [*rand, "ibi features"] if k != name}
        res = compare({name: feats[name], **others}, y, folds, reference=name, n_boot=args.bootstrap)
        a = res[name]["auroc"]
        diffs = " / ".join(f"{res[k]['diff']['auroc']['value']:+.3f} [{res[k]['diff']['auroc']['ci_low']:+.3f}, "
                           f"{res[k]['diff']['auroc']['ci_high']:+.3f}]" for k in rand if k != name)
        ibi = res["ibi features"]["diff"]["auroc"] if "ibi features" in res and name != "ibi features" else None
        r = r2.get(name)
        print(f"{name} | {a['value']:.3f} [{a['ci_low']:.3f}, {a['ci_high']:.3f}] | {diffs or '-'} | "
              + (f"{ibi['value']:+.3f} [{ibi['ci_low']:+.3f}, {ibi['ci_high']:+.3f}]" if ibi else "-")
              + (f" | {r[:7].mean():.3f} | {r[7:10].mean():.3f}" + (f" | {r[10:].mean():.3f}" if args.arrhythmia else "")
                 if r is not None else " | - | -"))
    for name, r in r2.items():
        print(f"# R^2 {name}: " + " ".join(f"{n}={v:.2f}" for n, v in zip(names, r)))
    print(f"# {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""AF detection on the 200 CinC 2017 records: ecg-tiny vs the same architecture with random
weights vs neurokit2 HRV features, same stratified 5-fold CV, logistic-regression probe.

Record-level features: mean of the window embeddings (10 s windows, 5 s hop; records shorter
than 10 s give one window of their own length). Labels: ``REFERENCE.csv``, AF (``A``) vs the rest
(N, O, ~). Data: PhysioNet/CinC Challenge 2017 (Clifford et al. 2017), ODC-BY.

Usage: ``python benchmarks/eval_cinc2017.py [--model ecg-tiny] [--data ../shared/data/cinc2017]``
Prints ``features | AUROC [95% CI] | balanced accuracy [CI] | macro-F1 [CI]`` rows.
"""
from __future__ import annotations

import argparse
import json
import logging
import pathlib
import sys
import time
import warnings

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HRV_COLUMNS = ("HRV_MeanNN", "HRV_SDNN", "HRV_RMSSD", "HRV_SDSD", "HRV_CVNN", "HRV_CVSD", "HRV_MedianNN",
               "HRV_MadNN", "HRV_MCVNN", "HRV_IQRNN", "HRV_pNN50", "HRV_pNN20", "HRV_MinNN", "HRV_MaxNN",
               "HRV_SD1", "HRV_SD2", "HRV_SD1SD2", "HRV_CSI", "HRV_CVI")


def hrv_features(rec) -> np.ndarray:
    """neurokit2 time-domain and Poincare HRV features of one ECG record (NaN where undefined)."""
    import neurokit2 as nk
    import pandas as pd
    fs = int(round(rec.fs_hz))
    sig = np.nan_to_num(rec.samples[0].astype(np.float64))
    try:
        clean = nk.ecg_clean(sig, sampling_rate=fs)
        _, info = nk.ecg_peaks(clean, sampling_rate=fs)
        peaks = info["ECG_R_Peaks"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            feats = pd.concat([nk.hrv_time(peaks, sampling_rate=fs),
                               nk.hrv_nonlinear(peaks, sampling_rate=fs)[["HRV_SD1", "HRV_SD2", "HRV_SD1SD2",
                                                                          "HRV_CSI", "HRV_CVI"]]], axis=1)
        return np.array([float(feats[c].iloc[0]) if c in feats else np.nan for c in HRV_COLUMNS])
    except Exception as exc:  # too few beats for HRV: the record keeps NaN features (imputed later)
        logging.getLogger(__name__).info("HRV failed on %s: %s", rec.metadata.get("record", "?"), exc)
        return np.full(len(HRV_COLUMNS), np.nan)


def embed_mean(enc, rec) -> np.ndarray:
    df = enc.embed(rec)
    return np.asarray(df["embedding"].to_list(), dtype=np.float64).mean(0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "cinc2017"))
    ap.add_argument("--model", default="ecg-tiny")
    ap.add_argument("--random-seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args(argv)

    import polars as pl
    import torch

    import encoders
    from biosig.readers import read
    from encoders.probe import METRICS, cv_folds, probe
    torch.set_num_threads(1)
    data = pathlib.Path(args.data)
    ref = pl.read_csv(data / "REFERENCE.csv")
    names = sorted(ref["record"].to_list())
    label = dict(zip(ref["record"].to_list(), ref["label"].to_list()))
    y = np.array([int(label[n] == "A") for n in names])
    records = [read(data / n) for n in names]
    folds = cv_folds(y, args.folds, args.seed)

    feats = {}
    t = time.perf_counter()
    enc = encoders.load(args.model)
    feats[f"{enc.model_id} (pretrained)"] = np.stack([embed_mean(enc, r) for r in records])
    t_emb = time.perf_counter() - t
    for s in args.random_seeds:
        torch.manual_seed(s)
        rnd = encoders.Encoder(encoders.EncoderModel(enc.config).eval(), pipeline=enc.pipeline,
                               meta={"model_id": f"{enc.config.name}-random-seed{s}"})
        feats[f"{enc.config.name} random weights, seed {s}"] = np.stack([embed_mean(rnd, r) for r in records])
    t = time.perf_counter()
    hrv = np.stack([hrv_features(r) for r in records])
    t_hrv = time.perf_counter() - t
    n_missing = int(np.isnan(hrv).any(1).sum())
    med = np.nanmedian(hrv, axis=0)
    hrv = np.where(np.isnan(hrv), med, hrv)  # label-free median imputation
    feats[f"neurokit2 HRV ({len(HRV_COLUMNS)} time/Poincare features)"] = hrv

    print(f"# CinC 2017 subset: {len(y)} records, {y.sum()} AF vs {len(y) - y.sum()} other; "
          f"{args.folds}-fold stratified CV (seed {args.seed}), L2 logistic regression, "
          f"95% bootstrap CI ({args.bootstrap}); HRV missing in {n_missing} records (median-imputed)")
    print(f"# embedding time {t_emb:.1f} s for 200 records (1 thread); HRV extraction {t_hrv:.1f} s")
    print(f"{'features':58s} | {'AUROC':21s} | {'balanced acc':21s} | {'macro-F1':21s}")
    results = {}
    for name, X in feats.items():
        r = probe(X, y, folds=folds, seed=args.seed, n_boot=args.bootstrap)
        results[name] = r
        cells = [f"{r[m]['value']:.3f} [{r[m]['ci_low']:.3f}, {r[m]['ci_high']:.3f}]" for m in METRICS]
        print(f"{name:58s} | " + " | ".join(cells))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

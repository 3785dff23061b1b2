"""The owners' re-run at scale: ``biosig probe --baseline ibi --baseline random --random-seed 0 1 2``
(the ppg-tiny card's command; ``hrv`` and ecg-tiny with ``--modality ecg``) on N generated records.

Times one probe worker's feature work on the same files (a folder of N SYNTHETIC 10 s PPG segments
at 100 Hz as CSV, one file per segment, as the owners' PPG sets are most likely kept; or 30 s ECG at
300 Hz): *baseline* is the path before 2026-12-06, each feature set in turn over every file (each
file read once per set) and each random-weight row through ``Encoder.embed`` (per-window measures
and AF head included, then dropped); *ours* is ``encoders.probe_features._chunk_features`` (each
file read once for every set, embeddings without the measures; what a worker runs, and ``--jobs 1``
in the probe's own process). Both run in this process on one
torch thread, as every probe worker does. Checks that both give the same features, prints
``baseline | ours | ratio`` and the time per record extrapolated to CinC 2017's 8528 records.

The bootstrap row times the paired bootstrap of the probe's rows (``--bootstrap-records`` records,
6 classes, 3 rows, 1000 resamples of random out-of-fold probabilities with ties): *baseline* is the
loop before 2026-12-06, ``class_metrics`` of each resample's records (every class's scores sorted
again each time), *ours* ``encoders.probe_metrics.bootstrap_metrics`` (sorted once, each resample
as how often each record was drawn); it checks the values are equal.

    python benchmarks/bench_probe_scale.py [--records 60] [--modality ppg|ecg] [--bootstrap-records 3000]
"""
from __future__ import annotations

import argparse
import tempfile
import time

import _common  # noqa: F401  (repo root on sys.path)
import numpy as np

OWNERS_RECORDS = 8528


def make_files(folder, n: int, modality: str) -> list:
    from biosig.record import Record
    from biosig.synthetic import simulate
    from biosig.synthetic_pulse import simulate_pulse_record
    from biosig.writers import write
    paths = []
    for i in range(n):
        if modality == "ppg":
            kind = ("sinus", "af", "pvc")[i % 3]
            x = simulate_pulse_record(kind, 10.0, np.random.default_rng([7, i]), 100.0)
            rec = Record(samples=x[None].astype(np.float32), fs_hz=100.0, channels=("PPG",), units=("a.u.",),
                         modality="ppg")
        else:
            rec = simulate("ecg", 30.0, seed=i, fs_hz=300.0, rhythm="af" if i % 2 else "sinus")
        p = f"{folder}/r{i:05d}.csv"
        write(rec, p)
        paths.append(p)
    return paths


def baseline_features(specs: dict, files) -> dict:
    """The path before: a set at a time, each file read for each set, ``embed`` then its mean."""
    from encoders.baselines import baseline_features as handcrafted
    from encoders.probe_features import EMBEDDING_KINDS, _encoder
    out = {}
    for name, spec in specs.items():
        rows = []
        for f in files:
            rec = f.load()
            if spec.kind in EMBEDDING_KINDS:
                df = _encoder(spec).embed(rec)
                rows.append(np.asarray(df["embedding"].to_list(), dtype=np.float64).mean(0))
            else:
                rows.append(handcrafted(spec.kind, [rec], modality=spec.modality)[0])
        out[name] = np.stack(rows)
    return out


def old_bootstrap(probas: dict, y, n_boot: int, seed: int) -> dict:
    """The bootstrap loop before: class_metrics of the resampled records, per resample and row."""
    from encoders.probe_metrics import METRICS, Resampler, class_metrics
    classes = next(iter(probas.values()))[0]
    rng, resampler = np.random.default_rng(seed), Resampler(len(y))
    boots = {name: {m: [] for m in METRICS} for name in probas}
    for _ in range(n_boot):
        i = resampler.draw(rng)
        if (~np.isin(classes, y[i])).any():
            continue
        for name, (_, p) in probas.items():
            for m, v in class_metrics(y[i], p[i], classes).items():
                boots[name][m].append(v)
    return boots


def bootstrap_row(n: int, n_boot: int = 1000, k: int = 6, rows: int = 3) -> tuple[float, float]:
    from encoders.probe_metrics import bootstrap_metrics
    rng = np.random.default_rng(0)
    classes = np.arange(k)
    y = rng.integers(0, k, n)
    probas = {}
    for r in range(rows):
        logits = np.round(rng.normal(size=(n, k)) + (y[:, None] == classes), 2)   # some tied scores
        probas[f"row {r}"] = (classes, np.exp(logits) / np.exp(logits).sum(1, keepdims=True))
    t0 = time.perf_counter()
    old = old_bootstrap(probas, y, n_boot, 0)
    t_old = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, new, _ = bootstrap_metrics(probas, y, n_boot, 0)
    t_new = time.perf_counter() - t0
    assert new == old, "the bootstrap values differ"
    return t_old, t_new


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=60, help="records generated and timed (default 60)")
    ap.add_argument("--modality", choices=("ppg", "ecg"), default="ppg",
                    help="ppg: 10 s segments at 100 Hz, ppg-tiny, ibi (default); ecg: 30 s at 300 Hz, ecg-tiny, hrv")
    ap.add_argument("--bootstrap-records", type=int, default=3000,
                    help="records of the bootstrap row (default 3000; 0: no bootstrap row)")
    args = ap.parse_args(argv)
    import torch
    torch.set_num_threads(1)   # what each probe worker runs on (encoders.probe_features._worker_init)
    from encoders.probe_features import FeatureSpec, RecordFile, _chunk_features
    model, handcrafted = ("ppg-tiny", "ibi") if args.modality == "ppg" else ("ecg-tiny", "hrv")
    specs = {handcrafted: FeatureSpec(handcrafted, model, modality=args.modality),
             **{f"random seed {s}": FeatureSpec("random", model, seed=s) for s in (0, 1, 2)}}
    with tempfile.TemporaryDirectory() as tmp:
        files = [RecordFile(p) for p in make_files(tmp, args.records, args.modality)]
        _chunk_features(specs, files[:2])   # models built and imports done before either is timed
        t0 = time.perf_counter()
        old = baseline_features(specs, files)
        t_old = time.perf_counter() - t0
        t0 = time.perf_counter()
        new = _chunk_features(specs, files)
        t_new = time.perf_counter() - t0
    for name in specs:
        np.testing.assert_allclose(new[name], old[name], rtol=1e-6, atol=1e-7, equal_nan=True)
    n = args.records
    print(f"{n} {args.modality} records, {handcrafted} + random seeds 0 1 2 ({model}), one process, one torch "
          "thread; the same features from both")
    print(f"{'case':40s} | {'baseline':>10s} | {'ours':>10s} | ratio")
    print(f"{'features, all records (s)':40s} | {t_old:10.2f} | {t_new:10.2f} | {t_new / t_old:5.2f}")
    print(f"{'per record, 4 feature sets (ms)':40s} | {1e3 * t_old / n:10.1f} | {1e3 * t_new / n:10.1f} | "
          f"{t_new / t_old:5.2f}")
    print(f"{f'{OWNERS_RECORDS} records, one worker (min)':40s} | {t_old / n * OWNERS_RECORDS / 60:10.1f} | "
          f"{t_new / n * OWNERS_RECORDS / 60:10.1f} | {t_new / t_old:5.2f}")
    if args.bootstrap_records:
        b_old, b_new = bootstrap_row(args.bootstrap_records)
        print(f"{f'bootstrap {args.bootstrap_records} x 6 classes x 3 rows (s)':40s} | {b_old:10.2f} | "
              f"{b_new:10.2f} | {b_new / b_old:5.2f}")


if __name__ == "__main__":
    main()

"""``biosig embed`` at the owners' scale (issue 14): what keeping parts for a resume costs, and where a
record's time goes.

On N CinC-2017-shaped records (SYNTHETIC ECG, 300 Hz, 30 s, one in five AF; WFDB files written to a
temporary folder, never the repo), in this process on one torch thread:

- *baseline*: the loop before 2026-12-06, every recording's rows kept in memory and one Parquet file
  written at the end (a Ctrl-C kept nothing); *ours*: the same recordings through
  :class:`encoders.embed_resume.EmbedParts` (a part every ``--part-s`` seconds, ``--out`` assembled from
  the parts). It checks that both files are the same, byte for byte;
- the time per record of each stage of ``InferenceModel.embed`` (read, pipeline, windows, model, quality,
  per-window measures and AF head), after one record to warm up, and the 8528 records of CinC 2017
  extrapolated.

    python benchmarks/bench_embed_scale.py [--records 50] [--repeat 3] [--part-s 10]
"""
from __future__ import annotations

import argparse
import collections
import statistics
import tempfile
import time

import _common  # noqa: F401  (repo root on sys.path)

OWNERS_RECORDS = 8528


def make_files(folder, n: int) -> list[str]:
    from biosig.synthetic import simulate
    from biosig.writers import write
    paths = []
    for i in range(n):
        rec = simulate("ecg", 30.0, seed=i, fs_hz=300.0, rhythm="af" if i % 5 == 0 else "sinus")
        paths.append(str(write(rec, f"{folder}/A{i:05d}.hea")))
    return paths


def baseline(enc, paths, out) -> float:
    import polars as pl

    from biosig.readers import read
    from encoders.scoring.files import atomic_write_parquet
    t0 = time.perf_counter()
    frames = [enc.embed(read(p), source=p) for p in paths]
    atomic_write_parquet(pl.concat(frames), out)
    return time.perf_counter() - t0


def ours(enc, paths, out, part_s: float) -> float:
    import encoders.embed_resume as er
    from biosig.readers import read
    from encoders.scoring.files import atomic_write_parquet, source_stamps
    from encoders.scoring.schema import record_key
    er.FLUSH_S = part_s
    t0 = time.perf_counter()
    stamps = source_stamps(paths)
    with er.EmbedParts(out, {"bench": True}, force=True) as parts:
        for p in paths:
            parts.add(p, stamps[record_key(p)], enc.embed(read(p), source=p))
        atomic_write_parquet(parts.assemble(paths), out)
        parts.remove()
    return time.perf_counter() - t0


def stages(enc, paths) -> dict[str, float]:
    """Seconds per stage over ``paths`` (the steps of ``InferenceModel.embed``, in its order)."""
    from biosig.quality import window_quality
    from biosig.readers import read
    from biosig.readers.gap_resample import to_uniform_grid
    from encoders.data import channel_index, encoder_channels, quality_windows
    spent: collections.Counter = collections.Counter()
    for k, p in enumerate([paths[0], *paths]):
        if k == 1:
            spent.clear()   # the first record warmed up
        marks = [("start", time.perf_counter())]
        rec0 = read(p)
        marks.append(("read", time.perf_counter()))
        record = encoder_channels(to_uniform_grid(rec0), enc.config)
        rec = enc.prepare(record)
        marks.append(("pipeline", time.perf_counter()))
        wins, _ = enc.windows(rec)
        marks.append(("windows", time.perf_counter()))
        enc.embed_windows(wins, channel_index(rec.channels, enc.config), 64)
        marks.append(("model", time.perf_counter()))
        [window_quality(w, rec.fs_hz, enc.config.modality) for w in quality_windows(enc, record, rec, wins)]
        marks.append(("window quality", time.perf_counter()))
        enc.window_measures(record, len(wins))
        marks.append(("measures + AF head", time.perf_counter()))
        for (_, a), (name, b) in zip(marks, marks[1:]):
            spent[name] += b - a
    return dict(spent)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=50, help="synthetic 30 s ECG records (default 50)")
    ap.add_argument("--repeat", type=int, default=3, help="alternated runs of each, median (default 3)")
    ap.add_argument("--part-s", type=float, default=10.0,
                    help="seconds between parts (encoders.embed_resume.FLUSH_S; default 10, as embed)")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(1)
    from encoders.inference import open_model
    enc = open_model("ecg-tiny", "torch", threads=1)
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_files(tmp, args.records)
        enc.embed(__import__("biosig.readers", fromlist=["read"]).read(paths[0]))   # warm up
        runs = {"base": [], "ours": []}
        for _ in range(args.repeat):   # alternated: the machine's load drifts (2 shared cores)
            runs["base"].append(baseline(enc, paths, f"{tmp}/base.parquet"))
            runs["ours"].append(ours(enc, paths, f"{tmp}/ours.parquet", args.part_s))
        t_base, t_ours = (statistics.median(runs[k]) for k in ("base", "ours"))
        same = open(f"{tmp}/base.parquet", "rb").read() == open(f"{tmp}/ours.parquet", "rb").read()
        print(f"{args.records} records, 30 s ECG at 300 Hz, one torch thread, median of {args.repeat} alternated runs; "
              f"files identical: {same}")
        print(f"{'':<24} | {'baseline':>11} | {'ours':>11} | ratio")
        _common.row("embed, s a record", t_base / len(paths), t_ours / len(paths), width=24)
        spent = stages(enc, paths)
    total = sum(spent.values())
    print(f"\nstages of one record (ms), after one to warm up: {1000 * total / len(paths):.0f} ms a record, "
          f"{OWNERS_RECORDS * total / len(paths) / 60:.1f} min for CinC 2017's {OWNERS_RECORDS}")
    for name, s in spent.items():
        print(f"  {name:<20} {1000 * s / len(paths):7.1f}  {100 * s / total:5.1f} %")
    if not same:
        raise SystemExit("the two files differ")


if __name__ == "__main__":
    main()

"""Throughput of ``biosig score`` against the raw backend on the same windows.

A synthetic archive of 100 ECG records (WFDB, 360 Hz, --seconds each, seeded) is scored with the
default ECG model. Two tables, rows ``baseline | ours | ratio`` in windows/s, with
``overhead = 1 - ours / baseline`` (issue 7's target: under 25 %):

1. Pipeline overhead: in one process with one backend thread, chunks of 5 records alternate
   between the raw backend alone (``backend.run`` on those records' preprocessed windows, batch 64)
   and ``Scorer.score`` (read, channel match, pipeline, windows, embedding, quality, measures,
   rows). Alternating makes the ratio robust to the load of a shared machine.
2. Engines end to end: ``run_score`` with the local engine (1 and 2 workers) and Ray (1 and 2
   actors), model loading, process spawn / Ray start-up, part files and assembly included, against
   the raw backend with the same processes x threads (measured right before and after each run,
   the faster kept). "worker" rates count only the time workers spent inside records.

    .venv/bin/python benchmarks/bench_score.py [--records 100] [--seconds 120] [--no-ray]
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing
import os
import pathlib
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_archive(folder: pathlib.Path, n_records: int, seconds: float) -> list[str]:
    from biosig.synthetic import simulate
    from biosig.writers import write
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n_records):
        path = folder / f"syn{i:03d}.hea"
        if not path.exists():
            rec = simulate("ecg", seconds, seed=i, fs_hz=360.0)
            write(rec, path)
        paths.append(str(path))
    return paths


BACKEND = "onnxruntime"  # pinned: "auto" times torch and onnxruntime per process and may pick either


def _windows_of(args):
    """Preprocessed windows of some records (no timing): what the backend sees."""
    source, paths = args
    from encoders.scoring import ModelSpec, Scorer, load_model
    scorer = Scorer(load_model(ModelSpec(source, BACKEND, threads=1)))
    out = []
    for p in paths:
        win = scorer.windows(scorer.preprocess(scorer.select(scorer.read(p))))
        out.append(np.nan_to_num(win.x))
    return np.concatenate(out)


def interleaved_overhead(source: str, paths: list[str], chunk: int = 5) -> tuple[float, float]:
    """(raw backend win/s, score win/s) in one process with one backend thread, alternating chunks
    of ``chunk`` records between the raw backend (on the records' preprocessed windows, batch 64)
    and :meth:`Scorer.score` (everything from reading the file to finished rows), so load changes
    on a shared machine hit both alike."""
    from encoders.scoring import ModelSpec, Scorer, load_model
    scorer = Scorer(load_model(ModelSpec(source, BACKEND, threads=1)))
    scorer.score(paths[0])  # warm-up
    t_raw = t_ours = 0.0
    n = 0
    for i in range(0, len(paths), chunk):
        group = paths[i:i + chunk]
        wins = [scorer.windows(scorer.preprocess(scorer.select(scorer.read(p)))) for p in group]
        x = np.nan_to_num(np.concatenate([w.x for w in wins]))
        idx = scorer.channel_idx(wins[0].channels)
        t0 = time.perf_counter()
        for j in range(0, len(x), 64):
            scorer.model.backend.run(x[j:j + 64], idx)
        t_raw += time.perf_counter() - t0
        t0 = time.perf_counter()
        outcomes = [scorer.score(p) for p in group]
        t_ours += time.perf_counter() - t0
        assert all(o["ok"] for o in outcomes)
        n += len(x)
    return n / t_raw, n / t_ours


def _raw_worker(args):
    """Backend alone on windows ``x`` in batches of 64; returns (n, seconds)."""
    source, x, threads = args
    from encoders.scoring import ModelSpec, load_model
    backend = load_model(ModelSpec(source, BACKEND, threads=threads)).backend
    backend.run(x[:64])  # warm-up
    t0 = time.perf_counter()
    for i in range(0, len(x), 64):
        backend.run(x[i:i + 64])
    return len(x), time.perf_counter() - t0


def raw_throughput(source: str, x: np.ndarray, workers: int, threads: int | None) -> float:
    """Windows/s of ``workers`` processes each running the backend on its share of ``x``."""
    parts = np.array_split(x, workers)
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        res = list(pool.map(_raw_worker, [(source, p, threads) for p in parts]))
    return sum(n for n, _ in res) / max(s for _, s in res)


def score_throughput(paths, source: str, engine: str, workers: int, tmp: pathlib.Path):
    """(end-to-end windows/s, worker windows/s, wall s) of one scoring run.

    End to end: all windows over the wall time of ``run_score`` (discovery, model loading, process
    spawn or Ray start-up, scoring, part files, assembly, manifest). Worker: all windows over the
    time the workers spent inside records (each outcome's ``seconds``: read to finished rows),
    divided by the number of workers, i.e. the steady-state rate without start-up costs.
    """
    from encoders.scoring import ScoreConfig, run_score
    out = tmp / f"out-{engine}-{workers}"
    spent = []
    t0 = time.perf_counter()
    summary = run_score(ScoreConfig(inputs=tuple(paths), model=source, out_dir=str(out), engine=engine,
                                    workers=workers, backend=BACKEND), on_outcome=lambda o: spent.append(o["seconds"]))
    wall = time.perf_counter() - t0
    assert summary.failed == 0 and summary.tables["records"] == len(paths), summary.tables
    return summary.windows / wall, summary.windows / (sum(spent) / workers), wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=100, help="synthetic ECG records to score (default 100)")
    ap.add_argument("--seconds", type=float, default=120.0, help="length of each record, s (default 120)")
    ap.add_argument("--model", default=None, help="default: ecg-tiny when shipped, else random ecg-tiny")
    ap.add_argument("--no-ray", action="store_true", help="skip the Ray rows even where Ray is installed")
    ap.add_argument("--baseline-windows", type=int, default=768, help="windows timed for the baseline")
    args = ap.parse_args()
    import encoders
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench_score_"))
    source = args.model
    if source is None:
        if "ecg-tiny" in encoders.shipped_models():
            source = "ecg-tiny"
        else:
            from encoders.checkpoint import save_checkpoint
            source = str(tmp / "ecg-tiny-random")
            save_checkpoint(source, encoders.create_model("ecg-tiny"))
    cache = pathlib.Path(tempfile.gettempdir()) / f"bench_score_archive_{args.records}x{args.seconds:g}s"
    t0 = time.perf_counter()
    paths = make_archive(cache, args.records, args.seconds)
    print(f"archive: {len(paths)} synthetic ECG records x {args.seconds:g} s at 360 Hz in {cache} "
          f"({time.perf_counter() - t0:.1f} s); model {source}; {os.cpu_count()} CPUs")
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        x = pool.submit(_windows_of, (source, paths)).result()
    print(f"{len(x)} windows of shape {x.shape[1:]}")
    budgets = {("local", 1): (1, None), ("local", 2): (2, 1), ("ray", 1): (1, 1), ("ray", 2): (2, 1)}
    configs = [("local", 1), ("local", 2)] + ([] if args.no_ray else [("ray", 1), ("ray", 2)])
    sample = x[:args.baseline_windows]
    raw1, ours1 = interleaved_overhead(source, paths)
    rows = []
    for engine, workers in configs:
        # the CPU may be shared: measure the baseline right before and after, keep the faster
        before = raw_throughput(source, sample, *budgets[(engine, workers)])
        e2e, steady, wall = score_throughput(paths, source, engine, workers, tmp)
        after = raw_throughput(source, sample, *budgets[(engine, workers)])
        rows.append((f"{engine} x{workers}", max(before, after), steady, e2e, wall))
    print("\n1. pipeline overhead, one process, one backend thread, raw and score alternating per 5 records")
    print(f"{'what':<26} | {'baseline raw win/s':>18} | {'ours score win/s':>16} | {'ratio':>5} | {'overhead':>8}")
    print(f"{'per-record pipeline':<26} | {raw1:18.1f} | {ours1:16.1f} | {ours1 / raw1:5.2f} | {1 - ours1 / raw1:8.1%}")
    print("\n2. engines end to end (model loading, spawn / Ray start-up, parts, assembly included);")
    print("   baseline = raw backend, batch 64, same processes x threads, best of before/after the run;")
    print("   worker = windows / (time the workers spent inside records / workers)")
    print(f"{'engine':<9} | {'baseline raw win/s':>18} | {'ours e2e win/s':>14} | {'ratio':>5} | "
          f"{'ours worker win/s':>17} | {'ratio':>5} | {'wall s':>6}")
    for name, base, steady, e2e, wall in rows:
        print(f"{name:<9} | {base:18.1f} | {e2e:14.1f} | {e2e / base:5.2f} | {steady:17.1f} | "
              f"{steady / base:5.2f} | {wall:6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

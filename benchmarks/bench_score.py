"""Throughput of ``biosig score`` against the raw backend on the same windows.

A synthetic archive of 100 ECG records (WFDB, 360 Hz, --seconds each, seeded) is scored with the
default ECG model end to end (read, channel match, pipeline, windows, quality, measures, embedding,
Parquet parts, assembly, manifest; model loading included) by the local engine with 1 and 2
workers and by the Ray engine with 1 and 2 actors. The baseline is the raw backend alone
(``backend.run`` on the very same preprocessed windows, batch 64) with the same thread budget:
one intra-op thread per worker, 1 or 2 workers in parallel processes.

Rows: ``baseline | ours | ratio`` in windows/s; ``overhead = 1 - ours / baseline`` (target < 25 %).
"ours steady" is windows over the workers' time inside records (start-up excluded); "ours e2e" is
windows over the wall time of the whole run (model loading, spawn / Ray start-up, assembly
included). The CPU may be shared, so each baseline is measured right before and right after its
run and the faster one is kept.

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


def _windows_of(args):
    """Preprocessed windows of some records (no timing): what the backend sees."""
    source, paths = args
    from encoders.scoring import ModelSpec, Scorer, load_model
    scorer = Scorer(load_model(ModelSpec(source, "auto", threads=1)))
    out = []
    for p in paths:
        win = scorer.windows(scorer.preprocess(scorer.select(scorer.read(p))))
        out.append(np.nan_to_num(win.x))
    return np.concatenate(out)


def _raw_worker(args):
    """Backend alone on windows ``x`` in batches of 64; returns (n, seconds)."""
    source, x, threads = args
    from encoders.scoring import ModelSpec, load_model
    backend = load_model(ModelSpec(source, "auto", threads=threads)).backend
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
                                    workers=workers), on_outcome=lambda o: spent.append(o["seconds"]))
    wall = time.perf_counter() - t0
    assert summary.failed == 0 and summary.tables["records"] == len(paths), summary.tables
    return summary.windows / wall, summary.windows / (sum(spent) / workers), wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--model", default=None, help="default: ecg-tiny when shipped, else random ecg-tiny")
    ap.add_argument("--no-ray", action="store_true")
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
    rows = []
    for engine, workers in configs:
        # the CPU is shared: measure the baseline right before and after, keep the faster
        before = raw_throughput(source, sample, *budgets[(engine, workers)])
        e2e, steady, wall = score_throughput(paths, source, engine, workers, tmp)
        after = raw_throughput(source, sample, *budgets[(engine, workers)])
        rows.append((f"{engine} x{workers}", max(before, after), steady, e2e, wall))
    print("\nbaseline = raw backend on the same windows, batch 64, same processes x threads (best of before/after);")
    print("ours steady = windows / worker time inside records; ours e2e = windows / wall time of the whole run")
    print(f"{'config':<9} | {'baseline win/s':>14} | {'ours steady win/s':>17} | {'ratio':>5} | "
          f"{'overhead':>8} | {'ours e2e win/s':>14} | {'e2e ratio':>9} | {'wall s':>6}")
    for name, base, steady, e2e, wall in rows:
        print(f"{name:<9} | {base:14.1f} | {steady:17.1f} | {steady / base:5.2f} | {1 - steady / base:8.1%} | "
              f"{e2e:14.1f} | {e2e / base:9.2f} | {wall:6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

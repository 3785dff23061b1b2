"""Background work started by a real-time thread: does it starve ordinary threads?

The runtime's event loop runs ``SCHED_FIFO`` (``streams/priority.py``) and starts some threads
lazily: the recorder's writer (a one-thread pool created at the first flush) and, under it, the
threads polars writes Parquet with. Linux hands a thread's policy down to the threads it starts, so
before 2026-12-02 those ran ``SCHED_FIFO`` too, and a Parquet write held the CPUs at real-time
priority. This benchmark writes the same Parquet file 5 times, as the recorder does (from a pool
started by a ``SCHED_FIFO`` thread, the pool's initializer ``background_thread_priority``; each
variant in a fresh process, as polars starts its thread pools once per process), while a separate
ordinary process sleeps 1 ms at a time for 12 s and counts the times it woke more than 20 ms late:

- baseline: the thread gets ``SCHED_FIFO`` without ``SCHED_RESET_ON_FORK`` and its pool's threads
  keep what they inherit (the code before);
- ours: :func:`streams.priority.realtime_thread` (``SCHED_RESET_ON_FORK``) and
  :func:`streams.models.background_thread_priority` (drops an inherited real-time policy).

Needs root or ``ulimit -r`` (says so and exits 0 otherwise). Stalls during which the hypervisor's
steal counter moved are counted apart (not the guest's doing). Measured on the 2-core test VM
(3,000,000 rows): baseline 5 late wake-ups, worst 54 ms; ours 0; a write takes 62 -> 78 ms (it now
runs as an ordinary thread at nice +5, behind everything else).

    .venv/bin/python benchmarks/bench_rt_threads.py [--rows 3000000]
"""
from __future__ import annotations

import argparse
import concurrent.futures
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROBE = r"""
import sys, time
sys.path.insert(0, sys.argv[2])
from streams.steal import read_steal_ticks as steal
end = time.monotonic() + float(sys.argv[1]); last = time.monotonic(); s_last = steal(); late = []
while time.monotonic() < end:
    time.sleep(0.001)
    now, s = time.monotonic(), steal()
    if now - last > 0.02:
        late.append((now - last, s - s_last))
    last, s_last = now, s
print(sum(1 for d, s in late if s == 0), sum(1 for d, s in late if s > 0),
      max([d for d, s in late if s == 0], default=0.0))
"""


def write_from_realtime_thread(ours: bool, rows: int, out_dir: str) -> list[float]:
    """Seconds per Parquet write, each done by a pool thread that a SCHED_FIFO thread started."""
    import polars as pl

    from streams.models import background_thread_priority
    from streams.priority import realtime_thread
    rng = np.random.default_rng(0)
    df = pl.DataFrame({"a": rng.random(rows), "b": rng.random(rows)})   # built before: not timed
    times: list[float] = []

    def loop():
        if ours:
            realtime_thread(10, "bench-loop")
        else:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        init = background_thread_priority if ours else None
        with concurrent.futures.ThreadPoolExecutor(1, initializer=init) as pool:
            for i in range(5):
                t = time.monotonic()
                pool.submit(df.write_parquet, f"{out_dir}/{int(ours)}-{i}.parquet", compression="zstd").result()
                times.append(time.monotonic() - t)
                time.sleep(0.5)

    t = threading.Thread(target=loop)
    t.start()
    t.join()
    return times


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=3_000_000, help="rows per Parquet write (default 3000000)")
    ap.add_argument("--variant", choices=("baseline", "ours"), help=argparse.SUPPRESS)   # one process each
    args = ap.parse_args(argv)
    if args.rows < 1:
        ap.error("--rows must be at least 1")
    if args.variant:   # in a fresh process: polars starts its thread pools once per process
        with tempfile.TemporaryDirectory() as d:
            print(float(np.median(write_from_realtime_thread(args.variant == "ours", args.rows, d))))
        return 0
    import resource
    if os.geteuid() != 0 and resource.getrlimit(resource.RLIMIT_RTPRIO)[0] < 10:
        print("SCHED_FIFO is not allowed here (run as root or raise ulimit -r): nothing to measure")
        return 0
    res = {}
    for ours in (False, True):
        writer = subprocess.Popen([sys.executable, __file__, "--rows", str(args.rows), "--variant",
                                   "ours" if ours else "baseline"], stdout=subprocess.PIPE, text=True)
        probe = subprocess.Popen([sys.executable, "-c", PROBE, "12", str(ROOT)], stdout=subprocess.PIPE, text=True)
        median_s = float(writer.communicate(timeout=120)[0].split()[-1])
        late, stolen, worst = probe.communicate(timeout=60)[0].split()
        res[ours] = (int(late), int(stolen), float(worst) * 1e3, median_s * 1e3)
    print(f"5 Parquet writes of {args.rows} rows from a pool started by a SCHED_FIFO thread; an ordinary "
          "process sleeping 1 ms at a time")
    print(f"{'':44} | {'baseline':>9} | {'ours':>9} | ratio")
    names = ("wake-ups > 20 ms late (no steal)", "worst late wake-up, ms (no steal)",
             "wake-ups > 20 ms late during steal", "median write, ms")
    for k, name in zip((0, 2, 1, 3), names):
        a, b = res[False][k], res[True][k]
        ratio = f"{b / a:.2f}" if a else "-"
        print(f"{name:44} | {a:9.1f} | {b:9.1f} | {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

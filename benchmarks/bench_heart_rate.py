"""Time of the ECG record heart rate (:func:`biosig.measures.heart_rate`) before and after: MIT-BIH
record 100 (30 min, 360 Hz, 180 windows of 10 s checked) and a subset of the CinC 2017 ECGs (9-61 s,
300 Hz).

``baseline``: the package of a git revision (``--rev``, default ``HEAD``: the last commit, before
the working tree's changes), unpacked with ``git archive`` into a temporary folder and imported
there by a worker process; ``ours``: the working tree's, in a worker process alike. Workers of both
take turns (``--rounds``), each timing every record ``--repeat`` times after one call that loads
NeuroKit2; the rows give the median per record (s) and the ratio. Each record's rate must be the
same float in both, bit for bit: a row says ``DIFFERENT`` otherwise (and the exit status is 1).

Data: ``../shared/data`` (``wfdb/100``, ``cinc2017``), skipped with a message where absent. The
machine these numbers come from is shared: compare the ratios, and run it twice.

    python benchmarks/bench_heart_rate.py                  # record 100 and 20 CinC 2017 records
    python benchmarks/bench_heart_rate.py --cinc 50 --rounds 3
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"

WORKER = r"""
import json, logging, sys, time
logging.disable(logging.CRITICAL)
import numpy as np
from biosig.measures import heart_rate
from biosig.readers import read
paths, repeat = json.loads(sys.argv[1]), int(sys.argv[2])
records = [read(p) for p in paths]
heart_rate(records[0])   # NeuroKit2 loaded
out = {}
for p, rec in zip(paths, records):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        rate = heart_rate(rec)
        times.append(time.perf_counter() - t)
    out[p] = {"rate": repr(rate), "times": times}
print(json.dumps(out))
"""


def run_worker(package_root: pathlib.Path, paths: list[str], repeat: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(package_root), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", WORKER, json.dumps(paths), str(repeat)], env=env,
                          cwd=str(package_root), capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def median(values: list[float]) -> float:
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rev", default="HEAD", help="git revision of the baseline (default HEAD)")
    ap.add_argument("--cinc", type=int, default=20, help="CinC 2017 records timed (the first N by name; default 20)")
    ap.add_argument("--repeat", type=int, default=3, help="timed calls per record and worker (default 3)")
    ap.add_argument("--rounds", type=int, default=2, help="baseline and ours workers, in turn (default 2)")
    args = ap.parse_args(argv)
    rec100 = DATA / "wfdb" / "100.hea"
    cinc = sorted((DATA / "cinc2017").glob("*.hea"))[:args.cinc]
    if not rec100.exists():
        print(f"skipped: {rec100} not found (see ../shared/data/README.md)")
        return 0
    groups = {"MIT-BIH 100": [str(rec100)], f"CinC 2017 x{len(cinc)} (sum)": [str(p) for p in cinc]}
    paths = [p for g in groups.values() for p in g]
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "archive", args.rev, "biosig"], cwd=ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        runs = {"baseline": [], "ours": []}
        for _ in range(args.rounds):
            runs["baseline"].append(run_worker(pathlib.Path(tmp), paths, args.repeat))
            runs["ours"].append(run_worker(ROOT, paths, args.repeat))
    differ = [p for p in paths if runs["baseline"][0][p]["rate"] != runs["ours"][0][p]["rate"]]
    print(f"heart_rate, median s of {args.rounds} x {args.repeat} calls (baseline: {args.rev})")
    print(f"{'records':<24} | {'baseline':>9} | {'ours':>9} | {'ratio':>6} | rates")
    for name, group in groups.items():
        t = {k: sum(median([x for r in v for x in r[p]["times"]]) for p in group) for k, v in runs.items()}
        same = "DIFFERENT" if set(group) & set(differ) else "identical"
        print(f"{name:<24} | {t['baseline']:9.3f} | {t['ours']:9.3f} | {t['baseline'] / t['ours']:6.2f} | {same}")
    for p in differ:
        print(f"  {pathlib.Path(p).stem}: {runs['baseline'][0][p]['rate']} -> {runs['ours'][0][p]['rate']}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())

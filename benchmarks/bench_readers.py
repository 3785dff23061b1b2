"""Reader speed against wfdb itself, and the wall time of ``biosig info`` against its target.

Rows (``baseline | ours | ratio``):

- ``read 100``: ``wfdb.rdrecord`` + ``wfdb.rdann`` (baseline) vs :func:`biosig.read`, which adds
  the header/file-size checks, float32 conversion and annotation handling. Median of 5 runs.
- ``read cinc2017 x200``: the same for all 200 CinC 2017 records (one pass each).
- ``info 100 wall``: the 3 s target (baseline) vs ``biosig info ../shared/data/wfdb/100`` run as
  a fresh process (imports, read, quality summary, printing), median of 3; ``info 100 cpu`` is
  its user+system CPU time, which other jobs on a shared machine do not inflate.

    .venv/bin/python benchmarks/bench_readers.py
"""
from __future__ import annotations

import argparse
import functools
import os
import resource
import subprocess
import sys

import _common
from _common import DATA, ROOT, row

timed = functools.partial(_common.timed, repeat=5)


def main(argv=None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)   # --help; no options
    import wfdb

    from biosig.readers import discover, read

    rec100 = DATA / "wfdb" / "100"
    if not rec100.with_suffix(".hea").exists():
        print(f"shared data absent ({rec100}); nothing to benchmark")
        return 0
    print(f"{'case':<22} | {'baseline':>11} | {'ours':>11} | ratio")
    read(rec100)  # warm imports
    base = timed(lambda: (wfdb.rdrecord(str(rec100)), wfdb.rdann(str(rec100), "atr")))
    ours = timed(lambda: read(rec100))
    row("read 100", base, ours)

    cinc = [p[:-4] for p in discover([DATA / "cinc2017"])]
    base = timed(lambda: [wfdb.rdrecord(p) for p in cinc], repeat=1)
    ours = timed(lambda: [read(p) for p in cinc], repeat=1)
    row("read cinc2017 x200", base, ours)

    exe = ROOT / ".venv" / "bin" / "biosig"
    cmd = [str(exe) if exe.exists() else "biosig", "info", str(rec100)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = timed(lambda: subprocess.run(cmd, check=True, capture_output=True), repeat=3)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / 3
    row("info 100 wall", 3.0, wall)
    row("info 100 cpu", 3.0, cpu)  # robust to other jobs sharing the cores
    print(f"load average during the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Peak memory of reading a multi-rate EDF+D file and CSV files with odd names, old code against new (session 74).

Files written (kept in ``--workdir`` when there): an EDF+D of ``--hours`` hours with signals at 256, 128 and 100 Hz
(1 s data records, holes of 30 s and 12.5 s), and a ``--hours`` hour 250 Hz CSV of 3 channels under three names:
plain, with a byte that is not UTF-8 (``long\\xff.csv``) and with glob brackets (``long[1].csv``). Each is read once
per side in a fresh subprocess (:func:`bench_reader_memory.measure`: peak RSS ``VmHWM`` and what the read adds to
it, seconds, a SHA-256 of the record): ``baseline`` is ``biosig/`` at ``--baseline-ref`` (default HEAD), ``ours``
the working tree. A read that fails is shown as ``fails``.

    .venv/bin/python benchmarks/bench_reader_memory74.py --hours 1
"""
from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

from _common import ROOT   # also puts the repo root on sys.path
from bench_reader_memory import baseline_tree, measure

RATES_HZ = (256, 128, 100)


def write_multi_rate_plusd(path: pathlib.Path, hours: float) -> None:
    """An EDF+D file with one int16 signal per rate of :data:`RATES_HZ` and 1 s data records."""
    n_rec, ns, ann = int(hours * 3600), len(RATES_HZ) + 1, 60
    rng = np.random.default_rng(0)
    labels = [f"ch{fs}" for fs in RATES_HZ] + ["EDF Annotations"]
    fields = [labels, [""] * ns, ["uV"] * (ns - 1) + [""], ["-3000"] * (ns - 1) + ["-1"], ["3000"] * (ns - 1) + ["1"],
              ["-32768"] * ns, ["32767"] * ns, [""] * ns, [str(fs) for fs in RATES_HZ] + [str(ann // 2)], [""] * ns]
    head = ("0".ljust(8) + "X X X X".ljust(80) + "Startdate 01-JAN-2024 X X X".ljust(80) + "01.01.2400.00.00"
            + str(256 * (ns + 1)).ljust(8) + "EDF+D".ljust(44) + str(n_rec).ljust(8) + "1".ljust(8) + str(ns).ljust(4))
    head += "".join(v.ljust(w)[:w] for col, w in zip(fields, (16, 80, 8, 8, 8, 8, 8, 80, 8, 32)) for v in col)
    onsets = np.arange(n_rec, dtype=float)
    onsets[n_rec // 3:] += 30
    onsets[2 * n_rec // 3:] += 12.5
    data = [rng.integers(-32767, 32767, (n_rec, fs)).astype("<i2") for fs in RATES_HZ]
    with open(path, "wb") as fh:
        fh.write(head.encode("ascii"))
        for r in range(n_rec):
            tal = f"+{onsets[r]:g}\x14\x14\x00".encode()
            fh.write(b"".join(d[r].tobytes() for d in data) + tal + b"\x00" * (ann - len(tal)))


def make_files(folder: pathlib.Path, hours: float) -> dict:
    """{label: path} of the files above, written into ``folder`` where missing."""
    plusd = folder / "multi_rate_plusd.edf"
    if not plusd.exists():
        write_multi_rate_plusd(plusd, hours)
    csv = folder / "long.csv"
    if not csv.exists():
        n = int(hours * 3600 * 250)
        x = np.random.default_rng(3).normal(0, 1, (n, 3)).round(4)
        np.savetxt(csv, np.column_stack([np.arange(n) / 250, x]), delimiter=",", fmt="%.4f", header="t_s,a,b,c",
                   comments="")
    files = {"edf+d 256/128/100 Hz": plusd, "csv": csv}
    for label, name in (("csv, name with \\xff", b"long\xff.csv"), ("csv, name long[1].csv", b"long[1].csv")):
        odd = os.path.join(os.fsencode(folder), name)
        if not os.path.exists(odd):
            os.link(os.fsencode(csv), odd)
        files[label] = pathlib.Path(os.fsdecode(odd))
    return files


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-ref", default="HEAD", help="git commit of the old code (default HEAD)")
    parser.add_argument("--hours", type=float, default=1.0, help="length of the EDF+D file and the CSV, hours")
    parser.add_argument("--workdir", type=pathlib.Path, default=None,
                        help="folder for the test files (kept; default: a temporary folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or pathlib.Path(tmp) / "files"
        work.mkdir(parents=True, exist_ok=True)
        old = pathlib.Path(tmp) / "old"
        old.mkdir()
        baseline_tree(old, args.baseline_ref)
        print(f"{'file':<24} {'baseline +read MiB':>19} | {'ours +read MiB':>15} | {'ratio':>6} | same values")
        for label, path in make_files(work, args.hours).items():
            sides = []
            for root in (old, ROOT):
                try:
                    sides.append(measure(root, path))
                except subprocess.CalledProcessError:
                    sides.append(None)
            b, o = sides
            text = [f"{s['read_mb']:.1f} ({s['seconds']:.2f} s)" if s else "fails" for s in sides]
            ratio = f"{o['read_mb'] / b['read_mb']:.2f}" if b and o and b["read_mb"] > 0 else "-"
            same = "yes" if b and o and b["sha"] == o["sha"] else "-"
            print(f"{label:<24} {text[0]:>19} | {text[1]:>15} | {ratio:>6} | {same}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

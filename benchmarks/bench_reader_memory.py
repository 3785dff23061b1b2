"""Peak memory and time of ``biosig.readers.read`` on a long recording (a Holter day), old code against new.

A long record is written in each format (WFDB format 16, WFDB format 212, EDF via pyedflib, EDF+D with a 60 s
hole every hour (:func:`write_edf_plusd`): ``--hours`` long, ``--channels`` channels at ``--fs-hz``; a CSV with a
``t_s`` column and ``--csv-channels`` channels, ``--csv-hours`` long), then read
once per side, each read in a fresh subprocess: ``baseline`` is the code before the change (``git archive`` of
``biosig/`` at ``--baseline-ref``, default 04f835a, into a temporary folder), ``ours`` the working tree. Rows give the peak resident set size
(``VmHWM``) of that subprocess in MiB, the part of it the read adds above the imports (``+read``), and
the seconds of the read. A SHA-256 of the record (samples bytes, dtype, shape, times, channels, units,
rate, start, annotations, metadata) is compared between both sides: the outputs must be identical.

    .venv/bin/python benchmarks/bench_reader_memory.py --hours 24
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

from _common import ROOT   # also puts the repo root on sys.path

_CHILD = r"""
import hashlib, json, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np
import biosig.readers, pyedflib   # imports before the read: the +read column is the read alone
from biosig.readers import read
def hwm_mb():   # VmHWM: this process's peak RSS (ru_maxrss would carry a forking parent's peak over)
    return next(int(ln.split()[1]) for ln in open("/proc/self/status") if ln.startswith("VmHWM")) / 1024
before = hwm_mb()
t0 = time.perf_counter()
rec = read(sys.argv[2])
seconds = time.perf_counter() - t0
peak = hwm_mb()
h = hashlib.sha256()
h.update(repr((rec.samples.dtype.str, rec.samples.shape, rec.samples.flags.c_contiguous, rec.fs_hz, rec.channels,
               rec.units, rec.modality, rec.start_time, sorted((k, repr(v)) for k, v in rec.metadata.items()
                                                               if k != "source"))).encode())
h.update(np.ascontiguousarray(rec.samples).tobytes())
if rec.times_s is not None:
    h.update(rec.times_s.tobytes())
if rec.annotations is not None:
    h.update(rec.annotations.sample.tobytes() + repr((rec.annotations.symbol, rec.annotations.aux)).encode())
print(json.dumps({"peak_mb": peak, "read_mb": peak - before, "seconds": seconds, "sha": h.hexdigest()}))
"""


def _signals(n: int, channels: int, lo: int, hi: int, rng) -> np.ndarray:
    """(n, channels) int digital samples: a sine and noise, with a few runs of the invalid code ``lo``."""
    t = np.arange(n, dtype=np.float64)
    out = np.empty((n, channels), dtype=np.int32)
    for c in range(channels):
        x = 0.45 * (hi - lo) * np.sin(2 * np.pi * t / (200.0 + 37 * c)) + rng.normal(0, 20, n)
        out[:, c] = np.clip(np.round(x), lo + 1, hi)
        for start in rng.integers(0, n - 500, 5):
            out[start:start + 500, c] = lo   # invalid samples: NaN gaps
    return out


def make_files(folder: pathlib.Path, hours: float, csv_hours: float, channels: int, fs_hz: float,
               csv_channels: int = 3) -> dict:
    """Write the long test files into ``folder`` (kept when they exist already) and return {label: path}."""
    import pyedflib
    import wfdb

    rng = np.random.default_rng(7)
    n = int(hours * 3600 * fs_hz)
    names = [f"ch{c + 1}" for c in range(channels)]
    files = {}
    for fmt, lo, hi in (("16", -32768, 32767), ("212", -2048, 2047)):
        name = f"long{fmt}"
        if not (folder / f"{name}.hea").exists():
            d = _signals(n, channels, lo, hi, rng)
            wfdb.wrsamp(name, fs=fs_hz, units=["mV"] * channels, sig_name=names, d_signal=d, fmt=[fmt] * channels,
                        adc_gain=[200.0 + 13 * c for c in range(channels)], baseline=[7 * c for c in range(channels)],
                        write_dir=str(folder))
        files[f"wfdb {fmt}"] = folder / name
    edf = folder / "long.edf"
    if not edf.exists():
        d = _signals(n - n % int(fs_hz), channels, -32768, 32767, rng)
        w = pyedflib.EdfWriter(str(edf), channels, file_type=pyedflib.FILETYPE_EDFPLUS)
        w.setSignalHeaders([{"label": nm, "dimension": "uV", "sample_frequency": fs_hz, "physical_max": 3276.7,
                             "physical_min": -3276.8, "digital_max": 32767, "digital_min": -32768}
                            for nm in names])
        w.writeSamples([np.ascontiguousarray(d[:, c]) for c in range(channels)], digital=True)
        w.close()
    files["edf"] = edf
    plusd = folder / "long_plusd.edf"
    if not plusd.exists():
        d = _signals(n - n % int(fs_hz), channels, -32768, 32767, rng)
        write_edf_plusd(plusd, d, int(fs_hz), names)
    files["edf+d"] = plusd
    csv = folder / f"long_{csv_channels}ch.csv"
    if not csv.exists():
        m = int(csv_hours * 3600 * fs_hz)
        x = np.random.default_rng(3).normal(0, 1, (m, csv_channels)).round(4)
        table = np.column_stack([np.arange(m) / fs_hz, x])
        np.savetxt(csv, table, delimiter=",", fmt="%.4f",
                   header=",".join(["t_s"] + [f"ch{c + 1}" for c in range(csv_channels)]), comments="")
    files[f"csv {csv_hours:g} h"] = csv
    return files


def write_edf_plusd(path: pathlib.Path, d: np.ndarray, spr: int, names: list[str], hole_every: int = 3600) -> None:
    """An EDF+D file of the int16 samples ``d`` (n, channels): 1 s data records of ``spr`` samples per
    signal, a 60 s hole after every ``hole_every`` records (pyedflib writes no EDF+D)."""
    n_rec, ns = len(d) // spr, d.shape[1] + 1
    ann_bytes = 60
    fields = [names + ["EDF Annotations"], [""] * ns, ["uV"] * (ns - 1) + [""], ["-3276.8"] * (ns - 1) + ["-1"],
              ["3276.7"] * (ns - 1) + ["1"], ["-32768"] * ns, ["32767"] * ns, [""] * ns,
              [str(spr)] * (ns - 1) + [str(ann_bytes // 2)], [""] * ns]
    head = ("0".ljust(8) + "X X X X".ljust(80) + "Startdate 01-JAN-2024 X X X".ljust(80) + "01.01.2400.00.00"
            + str(256 * (ns + 1)).ljust(8) + "EDF+D".ljust(44) + str(n_rec).ljust(8) + "1".ljust(8) + str(ns).ljust(4))
    head += "".join(v.ljust(w)[:w] for col, w in zip(fields, (16, 80, 8, 8, 8, 8, 8, 80, 8, 32)) for v in col)
    with open(path, "wb") as fh:
        fh.write(head.encode("ascii"))
        data = d[:n_rec * spr].astype("<i2").reshape(n_rec, spr, d.shape[1]).transpose(0, 2, 1)
        for r in range(n_rec):
            tal = f"+{r + 60 * (r // hole_every)}\x14\x14\x00".encode()
            fh.write(data[r].tobytes() + tal + b"\x00" * (ann_bytes - len(tal)))


BASELINE_REF = "04f835a"   # the commit before the block-wise readers


def baseline_tree(dest: pathlib.Path, ref: str = BASELINE_REF) -> pathlib.Path:
    """``biosig/`` at git ``ref``, unpacked under ``dest``: the old code."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "biosig"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def measure(code_root: pathlib.Path, path: pathlib.Path) -> dict:
    """One read of ``path`` with the biosig under ``code_root``, in a fresh process."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(code_root))
    out = subprocess.run([sys.executable, "-c", _CHILD, str(code_root), str(path)], check=True,
                         capture_output=True, text=True, env=env, cwd=str(code_root))
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-ref", default=BASELINE_REF,
                        help=f"git commit whose biosig/ is the baseline (default {BASELINE_REF}, before the change)")
    parser.add_argument("--hours", type=float, default=24.0, help="length of the WFDB and EDF records, hours")
    parser.add_argument("--csv-hours", type=float, default=1.0, help="length of the CSV table, hours")
    parser.add_argument("--channels", type=int, default=2, help="channels of the WFDB and EDF files")
    parser.add_argument("--csv-channels", type=int, default=3, help="channels of the CSV table (beside t_s)")
    parser.add_argument("--fs-hz", type=float, default=250.0, help="sampling rate of every file, Hz")
    parser.add_argument("--workdir", type=pathlib.Path, default=None,
                        help="folder for the test files, kept and reused when given (default: a temporary one)")
    parser.add_argument("--repeat", type=int, default=1, help="reads per side and file; the median time and "
                                                               "the largest peak are shown")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_reader_memory_") as tmp:
        folder = args.workdir or pathlib.Path(tmp) / "files"
        folder.mkdir(parents=True, exist_ok=True)
        files = make_files(folder, args.hours, args.csv_hours, args.channels, args.fs_hz, args.csv_channels)
        old = baseline_tree(pathlib.Path(tmp), args.baseline_ref)
        print(f"{args.hours:g} h, {args.channels} channels at {args.fs_hz:g} Hz (CSV {args.csv_hours:g} h, "
              f"{args.csv_channels} channels); "
              f"peak RSS of a fresh process; +read = above the imports")
        print(f"{'case':<12} | {'base MiB':>11} | {'ours MiB':>9} | ratio | {'+read base':>10} | {'+read ours':>10}"
              f" | {'base s':>7} | {'ours s':>7} | ratio | identical")
        for label, path in files.items():
            runs = {side: [measure(root, path) for _ in range(args.repeat)] for side, root in
                    (("base", old), ("ours", ROOT))}
            b, o = (max(r, key=lambda m: m["peak_mb"]) for r in runs.values())
            bs, os_ = (float(np.median([m["seconds"] for m in r])) for r in runs.values())
            same = {m["sha"] for m in runs["base"]} == {m["sha"] for m in runs["ours"]}
            print(f"{label:<12} | {b['peak_mb']:11.0f} | {o['peak_mb']:9.0f} | {o['peak_mb'] / b['peak_mb']:5.2f} | "
                  f"{b['read_mb']:10.0f} | {o['read_mb']:10.0f} | {bs:7.2f} | {os_:7.2f} | {os_ / bs:5.2f} | "
                  f"{'yes' if same else 'NO'}")
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())

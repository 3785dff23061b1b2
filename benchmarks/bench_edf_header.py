"""What ``read_edf``'s header handling costs before the data are read.

``read_edf`` asks of the header whether it says -1 data records, whether it is EDF+D, and whether it
is outside the strict ASCII pyedflib takes (:func:`biosig.readers.edf_plusd.not_strict_header`); the
pyedflib path then checks the file's size against it and whether its start is ``Startdate X``.
*baseline* is that path as it was, reproduced here: each check opened the file and read the header
again (five reads; the fixed 256 bytes, or 256 + 256 x ns for the ASCII check and the size check),
and the ASCII check looked for the first byte outside printable ASCII in a Python loop over the
header's bytes. *ours* is today's: :func:`~biosig.readers.edf_plusd.read_header_bytes` reads
256 + 256 x ns bytes once and every check takes them, the ASCII check by NumPy. The size check's
parse of the signal fields is the same on both sides and left out. Files: pyedflib EDF+C, 2 s at
10 Hz per signal, 1, 20 and 100 signals; the last row is today's whole ``read_edf`` of the
100-signal file (no baseline: for scale). Prints ``baseline | ours | ratio`` in ms per header
(median of ``--repeat`` runs of ``--number`` calls; 2 shared cores: noisy).

    .venv/bin/python benchmarks/bench_edf_header.py [--number 200] [--repeat 5]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

import _common  # noqa: F401 (puts the repository on the path)
from _common import row


def _write(path: str, ns: int) -> str:
    import pyedflib
    fs_hz, seconds = 10, 2
    w = pyedflib.EdfWriter(path, ns, file_type=pyedflib.FILETYPE_EDFPLUS)
    try:
        w.setSignalHeaders([dict(label=f"ch{i}", dimension="uV", sample_frequency=fs_hz, physical_min=-1000.0,
                                 physical_max=1000.0, digital_min=-32768, digital_max=32767) for i in range(ns)])
        w.writeSamples([500 * np.sin(np.arange(fs_hz * seconds) / 3 + i) for i in range(ns)])
    finally:
        w.close()
    return path


def _fixed(path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(256)


def _old_not_strict(path) -> str:
    """The ASCII check as it was (its field naming, which runs only on a bad byte, left out)."""
    from biosig.readers.edf_plusd import _DATE_OTHER_SEPARATOR
    try:
        with open(path, "rb") as fh:
            raw = fh.read(256)
            ns = int(raw[252:256].decode("latin-1").strip()) if len(raw) == 256 else 0
            raw += fh.read(256 * ns) if ns > 0 else b""
    except (OSError, ValueError):
        return ""
    if ns < 1 or len(raw) < 256 * (ns + 1):
        return ""
    bad = next((k for k in range(8, len(raw)) if not 0x20 <= raw[k] <= 0x7E), None)
    if bad is not None:
        return "bad"
    for lo in (168, 176):
        if _DATE_OTHER_SEPARATOR.match(raw[lo:lo + 8]):
            return "date"
    return ""


def baseline(path) -> bool:
    from biosig.readers.edf_plusd import start_unknown
    head = _fixed(path)
    unknown = len(head) == 256 and head[236:244].strip() == b"-1"
    head = _fixed(path)
    discontinuous = len(head) == 256 and head[192:197] in (b"EDF+D", b"BDF+D")
    lenient = not (discontinuous or unknown) and _old_not_strict(path)
    with open(path, "rb") as fh:   # the size check's own read
        head = fh.read(256)
        ns = int(head[252:256].decode("latin-1").strip())
        raw = head + fh.read(256 * ns)
    os.path.getsize(path)
    head = _fixed(path)
    return bool(lenient) or len(raw) < 256 or (len(head) == 256 and start_unknown(head))


def ours(path) -> bool:
    from biosig.readers.edf_plusd import (is_discontinuous, not_strict_header, read_header_bytes, start_unknown,
                                          unknown_record_count)
    head = read_header_bytes(path)
    unknown, discontinuous = unknown_record_count(head), is_discontinuous(head)
    lenient = not (discontinuous or unknown) and not_strict_header(head)
    os.path.getsize(path)
    return bool(lenient) or len(head) < 256 or start_unknown(head[:256])


def _ms(fn, path, number: int, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn(path)
        times.append((time.perf_counter() - t0) / number)
    return 1e3 * float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--number", type=int, default=200, metavar="N",
                    help="header checks per timing (default 200)")
    ap.add_argument("--repeat", type=int, default=5, metavar="N",
                    help="timings per case; the median is printed (default 5)")
    args = ap.parse_args()
    from biosig.readers.edf_format import read_edf
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'header checks':<22} | {'baseline':>12} | {'ours':>12} | ratio")
        for ns in (1, 20, 100):
            path = _write(os.path.join(tmp, f"s{ns}.edf"), ns)
            assert baseline(path) == ours(path) is False
            b, o = _ms(baseline, path, args.number, args.repeat), _ms(ours, path, args.number, args.repeat)
            row(f"{ns} signal(s)", b, o, unit="ms")
        full = _ms(read_edf, path, max(1, args.number // 10), args.repeat)
        print(f"{'read_edf, 100 signals':<22} | {'':>12} | {full:9.4f} ms |")


if __name__ == "__main__":
    main()

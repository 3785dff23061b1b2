"""EDF+ files written here byte by byte, checked against pyedflib: annotations outside the record."""
import logging

import numpy as np
import pytest

from biosig.readers import read

pyedflib = pytest.importorskip("pyedflib")

FS_HZ = (256, 64)   # two signals, samples per 1 s data record


def edf_bytes(digital, onsets_s, *, kind="EDF+C", bdf=False, tals=None, record_s=1.0, ann_bytes=120):
    """An EDF+/BDF+ file: ``digital`` is one int array per signal (len = spr * n_records, spr from
    FS_HZ), ``onsets_s`` each data record's onset, ``tals`` per record extra TAL text or None."""
    n_rec, width = len(onsets_s), 3 if bdf else 2
    spr = [len(d) // n_rec for d in digital]
    ann_spr = ann_bytes // width
    ns = len(digital) + 1
    dmin, dmax = (-(1 << 23), (1 << 23) - 1) if bdf else (-32768, 32767)
    head = ("\xffBIOSEMI" if bdf else "0".ljust(8)) + "X X X X".ljust(80) + "Startdate 02-MAR-2021 X X X".ljust(80)
    head += "02.03.21" + "14.15.16" + str(256 * (ns + 1)).ljust(8) + (kind if not bdf else kind.replace("EDF", "BDF")).ljust(44)
    head += str(n_rec).ljust(8) + f"{record_s:g}".ljust(8) + str(ns).ljust(4)
    labels = [f"ECG {i + 1}" for i in range(len(digital))] + ["BDF Annotations" if bdf else "EDF Annotations"]
    cols = [labels, [""] * ns, ["uV"] * len(digital) + [""], ["-3000"] * len(digital) + ["-1"],
            ["3000"] * len(digital) + ["1"], [str(dmin)] * ns, [str(dmax)] * ns, [""] * ns,
            [str(s) for s in spr] + [str(ann_spr)], [""] * ns]
    for col, w in zip(cols, (16, 80, 8, 8, 8, 8, 8, 80, 8, 32)):
        head += "".join(c.ljust(w)[:w] for c in col)
    out = bytearray(head.encode("latin-1"))
    for r in range(n_rec):
        for d, s in zip(digital, spr):
            v = np.asarray(d[r * s:(r + 1) * s], dtype=np.int64)
            if bdf:
                u = (v & 0xFFFFFF).astype("<u4").view(np.uint8).reshape(-1, 4)[:, :3]
                out += u.tobytes()
            else:
                out += v.astype("<i2").tobytes()
        tal = f"+{onsets_s[r]:g}\x14\x14\x00" + ((tals or [None] * n_rec)[r] or "")
        out += tal.encode() + b"\x00" * (ann_spr * width - len(tal.encode()))
    return bytes(out)


def _signals(n_rec, bdf=False, seed=0):
    rng = np.random.default_rng(seed)
    top = (1 << 23) - 1 if bdf else 32767
    return [rng.integers(-top, top, size=s * n_rec) for s in FS_HZ]


def _pyedflib_signals(path):
    r = pyedflib.EdfReader(str(path))
    try:
        return [r.readSignal(i) for i in range(r.signals_in_file)], r.readAnnotations()
    finally:
        r.close()


# ---------------------------------------------------------------- annotations outside the record
def test_annotations_outside_the_record_are_dropped_with_one_warning(tmp_path, caplog):
    path = tmp_path / "ann_out.edf"
    path.write_bytes(edf_bytes(_signals(3), [0, 1, 2], tals=["-0.5\x14pre-start\x14\x00", "+1.5\x14beat\x14\x00",
                                                            "+9\x14after end\x14\x00"]))
    onsets = _pyedflib_signals(path)[1][0]
    assert sorted(onsets) == [-0.5, 1.5, 9.0]   # the file holds all three
    with caplog.at_level(logging.WARNING, logger="biosig.readers.edf_format"):
        rec = read(path)
    assert rec.n_samples == 3 * 256
    assert rec.annotations.symbol == ("beat",) and list(rec.annotations.sample) == [384]
    [warning] = caplog.records
    assert "2 EDF+ annotation(s) outside the record dropped" in warning.getMessage()

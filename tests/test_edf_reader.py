"""EDF+ annotations outside the record, and EDF+D / BDF+D (discontinuous) files, which pyedflib
refuses: written here byte by byte, checked against pyedflib reading the same data as EDF+C."""
import datetime as dt
import logging

import numpy as np
import pytest

from biosig.errors import ReadError
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


# ---------------------------------------------------------------- EDF+D
@pytest.mark.parametrize("bdf", [False, True])
def test_contiguous_edf_plus_d_equals_edf_plus_c(tmp_path, bdf):
    digital = _signals(3, bdf)
    tals = [None, "+1.5\x14beat\x14\x00", "+2.25\x150.5\x14late event\x14\x00"]
    ext = ".bdf" if bdf else ".edf"
    (tmp_path / f"c{ext}").write_bytes(edf_bytes(digital, [0, 1, 2], kind="EDF+C", bdf=bdf, tals=tals))
    (tmp_path / f"d{ext}").write_bytes(edf_bytes(digital, [0, 1, 2], kind="EDF+D", bdf=bdf, tals=tals))
    (ecg1, ecg2), (onsets, _, texts) = _pyedflib_signals(tmp_path / f"c{ext}")
    d = read(tmp_path / f"d{ext}")
    assert d.fs_hz == 256 and d.n_samples == 768 and d.metadata["channel_fs_hz"] == [256.0, 64.0]
    np.testing.assert_allclose(d.samples[0], ecg1, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(d.samples[1, ::4], ecg2, rtol=1e-6, atol=1e-4)
    c = read(tmp_path / f"c{ext}")
    np.testing.assert_array_equal(d.samples, c.samples)
    assert d.annotations.symbol == c.annotations.symbol == tuple(texts)
    np.testing.assert_array_equal(d.annotations.sample, np.round(np.asarray(onsets) * 256))
    assert d.annotations.aux == ("", "duration_s=0.5")
    assert d.start_time == c.start_time == dt.datetime(2021, 3, 2, 14, 15, 16)


def test_edf_plus_d_hole_is_nan_of_the_right_length(tmp_path, caplog):
    digital = _signals(3)
    tals = [None, "+1.5\x14beat\x14\x00", "+5.5\x14late event\x14\x00"]
    (tmp_path / "d.edf").write_bytes(edf_bytes(digital, [0, 1, 5], kind="EDF+D", tals=tals))
    (tmp_path / "c.edf").write_bytes(edf_bytes(digital, [0, 1, 2], kind="EDF+C"))
    (ecg1, ecg2), _ = _pyedflib_signals(tmp_path / "c.edf")
    with caplog.at_level(logging.INFO, logger="biosig.readers.edf_plusd"):
        rec = read(tmp_path / "d.edf")
    assert "1 hole(s)" in caplog.text
    assert rec.n_samples == 6 * 256 and rec.metadata["holes"] == 1
    for ch in range(2):
        hole = np.flatnonzero(np.isnan(rec.samples[ch]))
        np.testing.assert_array_equal(hole, np.arange(2 * 256, 5 * 256))   # 2 s .. 5 s
    np.testing.assert_allclose(rec.samples[0, :512], ecg1[:512], rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(rec.samples[0, 1280:], ecg1[512:], rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(rec.samples[1, 1280::4], ecg2[128:], rtol=1e-6, atol=1e-4)
    assert rec.annotations.symbol == ("beat", "late event")
    assert list(rec.annotations.sample) == [384, 1408]


def test_edf_plus_d_record_off_the_sample_grid_is_rounded_with_one_warning(tmp_path, caplog):
    """A record starting at 5.001 s lies 0.256 samples off the 256 Hz grid and 0.064 off the 64 Hz
    one (1 ms in both): it is placed at the nearest sample (5.0 s) and one warning says by how
    much; an onset on the grid says nothing."""
    digital = _signals(3)
    (tmp_path / "off.edf").write_bytes(edf_bytes(digital, [0, 1, 5.001], kind="EDF+D"))
    (tmp_path / "on.edf").write_bytes(edf_bytes(digital, [0, 1, 5], kind="EDF+D"))
    with caplog.at_level(logging.WARNING, logger="biosig.readers.edf_plusd"):
        on = read(tmp_path / "on.edf")
        assert "off the sample grid" not in caplog.text
        off = read(tmp_path / "off.edf")
    assert caplog.text.count("off the sample grid") == 1 and "by up to 1 ms" in caplog.text, caplog.text
    np.testing.assert_array_equal(off.samples, on.samples)


def test_edf_plus_d_with_overlapping_records_is_refused_in_one_line(tmp_path):
    (tmp_path / "d.edf").write_bytes(edf_bytes(_signals(3), [0, 2, 2.5], kind="EDF+D"))
    with pytest.raises(ReadError) as err:
        read(tmp_path / "d.edf")
    assert "data record 3 starts at 2.5 s, before the previous one ends (3 s)" in str(err.value)
    assert str(err.value).count(str(tmp_path / "d.edf")) == 1 and "\n" not in str(err.value)

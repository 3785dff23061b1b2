"""A fixed-layout WFDB multi-segment record with a null segment (``~ 250``: no signal for 250
frames, as in ``multi/3 ... 100s 21600 / ~ 1800 / 100s 21600``) was unreadable: wfdb-python's
``m2s`` handles null segments of variable-layout records only ("wfdb cannot decode the record
('NoneType' object has no attribute 'e_p_signal')"). Oracle: wfdb's own reading of the same
segments as a variable-layout record (a layout header first)."""
import shutil

import numpy as np
import wfdb

from biosig.cli import main
from biosig.readers import read
from conftest import shared_path


def _records(tmp_path):
    src = shared_path("wfdb", "multi-segment", "041s")
    for seg in ("041s01", "041s02"):
        for ext in (".hea", ".dat"):
            shutil.copy(src / (seg + ext), tmp_path / (seg + ext))
    (tmp_path / "fixed.hea").write_text("fixed/3 7 125 2250 8:26:04 26/10/1994\n041s01 1000\n~ 250\n041s02 1000\n")
    seg_lines = (src / "041s01.hea").read_text().splitlines()[1:8]
    (tmp_path / "lay_layout.hea").write_text(
        "lay_layout 7 125 0 8:26:04 26/10/1994\n" + "\n".join("~" + ln[len("041s01.dat"):] for ln in seg_lines) + "\n")
    (tmp_path / "lay.hea").write_text("lay/4 7 125 2250 8:26:04 26/10/1994\nlay_layout 0\n041s01 1000\n~ 250\n041s02 1000\n")
    return tmp_path / "fixed.hea", tmp_path / "lay"


def test_fixed_layout_null_segment_reads_as_wfdb_reads_the_variable_layout(tmp_path):
    fixed, variable = _records(tmp_path)
    rec = read(fixed)
    oracle = wfdb.rdrecord(str(variable), m2s=True, smooth_frames=False, return_res=64)
    assert rec.channels == tuple(oracle.sig_name) and rec.units == tuple(oracle.units)
    assert rec.fs_hz == 500.0 and rec.n_samples == 2250 * 4 and rec.duration_s == 18.0
    rates = rec.metadata["channel_fs_hz"]
    for i, expected in enumerate(oracle.e_p_signal):
        step = int(round(rec.fs_hz / rates[i]))
        np.testing.assert_array_equal(np.isnan(rec.samples[i, ::step]), np.isnan(expected))
        ok = ~np.isnan(expected)
        np.testing.assert_allclose(rec.samples[i, ::step][ok], expected[ok], rtol=1e-6, atol=1e-6)
    assert np.isnan(rec.samples[:, 4000:5000]).all()     # the null segment: 250 frames, 2 s
    assert (8.0, 10.0) in [(float(a), float(b)) for a, b in rec.gaps()]


def test_info_reports_the_null_segment_as_a_gap(tmp_path, capsys):
    fixed, _ = _records(tmp_path)
    assert main(["info", str(fixed), "--no-quality"]) == 0
    out = capsys.readouterr().out
    assert "duration     18.00 s" in out and "fs_hz        500" in out

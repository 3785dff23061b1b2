"""Channels below a record's top rate are upsampled without pulling their ends (or the edges of
NaN holes) towards zero: checked against the original samples (pyedflib, wfdb.rdrecord)."""
import numpy as np
import pytest

from biosig.readers import read
from biosig.readers.gap_resample import upsample_keeping_gaps
from conftest import shared_path


@pytest.mark.parametrize("up, down", [(256, 1), (4, 1), (5, 2), (1, 3)])
def test_constant_stays_constant_next_to_holes(up, down):
    x = np.full(60, 97.0)
    x[[0, 20, 21, 22, 59]] = np.nan      # holes at both ends and inside
    y = upsample_keeping_gaps(x, up, down)
    assert len(y) == -(-60 * up // down)
    assert np.isfinite(y).sum() > 0.7 * len(y)
    assert np.nanmax(np.abs(y - 97.0)) < 1e-9
    no_holes = upsample_keeping_gaps(np.full(60, 97.0), up, down)
    assert np.isfinite(no_holes).all() and np.max(np.abs(no_holes - 97.0)) < 1e-9


@pytest.mark.parametrize("up, down", [(256, 1), (4, 1), (5, 2)])
def test_ramp_stays_within_its_range(up, down):
    x = np.linspace(10.0, 20.0, 50)
    y = upsample_keeping_gaps(x, up, down)
    assert y.min() >= 10.0 - 1e-9 and y.max() <= 20.0 + 1e-9
    t = np.arange(len(y)) * down / up
    inside = t <= 49
    np.testing.assert_allclose(y[inside], np.interp(t[inside], np.arange(50), x), atol=1e-9)


def test_edf_low_rate_channels_keep_their_ends(tmp_path):
    pyedflib = pytest.importorskip("pyedflib")
    path = str(tmp_path / "mixed.edf")
    seconds = 20
    sigs = [np.sin(2 * np.pi * 1.3 * np.arange(256 * seconds) / 256) * 1000,
            1000 * np.cos(2 * np.pi * 0.25 * np.arange(32 * seconds) / 32),
            np.full(seconds, 97.0)]
    w = pyedflib.EdfWriter(path, 3, file_type=pyedflib.FILETYPE_EDFPLUS)
    w.setSignalHeaders([{"label": lab, "dimension": "uV", "sample_frequency": f, "physical_max": 5000.0,
                         "physical_min": -5000.0, "digital_max": 32767, "digital_min": -32768}
                        for lab, f in (("ECG", 256), ("Resp", 32), ("SpO2", 1))])
    w.writeSamples(sigs)
    w.close()
    rec = read(path)
    r = pyedflib.EdfReader(path)
    try:
        resp, spo2 = r.readSignal(1), r.readSignal(2)
    finally:
        r.close()
    assert rec.fs_hz == 256 and rec.n_samples == 256 * seconds
    np.testing.assert_allclose(rec.samples[2], spo2[0], rtol=1e-6)       # was 0.26 % at its end
    got = rec.samples[1].astype(np.float64)
    np.testing.assert_allclose(got[::8], resp, rtol=1e-6, atol=1e-3)     # the original samples, exactly
    # the last frame (after the last original sample) holds near it; the first one rises from it
    assert np.max(np.abs(got[-8:] - resp[-1])) < 5.0
    assert np.min(got[:8]) > min(resp[:2]) - 5.0 and np.max(got[:8]) < max(resp[:2]) + 5.0


def test_mimic_multifrequency_record_against_wfdb():
    wfdb = pytest.importorskip("wfdb")
    base = shared_path("wfdb", "multi-segment", "041s", "041s.hea").with_suffix("")
    rec = read(f"{base}.hea")
    ref = wfdb.rdrecord(str(base), smooth_frames=False)
    top = max(ref.samps_per_frame)
    checked = 0
    for i, name in enumerate(ref.sig_name):
        step = top // ref.samps_per_frame[i]
        if step == 1:
            continue
        x = np.asarray(ref.e_p_signal[i], dtype=np.float64)
        y = rec.samples[rec.channels.index(name)].astype(np.float64)
        span = np.nanmax(x) - np.nanmin(x)
        np.testing.assert_allclose(y[::step][:len(x)], x, rtol=1e-6, atol=1e-6 * span, err_msg=name)
        # ABP ended 46 -> 10 mmHg in its last frame and overshot 68 -> 78 in its first
        lo, hi = min(x[:2]), max(x[:2])
        assert lo - 0.01 * span <= y[:step].min() and y[:step].max() <= hi + 0.01 * span, name
        assert np.max(np.abs(y[-step:] - x[-1])) < 0.01 * span, name
        checked += 1
    assert checked == 4   # ABP, PAP, PLETH, RESP at 125 Hz beside the 500 Hz ECG

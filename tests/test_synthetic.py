"""Synthetic generators: seeded determinism, shapes/units, truth metadata, physical sanity."""
import numpy as np
import pytest
from scipy import signal

from biosig.errors import BiosigError
from biosig.synthetic import simulate, spiro_volume_ml

CASES = [("ecg", {}), ("ecg", {"leads": 2}), ("ppg", {}), ("resp", {}), ("audio", {"kind": "cough"}),
         ("audio", {"kind": "breath"}), ("spiro", {"pattern": "obstructive"}), ("motion", {})]


@pytest.mark.parametrize("modality,kw", CASES)
def test_same_seed_same_output_other_seed_differs(modality, kw):
    a = simulate(modality, 12, seed=3, **kw)
    b = simulate(modality, 12, seed=3, **kw)
    c = simulate(modality, 12, seed=4, **kw)
    assert a.modality == modality and a.samples.dtype == np.float32
    assert a.n_samples == int(round(12 * a.fs_hz))
    assert np.isfinite(a.samples).all()
    np.testing.assert_array_equal(a.samples, b.samples)
    assert not np.array_equal(a.samples, c.samples)
    assert a.metadata["synthetic"] and a.metadata["seed"] == 3 and "truth" in a.metadata


def test_ecg_leads_share_beats_and_units():
    rec = simulate("ecg", 10, seed=0, leads=2, heart_rate_bpm=72, noise_mv=0.0, baseline_wander_mv=0.0)
    assert rec.channels == ("II", "V5") and rec.units == ("mV", "mV") and rec.fs_hz == 250
    import neurokit2 as nk

    peaks = [nk.ecg_peaks(x, sampling_rate=250)[1]["ECG_R_Peaks"] for x in rec.samples]
    assert len(peaks[0]) == len(peaks[1]) == pytest.approx(12, abs=1)
    assert np.max(np.abs(peaks[0] - peaks[1])) <= 3  # same beats, different morphology
    assert not np.allclose(rec.samples[0], rec.samples[1])


def test_motion_has_nine_coordinates_in_mm_with_breathing_rate():
    rec = simulate("motion", 120, seed=1, resp_rate_bpm=15)
    assert rec.n_channels == 9 and set(rec.units) == {"mm"} and rec.channels[0] == "m1_x"
    assert np.all(rec.samples[:, 0] == 0)  # relative to the first sample
    # dominant frequency of the strongest coordinate near 15/min
    x = rec.samples[np.argmax(rec.samples.std(axis=1))]
    f, p = signal.periodogram(x - x.mean(), fs=rec.fs_hz)
    band = (f > 0.1) & (f < 1.0)
    assert f[band][np.argmax(p[band])] == pytest.approx(0.25, abs=0.05)
    onsets = np.diff(rec.metadata["truth"]["breath_onsets_s"])
    assert onsets.std() / onsets.mean() > 0.05  # irregular period


def test_spiro_patterns_are_physiological():
    normal = simulate("spiro", 10, seed=2, pattern="normal")
    obstr = simulate("spiro", 10, seed=2, pattern="obstructive")
    restr = simulate("spiro", 10, seed=2, pattern="restrictive")
    for rec in (normal, obstr, restr):
        t = rec.metadata["truth"]
        assert rec.units == ("mL",)
        assert abs(rec.samples[0, -1] - t["fvc_ml"]) < 50
        assert np.all(np.abs(rec.samples[0, :40]) < 20)  # quiet before the blow
    ratio = {r.metadata["truth"]["pattern"]: r.metadata["truth"]["fev1_ml_from_onset"] / r.metadata["truth"]["fvc_ml"]
             for r in (normal, obstr, restr)}
    assert ratio["obstructive"] < 0.7 < ratio["normal"]
    assert restr.metadata["truth"]["fvc_ml"] < normal.metadata["truth"]["fvc_ml"]
    v = spiro_volume_ml(np.array([-1.0, 0.0, 100.0]), 4000, 0.9, 0.4, 1.2)
    assert v[0] == 0 and v[1] == 0 and v[2] == pytest.approx(4000)


def test_audio_events_are_where_the_sound_is():
    rec = simulate("audio", 6, seed=5, kind="cough", n_events=2)
    x = rec.samples[0]
    assert rec.fs_hz == 16000 and np.abs(x).max() <= 1.0
    events = rec.metadata["truth"]["events"]
    assert len(events) == 2
    inside = np.zeros(len(x), bool)
    for a, b, _ in events:
        inside[int(a * 16000):int(b * 16000)] = True
    assert np.sqrt(np.mean(x[inside] ** 2)) > 10 * np.sqrt(np.mean(x[~inside] ** 2))


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(BiosigError, match="accepted: normal, obstructive, restrictive"):
        simulate("spiro", 10, pattern="weird")
    with pytest.raises(BiosigError, match="unknown parameter.*heartrate"):
        simulate("ecg", 10, heartrate=60)
    with pytest.raises(BiosigError, match="seconds"):
        simulate("ppg", 0)
    with pytest.raises(BiosigError, match="unknown modality"):
        simulate("eeg", 10)
    with pytest.raises(BiosigError, match="no simulator"):
        simulate("other", 10)


def test_long_ecg_is_stitched_at_r_peaks_without_seams():
    from biosig.measures import detect_events

    rec = simulate("ecg", 150, seed=9, heart_rate_bpm=75, noise_mv=0.0, baseline_wander_mv=0.0, leads=2)
    steepest = max(np.abs(np.diff(simulate("ecg", 50, seed=s, heart_rate_bpm=75, noise_mv=0.0,
                                           baseline_wander_mv=0.0).samples[0])).max() for s in (1, 2, 3))
    assert rec.n_samples == 150 * 250 and np.isfinite(rec.samples).all()
    # no jump at the seams larger than the steepest R upstroke of unstitched ECGs
    assert np.abs(np.diff(rec.samples[0])).max() <= 1.2 * steepest
    # the R amplitude stays the same across seams
    from biosig.quality import detect_beats

    beats, _ = detect_beats(rec.samples[0], 250.0, "ecg")
    amps = rec.samples[0][beats]
    assert amps.std() / amps.mean() < 0.1
    beats = detect_events(rec, "ecg")
    rr = np.diff(beats) / 250.0
    assert rr.min() > 0.5 * 60 / 75 and rr.max() < 1.5 * 60 / 75  # no short or long beat at a seam
    assert 60 / rr.mean() == pytest.approx(75, abs=1.0)


def test_motion_defaults_resemble_the_shared_couch_recordings():
    """Dominant-axis spread and breathing rate of synthetic motion within the range of the real
    marker sessions (Krilavicius et al.; Pohl et al.)."""
    import glob

    import biosig
    from conftest import shared_path

    files = sorted(glob.glob(str(shared_path("resp_motion") / "*.csv")))
    real_std = [np.nanstd(biosig.read(f).samples, axis=1).max() for f in files[:6]]
    synth_std = [simulate("motion", 120, seed=s).samples.std(axis=1).max() for s in range(6)]
    assert min(real_std) * 0.5 < np.median(synth_std) < max(real_std) * 1.5


def test_simulate_refuses_a_rate_below_what_biosig_reads_as_the_modality():
    """`simulate ecg --fs-hz 1` wrote a record that info, score and serve call 'other'."""
    from biosig.errors import SignalError
    from biosig.synthetic import simulate
    with pytest.raises(SignalError, match="fs_hz=1 is below 50 Hz, the lowest rate biosig reads as ecg"):
        simulate("ecg", 10, fs_hz=1.0)
    assert simulate("resp", 10, fs_hz=5.0).modality == "resp"

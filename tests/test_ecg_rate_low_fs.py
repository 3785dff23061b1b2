"""The record ECG heart rate (:func:`biosig.measures.heart_rate`) under pacing spikes at 125 Hz: the
rate the QRS complexes give, or withheld (NaN, with the reason), never the spikes' rate.

Truth: the beat times the test ECG is built on (:func:`biosig.synthetic_af.ecg_from_beats`, as in
``test_ecg_beats_pacing.py``, whose spikes these are: 2 ms, 5 mV, as an ADC integrating over each
sample sees them); the shared records (MIT-BIH 100, 03700181, CinC 2015 a103l) are no paced ECGs.
"""
import logging

import numpy as np
import pytest

from biosig.ecg_beats import asynchronous_spikes, ecg_detection
from biosig.measures import heart_rate
from biosig.record import Record
from conftest import shared_path
from test_ecg_beats_pacing import SECONDS, _ecg, _spikes

FS = 125.0


def _record(x: np.ndarray, fs: float) -> Record:
    return Record(samples=x[None].astype(np.float32), fs_hz=fs, channels=("II",), units=("mV",), modality="ecg")


@pytest.mark.parametrize("intrinsic_bpm", [30.0, 70.0])
def test_asynchronous_pacing_at_125_hz_withholds_the_record_rate(intrinsic_bpm, caplog):
    """A fixed-rate pacemaker at 72 /min over a 30 or 70 /min rhythm at 125 Hz: NeuroKit2's R peaks
    count the spikes (78.4 and 90.5 /min were returned) and too few windows are published to measure
    the rate (0 and 2 of 6, the others withheld as ``uncertain_beats``): NaN, and the record says why."""
    _, x = _ecg(intrinsic_bpm, FS)
    x = x + _spikes(np.arange(0.11, SECONDS, 60.0 / 72.0), len(x), FS)
    with caplog.at_level(logging.WARNING, logger="biosig.measures"):
        hr = heart_rate(_record(x, FS))
    assert np.isnan(hr), hr
    assert any("asynchronous pacing spikes" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("fs", [FS, 250.0])
def test_synchronous_pacing_keeps_the_record_rate(fs):
    """A spike 80 ms before every QRS (pacing that captures) is one beat per spike: the rate stands."""
    beats, x = _ecg(70.0, fs)
    x = x + _spikes(beats - 0.08, len(x), fs)
    inside = beats[(beats >= 0) & (beats < SECONDS)]
    assert heart_rate(_record(x, fs)) == pytest.approx(60.0 / np.mean(np.diff(inside)), abs=1.0)


def test_asynchronous_spikes_are_those_no_beat_follows():
    """Spikes at 72 /min over 30 /min: most are found without a beat after them; a spike 80 ms
    before each QRS is followed by its beat; an ECG without spikes has none."""
    beats, x = _ecg(30.0, FS)
    w = int(10 * FS)
    seg = x[:w] + _spikes(np.arange(0.11, 10.0, 60.0 / 72.0), w, FS)
    assert len(asynchronous_spikes(ecg_detection(seg, FS), FS)) >= 5
    sync = x[:w] + _spikes(beats[(beats > 0.1) & (beats < 10.0)] - 0.08, w, FS)
    assert len(ecg_detection(sync, FS).spikes) > 0
    assert len(asynchronous_spikes(ecg_detection(sync, FS), FS)) == 0
    assert len(asynchronous_spikes(ecg_detection(x[:w], FS), FS)) == 0


@pytest.mark.parametrize("name", ["100", "03700181", "a103l"])
def test_no_asynchronous_spikes_in_the_shared_records(name):
    """The rule does not touch an unpaced ECG: no 10 s window of the shared records' ECG (the lead the
    record rate measures) holds a spike no beat follows, so their record rates are as before."""
    import biosig
    from biosig import measures
    rec = biosig.read(shared_path("wfdb", f"{name}.hea"))
    x = measures._channel(rec, "ecg", None).astype(np.float64)
    ev = measures._detect_events(rec, "ecg", x, measures._PulseRuns())
    ours, _, n, spikes = measures._ecg_window_beats(x, rec.fs_hz, ev, measures._times(rec))
    assert n > 0 and len(ours) > 0 and spikes == 0


def test_a_stray_spike_in_a_noisy_record_leaves_its_rate():
    """MIT-BIH 203 (noisy, multiform PVCs, 81 of 180 windows published) holds one "spike" no beat
    follows among NeuroKit2's 2769 R peaks: too few to move its rate, which stands (92.1 /min; a
    rule on any spike made it NaN)."""
    import biosig
    from biosig import measures
    rec = biosig.read(shared_path("pretrain", "ecg", "mitdb", "203.hea"))
    x = measures._channel(rec, "ecg", None).astype(np.float64)
    ev = measures._detect_events(rec, "ecg", x, measures._PulseRuns())
    assert measures._ecg_window_beats(x, rec.fs_hz, ev, None)[3] >= 1
    nk = measures._rate_per_min(x, rec.fs_hz, lambda a, b: np.sort(ev[(ev >= a) & (ev < b)]))
    assert heart_rate(rec) == pytest.approx(nk, rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_40_per_min_ecg_at_125_hz_reads_40(seed):
    """NeuroKit2 counts some T waves at slow rates: 40 /min at 125 Hz read 42.1-43.1 while every
    published window read 39.9-40.1, inside the 10 % the check allowed. Where both detectors find
    the same beats they agree within 0.8 % on the shared records, so the check allows 5 % now."""
    from biosig.synthetic import simulate
    rec = simulate("ecg", 60.0, seed=seed, fs_hz=FS, heart_rate_bpm=40.0)
    assert heart_rate(rec) == pytest.approx(40.0, abs=1.0)

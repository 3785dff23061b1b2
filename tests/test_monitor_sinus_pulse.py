"""`biosig monitor`'s sinus beds: the PPG's pulse rate is the bed's heart rate in every window.

bed01's PPG read 88.6 /min on its first windows for a truth of 95.0 (and 101.4 ten seconds later)
while its ECG read 94.8: the measure was right (NeuroKit2 on the same samples: 88.6), the simulated
pulse was not the patient's (NeuroKit2's PPG model swings its beat periods +-10 % with a 20 s
period). A sinus bed's pulse now follows its ECG's beats."""
import numpy as np
import pytest

from test_streams_helpers import free_port


def _nk_rate_bpm(x: np.ndarray, fs_hz: float) -> float:
    nk = pytest.importorskip("neurokit2")
    peaks = nk.ppg_findpeaks(nk.ppg_clean(x, sampling_rate=fs_hz), sampling_rate=fs_hz)["PPG_Peaks"]
    return 60.0 / float(np.mean(np.diff(peaks) / fs_hz))


@pytest.mark.timeout(120)
def test_a_sinus_beds_pulse_rate_is_its_heart_rate_in_every_window():
    from biosig.measures_window import window_measures
    from streams.simulate import make_ward
    pubs, sources = make_ward(1, ("ecg", "ppg"), endpoint=f"tcp://127.0.0.1:{free_port()}", af_beds=())
    try:
        by = {s.out.topic: s for s in sources}
        ecg, ppg = by["bed01/ecg"], by["bed01/ppg"]
        assert ppg.truth["rhythm"] == "sinus"
        assert ppg.truth["heart_rate_bpm"] == pytest.approx(ecg.truth["heart_rate_bpm"], abs=1.0)
        fs, n = ppg.fs_hz, int(10 * ppg.fs_hz)
        x = ppg.samples[0]
        ecg_hr = [window_measures(ecg.samples[:, k:k + int(10 * ecg.fs_hz)], ecg.fs_hz, "ecg")["hr_bpm"]
                  for k in range(0, ecg.samples.shape[1] - int(10 * ecg.fs_hz) + 1, int(ecg.fs_hz))]
        for k in range(0, x.size - n + 1, int(fs)):      # every 10 s window, 1 s apart, the first included
            m = window_measures(x[None, k:k + n], fs, "ppg")
            assert m["ok"], (k / fs, m["missing"])
            assert abs(m["hr_bpm"] - _nk_rate_bpm(x[k:k + n], fs)) < 1.0, (k / fs, m["hr_bpm"])   # the measure is right
            assert abs(m["hr_bpm"] - ppg.truth["heart_rate_bpm"]) < 1.5, (k / fs, m["hr_bpm"], ppg.truth)
            assert min(ecg_hr) - 1.0 < m["hr_bpm"] < max(ecg_hr) + 1.0, (k / fs, m["hr_bpm"], ecg_hr)
    finally:
        for p in pubs:
            p.close()

"""HRV / inter-beat features against NeuroKit2 (the oracle) and against annotated beats."""
import numpy as np
import pytest

from biosig.measures import RR_KEYS, hrv_features, ibi_features, rr_features
from biosig.synthetic import simulate
from conftest import shared_path


@pytest.mark.parametrize("seed", [0, 1])
def test_rr_features_equal_neurokit_hrv_time_and_poincare(seed):
    nk = pytest.importorskip("neurokit2")
    rng = np.random.default_rng(seed)
    rr = rng.uniform(0.5, 1.1, size=40)                   # irregular, AF-like
    peaks = np.concatenate([[100], 100 + np.cumsum(np.round(rr * 1000))]).astype(int)
    rr = np.diff(peaks) / 1000.0                          # exactly what NeuroKit sees at 1 kHz
    ours = rr_features(rr)
    t = nk.hrv_time(peaks, sampling_rate=1000).iloc[0]
    nl = nk.hrv_nonlinear(peaks, sampling_rate=1000).iloc[0]
    pairs = {"rr_mean_ms": t.HRV_MeanNN, "rr_median_ms": t.HRV_MedianNN, "sdnn_ms": t.HRV_SDNN,
             "rmssd_ms": t.HRV_RMSSD, "sdsd_ms": t.HRV_SDSD, "pnn50_pct": t.HRV_pNN50,
             "pnn20_pct": t.HRV_pNN20, "cvnn": t.HRV_CVNN, "cvsd": t.HRV_CVSD,
             "sd1_ms": nl.HRV_SD1, "sd2_ms": nl.HRV_SD2, "sd1_sd2": nl.HRV_SD1SD2}
    for k, want in pairs.items():
        assert ours[k] == pytest.approx(float(want), rel=1e-9), k
    assert ours["hr_bpm"] == pytest.approx(60000 / t.HRV_MeanNN)
    assert set(ours) == set(RR_KEYS)


def test_irregularity_features_separate_random_from_smooth_rhythm():
    rng = np.random.default_rng(3)
    sinus = 0.8 + 0.03 * np.sin(2 * np.pi * np.arange(30) / 6)      # respiratory sinus arrhythmia
    af = rng.uniform(0.45, 1.0, 30)
    s, a = rr_features(sinus), rr_features(af)
    assert s["madsd_norm"] < 0.05 < 0.1 < a["madsd_norm"]
    assert s["tpr"] < 0.5 and abs(a["tpr"] - 2 / 3) < 0.2
    assert np.isnan(rr_features([0.8, 0.8])["rmssd_ms"])              # too few beats: nan, no error


def test_hrv_features_of_record_100_match_the_annotated_beats():
    wfdb = pytest.importorskip("wfdb")
    base = str(shared_path("wfdb", "100.hea"))[:-4]
    r = wfdb.rdrecord(base, sampto=360 * 60)
    ann = wfdb.rdann(base, "atr", sampto=360 * 60)
    beats = ann.sample[[s in set("NLRBAaJSVrFejnE/fQ?") for s in ann.symbol]]
    beats = beats[(beats > 0)]
    for a in range(0, 50 * 360, 10 * 360):                          # 10 s windows
        x = r.p_signal[a:a + 3600, 0]
        want = rr_features(np.diff(beats[(beats >= a) & (beats < a + 3600)]) / 360.0)
        got = hrv_features(x, 360.0)
        assert got["hr_bpm"] == pytest.approx(want["hr_bpm"], abs=1.0)
        assert got["rr_mean_ms"] == pytest.approx(want["rr_mean_ms"], abs=8.0)


def test_ibi_features_of_synthetic_ppg_give_its_pulse_rate_at_any_rate():
    rec = simulate("ppg", 20, seed=2, heart_rate_bpm=72.0)
    f = ibi_features(rec.samples, rec.fs_hz)
    assert f["hr_bpm"] == pytest.approx(72.0, abs=2.0)
    ecg = simulate("ecg", 12, seed=1, heart_rate_bpm=65.0)
    f360 = hrv_features(ecg.samples[0], ecg.fs_hz)
    assert f360["hr_bpm"] == pytest.approx(65.0, abs=2.0)
    noise = np.random.default_rng(0).normal(size=3000)
    assert set(hrv_features(noise, 300.0)) == set(RR_KEYS)           # noise: no crash
    assert hrv_features(np.full(3000, np.nan), 300.0)["n_beats"] == 0


def test_respiratory_rate_from_ecg_modulation_matches_the_resp_channel_of_03700181():
    from biosig.measures import modulation_resp_rate, respiratory_rate
    from biosig.readers import read
    rec = read(str(shared_path("wfdb", "03700181.hea")))
    errs = []
    for a in range(0, 600, 120):                                   # 60 s segments, 5 of them
        seg = rec.slice_s(a, a + 60)
        ref = respiratory_rate(seg)                                # the RESP channel (NeuroKit2)
        errs.append(modulation_resp_rate(seg.samples[0], rec.fs_hz, "ecg") - ref)
    assert np.max(np.abs(errs)) <= 2.0, errs


def test_respiratory_rate_from_pulse_amplitude_modulation():
    from biosig.measures import modulation_resp_rate
    from biosig.synthetic_af import ppg_from_beats
    fs, breath_hz = 125.0, 0.3                                       # 18 breaths/min
    beats = np.arange(-2, 62, 0.8)
    x = ppg_from_beats(beats, int(60 * fs), fs)
    t = np.arange(len(x)) / fs
    x = x * (1 + 0.2 * np.sin(2 * np.pi * breath_hz * t))           # amplitude modulation
    assert modulation_resp_rate(x, fs, "ppg") == pytest.approx(18.0, abs=1.0)
    assert np.isnan(modulation_resp_rate(x[:int(10 * fs)], fs, "ppg"))   # too short: nan


@pytest.mark.parametrize("rate", [10.0, 16.0, 24.0])
def test_breath_rate_of_a_window_matches_neurokit_breath_peaks(rate):
    nk = pytest.importorskip("neurokit2")
    from biosig.measures_window import breath_features, unit_of, window_measures
    rec = simulate("resp", 40, seed=int(rate), resp_rate_bpm=rate)
    x, fs = rec.samples[0].astype(float), rec.fs_hz
    peaks = nk.rsp_peaks(nk.rsp_clean(x, sampling_rate=fs), sampling_rate=fs)[1]["RSP_Peaks"]
    want = 60.0 / np.mean(np.diff(peaks) / fs)                       # NeuroKit2 over the same 40 s
    got = breath_features(x, fs)
    assert got["resp_rate_bpm"] == pytest.approx(want, abs=1.0)
    assert len(peaks) <= got["n_breaths"] <= len(peaks) + 2      # NeuroKit2 drops partial edge breaths
    m = window_measures(x, fs, "resp")
    assert m["ok"] and m["resp_rate_bpm"] == got["resp_rate_bpm"]
    assert unit_of("resp_rate_bpm") == "1/min" and unit_of("breath_interval_sd_s") == "s"
    flat = window_measures(np.zeros(400), fs, "resp")
    assert not flat["ok"] and flat["missing"] == "low_quality" and flat["resp_rate_bpm"] is None


def test_spirogram_window_indices_equal_the_record_indices_and_withhold_bad_manoeuvres():
    from biosig.measures import spirometry_indices
    from biosig.measures_window import window_measures
    from biosig.readers import read
    rec = read(str(shared_path("spirometry", "ukb_field3066_demo_blow.csv")))
    m = window_measures(rec.samples, rec.fs_hz, "spiro")
    ref = spirometry_indices(rec)
    assert m["ok"] and m["fvc_l"] == pytest.approx(ref.fvc_l) and m["fev1_fvc"] == pytest.approx(ref.fev1_fvc)
    assert m["pef_l_s"] == pytest.approx(ref.pef_l_s) and m["fef25_75_l_s"] == pytest.approx(ref.fef25_75_l_s)
    quiet = window_measures(np.full((1, 1500), 20.0) + np.arange(1500) * 1e-3, 100.0, "spiro")
    assert not quiet["ok"] and quiet["missing"] == "no_manoeuvre" and quiet["fvc_l"] is None
    cut = window_measures(rec.samples[:, :300], rec.fs_hz, "spiro")       # blow cut after 3 s: no plateau
    assert not cut["ok"] and cut["missing"] == "unacceptable_manoeuvre"

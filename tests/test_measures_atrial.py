"""P-wave consistency (biosig.measures_atrial): against the atrial descriptor oracle of the
pretraining code, on ECGs with and without P waves, in the window measures and the score job."""
import numpy as np
import pytest

from biosig.measures_atrial import ECG_KEYS, atrial_segments, ecg_features, p_wave_consistency
from biosig.measures_window import measure_keys, window_measures
from biosig.quality import detect_beats
from biosig.synthetic_af import af_beat_times, ecg_from_beats

FS = 250.0


def _ecg(p_wave_mv: float, irregular: bool, seed: int = 0, seconds: float = 10.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if irregular:
        beats = af_beat_times(seconds, 75.0, 0.2, rng)
    else:
        beats = np.arange(-2.0, seconds + 2.0, 0.8)
    x = ecg_from_beats(beats, int(seconds * FS), FS, 1, rng, fwave_mv=0.0 if p_wave_mv else 0.05,
                       p_wave_mv=p_wave_mv)[0]
    return x + rng.normal(0, 0.01, x.size)


def test_equals_the_atrial_descriptor_oracle():
    """encoders.descriptors_twin.atrial_numpy (a per-beat loop written for the pretraining targets)
    on the same segments: its p_consistency is the measure."""
    from encoders.descriptors import regions
    from encoders.descriptors_twin import atrial_numpy
    for p_mv, irregular in ((0.15, False), (0.15, True), (0.0, True)):
        x = _ecg(p_mv, irregular)
        beats, clean = detect_beats(x, FS, "ecg")
        before, after = int(0.25 * FS), int(0.45 * FS)
        k = beats[(beats - before >= 0) & (beats + after <= len(clean))]
        seg = np.stack([clean[i - before:i + after] for i in k])
        want = atrial_numpy(seg, regions(FS, before, before + after), FS)[0]
        assert p_wave_consistency(clean, k, FS) == pytest.approx(want, abs=1e-12)


def test_high_with_a_p_wave_before_every_beat_low_without():
    """The point of the measure: irregular WITH P waves (sinus arrhythmia, atrial ectopy) stays high,
    AF (no P waves, f-waves) is low, whatever the RR irregularity."""
    vals = {}
    for name, p_mv, irregular in (("regular+P", 0.15, False), ("irregular+P", 0.15, True),
                                  ("irregular, f-waves", 0.0, True), ("regular, f-waves", 0.0, False)):
        vals[name] = [ecg_features(_ecg(p_mv, irregular, seed), FS)["p_wave_consistency"] for seed in range(3)]
    assert min(vals["regular+P"] + vals["irregular+P"]) > 0.8, vals
    assert max(vals["irregular, f-waves"] + vals["regular, f-waves"]) < 0.5, vals


def test_few_beats_or_a_flat_lead_give_nan():
    x = _ecg(0.15, False)
    beats, clean = detect_beats(x, FS, "ecg")
    assert np.isnan(p_wave_consistency(clean, beats[:3], FS))
    assert np.isnan(p_wave_consistency(np.zeros(2500), np.array([200, 400, 600, 800, 1000]), FS))
    assert atrial_segments(clean, np.array([5, 50]), FS).shape == (0, 47)   # segments start before the window
    assert np.isnan(ecg_features(np.zeros(2500), FS)["p_wave_consistency"])


def test_window_measures_carry_it_for_ecg_only():
    m = window_measures(_ecg(0.15, False)[None], FS, "ecg")
    assert m["ok"] and set(ECG_KEYS) <= set(m) and m["p_wave_consistency"] > 0.8
    assert measure_keys("ecg") == ECG_KEYS and "p_wave_consistency" not in measure_keys("ppg")
    noise = window_measures(np.random.default_rng(0).normal(size=(1, 2500)), FS, "ecg")
    assert not noise["ok"] and noise["p_wave_consistency"] is None


def test_a_score_folder_from_other_measures_is_refused_not_mixed(tmp_path):
    """A folder scored before a measure column or head version changed cannot be resumed into one
    table (the part files would not even concatenate): the job fingerprint names the change."""
    from encoders.scoring import ScoreError
    from encoders.scoring.model import measures_fingerprint
    from encoders.scoring.outputs import PartStore
    now = measures_fingerprint("ecg")
    assert "ecg-af-v" in now and measures_fingerprint("audio").endswith("head none")
    PartStore(tmp_path).check_job({"model_id": "m", "measures": "columns 000000000000; head ecg-af-v1"})
    with pytest.raises(ScoreError, match="measures: 'columns 000000000000; head ecg-af-v1' there"):
        PartStore(tmp_path).check_job({"model_id": "m", "measures": now})


def test_real_ecgs_sinus_high_af_low():
    """Real recordings: MIT-BIH 100 (sinus rhythm, both leads) near 1 in nearly every window; on
    CinC 2017 the AF records sit far below the normal ones (record means over usable windows)."""
    import csv

    from biosig.readers import read
    from conftest import shared_path
    from encoders.heads import train_af
    from encoders.heads.features import record_window_measures
    pipe = train_af._pipeline("ecg-tiny")

    def record_values(rec, ch):
        ms = record_window_measures(rec.samples[ch:ch + 1], rec.fs_hz, rec.channels[ch:ch + 1], "ecg", pipe,
                                    10.0, 10.0, 1)
        return np.array([m["p_wave_consistency"] for m in ms if m["ok"] and m["p_wave_consistency"] is not None])

    rec = read(str(shared_path("wfdb", "100.hea")))
    for ch in (0, 1):
        v = record_values(rec, ch)
        assert len(v) == 180 and np.median(v) > 0.9 and np.mean(v > 0.8) > 0.95, (ch, np.median(v))
    data = shared_path("cinc2017")
    names, _, measures = train_af.cinc2017(data)          # the windows and measures ecg-af is fitted on
    label = {row["record"]: row["label"] for row in csv.DictReader(open(data / "REFERENCE.csv"))}
    record_means = train_af.baseline_oof(measures, "p_wave_consistency")
    means = {c: record_means[[label[n] == c for n in names]] for c in ("N", "A")}
    means = {c: v[np.isfinite(v)] for c, v in means.items()}
    n, a = np.median(means["N"]), np.median(means["A"])
    assert len(means["N"]) >= 45 and len(means["A"]) >= 45
    assert a < 0.5 < 0.7 < n, (a, n)

"""eval_probe's SYNTHETIC 6-class PPG arrhythmia task (sinus, PVC, PAC, VT, SVT, AF; 10 s at 100 Hz):
seeded and balanced, the beat times of every class obey its definition (compensatory vs
non-compensatory pauses, rate ranges, regularity), a PVC's pulse is small in the rendered signal,
the IBI baseline sees AF, and the task is registered in eval_probe with the ppg model override."""
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from conftest import load_benchmark

SECONDS = 10.0


@pytest.fixture(scope="module")
def ep():
    return load_benchmark("eval_probe")


@pytest.fixture(scope="module")
def ps():
    return load_benchmark("probe_synthetic")


@pytest.fixture(scope="module")
def beats(ps):
    """Per class, the beats of 40 records (one generator per class)."""
    out = {}
    for label in range(6):
        rng = np.random.default_rng(300 + label)
        out[label] = [ps.arrhythmia_ppg_beats(label, SECONDS, rng) for _ in range(40)]
    return out


def _inside(b):
    return (b.times >= 0) & (b.times < SECONDS)


def _bpm_cv(bs):
    ibi = [np.diff(b.times[_inside(b)]) for b in bs]
    return np.array([60.0 / d.mean() for d in ibi]), np.array([d.std() / d.mean() for d in ibi])


def _fill(b, i):
    return min(b.rr[i] / b.mean_rr, 1.4) ** 1.5


def test_arrhythmia_ppg_is_balanced_seeded_and_labelled_0_to_5(ep):
    assert ep.PPG_ARRHYTHMIAS == ("sinus", "PVC", "PAC", "VT", "SVT", "AF")
    recs, y = ep.synthetic_arrhythmia_ppg(n_per_class=3)
    again, y2 = ep.synthetic_arrhythmia_ppg(n_per_class=3)
    assert len(recs) == 18 and np.array_equal(y, np.arange(18) % 6) and np.array_equal(y, y2)
    assert np.array_equal(np.bincount(y), [3] * 6)
    assert all(np.array_equal(a.samples, b.samples) for a, b in zip(recs, again))
    assert {r.samples.shape for r in recs} == {(1, 1000)} and {r.fs_hz for r in recs} == {100.0}
    assert {r.samples.dtype for r in recs} == {np.dtype(np.float32)} and {r.modality for r in recs} == {"ppg"}
    assert all(np.isfinite(r.samples).all() for r in recs)
    other = ep.synthetic_arrhythmia_ppg(n_per_class=3, seed=7001)[0]
    assert not any(np.array_equal(a.samples, b.samples) for a, b in zip(recs, other))
    # random gain and offset per record: levels and spreads differ widely
    sd = np.array([r.samples.std() for r in recs])
    assert sd.max() > 2.5 * sd.min() and np.ptp([np.median(r.samples) for r in recs]) > 0.5


def test_beats_are_consistent_and_start_mid_rhythm(beats, ps):
    for bs in beats.values():
        for b in bs:
            assert b.times[0] < 0 and b.times[-1] > SECONDS
            assert np.allclose(np.diff(b.times), b.rr[1:]) and b.rr.min() >= ps.MIN_INTERVAL_S - 1e-12
            assert len(b.amp) == len(b.width) == len(b.dia) == len(b.kind) == len(b.times)


def test_sinus_and_af(beats, ps):
    bpm, cv = _bpm_cv(beats[0])
    assert bpm.min() > 52 and bpm.max() < 115 and (bpm < 70).any() and (bpm > 95).any()
    assert cv.max() < 0.1 and all((b.kind == ps.NORMAL).all() for b in beats[0])
    assert all(np.allclose(b.amp, [_fill(b, i) for i in range(len(b.rr))]) for b in beats[0])
    bpm_af, cv_af = _bpm_cv(beats[5])
    assert bpm_af.min() > 60 and bpm_af.max() < 165
    assert 0.10 < cv_af.mean() < 0.22 and cv_af.min() > 0.04 and np.median(cv_af) > 3 * np.median(cv)
    lag1 = []
    for b in beats[5]:
        d = b.rr - b.rr.mean()
        lag1.append(np.sum(d[1:] * d[:-1]) / np.sum(d * d))
    assert abs(np.mean(lag1)) < 0.12                      # i.i.d. intervals
    assert all(np.allclose(b.amp, [_fill(b, i) for i in range(len(b.rr))]) for b in beats[5])


def _premature(b, ps):
    """Indices of the premature beats inside the record whose pause-ending beat exists."""
    p = np.flatnonzero((b.kind == ps.PREMATURE) & _inside(b))
    return p[p + 1 < len(b.times)]


def test_pvc_full_compensatory_pause_pac_non_compensatory(beats, ps):
    sums = {}
    for label in (1, 2):
        n_prem = n_all = 0
        sums[label] = []
        for b in beats[label]:
            p = _premature(b, ps)
            assert len(p) >= 1                                  # at least one per 10 s record
            assert (b.kind[p + 1] == ps.POST_PAUSE).all()
            n_prem, n_all = n_prem + len(p), n_all + _inside(b).sum()
            coupling = b.rr[p] / b.cycle_rr[p]
            pair = (b.rr[p] + b.rr[p + 1]) / b.cycle_rr[p]
            # the same against the observable sinus intervals around them (the clinical reading)
            for k in p[(p >= 1) & (p + 2 < len(b.kind))]:
                if b.kind[k - 1] == ps.NORMAL and b.kind[k + 2] == ps.NORMAL:
                    sums[label].append((b.rr[k] + b.rr[k + 1]) / np.mean(b.rr[[k - 1, k + 2]]))
            if label == 1:
                assert np.all((coupling > 0.45 - 1e-9) & (coupling < 0.70 + 1e-9) | (b.rr[p] == ps.MIN_INTERVAL_S))
                assert np.allclose(pair, 2.0)
            else:
                assert np.all((coupling > 0.60 - 1e-9) & (coupling < 0.85 + 1e-9))
                post = b.rr[p + 1] / b.cycle_rr[p]
                assert np.all((post >= 1.0) & (post <= 1.12)) and np.all(pair < 1.98) and np.all(pair > 1.59)
        assert 0.10 < n_prem / n_all < 0.30, label
    pvc, pac = np.array(sums[1]), np.array(sums[2])
    assert len(pvc) > 40 and len(pac) > 40
    # respiratory sinus arrhythmia (up to 8 %) and 2 % jitter move the neighbouring intervals
    assert np.all(np.abs(pvc - 2.0) < 0.45) and np.mean(np.abs(pvc - 2.0) < 0.2) > 0.9
    assert abs(np.median(pvc) - 2.0) < 0.05
    assert np.median(pac) < 1.85 and np.mean(pac < 1.95) > 0.9


def test_pvc_and_pac_pulse_factors(beats, ps):
    extra, deficit = [], 0
    for b in beats[1]:
        for i in np.flatnonzero(b.kind == ps.PREMATURE):
            extra.append(b.amp[i] / _fill(b, i))
            assert 1.2 <= b.width[i] <= 1.6
        for i in np.flatnonzero(b.kind == ps.POST_PAUSE):
            assert 1.1 - 1e-9 <= b.amp[i] / _fill(b, i) <= 1.3 + 1e-9      # post-extrasystolic potentiation
    extra = np.array(extra)
    assert extra.max() <= 0.5 and 0.08 < np.mean(np.isclose(extra, 0.05)) < 0.35   # about 1 in 5 not perfused
    for b in beats[2]:
        assert np.allclose(b.amp, [_fill(b, i) for i in range(len(b.rr))]) and (b.width == 1).all()


def test_tachycardias(beats):
    bpm_vt, cv_vt = _bpm_cv(beats[3])
    bpm_svt, cv_svt = _bpm_cv(beats[4])
    assert bpm_vt.min() > 115 and bpm_vt.max() < 205 and (bpm_vt < 140).any() and (bpm_vt > 180).any()
    assert bpm_svt.min() > 145 and bpm_svt.max() < 225 and (bpm_svt > 200).any()
    assert cv_vt.max() < 0.06 and cv_svt.max() < 0.025 and np.median(cv_svt) < 0.5 * np.median(cv_vt)
    for b in beats[3]:     # small, varying (AV dissociation), broad pulses with a weak diastolic wave
        m = _inside(b)
        assert 0.2 < np.median(b.amp[m]) < 0.65 and b.amp[m].std() / b.amp[m].mean() > 0.04
        assert (b.width >= 1.3).all() and (b.dia <= 0.3).all()
    for b in beats[4]:
        assert 0.45 < np.median(b.amp) < 0.85 and b.amp.std() / b.amp.mean() < 0.05
        assert (b.width == 1).all() and (b.dia == 1).all()


def _height(x, tb, fs):
    """Pulse upstroke at beat time ``tb``: peak just around it minus the trough just before it."""
    i = int(round(tb * fs))
    return x[i - 5:i + 9].max() - x[i - 20:i + 1].min()


@pytest.mark.parametrize("label", [1, 2])
def test_premature_pulse_height_in_the_rendered_signal(ps, label):
    """A PVC's pulse is much lower than its neighbours' (pulse deficit); a PAC's only by filling."""
    fs, rng = 100.0, np.random.default_rng(11)
    ratio, lower = [], []
    for _ in range(20):
        x, b = ps.arrhythmia_ppg_signal(label, SECONDS, fs, rng)
        for p in np.flatnonzero(b.kind == ps.PREMATURE):
            if p < 1 or p + 1 >= len(b.times) or not (0.5 < b.times[p - 1] and b.times[p + 1] < SECONDS - 0.5):
                continue
            h, h_prev, h_next = (_height(x, b.times[k], fs) for k in (p, p - 1, p + 1))
            ratio.append(h / np.mean([h_prev, h_next]))
            lower.append(h < min(h_prev, h_next))
    assert len(ratio) >= 15
    if label == 1:
        assert np.median(ratio) < 0.35 and np.mean(lower) > 0.9
    else:
        assert np.median(ratio) > 0.4


def test_ibi_baseline_separates_af_from_sinus(ep):
    from encoders.baselines import IBI_COLUMNS, ibi_features
    recs, y = ep.synthetic_arrhythmia_ppg(n_per_class=12, seed=123)
    sel = np.flatnonzero((y == 0) | (y == 5))
    cv = np.array([ibi_features(recs[i])[IBI_COLUMNS.index("cv")] for i in sel])
    assert np.isfinite(cv).all()
    assert roc_auc_score(y[sel] == 5, cv) > 0.8


def test_task_is_registered_off_by_default_and_uses_the_ppg_model(ep, monkeypatch):
    import encoders
    assert ep.TASKS["ppg-arrhythmia-syn"] == ("ppg-tiny", ("ibi",))
    assert "ppg-arrhythmia-syn" not in ep.parse_args([]).tasks
    recs, y, groups, desc, left_out, kinds = ep.load_task("ppg-arrhythmia-syn")
    assert len(recs) == 240 and np.array_equal(np.bincount(y), [40] * 6) and groups is None and left_out == ""
    assert desc.startswith("SYNTHETIC 6-class PPG arrhythmia: sinus, PVC, PAC, VT, SVT, AF (100 Hz, 10 s)")
    assert "macro one-vs-rest AUROC" in desc
    loaded = []

    def fake_load(name):
        loaded.append(name)
        raise RuntimeError("stop")

    monkeypatch.setattr(encoders, "load", fake_load)
    for argv, want in (([], "ppg-tiny"), (["--ppg-model", "some/ckpt"], "some/ckpt")):
        with pytest.raises(RuntimeError, match="stop"):
            ep.run_task("ppg-arrhythmia-syn", ep.parse_args(argv + ["--jobs", "1"]))
        assert loaded[-1] == want

"""Synthetic auscultation (``kind="auscultation"``, biosig.synthetic_lung): seeded records whose
events do what they claim - wheezes are tonal at their frequency while they last, crackles are
short transients, the stethoscope removes the high band - and the audio pretraining data and the
lung descriptors built on them (encoders.audio_descriptors, ``descriptor_set="lung"``)."""
import numpy as np
import pytest
import torch
from scipy import signal

from biosig.errors import BiosigError
from biosig.synthetic import simulate
from biosig import synthetic_lung as sl
from encoders import audio_descriptors as ad
from encoders.config import get_config
from encoders.errors import EncoderError
from encoders.model import EncoderModel

FS = 16000.0
SMALL = dict(dim=32, depth=1, heads=2, decoder_dim=32, decoder_heads=2, decoder_depth=1)
pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _truths(n=40, seconds=6.0):
    return [simulate("audio", seconds, seed=50_000 + s, kind="auscultation") for s in range(n)]


def test_auscultation_is_seeded_and_leaves_the_other_kinds_unchanged():
    a = simulate("audio", 4, seed=3, kind="auscultation")
    b = simulate("audio", 4, seed=3, kind="auscultation")
    c = simulate("audio", 4, seed=4, kind="auscultation")
    assert np.array_equal(a.samples, b.samples) and a.metadata["truth"] == b.metadata["truth"]
    assert not np.array_equal(a.samples, c.samples)
    assert a.samples.shape == (1, 64000) and np.isfinite(a.samples).all() and np.abs(a.samples).max() <= 1.0
    assert a.metadata["truth"]["kind"] == "auscultation"
    with pytest.raises(BiosigError, match="n_events"):
        simulate("audio", 4, seed=3, kind="auscultation", n_events=2)


def test_records_vary_sites_devices_and_every_adventitious_sound():
    recs = _truths()
    truths = [r.metadata["truth"] for r in recs]
    assert {t["site"] for t in truths} == set(sl.SITES) and {t["device"] for t in truths} == set(sl.DEVICES)
    labels = {lab for t in truths for *_, lab in t["events"]}
    assert labels == {"inhale", "exhale", "wheeze", "rhonchus", "crackle-fine", "crackle-coarse"}
    assert any(not t["adventitious"] for t in truths) and any(len(t["adventitious"]) > 1 for t in truths)
    for t in truths:
        assert 10 <= t["breath_bpm"] <= 30 and 50 <= t["heart_bpm"] <= 120
        for s, e, lab in t["events"]:
            assert e > s and (lab in ("inhale", "exhale") or (0 <= s and e <= 6.0))


def test_stethoscope_removes_the_high_band():
    """Above 3 kHz only the (white) noise floor is left: at least 15 dB below the 100-800 Hz band
    in power density, and nothing at all (-60 dB) after a 4 kHz recorder."""
    for r in _truths(16):
        f, p = signal.welch(r.samples[0], fs=FS, nperseg=1024)
        db = 10 * np.log10(p[f > 3000].mean() / p[(f > 100) & (f < 800)].mean())
        assert db < (-60 if r.metadata["truth"]["device"] == "4khz" else -15)


def test_a_4khz_recorder_band_limits_at_any_sample_rate():
    """At 22.05 kHz (not a multiple of 4 kHz) a record whose truth says ``4khz`` has nothing above
    2.1 kHz either (a low-pass instead of the 4 kHz round trip)."""
    recs = [simulate("audio", 3, seed=50_000 + s, kind="auscultation", fs_hz=22050.0) for s in range(12)]
    seen = set()
    for r in recs:
        f, p = signal.welch(r.samples[0], fs=22050.0, nperseg=1024)
        db = 10 * np.log10(p[(f > 2600) & (f < 10000)].mean() / p[(f > 100) & (f < 800)].mean())
        device = r.metadata["truth"]["device"]
        seen.add(device)
        if device == "4khz":
            assert db < -60, db
    assert seen == {"4khz", "wideband"}


def test_wheezes_are_tonal_and_crackles_impulsive_where_the_events_say():
    """The lung descriptors of 2 s windows: windows covered by a wheeze have a more prominent
    spectral peak than windows of the same records without one; windows with crackles have a higher
    short-frame energy contrast than windows without any adventitious sound."""
    m = EncoderModel(get_config("audio-tiny", objective="mae+descriptors", descriptor_set="lung", **SMALL))
    wheeze, calm, crackle, calm_c = [], [], [], []
    for r in _truths(30, 8.0):
        ev = r.metadata["truth"]["events"]
        x = torch.from_numpy(r.samples)
        wins = torch.stack([x[:, int(k * FS):int((k + 2) * FS)] for k in range(4)])
        d = ad.compute(m.frontend, wins, "lung").numpy()
        for k in range(4):
            a, b = 2.0 * k, 2.0 * k + 2
            over = [lab for s, e, lab in ev if s < b and e > a and lab not in ("inhale", "exhale")]
            cover = sum(min(e, b) - max(s, a) for s, e, lab in ev if lab == "wheeze" and s < b and e > a)
            if cover > 0.3:
                wheeze.append(d[k, 27])
            elif not over:
                calm.append(d[k, 27])
                calm_c.append(d[k, 29])
            if sum(lab.startswith("crackle") for lab in over) >= 3:
                crackle.append(d[k, 29])
    assert len(wheeze) >= 5 and len(crackle) >= 5 and len(calm) >= 5
    assert np.median(wheeze) > np.median(calm) + 0.3
    assert np.median(crackle) > np.median(calm_c) + 0.3


def test_lung_descriptors_match_the_numpy_oracle_and_known_signals():
    m = EncoderModel(get_config("audio-tiny", objective="mae+descriptors", descriptor_set="lung", **SMALL))
    c = m.config
    n = int(1.5 * FS)
    t = np.arange(n) / FS
    rng = np.random.default_rng(0)
    noise = 0.05 * rng.standard_normal(n)
    clicks = noise.copy()
    for i in range(2000, n, 2400):               # a 2 ms click every 150 ms, 20 x the noise
        clicks[i:i + 32] += 1.0 * np.hanning(32)
    x = np.stack([simulate("audio", 1.5, seed=7, kind="auscultation").samples[0, :n], noise,
                  noise + 0.2 * np.sin(2 * np.pi * 400 * t), clicks]).astype(np.float32)[:, None]
    got = ad.compute(m.frontend, torch.from_numpy(x), "lung").numpy()
    want = ad.descriptors_numpy(x, c.input_fs_hz, c.n_fft, c.hop_length, c.n_mels, c.fmin_hz, c.fmax_hz, "lung")
    assert got.shape == (4, 31) == want.shape and ad.n_desc("lung") == 31 and ad.n_desc("v1") == ad.N_DESC
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got[:, :ad.N_DESC], ad.compute(m.frontend, torch.from_numpy(x)).numpy(), rtol=1e-6)
    d = dict(zip(ad.SETS["lung"], got.T))
    assert d["tonal_prominence_mean"][2] > d["tonal_prominence_mean"][1] + 2       # a tone in noise
    assert d["impulsive_fraction"][3] > 0.02 > d["impulsive_fraction"][1]
    assert d["impulse_contrast_q99"][3] > d["impulse_contrast_q99"][1] + 1


def test_lung_descriptor_set_is_audio_only_and_sizes_the_head():
    m = EncoderModel(get_config("audio-tiny", objective="mae+descriptors", descriptor_set="lung", **SMALL))
    assert m.desc_head.linear.out_features == 31
    out = m(torch.from_numpy(simulate("audio", 2, seed=1, kind="auscultation").samples[None]),
            generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(out["desc"]) and float(m.desc_head.count) == 1
    with pytest.raises(EncoderError, match="lung is for audio"):
        get_config("ecg-tiny", tokenizer="beat", objective="mae+descriptors", descriptor_set="lung")
    with pytest.raises(EncoderError, match="audio takes v1 or lung"):
        get_config("audio-tiny", objective="mae+descriptors", descriptor_set="atrial")


def test_pretrain_reads_synthetic_lung_records(tmp_path):
    import json
    from biosig.cli import main
    from encoders.data import synthetic_lung_records
    recs = list(synthetic_lung_records(2, 3.0, seed=0))
    assert [s for s, _ in recs] == ["synthetic:audio-lung:50000", "synthetic:audio-lung:50001"]
    assert np.array_equal(recs[0][1].samples, simulate("audio", 3.0, seed=50_000, kind="auscultation").samples)
    args = ["pretrain", "--modality", "audio", "--synthetic-lung-records", "2", "--synthetic-seconds", "4",
            "--window-s", "2", "--steps", "1", "--batch-size", "4", "--no-progress", "--objective", "mae+descriptors",
            "--set", 'descriptor_set="lung"', *sum((["--set", f"{k}={v}"] for k, v in SMALL.items()), []),
            "--out", str(tmp_path / "a")]
    assert main(args) == 0
    assert json.loads((tmp_path / "a" / "config.json").read_text())["descriptor_set"] == "lung"
    assert main(["pretrain", "--modality", "ecg", "--synthetic-lung-records", "2", "--steps", "1",
                 "--out", str(tmp_path / "b")]) == 2


def test_eval_probe_lung_task_is_balanced_and_labelled_from_the_truth():
    import pathlib
    import sys
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))
    from eval_probe import TASKS, parse_args
    from probe_synthetic import synthetic_lung_sounds
    recs, y = synthetic_lung_sounds(n_per_class=4, seconds=3.0)
    assert len(recs) == 8 and np.bincount(y).tolist() == [4, 4]
    assert all(bool(r.metadata["truth"]["adventitious"]) == bool(v) for r, v in zip(recs, y))
    assert TASKS["audio-lung-syn"] == ("audio-tiny", ("mfcc",))
    args = parse_args(["--tasks", "audio-lung-syn", "--jobs", "1", "--lung-seed", "610000"])
    assert args.tasks == ["audio-lung-syn"] and args.lung_seed == 610_000
    assert parse_args(["--jobs", "1"]).lung_seed == 600_000


def test_adventitious_lists_exactly_the_sounds_in_the_events():
    for r in _truths(30, 3.0):
        t = r.metadata["truth"]
        assert sorted(t["adventitious"]) == sorted({lab for *_, lab in t["events"]} - {"inhale", "exhale"})

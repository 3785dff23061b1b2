"""Synthetic audio scenes (``kind="scene"``, biosig.synthetic_sounds): seeded, varied recording
chains whose channels do what they claim (telephone band and G.711 mu-law, codec low-pass), coughs
where the events say, and the audio pretraining data built from them."""
import numpy as np
import pytest
from scipy import signal

from biosig.errors import BiosigError
from biosig.synthetic import simulate
from biosig import synthetic_sounds as ss

FS = 16000.0


def _band_fraction(x, lo, hi):
    f, p = signal.welch(x, fs=FS, nperseg=1024)
    return p[(f >= lo) & (f < hi)].sum() / p.sum()


def test_scene_is_deterministic_by_seed_and_varies_with_it():
    a = simulate("audio", 4, seed=3, kind="scene")
    b = simulate("audio", 4, seed=3, kind="scene")
    c = simulate("audio", 4, seed=4, kind="scene")
    assert np.array_equal(a.samples, b.samples) and a.metadata["truth"] == b.metadata["truth"]
    assert not np.array_equal(a.samples, c.samples)
    assert a.samples.shape == (1, 64000) and a.samples.dtype == np.float32
    assert np.isfinite(a.samples).all() and np.abs(a.samples).max() <= 1.0
    # the existing kinds are unchanged by the new one (same seed streams)
    assert np.array_equal(simulate("audio", 3, seed=1, kind="cough").samples,
                          ss.simulate_audio(3, seed=1, kind="cough").samples)


def test_scenes_cover_every_channel_and_a_range_of_rooms_and_noise_floors():
    truths = [simulate("audio", 2, seed=s, kind="scene").metadata["truth"] for s in range(40)]
    assert {t["channel"] for t in truths} == set(ss.CHANNELS)
    rt = [t["rt60_s"] for t in truths]
    assert min(rt) == 0.0 and max(rt) > 0.5            # dry and reverberant
    nd = [t["noise_db"] for t in truths]
    assert min(nd) < -55 and max(nd) > -30
    assert any(lab == "cough-voiced" for t in truths for *_, lab in t["events"])
    assert any(lab == "cough" for t in truths for *_, lab in t["events"])


def test_coughs_are_where_the_scene_events_say():
    # a dry scene without breathing or babble and with the quietest noise floor among a few seeds
    recs = [simulate("audio", 8, seed=s, kind="scene") for s in range(30)]
    clean = [r for r in recs if r.metadata["truth"]["rt60_s"] == 0 and not r.metadata["truth"]["breathing"]
             and r.metadata["truth"]["babble_db"] is None]
    rec = min(clean, key=lambda r: r.metadata["truth"]["noise_db"])
    t = rec.metadata["truth"]
    x = rec.samples[0].astype(np.float64)
    inside = np.zeros(len(x), bool)
    for a, b, _ in t["events"]:
        inside[int(a * FS):int(b * FS)] = True
    assert inside.any() and (~inside).any()
    assert np.sqrt(np.mean(x[inside] ** 2)) > 3 * np.sqrt(np.mean(x[~inside] ** 2))


def test_telephone_channel_is_band_limited_and_mu_law_quantised():
    rng = np.random.default_rng(0)
    x = 0.3 * rng.standard_normal(int(2 * FS))
    y = ss._channel(np.random.default_rng(1), x, FS, "telephone")
    assert len(y) == len(x)
    assert _band_fraction(y, 4200, 8000) < 1e-3          # nothing above the 8 kHz Nyquist frequency
    assert _band_fraction(y, 0, 150) < 0.01              # the line's high-pass
    assert _band_fraction(x, 4200, 8000) > 0.4
    # G.711 mu-law: 256 levels, relative error of a few per cent of the value
    v = np.linspace(-1, 1, 10001)
    q = ss._mu_law(v)
    assert len(np.unique(np.round(q, 9))) <= 256
    big = np.abs(v) > 0.05
    assert np.max(np.abs(q[big] - v[big]) / np.abs(v[big])) < 0.05


def test_lowpass_channel_removes_the_top_of_the_band():
    rng = np.random.default_rng(0)
    x = 0.3 * rng.standard_normal(int(2 * FS))
    fracs = [_band_fraction(ss._channel(np.random.default_rng(s), x, FS, "lowpass"), 7600, 8000) for s in range(5)]
    assert max(fracs) < 0.01 < _band_fraction(x, 7600, 8000)


def test_scene_rejects_n_events():
    with pytest.raises(BiosigError, match="n_events does not apply"):
        simulate("audio", 2, seed=0, kind="scene", n_events=2)


def test_audio_pretraining_records_are_scenes():
    from encoders.data import synthetic_records
    (src, rec), = list(synthetic_records("audio", 1, 2.0, seed=7))
    assert src == "synthetic:audio:7"
    assert np.array_equal(rec.samples, simulate("audio", 2.0, seed=7, kind="scene").samples)
    assert "channel" in rec.metadata["truth"]

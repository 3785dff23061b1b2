"""Smartphone-camera PPG CSV (time,R,G,B with irregular frame times): uniform resampling in the reader."""
import numpy as np
import pytest

from biosig.errors import ReadError
from biosig.readers import detect_format, discover, read

from conftest import shared_path


def _write(path, t_ms, r, g=None, b=None):
    g = np.zeros_like(r) if g is None else g
    b = np.zeros_like(r) if b is None else b
    lines = ["time,R,G,B"] + [f"{int(t)},{x:.6f},{y:.6f},{z:.6f}" for t, x, y, z in zip(t_ms, r, g, b)]
    path.write_text("\n".join(lines) + "\n")


def test_irregular_frames_are_resampled_linearly(tmp_path):
    rng = np.random.default_rng(0)
    t_ms = np.cumsum(np.r_[0, rng.integers(28, 40, 599)]).astype(float)   # ~30 Hz with jitter
    t_s = t_ms / 1000
    r = 200 + 5 * np.sin(2 * np.pi * 1.2 * t_s)
    _write(tmp_path / "PPG.csv", t_ms, r)
    assert detect_format(tmp_path / "PPG.csv") == "camera-ppg-csv"
    assert [str(p) for p in discover([tmp_path])] == [str(tmp_path / "PPG.csv")]
    rec = read(tmp_path / "PPG.csv")
    fs = round(1000 / np.median(np.diff(t_ms)))
    assert rec.fs_hz == fs and rec.channels == ("PPG", "G", "B") and rec.modality == "ppg"
    grid = np.arange(rec.n_samples) / fs
    np.testing.assert_allclose(rec.samples[0], -np.interp(grid, t_s, r), rtol=1e-5)  # linear interpolation, -R
    np.testing.assert_allclose(rec.samples[1:], 0.0)                                   # G, B as recorded
    assert grid[-1] <= t_s[-1] < grid[-1] + 1 / fs
    assert rec.metadata["n_frames"] == 600


def test_gaps_stay_nan_and_bad_times_are_errors(tmp_path):
    t_ms = np.r_[np.arange(0, 3000, 33), np.arange(5000, 8000, 33)].astype(float)   # a 2 s gap
    _write(tmp_path / "gap.csv", t_ms, np.ones(len(t_ms)))
    rec = read(tmp_path / "gap.csv")
    t = np.arange(rec.n_samples) / rec.fs_hz
    inside = (t > 3.0) & (t < 5.0)
    assert np.isnan(rec.samples[0, inside]).all() and np.isfinite(rec.samples[0, t < 2.9]).all()
    _write(tmp_path / "back.csv", np.array([0, 40, 30, 80.0]), np.ones(4))
    with pytest.raises(ReadError, match="increase"):
        read(tmp_path / "back.csv")


def test_welltory_files_read_and_embed_with_the_ppg_pipeline():
    d = shared_path("pretrain/ppg")
    files = discover([d])
    assert len(files) == 21
    rec = read(files[0])
    assert 28 <= rec.fs_hz <= 31 and rec.n_samples / rec.fs_hz > 60
    from biosig.pipeline import default_pipeline
    from encoders.data import select_channels
    out = default_pipeline("ppg").split_in_model()[0].apply(select_channels(rec, "ppg"))
    assert out.fs_hz == 125.0 and out.channels == ("PPG",)


def test_the_pulse_is_upright_where_light_falls_at_systole(tmp_path):
    """A finger over the flash: each systole absorbs light, the red intensity dips. The PPG channel's
    peaks are the systoles (biosig's pulse detector on it finds the dips of R)."""
    from biosig.quality import detect_beats
    fs, period = 30.0, 0.8
    t_ms = np.arange(0, 30000, 1000 / fs)
    t_s = t_ms / 1000
    phase = (t_s % period) / period
    r = 180 - 4 * np.exp(-0.5 * ((phase - 0.2) / 0.06) ** 2)      # a dip of the red intensity per beat at 0.2 periods
    _write(tmp_path / "PPG.csv", t_ms, r)
    rec = read(tmp_path / "PPG.csv")
    beats, _ = detect_beats(rec.samples[0].astype(np.float64), rec.fs_hz, "ppg")
    at = (beats / rec.fs_hz % period) / period
    assert len(beats) >= 35 and np.all(np.abs(at - 0.2) < 0.05)


def test_welltory_pulses_agree_between_neurokit2_and_biosig():
    """On the real camera recordings, NeuroKit2 (which expects an upright PPG) finds about as many
    pulses as biosig's detector: in the raw red intensity it found 37-82 % of them."""
    import warnings

    from biosig.measures import detect_events
    from biosig.quality import detect_beats
    files = discover([shared_path("pretrain/ppg")])
    ratios = []
    for f in files[:10]:
        rec = read(f).select(["PPG"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nk = len(detect_events(rec, "ppg", 0))
        ratios.append(nk / max(1, len(detect_beats(np.nan_to_num(rec.samples[0].astype(np.float64)), rec.fs_hz, "ppg")[0])))
    assert np.median(ratios) > 0.9 and sum(r > 0.85 for r in ratios) >= 8, np.round(ratios, 2)


def test_a_clipped_red_channel_is_reported(tmp_path, caplog):
    t_ms = np.arange(0, 10000, 33).astype(float)
    g = 100 + 5 * np.sin(2 * np.pi * 1.2 * t_ms / 1000)
    _write(tmp_path / "sat.csv", t_ms, np.full(len(t_ms), 255.0), g=g)
    with caplog.at_level("WARNING"):
        rec = read(tmp_path / "sat.csv")
    assert rec.metadata["red_clipped_fraction"] == 1.0
    assert "red channel is clipped (0 or 255) in 100 % of the frames" in caplog.text
    caplog.clear()
    _write(tmp_path / "ok.csv", t_ms, 200 + g / 50)
    with caplog.at_level("WARNING"):
        assert read(tmp_path / "ok.csv").metadata["red_clipped_fraction"] == 0.0
    assert "clipped" not in caplog.text

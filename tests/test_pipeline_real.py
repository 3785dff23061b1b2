"""Default pipelines on the shared real recordings (read with biosig.read)."""
import glob

import numpy as np
import pytest

from biosig.pipeline import default_pipeline
from conftest import shared_path


def _read(*parts):
    import biosig

    path = shared_path(*parts)
    return biosig.read(str(path)[:-4] if str(path).endswith(".hea") else path)


@pytest.mark.parametrize("parts,modality,fs_out", [
    (("wfdb", "a103l.hea"), "ecg", 250.0),
    (("wfdb", "a103l.hea"), "ppg", 125.0),
    (("wfdb", "03700181.hea"), "resp", 25.0),
    (("wfdb", "03700181.hea"), "ecg", 250.0),
    (("wfdb", "s0010_re.hea"), "ecg", 250.0),
    (("wfdb", "multi-segment", "041s", "041s.hea"), "ppg", 125.0),
])
def test_default_pipeline_on_real_records(parts, modality, fs_out):
    rec = _read(*parts).pick(modality)
    out = default_pipeline(modality).apply(rec)
    assert out.fs_hz == fs_out and out.n_channels == rec.n_channels
    assert out.n_samples == pytest.approx(rec.duration_s * fs_out, abs=1)
    finite_in = np.isfinite(rec.samples).all(axis=0)
    if finite_in.all():
        assert np.isfinite(out.samples).all()
    np.testing.assert_allclose(np.nanmean(out.samples, axis=1), 0, atol=1e-4)  # z-scored
    # the causal stream of the same chain, fed in 0.2 s chunks, is chunk-size invariant
    outside, _ = default_pipeline(modality).split_in_model()
    x = rec.samples[:, : int(rec.fs_hz * 20)]
    whole = outside.stream(rec.fs_hz, rec.n_channels).process(x)
    s = outside.stream(rec.fs_hz, rec.n_channels)
    step = max(1, int(rec.fs_hz * 0.2))
    parts_out = np.concatenate([s.process(x[:, i:i + step]) for i in range(0, x.shape[1], step)], axis=1)
    np.testing.assert_allclose(parts_out, whole, atol=1e-4)


def test_audio_pipeline_on_cough_mp3s_offline_and_streaming():
    folder = shared_path("cough", "raw")
    files = sorted(glob.glob(str(folder / "*.mp3")))[:2]
    assert files
    import biosig

    for f in files:
        rec = biosig.read(f)
        out = default_pipeline("audio").apply(rec)
        assert out.n_channels == 64 and out.fs_hz == pytest.approx(16000 / 512)
        assert out.n_samples == 1 + int(np.ceil(rec.duration_s * 16000)) // 512
        assert np.isfinite(out.samples).all()
        s = default_pipeline("audio").stream(rec.fs_hz, rec.n_channels)
        step = int(rec.fs_hz * 0.1)
        streamed = np.concatenate([s.process(rec.samples[:, i:i + step]) for i in range(0, rec.n_samples, step)], axis=1)
        assert streamed.shape[0] == 64 and abs(streamed.shape[1] - out.n_samples) <= 2
        # causal resampling lags the zero-phase one; compare loudness per frame, not samples
        n = min(streamed.shape[1], out.n_samples)
        assert np.corrcoef(streamed[:, :n].mean(axis=0), out.samples[:, :n].mean(axis=0))[0, 1] > 0.8


def test_spirometry_csv_through_the_default_pipeline():
    rec = _read("spirometry", "ukb_field3066_demo_blow.csv")
    out = default_pipeline("spiro").apply(rec)
    assert out.channels == ("volume_ml", "flow_l_s") and out.fs_hz == 100.0
    assert np.all(np.diff(out.samples[0]) >= 0)
    assert out.samples[1].max() == pytest.approx(11.5, abs=0.01)  # largest 10 ms step: 115 mL
    fv = out.metadata["flow_volume"]
    assert fv["volume_ml"][0] == 0 and fv["volume_ml"][-1] == pytest.approx(rec.samples[0].max())

"""Parity: the exported ONNX graph run by ONNX Runtime equals the torch path.

1. Every shipped model, random windows of several batch sizes and lengths (including lengths that
   are not a whole number of patches), max |torch - onnxruntime| <= 1e-4 (fp32).
2. Real records from ../shared/data: the out-of-graph pipeline (``Encoder.prepare``) + the graph
   equals ``Encoder.embed_windows`` (the torch path used by ``biosig embed``).

Exports are cached per test session (``encoders.backends.export_cached``), so each model is traced
once however many tests use it.
"""
import numpy as np
import pytest

from conftest import load_encoder, shared_path

SHIPPED = ("ecg-tiny", "ppg-tiny", "audio-tiny", "spiro-tiny")
TOL_FP32 = 1e-4

pytestmark = pytest.mark.usefixtures("export_cache")


_BACKENDS = {}


def backends(name):
    """(encoder, torch backend, onnxruntime backend) for a model, built once per session."""
    if name not in _BACKENDS:
        from encoders.backends import export_cached, make_backend
        enc = load_encoder(name)
        path = export_cached(enc)
        _BACKENDS[name] = (enc, make_backend("torch", enc.model), make_backend("onnxruntime", path, device="cpu"))
    return _BACKENDS[name]


def _lengths(cfg):
    window = cfg.window_samples
    unit = cfg.patch_size * (cfg.hop_length if cfg.modality == "audio" else 1)
    return (window, (window // 2 // unit) * unit, window + unit + 7)  # + 7: not a whole patch


@pytest.mark.parametrize("name", SHIPPED)
def test_torch_equals_onnxruntime_random_windows(name):
    enc, torch_be, ort_be = backends(name)
    cfg = enc.config
    rng = np.random.default_rng(0)
    channel_sets = (1, 12, 2) if cfg.modality == "ecg" else (cfg.in_channels,) * 3
    worst = 0.0
    for batch, length, n_chan in zip((1, 3, 8), _lengths(cfg), channel_sets):
        x = rng.standard_normal((batch, n_chan, length)).astype(np.float32) * 2.0 + 0.3
        idx = None
        if cfg.modality == "ecg":  # a different lead subset per window
            idx = np.stack([rng.permutation(len(cfg.channels))[:n_chan] for _ in range(batch)])
        ref = torch_be.run(x, idx)
        out = ort_be.run(x, idx)
        assert out.shape == ref.shape == (batch, cfg.dim)
        assert np.isfinite(out).all()
        worst = max(worst, float(np.abs(out - ref).max()))
    assert worst <= TOL_FP32, f"{name}: max |torch - onnxruntime| = {worst:.2e} > {TOL_FP32}"


def test_channel_ids_matter_in_the_graph():
    """The exported ECG graph really uses channel_idx (a lead subset is not silently 0..C-1)."""
    enc, torch_be, ort_be = backends("ecg-tiny")
    x = np.random.default_rng(1).standard_normal((2, 2, enc.config.window_samples)).astype(np.float32)
    a = ort_be.run(x, [0, 1])
    b = ort_be.run(x, [6, 11])
    assert np.abs(a - b).max() > 1e-3
    np.testing.assert_allclose(b, torch_be.run(x, [6, 11]), atol=TOL_FP32, rtol=0)


def _first_cough():
    folder = shared_path("cough", "raw")
    files = sorted(folder.glob("*.mp3"))
    if not files:
        pytest.skip(f"no .mp3 recordings in {folder}")
    return files[0]


REAL = {
    "ecg-tiny": lambda: shared_path("wfdb", "100.hea").with_suffix(""),
    "ppg-tiny": lambda: shared_path("wfdb", "a103l.hea").with_suffix(""),
    "audio-tiny": _first_cough,
    "spiro-tiny": lambda: shared_path("spirometry", "ukb_field3066_demo_blow.csv"),
}


@pytest.mark.parametrize("name", SHIPPED)
def test_pipeline_outside_plus_graph_equals_torch_path_on_real_records(name):
    import biosig
    path = REAL[name]()
    enc, _, ort_be = backends(name)
    rec = biosig.read(path)
    if rec.n_samples > 120 * rec.fs_hz:  # two minutes are plenty and keep the test fast
        rec = rec.slice_s(0.0, 120.0)
    prepared = enc.prepare(rec)                       # out-of-graph pipeline, at the model rate
    assert prepared.fs_hz == pytest.approx(enc.config.input_fs_hz)
    wins, _ = enc.windows(prepared)
    wins = wins[:4]
    assert len(wins) >= 1
    idx = np.asarray(enc.channel_index(prepared.channels), dtype=np.int64)
    ref = enc.embed_windows(wins, idx)                # the torch path of biosig embed
    out = ort_be.run(wins, idx)
    assert out.shape == ref.shape
    diff = float(np.abs(out - ref).max())
    assert diff <= TOL_FP32, f"{name} on {path.name}: max |torch - onnxruntime| = {diff:.2e}"

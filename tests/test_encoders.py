"""Registry, presets, configs, tokenizers (vs librosa / NumPy oracles), checkpoints, ONNX export."""
import json

import numpy as np
import pytest
import torch

import encoders
from encoders.config import EncoderConfig, get_config
from encoders.errors import EncoderError
from encoders.model import count_parameters
from encoders.tokenizers import LogMelPatches, SpiroPatches, from_patches, to_patches

TINY = dict(dim=32, depth=1, heads=2, decoder_dim=32, decoder_depth=1, decoder_heads=2)


def test_unknown_name_lists_known_names():
    with pytest.raises(EncoderError) as exc:
        encoders.create_model("ecg-huge")
    for name in ("ecg-tiny", "ppg-small", "audio-base", "spiro-tiny"):
        assert name in str(exc.value)
    from biosig.errors import BiosigError
    assert isinstance(exc.value, BiosigError)


def test_unknown_override_is_an_error():
    with pytest.raises(EncoderError, match="unknown encoder config keys"):
        encoders.create_model("ecg-tiny", widht=3)


@pytest.mark.parametrize("key, value", [("dim", 0), ("dim", "x"), ("depth", 1.5), ("heads", True),
                                        ("dim", 10 ** 9), ("mask_ratio", None), ("window_s", -1.0),
                                        ("mlp_ratio", float("nan")), ("export_mode", 1), ("objective", 3)])
def test_an_override_of_the_wrong_type_or_size_is_an_error_naming_the_field(key, value):
    # `biosig pretrain --set dim=0` (or '"x"', 1.5, null, ...) printed a ZeroDivisionError / TypeError
    # traceback from the model's constructor; heads=true was taken as 1
    with pytest.raises(EncoderError, match=key):
        encoders.create_model("ecg-tiny", **{key: value})


def test_every_registered_config_and_shipped_checkpoint_passes_the_type_checks():
    for name in encoders.list_models():
        get_config(name)
    for name in ("ecg-tiny", "ppg-tiny", "audio-tiny", "spiro-tiny"):
        encoders.load(name)


@pytest.mark.parametrize("modality", ["ecg", "ppg", "audio", "spiro"])
def test_tiny_presets_have_1_to_3_million_parameters(modality):
    n = count_parameters(encoders.create_model(f"{modality}-tiny"))
    assert 1_000_000 <= n <= 3_000_000, n


def test_base_preset_is_about_90_million():
    n = count_parameters(encoders.create_model("ecg-base"))
    assert 80_000_000 <= n <= 100_000_000, n


def test_config_round_trip_and_frozen():
    c = get_config("ecg-small", cross_modal=("PPG",), mask_mode="span")
    d = json.loads(json.dumps(c.to_dict()))
    assert EncoderConfig.from_dict(d) == c
    with pytest.raises(Exception):
        c.dim = 3
    with pytest.raises(EncoderError, match="mask_mode"):
        get_config("ecg-tiny", mask_mode="blocks")


def test_embed_forward_any_length_and_lead_subset():
    torch.manual_seed(0)
    m = encoders.create_model("ecg-tiny", **TINY).eval()
    with torch.no_grad():
        for C, T in [(1, 2500), (3, 2510), (12, 500), (2, 26)]:
            out = m.embed_forward(torch.randn(4, C, T), torch.arange(C))
            assert out.shape == (4, 32) and torch.isfinite(out).all()
        # same leads in a different vocabulary slot give a different embedding (lead identity used)
        x = torch.randn(2, 1, 2500)
        a = m.embed_forward(x, torch.tensor([1]))
        b = m.embed_forward(x, torch.tensor([6]))
    assert not torch.allclose(a, b)


def test_embed_forward_is_batch_independent():
    torch.manual_seed(0)
    m = encoders.create_model("ppg-tiny", **TINY).eval()
    x = torch.randn(5, 1, 1250)
    with torch.no_grad():
        full = m.embed_forward(x)
        one = m.embed_forward(x[2:3])
    torch.testing.assert_close(full[2:3], one, atol=1e-5, rtol=1e-5)


def test_logmel_matches_librosa():
    librosa = pytest.importorskip("librosa")
    fe = LogMelPatches(16000, n_fft=1024, hop_length=512, n_mels=64, fmin_hz=50, fmax_hz=8000, patch_size=4)
    rng = np.random.default_rng(0)
    t = np.arange(16000 * 2) / 16000
    y = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    ref = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=1024, hop_length=512, n_mels=64, fmin=50,
                                         fmax=8000, center=True, pad_mode="constant", power=2.0)
    with torch.no_grad():
        got = fe.power_mel(torch.from_numpy(y)[None, None])[0].numpy()
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-3, atol=1e-4 * ref.max())
    patches = fe(torch.from_numpy(y)[None, None])
    assert patches.shape == (1, ref.shape[1] // 4, 1, 64 * 4)


def test_spiro_channels_match_numpy_and_physics():
    fs, tau = 100.0, 0.8
    t = np.arange(1500) / fs
    vol = 4000.0 * (1 - np.exp(-t / tau))                                    # ml
    fe = SpiroPatches(25, fs)
    with torch.no_grad():
        ch = fe.channels(torch.tensor(vol, dtype=torch.float32)[None, None])[0].numpy()
    vn = (vol - vol[0]) / (vol - vol[0]).max()
    flow = np.concatenate([[0], np.diff(vn) * fs])
    levels = (np.arange(vn.size) + 0.5) / vn.size
    fv = flow[np.minimum(np.searchsorted(vn, levels, side="left"), vn.size - 1)]
    np.testing.assert_allclose(ch[0], vn, atol=1e-6)
    np.testing.assert_allclose(ch[1], flow, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ch[2], fv, rtol=1e-4, atol=1e-4)
    # exponential emptying: flow at volume fraction l is (1 - l) / tau (in FVC/s)
    mid = (levels > 0.1) & (levels < 0.9)
    np.testing.assert_allclose(ch[2][mid], (1 - levels[mid]) / tau / (1 - np.exp(-t[-1] / tau)), rtol=0.08)


def test_spiro_bucket_count_equals_compare_and_count():
    """count_below (O(T), the one path for torch and ONNX) == the O(T^2) definition, exactly,
    on monotonic and non-monotonic volumes, values on the level grid itself, NaN and inf."""
    from encoders.tokenizers import count_below
    g = torch.Generator().manual_seed(0)
    T = 600
    levels = (torch.arange(T, dtype=torch.float32) + 0.5) / T
    x = torch.cat([torch.cumsum(torch.rand(3, T, generator=g), -1) / 300,           # monotonic
                   torch.randn(1, T, generator=g).cumsum(-1) / 30,                    # not monotonic
                   levels[torch.randint(0, T, (1, T), generator=g)],                  # exactly on levels
                   torch.nextafter(levels, torch.tensor(0.0))[None],                  # just below them
                   torch.rand(1, T, generator=g) * 3 - 1])
    x[-1, :5] = torch.tensor([float("nan"), float("inf"), -float("inf"), 0.0, 1.0])
    oracle = (x[:, None, :] < levels[None, :, None]).sum(-1)                        # (B, T)
    assert torch.equal(count_below(x, levels), oracle)


def test_patches_round_trip():
    x = torch.randn(2, 3, 103)
    p = to_patches(x, 10)
    assert p.shape == (2, 10, 3, 10)
    torch.testing.assert_close(from_patches(p), x[..., :100])


def test_checkpoint_round_trip_and_model_id(tmp_path):
    torch.manual_seed(1)
    m = encoders.create_model("ecg-tiny", **TINY)
    mid = encoders.save_checkpoint(tmp_path / "ck", m, meta={"step": 3})
    enc = encoders.load(tmp_path / "ck")
    assert enc.model_id == mid and mid.startswith("ecg-tiny-")
    assert enc.config == m.config
    x = np.random.default_rng(0).standard_normal((3, 2, 2500)).astype(np.float32)
    a, b = enc.embed_windows(x), enc.embed_windows(x.copy())
    assert a.dtype == np.float32 and a.shape == (3, 32)
    np.testing.assert_array_equal(a, b)
    with torch.no_grad():
        np.testing.assert_allclose(a, m.eval().embed_forward(torch.from_numpy(x)).numpy(), atol=1e-6)


def test_load_errors(tmp_path):
    with pytest.raises(EncoderError, match="no checkpoint"):
        encoders.load("ecg-nonexistent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EncoderError, match="missing"):
        encoders.load(tmp_path / "empty")


def test_channel_index_aliases():
    enc = encoders.load("ecg-tiny", pretrained=False)
    vocab = enc.config.channels
    idx = enc.channel_index(["MLII", "V5", "ECG", "aVR", "lead III", "foo"])
    assert [vocab[i] for i in idx] == ["II", "V5", "ECG", "aVR", "III", "ECG"]


@pytest.mark.parametrize("name", ["audio-tiny", "spiro-tiny"])  # ECG/PPG export: tests/test_export.py
def test_embed_forward_exports_to_onnx(tmp_path, name):
    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    m = encoders.create_model(name, **TINY, export_mode=True).eval()
    c = m.config
    T = c.hop_length * 40 if c.modality == "audio" else c.window_samples

    class Wrap(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner.embed_forward(x)

    path = tmp_path / "m.onnx"
    B = torch.export.Dim("B", min=1, max=64)
    torch.onnx.export(Wrap(m).eval(), (torch.randn(2, 1, T),), str(path), dynamo=True,
                      dynamic_shapes=({0: B},), input_names=["x"], output_names=["emb"])
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.randn(3, 1, T)
    with torch.no_grad():
        ref = m.embed_forward(x).numpy()
    np.testing.assert_allclose(sess.run(None, {"x": x.numpy()})[0], ref, atol=1e-4, rtol=1e-3)

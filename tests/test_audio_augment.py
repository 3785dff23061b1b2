"""Recording-channel augmentation of audio contrastive views (encoders/audio_augment.py): the
magnitude response against a NumPy twin of the documented formula, applied to tones; seeded and
global-batch consistent; used by the audio contrastive objective."""
import numpy as np
import pytest
import torch

from encoders import audio_augment as aa
from encoders.config import get_config
from encoders.model import EncoderModel

FS = 16000.0
pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _numpy_response(p, i, f):
    """|H(f)| of view i, written from the module docstring with NumPy."""
    f = np.asarray(f, float)
    h = np.ones_like(f)
    if p["lp_on"][i]:
        h *= 1 / np.sqrt(1 + (f / float(p["fc"][i])) ** 8)
    if p["hp_on"][i]:
        h *= 1 / np.sqrt(1 + (float(p["fh"][i]) / f) ** 4)
    h *= (np.maximum(f, 50) / 1000) ** (float(p["tilt_db"][i]) / (20 * np.log10(2)))
    for k in range(aa.N_PEAKS):
        g, fp, w = (float(p[n][i, k]) for n in ("gain_db", "fp", "width_oct"))
        h *= 10 ** (g / 20 * np.exp(-0.5 * (np.log2(f / fp) / w) ** 2))
    return h


def test_tones_come_out_scaled_by_the_documented_response():
    T = 16000                       # 1 s: tones at integer Hz are exact rfft bins
    t = np.arange(T) / FS
    freqs = np.array([100.0, 300.0, 1000.0, 2500.0, 5000.0, 7000.0])
    x = np.stack([np.sin(2 * np.pi * f * t) for f in freqs])[:, None].astype(np.float64)   # (6, 1, T)
    g = torch.Generator().manual_seed(3)
    y = aa.channel_augment(torch.from_numpy(x), FS, generator=g).numpy()
    p = aa.draw_channels(len(freqs), torch.Generator().manual_seed(3))
    for i, f in enumerate(freqs):
        want = _numpy_response(p, i, [f])[0]
        np.testing.assert_allclose(y[i, 0], want * x[i, 0], atol=1e-9 + 1e-7 * want)
    # the parameters cover what the docstring says
    p = aa.draw_channels(4000, torch.Generator().manual_seed(0))
    assert 0.45 < float(p["lp_on"].double().mean()) < 0.55 and 0.45 < float(p["hp_on"].double().mean()) < 0.55
    assert 3000 <= float(p["fc"].min()) and float(p["fc"].max()) <= 7500
    assert -8 <= float(p["gain_db"].min()) and float(p["gain_db"].max()) <= 8
    assert 200 <= float(p["fp"].min()) and float(p["fp"].max()) <= 6000


def test_augmentation_is_seeded_and_consistent_across_a_global_batch():
    x = torch.randn(6, 1, 8000, dtype=torch.float64)
    a = aa.channel_augment(x, FS, torch.Generator().manual_seed(1))
    b = aa.channel_augment(x, FS, torch.Generator().manual_seed(1))
    c = aa.channel_augment(x, FS, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.allclose(a, c)
    part = aa.channel_augment(x[2:4], FS, torch.Generator().manual_seed(1), batch_slice=(2, 6))
    torch.testing.assert_close(part, a[2:4])      # a data-parallel rank gets the rows one process would
    assert a.shape == x.shape and torch.isfinite(a).all()


def test_audio_contrastive_objective_uses_the_channel_views_and_trains():
    torch.manual_seed(0)
    cfg = get_config("audio-tiny", objective="mae+contrastive+descriptors", pool="mean+std", dim=32, depth=1, heads=2,
                     decoder_dim=32, decoder_heads=2, decoder_depth=1)
    m = EncoderModel(cfg)
    x = torch.randn(4, 1, 32000) * 0.1
    out = m(x, generator=torch.Generator().manual_seed(0))
    assert {"mse", "nce", "desc"} <= set(out) and torch.isfinite(out["loss"])
    out["loss"].backward()
    assert m.blocks[0].attn.qkv.weight.grad.abs().sum() > 0 and m.proj_head is not None
    # the contrastive term is InfoNCE between the crops + noise + channel of each view, recomputed by hand
    from encoders.objectives import draw_views, info_nce, pooled
    c = get_config("audio-tiny", objective="contrastive", dim=32, depth=1, heads=2,
                   decoder_dim=32, decoder_heads=2, decoder_depth=1)
    m = EncoderModel(c).eval()
    with torch.no_grad():
        got = float(m(x, generator=torch.Generator().manual_seed(0))["nce"])
        g = torch.Generator().manual_seed(0)
        v1, v2 = draw_views(x, c.crop_fraction, g)
        v1, v2 = aa.channel_augment(v1, FS, g), aa.channel_augment(v2, FS, g)
        want = float(info_nce(m.proj_head(pooled(m, v1)), m.proj_head(pooled(m, v2)), c.temperature))
        v1, v2 = draw_views(x, c.crop_fraction, torch.Generator().manual_seed(0))
        plain = float(info_nce(m.proj_head(pooled(m, v1)), m.proj_head(pooled(m, v2)), c.temperature))
    assert got == pytest.approx(want, rel=1e-5) and abs(got - plain) > 1e-4

"""The beat tokenizer's PPG ``pulse_detector``: ``relu`` (peaks of the window-z-scored wave, every
checkpoint before 2026-12-01, still the default) and ``upstroke`` (peaks of the rise above the lowest
value of the preceding 0.3 s). The detection signal against a NumPy loop, pulses found in alternans,
no dicrotic double, the setting saved and exported."""
import json

import numpy as np
import pytest
import torch

from encoders.beat_tokens import UPSTROKE_S, BeatTokens
from encoders.config import EncoderConfig, get_config
from encoders.errors import EncoderError
from encoders.model import EncoderModel

FS = 125.0
SMALL = dict(dim=32, depth=1, heads=2, decoder_dim=32, decoder_heads=2, decoder_depth=1)
pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _pulses(period_s, amps, dicrotic=0.0, seconds=10.0, seed=0):
    t = np.arange(int(seconds * FS)) / FS
    x = np.zeros_like(t)
    for k, tb in enumerate(np.arange(0.1, seconds, period_s)):
        a = amps[k % len(amps)]
        x += a * np.exp(-0.5 * ((t - tb) / 0.06) ** 2) + a * dicrotic * np.exp(-0.5 * ((t - tb - 0.3) / 0.07) ** 2)
    return (x + np.random.default_rng(seed).normal(0, 0.01, len(t))).astype(np.float32)


def _count(detector, x):
    bt = BeatTokens("ppg", FS, 0.25, 0.45, 0.25, detector)
    return len(bt.beats(torch.from_numpy(x)[None, None])[0][0])


def test_upstroke_signal_is_the_rise_above_the_preceding_minimum():
    z = torch.from_numpy(np.random.default_rng(0).standard_normal((3, 1, 400)).astype(np.float32))
    got = BeatTokens("ppg", FS, 0.25, 0.45, 0.25, "upstroke").energy(z).numpy()
    w = int(round(UPSTROKE_S * FS))
    zn = z.numpy()
    want = np.array([[[zn[m, 0, t] - zn[m, 0, max(0, t - w):t + 1].min() for t in range(400)]] for m in range(3)])
    np.testing.assert_allclose(got, want, atol=1e-6)
    np.testing.assert_array_equal(BeatTokens("ppg", FS, 0.25, 0.45, 0.25).energy(z).numpy(),
                                  np.maximum(zn, 0))                    # relu: as every earlier checkpoint


def test_upstroke_finds_the_small_pulses_of_alternans_that_relu_loses():
    x = _pulses(0.5, (1.0, 0.3))                     # 120 /min, every other pulse 30 % of the height
    assert _count("relu", x) == 10                   # the small ones sit under 30 % of the typical height
    assert _count("upstroke", x) == 20


@pytest.mark.parametrize("period_s, amps, dicrotic", [(1.0, (1.0,), 0.5), (0.8, (1.0,), 0.0), (0.3, (1.0,), 0.0),
                                                      (0.5, (1.0, 0.5), 0.0)])
def test_upstroke_counts_regular_pulses_once(period_s, amps, dicrotic):
    n = len(np.arange(0.1, 10.0, period_s))
    assert abs(_count("upstroke", _pulses(period_s, amps, dicrotic)) - n) <= 1   # no dicrotic double


def test_pulse_detector_is_a_saved_config_field_with_a_backward_compatible_default(tmp_path):
    assert EncoderConfig(modality="ppg").pulse_detector == "relu"
    cfg = get_config("ppg-tiny", tokenizer="beat", pulse_detector="upstroke", **SMALL)
    m = EncoderModel(cfg)
    assert m.frontend.pulse_detector == "upstroke"
    with pytest.raises(EncoderError, match="unknown pulse_detector"):
        get_config("ppg-tiny", tokenizer="beat", pulse_detector="slope")
    shipped = json.loads((__import__("conftest").ROOT / "encoders/checkpoints/ppg-tiny/config.json").read_text())
    assert shipped.get("pulse_detector", "relu") in ("relu", "upstroke")


def test_onnx_export_parity_with_the_upstroke_detector(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from encoders.export import export_onnx
    torch.manual_seed(0)
    m = EncoderModel(get_config("ppg-tiny", tokenizer="beat", pulse_detector="upstroke", **SMALL)).eval()
    export_onnx(m, tmp_path / "pulse.onnx")
    sess = ort.InferenceSession(str(tmp_path / "pulse.onnx"), providers=["CPUExecutionProvider"])
    x = np.stack([_pulses(p, a)[:1250] for p, a in ((0.5, (1.0, 0.3)), (0.9, (1.0,)), (0.35, (1.0,)))])[:, None]
    assert [i.name for i in sess.get_inputs()] == ["x"]          # one PPG channel: no channel index
    for T in (1250, 1000):
        xt = np.ascontiguousarray(x[..., :T])
        assert len(set(m.frontend(torch.from_numpy(xt))[1].sum((1, 2)).tolist())) > 1   # beat counts differ
        got = sess.run(None, {"x": xt})[0]
        with torch.no_grad():
            ref = m.embed_forward(torch.from_numpy(xt)).numpy()
        assert np.abs(got - ref).max() <= 1e-4


def test_init_from_a_checkpoint_with_the_other_pulse_detector(tmp_path):
    """The detector has no weights: a relu checkpoint starts an upstroke fine-tune (as ppg-tiny's)."""
    from biosig.cli import main
    from encoder_helpers import TINY
    base = ["pretrain", "--modality", "ppg", "--synthetic-rhythm-records", "4", "--synthetic-seconds", "20",
            "--batch-size", "8", "--steps", "2", "--no-progress", *TINY, "--objective", "mae+descriptors",
            "--set", 'tokenizer="beat"', "--set", 'descriptor_set="pulse"']
    assert main([*base, "--out", str(tmp_path / "relu")]) == 0
    assert main([*base, "--set", 'pulse_detector="upstroke"', "--init-from", str(tmp_path / "relu"),
                 "--out", str(tmp_path / "up")]) == 0
    assert json.loads((tmp_path / "up" / "config.json").read_text())["pulse_detector"] == "upstroke"
    assert json.loads((tmp_path / "relu" / "config.json").read_text()).get("pulse_detector", "relu") == "relu"

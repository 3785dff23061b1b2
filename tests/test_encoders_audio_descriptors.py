"""Issue 14: knowledge-guided pretext targets for audio (``mae+descriptors`` with modality audio).
Descriptors vs a NumPy/librosa oracle and vs signals of known spectrum and envelope, the training
step (head trained, training-only, ECG head unchanged), seeded determinism through the CLI and ONNX
parity (the head is not exported)."""
import json

import numpy as np
import pytest
import torch

from biosig.cli import main
from biosig.synthetic import simulate
from encoders import audio_descriptors as ad
from encoders import descriptors as ecg_desc
from encoders.config import get_config
from encoders.errors import EncoderError
from encoders.model import EncoderModel, count_parameters

SMALL = dict(dim=32, depth=1, heads=2, decoder_dim=32, decoder_heads=2, decoder_depth=1)
FS = 16000.0


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _model(**kw):
    torch.manual_seed(0)
    return EncoderModel(get_config("audio-tiny", objective="mae+descriptors", **{**SMALL, **kw}))


def _oracle(m, x):
    c = m.config
    return ad.descriptors_numpy(x, c.input_fs_hz, c.n_fft, c.hop_length, c.n_mels, c.fmin_hz, c.fmax_hz)


def _sounds(seconds=1.5):
    n = int(seconds * FS)
    rng = np.random.default_rng(0)
    t = np.arange(n) / FS
    xs = [simulate("audio", seconds, seed=1, kind="cough").samples[0, :n],
          simulate("audio", seconds, seed=2, kind="breath").samples[0, :n],
          0.1 * np.sin(2 * np.pi * 440 * t) * (1 + 0.9 * np.sin(2 * np.pi * 3 * t)),   # tone, 3 Hz AM
          0.05 * rng.standard_normal(n)]                                               # white noise
    return np.stack(xs).astype(np.float32)[:, None]


def test_audio_descriptors_match_numpy_librosa_oracle():
    m = _model()
    x = _sounds()
    got = ad.compute(m.frontend, torch.from_numpy(x)).numpy()
    want = _oracle(m, x)
    assert got.shape == (4, ad.N_DESC) == want.shape and len(ad.NAMES) == ad.N_DESC == 27
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # an odd length (the last partial RMS frame is dropped by both)
    np.testing.assert_allclose(ad.compute(m.frontend, torch.from_numpy(x[..., :20001])).numpy(),
                               _oracle(m, x[..., :20001]), rtol=1e-4, atol=1e-5)


def test_audio_descriptors_of_known_signals():
    m = _model()
    d = dict(zip(ad.NAMES, ad.compute(m.frontend, torch.from_numpy(_sounds())).numpy().T))
    # white noise is spectrally flat and its zero-crossing rate is 1/2; a pure tone is not flat,
    # crosses zero 2 * 440 times a second, and its envelope (3 Hz AM) is modulated
    assert d["flatness_mean"][3] > 0.5 > 0.05 > d["flatness_mean"][2]
    assert d["zcr_mean"][3] == pytest.approx(0.5, abs=0.02)
    assert d["zcr_mean"][2] == pytest.approx(2 * 440 / FS, rel=0.05)
    assert d["rms_modulation"][2] > 0.3 > d["rms_modulation"][3]
    # white noise has its centroid high in the mel scale and its roll-off near the top
    assert d["centroid_mean"][3] > d["centroid_mean"][2] and d["rolloff_mean"][3] > 0.7


def test_audio_descriptor_objective_trains_encoder_and_training_only_head():
    m = _model()
    assert m.desc_head.linear.out_features == ad.N_DESC and m.desc_head.log_floors == ad.LOG_FLOORS
    x = torch.from_numpy(_sounds())
    out = m(x, generator=torch.Generator().manual_seed(0))
    assert float(m.desc_head.count) == 4
    assert float(out["loss"].detach()) == pytest.approx(float(out["mse"].detach()) + float(out["desc"].detach()), rel=1e-5)
    out["loss"].backward()
    assert m.blocks[0].attn.qkv.weight.grad.abs().sum() > 0 and m.desc_head.linear.weight.grad.abs().sum() > 0
    assert count_parameters(m, encoder_only=True) < count_parameters(m)
    # the ECG head keeps its descriptors and log floors
    e = EncoderModel(get_config("ecg-tiny", objective="mae+descriptors", tokenizer="beat", **SMALL))
    assert e.desc_head.linear.out_features == ecg_desc.N_DESC and e.desc_head.log_floors == ecg_desc.LOG_FLOORS
    with pytest.raises(EncoderError, match="beat tokenizer"):
        get_config("ppg-tiny", objective="mae+descriptors")


@pytest.mark.parametrize("pool,descriptor_set", [("mean", "v1"), ("mean+std", "v1"), ("mean+std", "lung")])
def test_audio_descriptor_onnx_parity(tmp_path, pool, descriptor_set):
    """statistics pooling works for audio too; the lung descriptor head (as shipped) is not exported either"""
    ort = pytest.importorskip("onnxruntime")
    from encoders.export import export_onnx
    m = _model(pool=pool, descriptor_set=descriptor_set)
    x = _sounds()
    m(torch.from_numpy(x), generator=torch.Generator().manual_seed(0))
    m.eval()
    export_onnx(m, tmp_path / "a.onnx")
    sess = ort.InferenceSession(str(tmp_path / "a.onnx"), providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    for T in (24000, 16384):
        xt = np.ascontiguousarray(x[..., :T])
        idx = np.zeros((4, 1), np.int64)
        feeds = {"x": xt, "channel_idx": idx} if "channel_idx" in names else {"x": xt}
        got = sess.run(None, feeds)[0]
        with torch.no_grad():
            ref = m.embed_forward(torch.from_numpy(xt), torch.from_numpy(idx)).numpy()
        assert got.shape == (4, 32) and np.abs(got - ref).max() <= 1e-4


def test_audio_descriptor_run_is_seeded_and_saves_its_config(tmp_path):
    args = ["pretrain", "--modality", "audio", "--synthetic", "--synthetic-records", "2", "--synthetic-seconds", "4",
            "--window-s", "2", "--steps", "2", "--batch-size", "4", "--no-progress", "--objective", "mae+descriptors",
            *sum((["--set", f"{k}={v}"] for k, v in SMALL.items()), [])]
    for name in ("a", "b"):
        assert main([*args, "--out", str(tmp_path / name)]) == 0
    wa, wb = (torch.load(tmp_path / n / "weights.pt", weights_only=True) for n in ("a", "b"))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert json.loads((tmp_path / "a" / "config.json").read_text())["objective"] == "mae+descriptors"
    rows = [json.loads(r) for r in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert all(r["desc"] > 0 for r in rows if "desc" in r) and any("desc" in r for r in rows)


@pytest.mark.parametrize("lung", [False, True])
def test_audio_descriptor_run_resumes_exactly(tmp_path, lung):
    """2 steps then --resume to 4 == 4 steps straight: the head's running statistics are in the checkpoint
    (also with the lung descriptors and auscultation records, the shipped recipe)."""
    extra = ["--synthetic-lung-records", "2", "--set", 'descriptor_set="lung"'] if lung else []
    base = ["pretrain", "--modality", "audio", "--synthetic", "--synthetic-records", "2", "--synthetic-seconds", "4",
            "--window-s", "2", "--batch-size", "4", "--no-progress", "--objective", "mae+descriptors",
            "--ckpt-every", "2", *extra, *sum((["--set", f"{k}={v}"] for k, v in SMALL.items()), [])]
    assert main([*base, "--steps", "4", "--out", str(tmp_path / "a")]) == 0
    assert main([*base, "--steps", "2", "--out", str(tmp_path / "b")]) == 0
    assert main([*base, "--steps", "4", "--out", str(tmp_path / "b"), "--resume"]) == 0
    wa, wb = (torch.load(tmp_path / n / "weights.pt", weights_only=True) for n in ("a", "b"))
    assert any(k.startswith("desc_head.") for k in wa) and float(wa["desc_head.count"]) > 0
    assert wa["desc_head.linear.weight"].shape[0] == (31 if lung else 27)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    steps = [json.loads(r)["step"] for r in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]                                             # continued, not restarted

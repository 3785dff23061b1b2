"""Blow-shape descriptors for spirogram pretraining (encoders/spiro_descriptors.py): the torch batch
computation against the NumPy loop oracle, on synthetic blows with and without artefacts, and the
descriptors move the way the artefacts say; the objective trains and exports without its head."""
import numpy as np
import pytest
import torch

from biosig.synthetic import SPIRO_ARTEFACTS, simulate_spiro
from encoders import spiro_descriptors as sd


def _blows():
    out = []
    for a in (None,) + SPIRO_ARTEFACTS:          # the same blows (seeds) with and without each artefact
        for j, p in enumerate(("normal", "obstructive", "restrictive")):
            v = simulate_spiro(15.0, 100 + j, 100.0, pattern=p, artefact=a).samples[0].astype(np.float64)
            flow = np.gradient(v) * 100.0 / 1000.0
            out.append((a, np.stack([v, flow]).astype(np.float32)))
    return out


def test_torch_descriptors_match_the_numpy_oracle():
    blows = _blows()
    x = torch.from_numpy(np.stack([b for _, b in blows]))
    got = sd.compute(x, 100.0).numpy()
    want = np.stack([sd.descriptors_numpy(b, 100.0) for _, b in blows])
    assert got.shape == (len(blows), sd.N_DESC) and len(sd.NAMES) == sd.N_DESC
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    # a shorter window and another rate (50 ms bins of 2 samples) agree too
    x2 = torch.from_numpy(np.stack([b[:, ::2][:, :600] for _, b in blows[:4]]))
    np.testing.assert_allclose(sd.compute(x2, 50.0).numpy(),
                               np.stack([sd.descriptors_numpy(b, 50.0) for b in x2.numpy()]), rtol=1e-5, atol=1e-5)


def test_descriptors_see_the_artefacts():
    d = {}
    for a, b in _blows():
        d.setdefault(a, []).append(sd.descriptors_numpy(b, 100.0))
    d = {a: np.array(v) for a, v in d.items()}
    i = {n: k for k, n in enumerate(sd.NAMES)}
    assert (d["slow-start"][:, i["t_rise_s"]] > d[None][:, i["t_rise_s"]]).all()
    assert (d["cough"][:, i["rise_1s"]] > 2 * d[None][:, i["rise_1s"]]).all()
    assert (d["cough"][:, i["rise_1s"]] > 0.1).all()
    assert (d["early-stop"][:, i["t95_s"]] <= d[None][:, i["t95_s"]] + 0.02).all()
    assert d["early-stop"][1, i["t95_s"]] < 0.8 * d[None][1, i["t95_s"]]      # obstructive: long tail cut
    assert (d["effort"][:, i["rise_1s"]] + d["effort"][:, i["rise_late"]]
            > d[None][:, i["rise_1s"]] + d[None][:, i["rise_late"]]).all()
    assert (d[None][:, i["fev05"]] < d[None][:, i["fev1"]]).all() and (d[None][:, i["fev3"]] <= 1.0 + 1e-9).all()


SMALL = dict(dim=32, depth=1, heads=2, decoder_dim=32, decoder_heads=2, decoder_depth=1)


def _model(**kw):
    from encoders.config import get_config
    from encoders.model import EncoderModel
    torch.manual_seed(0)
    return EncoderModel(get_config("spiro-tiny", objective="mae+descriptors", **{**SMALL, **kw}))


def test_spiro_descriptor_objective_trains_the_encoder_and_a_training_only_head():
    m = _model()
    assert m.desc_head.linear.out_features == sd.N_DESC and m.desc_head.log_floors == sd.LOG_FLOORS
    x = torch.from_numpy(np.stack([b for _, b in _blows()[:6]]))
    out = m(x, generator=torch.Generator().manual_seed(0))
    assert float(m.desc_head.count) == 6
    out["loss"].backward()
    assert m.blocks[0].attn.qkv.weight.grad.abs().sum() > 0 and m.desc_head.linear.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("pool", ["mean", "mean+std"])
def test_spiro_descriptor_model_exports_with_parity(tmp_path, pool):
    ort = pytest.importorskip("onnxruntime")
    from encoders.export import export_onnx
    m = _model(pool=pool)
    x = np.stack([b for _, b in _blows()[:4]])
    m(torch.from_numpy(x), generator=torch.Generator().manual_seed(0))
    m.eval()
    export_onnx(m, tmp_path / "s.onnx")
    sess = ort.InferenceSession(str(tmp_path / "s.onnx"), providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    for T in (1500, 1000):
        xt = np.ascontiguousarray(x[..., :T])
        idx = np.zeros((4, 2), np.int64)
        feeds = {"x": xt, "channel_idx": idx} if "channel_idx" in names else {"x": xt}
        got = sess.run(None, feeds)[0]
        with torch.no_grad():
            ref = m.embed_forward(torch.from_numpy(xt), torch.from_numpy(idx)).numpy()
        assert got.shape == (4, 32) and np.abs(got - ref).max() <= 1e-4


def test_spiro_descriptor_run_on_blow_records_is_seeded_and_resumes_exactly(tmp_path):
    import json

    from biosig.cli import main
    base = ["pretrain", "--modality", "spiro", "--synthetic-blow-records", "4", "--synthetic-seconds", "15",
            "--batch-size", "4", "--no-progress", "--objective", "mae+descriptors", "--ckpt-every", "2",
            *sum((["--set", f"{k}={v}"] for k, v in SMALL.items()), [])]
    assert main([*base, "--steps", "4", "--out", str(tmp_path / "a")]) == 0
    assert main([*base, "--steps", "4", "--out", str(tmp_path / "c")]) == 0
    assert main([*base, "--steps", "2", "--out", str(tmp_path / "b")]) == 0
    assert main([*base, "--steps", "4", "--out", str(tmp_path / "b"), "--resume"]) == 0
    wa, wb, wc = (torch.load(tmp_path / n / "weights.pt", weights_only=True) for n in ("a", "b", "c"))
    assert any(k.startswith("desc_head.") for k in wa) and float(wa["desc_head.count"]) > 0
    assert all(torch.equal(wa[k], wb[k]) and torch.equal(wa[k], wc[k]) for k in wa)
    assert json.loads((tmp_path / "a" / "config.json").read_text())["objective"] == "mae+descriptors"
    meta = json.loads((tmp_path / "a" / "meta.json").read_text())
    assert "synthetic_blow_records" in json.dumps(meta)

"""ONNX export: graph interface, metadata, onnx.checker, fp16, fixed batch, both exporters, errors,
and the ``biosig export`` command."""
import json

import numpy as np
import pytest

from conftest import load_encoder

FP16_TOL = 2e-2  # fp16 weights/activations vs torch fp32, on embeddings of unit scale
INT8_TOL = 1e-1  # dynamic int8 MatMuls vs torch fp32 (max abs); cosine similarity > 0.999

pytestmark = pytest.mark.usefixtures("export_cache")


def small_ecg():
    """A one-block ECG encoder (real architecture, small enough to export in a few seconds)."""
    import encoders
    import torch
    torch.manual_seed(0)
    return encoders.create_model("ecg-tiny", depth=1, dim=32, heads=2).eval()


def torch_embed(model, x, idx=None):
    import torch
    with torch.inference_mode():
        return model.embed_forward(torch.from_numpy(x), None if idx is None else torch.from_numpy(idx)).numpy()


def test_graph_interface_metadata_and_checker():
    import biosig
    import onnx
    from encoders.backends import export_cached
    from encoders.export import read_metadata
    enc = load_encoder("ecg-tiny")
    path = export_cached(enc)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    inputs = {i.name: i for i in proto.graph.input}
    assert list(inputs) == ["x", "channel_idx"]
    assert [o.name for o in proto.graph.output] == ["embedding"]
    x_dims = [d.dim_param or d.dim_value for d in inputs["x"].type.tensor_type.shape.dim]
    assert x_dims == ["batch", "channels", "time"]
    assert inputs["x"].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert inputs["channel_idx"].type.tensor_type.elem_type == onnx.TensorProto.INT64
    out_dims = [d.dim_param or d.dim_value for d in proto.graph.output[0].type.tensor_type.shape.dim]
    assert out_dims == ["batch", enc.config.dim]

    meta = read_metadata(path)
    assert meta["version"] == biosig.__version__
    assert meta["model_id"] == enc.model_id
    assert meta["model_config"] == json.loads(json.dumps(enc.config.to_dict()))
    assert meta["pipeline_hash"] == enc.pipeline.hash
    assert meta["pipeline"] == json.loads(enc.pipeline.to_json())
    outside, in_model = enc.pipeline.split_in_model()
    assert meta["pipeline_outside"] == json.loads(outside.to_json())
    assert meta["pipeline_outside_hash"] == outside.hash
    assert meta["pipeline_in_model"] == json.loads(in_model.to_json())
    assert meta["input"]["fs_hz"] == enc.config.input_fs_hz
    assert meta["input"]["batch"] == "dynamic" and meta["input"]["length"] == "dynamic"
    assert meta["precision"] == "fp32"


def test_fp16_export_via_cli(tmp_path, capsys):
    """``biosig export --precision fp16``: float16 weights, float32 interface, parity within 2e-2."""
    import encoders
    import onnx
    import onnxruntime as ort
    from biosig.cli import main
    from encoders.export import read_metadata
    name = "ecg-tiny"
    out = tmp_path / "ecg16.onnx"
    argv = ["export", name, "--out", str(out), "--precision", "fp16"]
    if name not in encoders.shipped_models():
        argv.append("--random-init")
    assert main(argv) == 0
    assert "wrote" in capsys.readouterr().out
    proto = onnx.load(str(out))
    onnx.checker.check_model(proto, full_check=True)
    types = [t.data_type for t in proto.graph.initializer if len(t.dims) >= 2]
    assert types.count(onnx.TensorProto.FLOAT16) >= 0.9 * len(types)  # the weight matrices
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert proto.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert read_metadata(out)["precision"] == "fp16"

    enc = encoders.load(name, pretrained="--random-init" not in argv)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 2, enc.config.window_samples)).astype(np.float32)
    idx = np.array([[1, 7]] * 4, dtype=np.int64)
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(
        None, {"x": x, "channel_idx": idx})[0]
    ref = torch_embed(enc.model, x, idx)
    assert got.dtype == np.float32
    assert np.abs(got - ref).max() <= FP16_TOL


def test_fp16_keeps_the_audio_front_end_in_float32():
    """|STFT|^2 of full-scale audio overflows float16 (> 65504); the converter keeps the
    parameter-free front end in float32, so a loud window still embeds finitely and close."""
    import onnx
    import onnxruntime as ort
    from encoders.backends import export_cached
    from encoders.compile import convert_fp16
    from encoders.export import _wrap
    enc = load_encoder("audio-tiny")
    proto = onnx.load(str(export_cached(enc)))
    params = {n for n, _ in _wrap(enc.model, False).named_parameters()}
    half = convert_fp16(proto, param_names=params)
    onnx.checker.check_model(half, full_check=True)
    t = np.arange(enc.config.window_samples) / enc.config.input_fs_hz
    loud = (0.99 * np.sign(np.sin(2 * np.pi * 440 * t)))[None, None].astype(np.float32)  # square wave
    x = np.concatenate([loud, np.random.default_rng(0).uniform(-1, 1, loud.shape).astype(np.float32)])
    got = ort.InferenceSession(half.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    ref = torch_embed(enc.model, x)
    assert np.isfinite(got).all()
    assert np.abs(got - ref).max() <= FP16_TOL


def test_fixed_batch_and_the_torch_export_path(tmp_path):
    """--batch K fixes axis 0; exporter='dynamo' (torch.export) gives a verified, dynamic graph."""
    import onnx
    from encoders.backends import make_backend
    from encoders.export import export_onnx
    model = small_ecg()
    fixed = export_onnx(model, tmp_path / "fixed.onnx", batch=4, exporter="torchscript")
    dims = onnx.load(str(fixed.path)).graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_value == 4 and not fixed.dynamic_batch and fixed.dynamic_length
    backend = make_backend("onnxruntime", fixed.path)
    x = np.random.default_rng(2).standard_normal((4, 1, 2500)).astype(np.float32)
    np.testing.assert_allclose(backend.run(x), torch_embed(model, x, np.zeros((4, 1), np.int64)), atol=1e-4, rtol=0)
    # 3 or 9 windows on a batch-4 graph: runs of 4, the last padded (was an error for any other count)
    x9 = np.random.default_rng(4).standard_normal((9, 1, 2500)).astype(np.float32)
    for xs in (x[:3], x9):
        np.testing.assert_allclose(backend.run(xs), torch_embed(model, xs, np.zeros((len(xs), 1), np.int64)),
                                   atol=1e-4, rtol=0)

    dyn = export_onnx(model, tmp_path / "dynamo.onnx", exporter="dynamo")
    assert dyn.exporter == "dynamo" and dyn.dynamic_batch and dyn.dynamic_length
    x = np.random.default_rng(3).standard_normal((5, 3, 1777)).astype(np.float32)
    idx = np.array([[0, 4, 9]] * 5, dtype=np.int64)
    np.testing.assert_allclose(make_backend("onnxruntime", dyn.path).run(x, idx), torch_embed(model, x, idx),
                               atol=1e-4, rtol=0)


def test_int8_dynamic_quantization(tmp_path):
    import collections
    import onnx
    from encoders.backends import make_backend
    from encoders.export import export_onnx, read_metadata
    model = small_ecg()
    result = export_onnx(model, tmp_path / "q.onnx", precision="int8")
    proto = onnx.load(str(result.path))
    onnx.checker.check_model(proto, full_check=True)
    ops = collections.Counter(n.op_type for n in proto.graph.node)
    weights = {t.name for t in proto.graph.initializer}
    fp32_weight_matmuls = [n.name for n in proto.graph.node if n.op_type == "MatMul" and n.input[1] in weights]
    assert ops["MatMulInteger"] >= 4 and ops["DynamicQuantizeLinear"] >= 1
    assert fp32_weight_matmuls == []  # every weight product quantized; attention's q.k / p.v stay float
    assert read_metadata(result.path)["precision"] == "int8"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.onnx"]  # temporaries removed
    x = np.random.default_rng(4).standard_normal((6, 2, 2500)).astype(np.float32)
    idx = np.array([[1, 6]] * 6, dtype=np.int64)
    got = make_backend("onnxruntime", result.path).run(x, idx)
    ref = torch_embed(model, x, idx)
    cos = np.sum(got * ref, 1) / np.linalg.norm(got, axis=1) / np.linalg.norm(ref, axis=1)
    assert np.abs(got - ref).max() <= INT8_TOL and cos.min() > 0.999
    assert np.abs(got - ref).max() > 1e-6  # really quantized, not the fp32 graph


@pytest.mark.parametrize("kwargs, match", [
    (dict(precision="int4"), "precision 'int4' is not supported; use one of fp32, fp16, int8"),
    (dict(opset=5), r"opset 5 is not supported; use 18\.\."),
    (dict(opset=99), "opset 99 is not supported"),
    (dict(batch=0), "batch 0 is out of range"),
    (dict(batch="many"), "batch 'many' is not supported"),
    (dict(exporter="tf"), "exporter 'tf' is not supported; use one of auto, torchscript, dynamo"),
])
def test_bad_options_are_clear_errors(tmp_path, kwargs, match):
    from encoders.errors import EncoderError
    from encoders.export import export_onnx
    with pytest.raises(EncoderError, match=match):
        export_onnx(small_ecg(), tmp_path / "m.onnx", **kwargs)
    assert not (tmp_path / "m.onnx").exists()


def test_unsupported_model_is_a_clear_error(tmp_path):
    import torch
    from biosig.errors import BiosigError
    from encoders.export import export_onnx
    with pytest.raises(BiosigError, match="cannot export Linear"):
        export_onnx(torch.nn.Linear(3, 4), tmp_path / "m.onnx")


def test_cli_export_user_errors_are_one_line(tmp_path, capsys):
    from biosig.cli import main
    assert main(["export", "no-such-model", "--out", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no-such-model" in err and "ecg-tiny" in err
    assert main(["export", "ecg-tiny", "--random-init", "--out", str(tmp_path / "m.onnx"), "--opset", "7"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "opset 7" in err
    with pytest.raises(SystemExit) as exc:
        main(["export", "ecg-tiny", "--out", str(tmp_path / "m.onnx"), "--batch", "0"])
    assert exc.value.code == 2


def test_framing_conv_rewrite_matches_conv1d():
    """rewrite_frame_convs: Conv(kernel L, stride L/2) == framing + MatMul, oracle torch conv1d."""
    import onnx
    import onnxruntime as ort
    import torch
    from onnx import TensorProto, helper, numpy_helper
    from encoders.compile import rewrite_frame_convs
    rng = np.random.default_rng(5)
    w = rng.standard_normal((6, 1, 16)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], strides=[8], kernel_shape=[16], pads=[0, 0])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 1, "T"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", 6, "F"])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    assert rewrite_frame_convs(proto) == 1
    onnx.checker.check_model(proto, full_check=True)
    assert "Conv" not in {n.op_type for n in proto.graph.node}
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    for batch, length in ((1, 16), (3, 100), (2, 1001)):
        x = rng.standard_normal((batch, 1, length)).astype(np.float32)
        ref = torch.nn.functional.conv1d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), stride=8)
        np.testing.assert_allclose(session.run(None, {"x": x})[0], ref.numpy(), atol=1e-5, rtol=0)


def test_audio_export_has_its_stft_convolution_rewritten():
    import onnx
    from encoders.backends import export_cached
    proto = onnx.load(str(export_cached(load_encoder("audio-tiny"))))
    assert "Conv" not in {n.op_type for n in proto.graph.node}
    assert any("_as_matmul" in n.output[0] for n in proto.graph.node if n.op_type == "MatMul")


@pytest.mark.slow
def test_embed_cli_exported_onnx_equals_torch_checkpoint(tmp_path, capsys):
    """One backend API: ``biosig embed REC --model ecg.onnx --backend onnxruntime`` (preprocessing
    from the file's metadata, no checkpoint) equals ``--backend torch --model ecg-tiny`` to 1e-4."""
    import polars as pl

    from biosig.cli import main
    from conftest import shared_path
    rec = str(shared_path("wfdb", "100.hea").with_suffix(""))
    import encoders
    weights = [] if "ecg-tiny" in encoders.shipped_models() else ["--random-weights"]
    onnx_path = tmp_path / "ecg.onnx"
    assert main(["export", "ecg-tiny", "--out", str(onnx_path)] + (["--random-init"] if weights else [])) == 0
    a, b = tmp_path / "onnx.parquet", tmp_path / "torch.parquet"
    assert main(["embed", rec, "--model", str(onnx_path), "--backend", "onnxruntime", "--out", str(a)]) == 0
    assert main(["embed", rec, "--model", "ecg-tiny", *weights, "--backend", "torch", "--device", "cpu",
                 "--out", str(b)]) == 0
    da, db = pl.read_parquet(a), pl.read_parquet(b)
    assert len(da) == len(db) > 100
    assert da.drop("embedding").equals(db.drop("embedding"))
    ea, eb = np.array(da["embedding"].to_list()), np.array(db["embedding"].to_list())
    np.testing.assert_allclose(ea, eb, atol=1e-4, rtol=0)
    # the torch backend path gives exactly what Encoder.embed gives (same windows, same numbers)
    from biosig.readers import read
    enc = encoders.load("ecg-tiny", pretrained=not weights)
    ref = enc.embed(read(rec), source=rec)
    np.testing.assert_allclose(eb, np.array(ref["embedding"].to_list()), atol=1e-6, rtol=0)
    capsys.readouterr()
    # clear one-line errors
    for argv, needle in ((["--model", str(onnx_path), "--backend", "torch"], "--backend torch needs a model name"),
                         (["--model", str(onnx_path), "--precision", "bf16"], "--precision bf16 applies to the torch"),
                         (["--model", str(tmp_path / "x.plan")], "does not exist"),
                         (["--model", "ecg-tiny", "--device", "gpu0"], "is not a device")):
        try:
            code = main(["embed", rec, *argv, "--out", str(tmp_path / "e.parquet")])
        except SystemExit as exc:  # argparse's own errors exit directly
            code = exc.code
        assert code == 2
        err = capsys.readouterr().err.strip()
        assert needle in err.splitlines()[-1] and "Traceback" not in err, err


def test_a_graph_without_biosig_metadata_is_one_line_for_embed_and_score(tmp_path, capsys):
    """Both loaders of exported graphs (encoders.inference for embed, encoders.scoring for score)
    refuse a graph stripped of biosig's metadata with the same one line naming what is missing."""
    import onnx

    import encoders
    from biosig.cli import main
    from biosig.synthetic import simulate
    from biosig.writers import write
    from encoders.export import export_onnx
    graph = tmp_path / "ppg.onnx"
    export_onnx(encoders.load("ppg-tiny"), graph)
    m = onnx.load(str(graph))
    del m.metadata_props[:]
    onnx.save(m, str(graph))
    write(simulate("ppg", 20, seed=0, fs_hz=100.0), tmp_path / "r.csv")
    want = f"{graph} lacks the biosig metadata model_config, pipeline_outside, model_id"
    for argv in (["embed", str(tmp_path / "r.csv"), "--model", str(graph), "--out", str(tmp_path / "e.parquet")],
                 ["score", str(tmp_path / "r.csv"), "--model", str(graph), "--out", str(tmp_path / "s")]):
        capsys.readouterr()
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert want in err and len(err.splitlines()) == 1

"""``biosig compile`` / encoders.compile: option checks, clean refusal without TensorRT or a GPU,
and (marked gpu) a real TensorRT engine compared with torch."""
import importlib.util
import os

import numpy as np
import pytest

HAS_TRT = importlib.util.find_spec("tensorrt") is not None


def _has_cuda():
    import torch
    return torch.cuda.is_available()


@pytest.fixture
def tiny_onnx(tmp_path):
    """A valid one-node ONNX file: enough for the checks that run before TensorRT is touched."""
    import onnx
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 1, "time"])
    y = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", 1, "time"])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["embedding"])], "g", [x], [y])
    path = tmp_path / "tiny.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    return path


@pytest.mark.parametrize("kwargs, match", [
    (dict(precision="int8"), "int8 needs calibration data: --calibration"),
    (dict(precision="bf16"), "precision 'bf16' is not supported; use one of fp32, fp16, int8"),
    (dict(min_batch=8, opt_batch=4), "1 <= min <= opt <= max, got 8/4/32"),
    (dict(opt_batch=64), "1 <= min <= opt <= max, got 1/64/32"),
])
def test_options_are_checked(kwargs, match):
    from encoders.compile import CompileOptions
    from encoders.errors import EncoderError
    with pytest.raises(EncoderError, match=match):
        CompileOptions(**kwargs)


def test_missing_onnx_file_is_one_line(tmp_path, capsys):
    from biosig.cli import main
    assert main(["compile", str(tmp_path / "none.onnx"), "--out", str(tmp_path / "m.plan")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "none.onnx does not exist" in err and "biosig export" in err


@pytest.mark.skipif(HAS_TRT and _has_cuda(), reason="TensorRT and a GPU are present: compile would run")
def test_compile_refuses_cleanly_without_tensorrt_or_gpu(tiny_onnx, tmp_path, capsys):
    from biosig.cli import main
    out = tmp_path / "m.plan"
    assert main(["compile", str(tiny_onnx), "--out", str(out), "--precision", "fp16"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("biosig compile: error:")
    if not HAS_TRT:
        assert "TensorRT is not installed; install it with: pip install 'biosig[gpu]'" in err
    else:
        assert "needs a CUDA GPU" in err
    assert not out.exists()


def test_cli_profile_arguments_are_validated(tiny_onnx, tmp_path, capsys):
    from biosig.cli import main
    assert main(["compile", str(tiny_onnx), "--out", str(tmp_path / "m.plan"),
                 "--min-batch", "16", "--opt-batch", "8"]) == 2
    assert "1 <= min <= opt <= max" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["compile", str(tiny_onnx), "--out", str(tmp_path / "m.plan"), "--max-batch", "0"])
    assert exc.value.code == 2


@pytest.mark.gpu
@pytest.mark.parametrize("precision, tol", [("fp32", 5e-3), ("fp16", 5e-2)])
def test_tensorrt_engine_matches_torch(tmp_path, monkeypatch, precision, tol):
    """fp32 engines may use TF32 on Ampere+, hence 5e-3 rather than the 1e-4 of ONNX Runtime."""
    if not HAS_TRT:
        pytest.skip("TensorRT is not installed (pip install 'biosig[gpu]')")
    import encoders
    from encoders.backends import export_cached, make_backend
    from encoders.compile import CompileOptions, compile_engine
    monkeypatch.setenv("BIOSIG_CACHE_DIR", str(tmp_path))
    name = "ecg-tiny"
    enc = encoders.load(name, pretrained=name in encoders.shipped_models())
    window = enc.config.window_samples
    info = compile_engine(export_cached(enc), tmp_path / "ecg.plan",
                          CompileOptions(precision=precision, min_batch=1, opt_batch=8, max_batch=16,
                                         min_length=window // 2, opt_length=window, max_length=window))
    assert info.path.stat().st_size > 0
    backend = make_backend("auto", info.path)
    assert backend.name == "tensorrt"
    rng = np.random.default_rng(0)
    for batch, length in ((1, window), (8, window), (16, window // 2 + 25)):
        x = rng.standard_normal((batch, 1, length)).astype(np.float32)
        ref = make_backend("torch", enc, device="cpu").run(x)
        np.testing.assert_allclose(backend.run(x), ref, atol=tol, rtol=0)
    from encoders.errors import EncoderError
    with pytest.raises(EncoderError, match="optimisation profile"):
        backend.run(np.zeros((32, 1, window), np.float32))


def test_calibration_without_int8_is_said(caplog):
    """--calibration is read by int8 builds only; given to an fp16 build it was ignored silently."""
    import logging

    from encoders.compile import CompileOptions
    caplog.set_level(logging.WARNING, logger="encoders.compile")
    CompileOptions(precision="fp16", calibration="windows.npy")
    assert any("used by --precision int8 only" in r.getMessage() for r in caplog.records)
    caplog.clear()
    CompileOptions(precision="int8", calibration="windows.npy")
    assert not caplog.records

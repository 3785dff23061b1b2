"""``biosig compile`` on a machine without TensorRT or a CUDA GPU: every option combination ends
in one line and exit code 2, the line saying what the machine lacks (both of them), and the
user's own mistakes (an --out that is no .plan, a missing --calibration file, an inverted length
profile, a file that is no ONNX) are named first, as they would be on a GPU machine."""
import importlib.util

import pytest

from biosig.cli import main


def _gpu_machine() -> bool:
    import torch
    return importlib.util.find_spec("tensorrt") is not None and torch.cuda.is_available()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """spiro-tiny exported by biosig export (the smallest shipped graph), with its metadata."""
    from conftest import load_encoder
    from encoders.export import export_onnx
    return export_onnx(load_encoder("spiro-tiny"), tmp_path_factory.mktemp("c") / "spiro.onnx").path


def _compile(argv, capsys):
    capsys.readouterr()
    code = main(["compile", *argv])
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return code, err


@pytest.mark.parametrize("options", [
    [], ["--precision", "fp32"], ["--precision", "fp16", "--min-batch", "2", "--opt-batch", "4", "--max-batch", "8"],
    ["--precision", "int8", "--calibration", "CALIB"], ["--min-length", "100", "--opt-length", "200", "--max-length", "300"],
    ["--channels", "2", "--workspace-mb", "64"], ["--force"],
])
def test_cpu_machine_is_told_it_needs_a_gpu_and_tensorrt(exported, tmp_path, capsys, options):
    if _gpu_machine():
        pytest.skip("TensorRT and a CUDA GPU are here: compile builds")
    import numpy as np
    calib = tmp_path / "calib.npy"
    np.save(calib, np.zeros((8, 2, 100), np.float32))
    out = tmp_path / "m.plan"
    code, err = _compile([str(exported), "--out", str(out), *[str(calib) if o == "CALIB" else o for o in options]],
                         capsys)
    assert code == 2 and "needs a CUDA GPU and TensorRT" in err, err
    if importlib.util.find_spec("tensorrt") is None:
        assert "TensorRT is not installed; install it with: pip install 'biosig[gpu]'" in err
    assert not out.exists()


@pytest.mark.parametrize("options, needle", [
    (["--out", "{tmp}/m.engine"], "expected a .plan engine file name"),
    (["--out", "{tmp}/m.plan", "--precision", "int8", "--calibration", "{tmp}/none.npy"],
     "--calibration {tmp}/none.npy does not exist"),
    (["--out", "{tmp}/m.plan", "--min-length", "300", "--max-length", "200"],
     "--min-length <= --opt-length <= --max-length, got 300/None/200"),
])
def test_user_mistakes_are_named_before_the_machine_is_checked(exported, tmp_path, capsys, options, needle):
    code, err = _compile([str(exported), *[o.format(tmp=tmp_path) for o in options]], capsys)
    assert code == 2 and needle.format(tmp=tmp_path) in err, err
    assert not list(tmp_path.glob("m.*"))


def test_a_file_that_is_not_onnx_is_named(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a graph")
    code, err = _compile([str(bad), "--out", str(tmp_path / "m.plan")], capsys)
    assert code == 2 and f"{bad}: not a readable ONNX file" in err, err

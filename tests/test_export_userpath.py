"""``biosig compile`` of a file that parses as ONNX but holds no graph (an empty file): named before
the machine is checked, so a CPU machine does not answer that it lacks a GPU."""
from biosig.cli import main


def test_an_empty_onnx_file_is_named_not_the_missing_gpu(tmp_path, capsys):
    empty = tmp_path / "m.onnx"
    empty.write_bytes(b"")
    assert main(["compile", str(empty), "--out", str(tmp_path / "m.plan")]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and f"{empty}: an ONNX file without a graph (0 bytes" in err[0], err
    assert "GPU" not in err[0]
    assert not (tmp_path / "m.plan").exists()

"""Bug bash of pretrain -> export -> probe as a researcher uses them (helper 74).

- export's parity check (encoders.export_probes._verify) against ONNX Runtime: a graph of the right shape that
  computes something else is refused, and the error says so (it said "the exporter baked in a shape", a cause it
  had not seen, sending the user after the wrong bug); a graph that computes the same passes.
- ``biosig probe --positive A --min-quality Q``: when --min-quality (or a record missing from the embeddings)
  leaves no record labelled A, the error said "--positive 'A' is not a label value; values: N" about a value the
  labels file holds 15 times; now it says the records labelled A were all left out, and why.
"""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch

from biosig.cli import main
from encoders.errors import EncoderError
from encoders.export_probes import _verify


class _MeanEncoder(torch.nn.Module):
    """A real model for the parity check: the embedding is each channel's mean over time, (B, C)."""

    def embed_forward(self, x, channel_idx=None):
        return x.mean(dim=-1)


def _reduce_graph(op: str):
    """An ONNX graph x (B, C, T) -> (B, C) reducing time with ``op`` (ReduceMean is the model's)."""
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "channels", "samples"])
    y = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", "channels"])
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [2])
    node = helper.make_node(op, ["x", "axes"], ["embedding"], keepdims=0)
    graph = helper.make_graph([node], "toy", [x], [y], initializer=[axes])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)


CONFIG = {"window_s": 2.0, "input_fs_hz": 50.0, "in_channels": 1}


def test_parity_check_passes_a_graph_that_computes_the_model():
    pytest.importorskip("onnxruntime")
    _verify(_reduce_graph("ReduceMean"), _MeanEncoder(), CONFIG, "dynamic", False)


def test_parity_check_refuses_a_wrong_graph_and_does_not_blame_a_shape():
    pytest.importorskip("onnxruntime")
    with pytest.raises(EncoderError) as err:
        _verify(_reduce_graph("ReduceMax"), _MeanEncoder(), CONFIG, "dynamic", False)
    msg = str(err.value)
    assert "max abs diff" in msg and "does not compute what the model does" in msg, msg
    assert not msg.endswith("the exporter baked in a shape"), msg


def test_parity_check_names_the_shapes_of_a_graph_that_baked_one_in():
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "channels", "samples"])
    y = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, None)
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [-1, 100])   # 100 samples baked in: (B * C * T / 100)
    graph = helper.make_graph([helper.make_node("Reshape", ["x", "shape"], ["r"]),
                               helper.make_node("ReduceMean", ["r", "axes"], ["embedding"], keepdims=0)],
                              "baked", [x], [y], initializer=[shape, helper.make_tensor("axes", TensorProto.INT64,
                                                                                          [1], [1])])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)
    with pytest.raises(EncoderError, match=r"gives shape \(\d+,\) where torch gives \(3, 1\).*baked in a shape"):
        _verify(proto, _MeanEncoder(), CONFIG, "dynamic", False)


def _embeddings(tmp_path, labels: dict[str, str], quality: dict[str, float]) -> tuple[str, str]:
    """A Parquet of embed's columns (2 windows a record) and a labels CSV for ``labels``."""
    rng = np.random.default_rng(0)
    rows = [{"source": f"/data/{r}.hea", "t0_s": float(k), "quality": quality[r],
             "embedding": rng.standard_normal(4).astype(np.float32).tolist()} for r in labels for k in (0, 10)]
    emb = tmp_path / "emb.parquet"
    pl.DataFrame(rows).write_parquet(emb)
    csv = tmp_path / "labels.csv"
    csv.write_text("record,label\n" + "".join(f"{r},{v}\n" for r, v in labels.items()))
    return str(emb), str(csv)


def test_positive_left_out_by_min_quality_is_not_called_a_missing_label(tmp_path, capsys):
    labels = {f"R{i:02d}": ("A" if i < 4 else "N") for i in range(12)}
    quality = {r: (0.2 if v == "A" else 0.9) for r, v in labels.items()}   # every A record below 0.5
    emb, csv = _embeddings(tmp_path, labels, quality)
    rc = main(["probe", "--embeddings", emb, "--labels", csv, "--label-column", "label", "--positive", "A",
               "--min-quality", "0.5", "--bootstrap", "20"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err, err
    line = [ln for ln in err.splitlines() if ln.startswith("biosig probe: error")]
    assert len(line) == 1, err
    assert "is not a label value" not in line[0], line[0]
    assert "labelled A" in line[0] and "--min-quality 0.5" in line[0], line[0]


def test_positive_misspelt_is_still_said_with_the_values(tmp_path, capsys):
    labels = {f"R{i:02d}": ("A" if i < 4 else "N") for i in range(12)}
    emb, csv = _embeddings(tmp_path, labels, {r: 0.9 for r in labels})
    rc = main(["probe", "--embeddings", emb, "--labels", csv, "--label-column", "label", "--positive", "X",
               "--bootstrap", "20"])
    err = capsys.readouterr().err
    assert rc == 2 and "--positive 'X' is not a label value; values: A, N" in err, err


def _ppg_csv(path, values) -> None:
    """A camera-PPG table as the Welltory files (time in ms, R, G, B) at 30 Hz."""
    t_ms = np.arange(len(values)) * 1000.0 / 30
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("time,R,G,B\n" + "".join(f"{t:.1f},{v:.4f},{v / 2:.4f},{v / 4:.4f}\n" for t, v in zip(t_ms, values)))


def _pulse(seconds: float = 25.0) -> np.ndarray:
    t = np.arange(int(seconds * 30)) / 30
    return 200 + 3 * np.sin(2 * np.pi * 1.2 * t) + np.random.default_rng(0).normal(0, 0.3, t.size)


def test_pretrain_leaves_out_windows_without_signal(tmp_path, caplog):
    """A constant recording (a covered lens) among real ones gave all-zero training windows, silently."""
    from encoders.config import get_config
    from encoders.data import build_windows, file_records
    from encoders.pretrain import TrainConfig
    from encoders.pretrain_data import load_data
    from encoders.pretrain_pipeline import default_training_pipeline
    _ppg_csv(tmp_path / "d" / "pulse" / "PPG.csv", _pulse())
    _ppg_csv(tmp_path / "d" / "flat" / "PPG.csv", np.full(750, 200.0))
    config = get_config("ppg-tiny")
    pipeline = default_training_pipeline(config)
    alone = build_windows(file_records((str(tmp_path / "d" / "pulse"),), "ppg", None), config, pipeline, None, None)
    data = load_data(TrainConfig(modality="ppg", out_dir=str(tmp_path / "out"), data=(str(tmp_path / "d"),)),
                     config, pipeline)
    assert not any("flat" in s for s in data.sources), sorted(set(data.sources))
    assert len(data) == len(alone) > 0   # every window of the real recording kept
    np.testing.assert_array_equal(data.x, alone.x)
    assert any("without signal" in r.getMessage() and "flat" in r.getMessage() for r in caplog.records)


def test_pretrain_on_constant_recordings_only_is_one_line(tmp_path, capsys):
    _ppg_csv(tmp_path / "d" / "flat" / "PPG.csv", np.full(750, 200.0))
    out = tmp_path / "out"
    rc = main(["pretrain", "--modality", "ppg", "--data", str(tmp_path / "d"), "--steps", "1", "--batch-size", "2",
               "--no-progress", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err, err
    assert "no training window holds a signal" in err, err
    assert not out.exists()


@pytest.mark.parametrize("objective", [["--objective", "mae+descriptors"], ["--set", 'objective="descriptors"']])
def test_descriptors_on_ecg_says_how_to_ask_for_the_beat_tokenizer(tmp_path, capsys, objective):
    """The error named "the beat tokenizer" without the option that turns it on."""
    rc = main(["pretrain", "--modality", "ecg", "--synthetic", "--synthetic-records", "2", "--steps", "1",
               "--no-progress", "--out", str(tmp_path / "out"), *objective])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "--set tokenizer='\"beat\"'" in err, err
    assert not (tmp_path / "out").exists()

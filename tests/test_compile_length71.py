"""``biosig compile``'s length and batch profile is capped (encoders.compile.MAX_PROFILE_SAMPLES, MAX_PROFILE_BATCH):
a --max-length of 10^9 samples went on to TensorRT, which failed deep inside its build or sized buffers of gigabytes.
The cap is said in one line before TensorRT is looked for (a finder on sys.meta_path records every look-up of the
tensorrt package, so this holds where TensorRT is installed too)."""
import argparse
import ast
import importlib.util
import pathlib
import sys

import pytest

from biosig.cli import build_parser
from conftest import ROOT
from test_export_compile_refusals import _compile  # one helper: the one-line error of biosig compile
from encoders.compile import MAX_PROFILE_BATCH, MAX_PROFILE_SAMPLES, CompileOptions
from encoders.errors import EncoderError


class _TensorRTLookups:
    """A meta-path finder that finds nothing and counts the look-ups of ``tensorrt`` (``import tensorrt`` and
    ``importlib.util.find_spec("tensorrt")`` both ask every finder)."""

    def __init__(self):
        self.count = 0

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "tensorrt":
            self.count += 1
        return None


@pytest.fixture
def tensorrt_lookups(monkeypatch):
    finder = _TensorRTLookups()
    monkeypatch.setattr(sys, "meta_path", [finder, *sys.meta_path])
    monkeypatch.delitem(sys.modules, "tensorrt", raising=False)
    return finder


@pytest.fixture(scope="module")
def graph(tmp_path_factory) -> pathlib.Path:
    """The smallest ONNX graph compile takes: x -> Identity -> y (no biosig metadata: a graph of another tool)."""
    import onnx
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 1, "time"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 1, "time"])
    path = tmp_path_factory.mktemp("g") / "g.onnx"
    onnx.save(helper.make_model(helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])),
              str(path))
    return path




@pytest.mark.parametrize("options, needle", [
    (["--max-length", "1000000000"], "--max-length 1,000,000,000 samples is more than an engine profile takes "
                                     "(4,194,304, the longest training window); give --max-length 4194304 or less"),
    (["--min-length", "4194305", "--opt-length", "4194305", "--max-length", "4194305"], "--min-length 4,194,305 "),
    (["--opt-length", "5000000"], "--opt-length 5,000,000 samples is more than"),
    (["--max-batch", "1000000"], "--max-batch 1,000,000 is more than an engine takes (4,096"),
])
def test_an_oversized_profile_is_refused_before_tensorrt_is_looked_for(graph, tmp_path, capsys, tensorrt_lookups,
                                                                      options, needle):
    out = tmp_path / "m.plan"
    code, err = _compile([str(graph), "--out", str(out), *options], capsys)
    assert code == 2 and needle in err, err
    assert "needs a CUDA GPU" not in err and tensorrt_lookups.count == 0
    assert not out.exists()


def test_the_finder_sees_a_look_up_of_tensorrt(tensorrt_lookups):
    importlib.util.find_spec("tensorrt")   # what compile's machine check does (and import tensorrt asks too)
    assert tensorrt_lookups.count == 1


def test_the_caps_are_the_training_window_and_the_export_batch_and_the_help_says_them():
    from encoders.data import MAX_WINDOW_SAMPLES
    assert MAX_PROFILE_SAMPLES == MAX_WINDOW_SAMPLES == 1 << 22
    tree = ast.parse((ROOT / "encoders" / "export.py").read_text())   # read, not imported: it imports torch
    export_batch = next(node.value.value for node in tree.body if isinstance(node, ast.Assign)
                        and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["MAX_BATCH"])
    assert MAX_PROFILE_BATCH == export_batch
    CompileOptions(min_length=MAX_PROFILE_SAMPLES, opt_length=MAX_PROFILE_SAMPLES, max_length=MAX_PROFILE_SAMPLES,
                   max_batch=MAX_PROFILE_BATCH)
    for kw in ({"max_length": MAX_PROFILE_SAMPLES + 1}, {"max_batch": MAX_PROFILE_BATCH + 1}, {"opt_length": 0}):
        with pytest.raises(EncoderError):
            CompileOptions(**kw)
    compile_parser = next(a for a in build_parser()._actions
                          if isinstance(a, argparse._SubParsersAction)).choices["compile"]
    helps = {s: a.help for a in compile_parser._actions for s in a.option_strings}
    assert str(MAX_PROFILE_SAMPLES) in helps["--max-length"] and str(MAX_PROFILE_BATCH) in helps["--max-batch"]

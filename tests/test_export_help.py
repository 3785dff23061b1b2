"""``biosig export --help`` describes the graph that ``biosig export`` writes: it said ``channel_idx
int64 (channels,)`` while the graph takes one row of channel positions per window, (batch, channels);
a runtime written from the help fed a 1-d array and onnxruntime refused it."""
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, load_encoder

pytestmark = pytest.mark.usefixtures("export_cache")


def test_help_gives_the_shape_of_the_channel_input_the_graph_takes():
    import onnxruntime as ort

    from encoders.backends import export_cached
    enc = load_encoder("ecg-tiny")
    session = ort.InferenceSession(str(export_cached(enc)), providers=["CPUExecutionProvider"])
    shapes = {i.name: i.shape for i in session.get_inputs()}
    assert shapes["x"] == ["batch", "channels", "time"]
    help_text = " ".join(subprocess.run([sys.executable, "-m", "biosig.cli", "export", "--help"], cwd=ROOT,
                                        capture_output=True, text=True, check=True).stdout.split())
    assert f"channel_idx int64 ({', '.join(shapes['channel_idx'])})" in help_text, help_text
    # and the graph runs with what the help says: (batch, channels), one row per window
    x = np.random.default_rng(0).standard_normal((3, 1, 2500)).astype(np.float32)
    idx = np.tile(np.array(enc.channel_index(["II"]), dtype=np.int64), (3, 1))
    out = session.run(None, {"x": x, "channel_idx": idx})[0]
    assert out.shape == (3, enc.config.dim) and np.isfinite(out).all()

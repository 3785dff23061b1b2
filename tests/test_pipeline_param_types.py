"""Pipeline parameters and stream arguments of the wrong kind are PipelineErrors, never read oddly."""
import numpy as np
import pytest

from biosig.errors import PipelineError
from biosig.pipeline import Pipeline, Step, default_pipeline
from biosig.record import Record


def _rec():
    x = np.random.default_rng(0).standard_normal((2, 1000)).astype(np.float32)
    return Record(x, 250.0, ("MLII", "V5"), ("mV", "mV"))


def test_one_channel_name_is_one_item():
    # "MLII" was ["M", "L", "I", "I"]: "no channel 'M'"
    step = Step("select_channels", {"channels": "MLII"})
    assert step.params == {"channels": ["MLII"]}
    rec = _rec()
    out = Pipeline.of(step).apply(rec)
    assert out.channels == ("MLII",)
    np.testing.assert_array_equal(out.samples, rec.samples[:1])
    assert Step("select_channels", {"channels": 1}).params == {"channels": [1]}


@pytest.mark.parametrize("channels", [[0.5], [True]])
def test_channel_items_must_be_names_or_indices(channels):
    # 0.5 was channel 0, True channel 1
    with pytest.raises(PipelineError, match="channels"):
        Step("select_channels", {"channels": channels})


def test_order_true_is_not_order_one():
    with pytest.raises(PipelineError, match="order"):
        Step("bandpass", {"low_hz": 1, "high_hz": 40, "order": True})
    assert Step("bandpass", {"low_hz": 1, "high_hz": 40, "order": 2.0}).params["order"] == 2


@pytest.mark.parametrize("fs_hz,n_channels", [("a", 2), (0, 2), (360, 0), (360, 1.5)])
def test_stream_arguments(fs_hz, n_channels):
    # "a" was a ValueError, n_channels=0 a ZeroDivisionError
    with pytest.raises(PipelineError):
        default_pipeline("ecg").stream(fs_hz, n_channels)


def test_stream_chunk_of_text():
    s = default_pipeline("ecg").stream(360, 2)
    with pytest.raises(PipelineError, match="real numbers"):
        s.process([["a"] * 10] * 2)


def test_output_rate_of_text():
    with pytest.raises(PipelineError, match="input_fs_hz"):
        default_pipeline("ecg").output_fs_hz("a")
    assert default_pipeline("ecg").output_fs_hz(360) == 250.0

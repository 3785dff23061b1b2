"""Pipelines as data: JSON, hash, offline vs scipy/librosa, streaming chunk-invariance, defaults."""
import hashlib
import json
import subprocess
import sys

import librosa
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import signal

from biosig.errors import BiosigError, PipelineError
from biosig.modality import MODALITIES
from biosig.pipeline import (DEFAULT_WINDOW_S, Pipeline, Step, available_steps, default_pipeline,
                             default_window)
from biosig.record import Annotations, Record


def _rec(x, fs, modality="ecg", **kw):
    x = np.atleast_2d(np.asarray(x, dtype=np.float32))
    return Record(samples=x, fs_hz=fs, channels=tuple(f"ch{i}" for i in range(len(x))), modality=modality, **kw)


def test_json_round_trip_and_canonical_form():
    p = Pipeline.of(("bandpass", {"high_hz": 40, "low_hz": 0.5}), ("resample", {"fs_hz": 250}), Step("zscore"))
    text = p.to_json()
    assert " " not in text and "\n" not in text
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
    q = Pipeline.from_json(text)
    assert q == p and q.to_json() == text and q.hash == p.hash
    # defaults are filled in and numbers normalised, so equivalent spellings hash alike
    r = Pipeline.of(("bandpass", {"low_hz": 0.5, "high_hz": 40.0, "order": 4}), ("resample", {"fs_hz": 250.0}),
                    ("zscore", {"eps": 1e-8}))
    assert r.hash == p.hash
    assert Pipeline.of(("bandpass", {"low_hz": 0.5, "high_hz": 30})).hash != Pipeline.of(
        ("bandpass", {"low_hz": 0.5, "high_hz": 40})).hash


def test_hash_is_sha256_of_canonical_json_and_stable_across_processes():
    p = default_pipeline("ecg")
    assert p.hash == hashlib.sha256(p.to_json().encode()).hexdigest()[:16]
    code = "from biosig.pipeline import default_pipeline; print(default_pipeline('ecg').hash)"
    for seed in ("0", "12345"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={"PYTHONHASHSEED": seed, "PATH": ""})
        assert out.stdout.strip() == p.hash
    # regression guard: a change here invalidates the hash stored in every checkpoint and ONNX file
    assert p.hash == "282d10f0c3de3db3"
    assert default_pipeline("audio").to_json().count('"center":true') == 1


def test_unknown_steps_and_params_list_what_is_accepted():
    with pytest.raises(PipelineError, match="accepted steps: bandpass, clip, detrend"):
        Step("bandpas", {})
    with pytest.raises(PipelineError, match="accepted: low_hz, high_hz, order"):
        Step("bandpass", {"low": 1, "high_hz": 2})
    with pytest.raises(PipelineError, match="required"):
        Step("resample", {})
    with pytest.raises(PipelineError, match="linear"):
        Step("detrend", {"type": "cubic"})
    with pytest.raises(PipelineError, match="does not parse"):
        Pipeline.from_json("{not json")
    with pytest.raises(PipelineError, match="format"):
        Pipeline.from_json('{"format": 99, "steps": []}')
    assert issubclass(PipelineError, BiosigError)
    assert set(available_steps()) >= {"bandpass", "highpass", "lowpass", "notch", "resample", "detrend", "zscore",
                                      "minmax", "logmel", "flow_volume", "select_channels", "clip"}


def test_apply_bandpass_and_resample_equal_scipy():
    x = np.random.default_rng(0).standard_normal((2, 3600))
    ann = Annotations(sample=np.array([0, 360, 3599]), symbol=("N", "N", "V"))
    rec = _rec(x, 360.0, annotations=ann)
    out = Pipeline.of(("bandpass", {"low_hz": 0.5, "high_hz": 40}), ("resample", {"fs_hz": 250})).apply(rec)
    sos = signal.butter(4, [0.5, 40], "bandpass", fs=360, output="sos")
    ref = signal.resample_poly(signal.sosfiltfilt(sos, x.astype(np.float32).astype(np.float64), axis=-1), 25, 36,
                               axis=-1, padtype="line")
    # scipy's polyphase branches have gains 1 +- 1e-3 (ours are exactly 1: filters.resample_poly_edges)
    assert out.samples.shape == ref.shape
    np.testing.assert_allclose(out.samples, ref, atol=2e-3 * np.abs(ref).max())
    assert out.fs_hz == 250.0 and out.annotations.sample.tolist() == [0, 250, 2499]
    assert out.metadata["pipeline"][-1] is not None


@pytest.mark.parametrize("modality,fs,n_ch", [("ecg", 360.0, 2), ("ppg", 250.0, 1), ("resp", 125.0, 1),
                                              ("audio", 22050.0, 2), ("spiro", 100.0, 1)])
def test_streaming_default_pipelines_are_chunk_invariant(modality, fs, n_ch):
    outside, in_model = default_pipeline(modality).split_in_model()
    rng = np.random.default_rng(3)
    x = np.cumsum(rng.standard_normal((n_ch, int(fs * 6))), axis=1).astype(np.float32)
    whole = outside.stream(fs, n_ch).process(x)
    s = outside.stream(fs, n_ch)
    cuts = np.sort(rng.integers(1, x.shape[1], 15))
    parts = np.concatenate([s.process(c) for c in np.split(x, cuts, axis=1)], axis=1)
    np.testing.assert_allclose(parts, whole, atol=1e-4, rtol=1e-5)
    assert s.fs_out_hz == pytest.approx(outside.output_fs_hz(fs))
    assert parts.shape[0] == s.n_channels_out


def test_logmel_stream_equals_librosa_offline():
    fs = 16000.0
    y = np.random.default_rng(0).standard_normal(16000 * 2).astype(np.float32)
    step = Pipeline.of(("logmel", {}))
    off = step.apply(_rec(y, fs, "audio"))
    S = librosa.feature.melspectrogram(y=y.astype(np.float64), sr=fs, n_fft=1024, hop_length=512, center=True,
                                       pad_mode="constant", n_mels=64, fmin=50, fmax=8000)
    np.testing.assert_allclose(off.samples, np.log(S + 1e-6), atol=1e-4)
    assert off.fs_hz == fs / 512 and off.n_channels == 64 and off.n_samples == 1 + len(y) // 512
    s = step.stream(fs, 1)
    streamed = np.concatenate([s.process(y[None, i:i + 777]) for i in range(0, len(y), 777)], axis=1)
    assert streamed.shape[1] == off.n_samples - 1024 // (2 * 512)  # the end-padded frame needs the future
    np.testing.assert_allclose(streamed, off.samples[:, : streamed.shape[1]], atol=1e-3)
    # center=False: frames start at k * hop, and the stream gives every offline frame
    nc = Pipeline.of(("logmel", {"center": False}))
    off_nc = nc.apply(_rec(y, fs, "audio"))
    S = librosa.feature.melspectrogram(y=y.astype(np.float64), sr=fs, n_fft=1024, hop_length=512, center=False,
                                       n_mels=64, fmin=50, fmax=8000)
    np.testing.assert_allclose(off_nc.samples, np.log(S + 1e-6), atol=1e-4)
    s = nc.stream(fs, 1)
    streamed = np.concatenate([s.process(y[None, i:i + 777]) for i in range(0, len(y), 777)], axis=1)
    np.testing.assert_allclose(streamed, off_nc.samples, atol=1e-3)
    with pytest.raises(PipelineError, match="true or false"):
        Step("logmel", {"center": "yes"})


def test_flow_volume_offline_equals_stream_and_is_monotonic():
    rng = np.random.default_rng(0)
    v = np.cumsum(np.abs(rng.standard_normal(800))) + rng.standard_normal(800) * 2
    rec = Record(samples=v[None], fs_hz=100.0, channels=("volume_ml",), modality="spiro")
    off = Pipeline.of(("flow_volume", {})).apply(rec)
    assert off.channels == ("volume_ml", "flow_l_s")
    assert np.all(np.diff(off.samples[0]) >= 0)
    np.testing.assert_allclose(off.samples[1, 1:], np.diff(off.samples[0].astype(np.float64)) * 100 / 1000, atol=1e-4)
    assert len(off.metadata["flow_volume"]["volume_ml"]) == 128
    s = Pipeline.of(("flow_volume", {})).stream(100.0, 1)
    streamed = np.concatenate([s.process(c) for c in np.split(rec.samples, [3, 250, 251, 600], axis=1)], axis=1)
    np.testing.assert_allclose(streamed, off.samples, atol=1e-4)


def test_split_in_model():
    p = default_pipeline("ecg")
    outside, inside = p.split_in_model()
    assert [s.name for s in inside.steps] == ["zscore"] and outside + inside == p
    a_out, a_in = default_pipeline("audio").split_in_model()
    assert [s.name for s in a_in.steps] == ["logmel"] and [s.name for s in a_out.steps] == ["mono", "resample"]
    # an in-model step followed by an outside one stays outside (order matters)
    q = Pipeline.of(("zscore", {}), ("clip", {"low": -3, "high": 3}))
    assert q.split_in_model() == (q, Pipeline())


def test_zscore_minmax_detrend_clip_select_are_nan_aware():
    x = np.random.default_rng(0).standard_normal((2, 1000)) * 3 + 7
    x[0, 10:20] = np.nan
    rec = _rec(x, 100.0)
    z = Pipeline.of(("zscore", {})).apply(rec).samples
    assert np.isnan(z[0, 10:20]).all()
    np.testing.assert_allclose(np.nanmean(z, axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(np.nanstd(z, axis=1), 1, atol=1e-5)
    m = Pipeline.of(("minmax", {})).apply(rec).samples
    assert np.nanmin(m) == pytest.approx(0, abs=1e-6) and np.nanmax(m) == pytest.approx(1, abs=1e-6)
    d = Pipeline.of(("detrend", {})).apply(_rec(x[1] + np.arange(1000) * 0.5, 100.0)).samples
    np.testing.assert_allclose(d[0], signal.detrend((x[1] + np.arange(1000) * 0.5).astype(np.float32)), atol=1e-3)
    c = Pipeline.of(("clip", {"low": 5, "high": 8})).apply(rec).samples
    assert np.nanmin(c) == 5 and np.nanmax(c) == 8
    sel = Pipeline.of(("select_channels", {"channels": ["ch1"]})).apply(rec)
    assert sel.channels == ("ch1",) and sel.modality == "ecg"
    with pytest.raises(PipelineError, match="ch0, ch1"):
        Pipeline.of(("select_channels", {"channels": ["V9"]})).apply(rec)


def test_defaults_per_modality():
    assert set(DEFAULT_WINDOW_S) == set(MODALITIES)
    assert default_window("ecg") == (10.0, 5.0) and default_window("audio")[0] == 8.0
    assert default_pipeline("ecg").output_fs_hz(360) == 250.0
    assert default_pipeline("ppg").output_fs_hz(500) == 125.0
    assert default_pipeline("audio").output_fs_hz(44100) == pytest.approx(16000 / 512)
    assert default_pipeline("ecg", mains_hz=60).steps[2].params["freq_hz"] == 60.0
    assert len(default_pipeline("motion")) == 0
    ecg = default_pipeline("ecg").apply(_rec(np.random.default_rng(0).standard_normal((1, 3600)), 360.0))
    assert ecg.fs_hz == 250.0 and ecg.n_samples == 2500
    with pytest.raises(BiosigError, match="unknown modality"):
        default_pipeline("eeg")


def test_parameter_ranges_are_checked_when_the_step_is_built():
    for name, params, bad in [("resample", {"fs_hz": -250}, "fs_hz=-250"), ("bandpass", {"low_hz": 0, "high_hz": 40}, "low_hz=0"),
                              ("logmel", {"n_mels": 0}, "n_mels=0"), ("notch", {"freq_hz": 50, "q": 0}, "q=0"),
                              ("bandpass", {"low_hz": 1, "high_hz": 40, "order": 2.5}, "integer")]:
        with pytest.raises(PipelineError, match=bad):
            Step(name, params)
    assert Step("logmel", {"fmin_hz": 0}).params["fmin_hz"] == 0.0
    # a filter edge above the Nyquist rate of the actual record is caught when applied
    with pytest.raises(PipelineError, match="Nyquist"):
        Pipeline.of(("lowpass", {"high_hz": 100})).apply(_rec(np.zeros((1, 1000)), 100.0))


def test_resample_of_irregular_times_is_refused():
    rec = _rec(np.zeros((1, 100)), 10.0, "motion", times_s=np.cumsum(np.full(100, 0.1)) - 0.1 + np.r_[0, np.full(99, 0.01)])
    with pytest.raises(PipelineError, match="irregular"):
        Pipeline.of(("resample", {"fs_hz": 20})).apply(rec)


def test_stream_reports_resampling_delay():
    from biosig.filters import resample_fir

    s = default_pipeline("ecg").stream(360.0, 1)
    h = resample_fir(25, 36)
    assert s.delay_s == pytest.approx((len(h) - 1) / 2 / (360.0 * 25))
    # a step at t=5 s comes out of the stream about delay_s late
    x = np.zeros((1, 3600), np.float32)
    x[0, 1800:] = 1.0
    y = Pipeline.of(("resample", {"fs_hz": 250})).stream(360.0, 1).process(x)[0]
    t_half = np.argmax(y > 0.5) / 250.0
    assert t_half == pytest.approx(5.0 + s.delay_s, abs=0.01)
    assert default_pipeline("ppg").stream(125.0, 1).delay_s == 0.0


def test_offline_pipeline_keeps_nan_gaps_in_place():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 360 * 60)).astype(np.float32)
    x[0, 360 * 20:360 * 22] = np.nan
    out = default_pipeline("ecg").apply(_rec(x, 360.0))
    gap = np.isnan(out.samples[0])
    assert gap[250 * 20 + 5:250 * 22 - 5].all()
    assert not gap[: 250 * 20 - 5].any() and not gap[250 * 22 + 5:].any()
    assert np.isfinite(out.samples[1]).all()


def test_docs_list_every_step_and_parameter():
    import pathlib

    doc = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "preprocessing.md").read_text()
    for name, info in available_steps().items():
        assert f"| `{name}` |" in doc, f"docs/preprocessing.md lacks step {name}"
        row = next(line for line in doc.splitlines() if line.startswith(f"| `{name}` |"))
        for param in info["params"]:
            assert f"`{param}`" in row, f"docs/preprocessing.md: step {name} lacks parameter {param}"
        assert ("| yes |" in row) == info["in_model"], name


_json_values = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=8),
                            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                            max_leaves=12)
_step_like = st.fixed_dictionaries({"name": st.sampled_from(sorted(available_steps())) | st.text(max_size=6)},
                                   optional={"params": st.dictionaries(st.sampled_from(["low_hz", "high_hz", "order", "fs_hz", "q", "freq_hz", "channels", "center", "type", "eps", "x"]), _json_values, max_size=4)})


@settings(max_examples=150, deadline=None)
@given(doc=st.one_of(_json_values, st.fixed_dictionaries({"format": st.just(1), "steps": st.lists(_step_like, max_size=4)})))
def test_from_json_gives_a_pipeline_or_a_pipeline_error(doc):
    """Any JSON document: a valid pipeline that round-trips, or PipelineError; never another exception."""
    try:
        p = Pipeline.from_json(json.dumps(doc))
    except PipelineError:
        return
    assert Pipeline.from_json(p.to_json()) == p


def test_building_and_hashing_a_pipeline_does_not_load_scipy_signal():
    code = ("import sys; from biosig.pipeline import default_pipeline, Pipeline; "
            "p = default_pipeline('ecg'); Pipeline.from_json(p.to_json()).hash; "
            "print('scipy.signal' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_flow_volume_curve_of_single_compartment_emptying_is_a_straight_line():
    """V(t) = FVC (1 - exp(-t / tau)) gives flow = (FVC - V) / tau: linear in volume."""
    from biosig.spirometry import flow_volume_curve

    fs, fvc, tau = 1000.0, 4000.0, 0.5
    t = np.arange(int(8 * fs)) / fs
    grid, flow = flow_volume_curve(fvc * (1 - np.exp(-t / tau)), fs, n_points=64)
    assert len(grid) == len(flow) == 64 and grid[0] == 0
    expected = (fvc - grid) / tau / 1000.0  # L/s
    np.testing.assert_allclose(flow[1:], expected[1:], atol=0.01)

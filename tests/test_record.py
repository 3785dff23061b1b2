"""The Record container: validation, time, gaps and mask, slicing with annotations, select/pick,
polars round trip (with hypothesis), modality inference."""
from datetime import datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biosig.errors import BiosigError, SignalError
from biosig.modality import channel_modality, infer_modality
from biosig.record import Annotations, Record


def make(c=2, t=1000, fs=100.0, **kw):
    x = np.arange(c * t, dtype=np.float64).reshape(c, t)
    return Record(samples=x, fs_hz=fs, channels=kw.pop("channels", tuple(f"ch{i}" for i in range(c))), **kw)


def test_coercion_and_shape():
    r = Record(samples=np.arange(10), fs_hz=250, channels=("II",))
    assert r.samples.dtype == np.float32 and r.samples.shape == (1, 10)
    assert r.units == ("",) and r.modality == "ecg" and r.duration_s == 10 / 250
    assert r.n_channels == 1 and r.n_samples == 10
    np.testing.assert_allclose(r.t_s, np.arange(10) / 250)


@pytest.mark.parametrize("kwargs,match", [
    ({"fs_hz": 0}, "positive"),
    ({"fs_hz": float("nan")}, "positive"),
    ({"fs_hz": -5}, "positive"),
    ({"channels": ("a",)}, "1 channel names for 2 channels"),
    ({"units": ("mV",)}, "1 units for 2 channels"),
    ({"modality": "heart"}, "unknown modality 'heart'"),
    ({"times_s": np.arange(5.0)}, "times_s has shape"),
])
def test_validation_errors(kwargs, match):
    base = dict(samples=np.zeros((2, 10)), fs_hz=10, channels=("a", "b"))
    base.update(kwargs)
    with pytest.raises(SignalError, match=match):
        Record(**base)
    assert issubclass(SignalError, BiosigError)


def test_three_d_samples_refused():
    with pytest.raises(SignalError, match=r"\(C, T\)"):
        Record(samples=np.zeros((2, 3, 4)), fs_hz=1, channels=("a", "b"))


def test_gaps_and_mask_merge_channels():
    x = np.ones((2, 100))
    x[0, 10:20] = np.nan
    x[1, 15:30] = np.nan
    x[1, 90:] = np.nan
    r = Record(samples=x, fs_hz=10, channels=("a", "b"))
    assert r.gaps() == [(1.0, 3.0), (9.0, 10.0)]
    assert r.mask.sum() == 200 - 10 - 15 - 10
    assert not r.mask[0, 10:20].any() and r.mask[0, 20:].all()


def test_slice_s_with_annotations_and_offset():
    ann = Annotations(sample=np.array([5, 150, 250, 999]), symbol=("N", "V", "N", "A"), aux=("", "x", "", ""))
    r = make(annotations=ann, start_time=datetime(2000, 1, 1))
    s = r.slice_s(1.0, 3.0)
    assert s.n_samples == 200 and s.samples[0, 0] == 100
    np.testing.assert_array_equal(s.annotations.sample, [50, 150])
    assert s.annotations.symbol == ("V", "N") and s.annotations.aux == ("x", "")
    assert s.metadata["offset_s"] == 1.0
    s2 = s.slice_s(0.5)
    assert s2.metadata["offset_s"] == 1.5 and s2.n_samples == 150
    with pytest.raises(SignalError, match="bad slice"):
        r.slice_s(3.0, 1.0)
    assert r.slice_s(5.0, 50.0).n_samples == 500  # stop beyond the end clips


def test_slice_irregular_times():
    t = np.array([0.0, 0.09, 0.21, 0.3, 0.42, 0.5])
    r = Record(samples=np.arange(6.0), fs_hz=10, channels=("x",), times_s=t)
    s = r.slice_s(0.2, 0.45)
    np.testing.assert_allclose(s.samples[0], [2, 3, 4])
    np.testing.assert_allclose(s.times_s, [0.0, 0.09, 0.21])


def test_select_and_pick():
    r = Record(samples=np.zeros((3, 10)), fs_hz=125, channels=("II", "ABP", "PLETH"), units=("mV", "mmHg", "NU"))
    assert r.channel_modalities == ("ecg", "other", "ppg") and r.modality == "ecg"
    s = r.select(["PLETH", 0])
    assert s.channels == ("PLETH", "II") and s.units == ("NU", "mV")
    p = r.pick("ppg")
    assert p.channels == ("PLETH",) and p.modality == "ppg"
    with pytest.raises(SignalError, match="no channel 'V1'; channels are II, ABP, PLETH"):
        r.select(["V1"])
    with pytest.raises(SignalError, match="out of range"):
        r.select([5])
    with pytest.raises(SignalError, match="no resp channel"):
        r.pick("resp")


def test_polars_round_trip_regular_and_irregular():
    r = make(units=("mV", "mV"))
    back = Record.from_polars(r.to_polars(), units=r.units)
    np.testing.assert_array_equal(back.samples, r.samples)
    assert back.fs_hz == pytest.approx(100.0) and back.times_s is None
    t = np.array([0.0, 0.1, 0.25, 0.3, 0.41])
    irr = Record(samples=np.arange(5.0), fs_hz=10, channels=("x",), times_s=t)
    back = Record.from_polars(irr.to_polars(), fs_hz=10)
    np.testing.assert_allclose(back.times_s, t)


def test_from_polars_errors():
    import polars as pl

    with pytest.raises(SignalError, match="no 't_s' column"):
        Record.from_polars(pl.DataFrame({"a": [1.0, 2.0]}))
    with pytest.raises(SignalError, match="strictly increasing"):
        Record.from_polars(pl.DataFrame({"t_s": [0.0, 0.0, 1.0], "a": [1.0, 2.0, 3.0]}))
    with pytest.raises(SignalError, match="at least 2"):
        Record.from_polars(pl.DataFrame({"t_s": [0.0], "a": [1.0]}))


@settings(max_examples=40, deadline=None)
@given(c=st.integers(1, 4), t=st.integers(2, 200), fs=st.sampled_from([1.0, 10.0, 125.0, 250.0, 360.0, 1000.0]),
       seed=st.integers(0, 2 ** 16))
def test_polars_round_trip_property(c, t, fs, seed):
    x = np.random.default_rng(seed).standard_normal((c, t)).astype(np.float32)
    x[x > 2.0] = np.nan
    r = Record(samples=x, fs_hz=fs, channels=tuple(f"c{i}" for i in range(c)))
    back = Record.from_polars(r.to_polars(), fs_hz=fs)
    np.testing.assert_array_equal(back.samples, r.samples)
    assert back.times_s is None and back.gaps() == r.gaps()


@pytest.mark.parametrize("name,expected", [
    ("MLII", "ecg"), ("V5", "ecg"), ("II", "ecg"), ("aVR", "ecg"), ("vx", "ecg"), ("ECG", "ecg"),
    ("PLETH", "ppg"), ("RESP", "resp"), ("ABP", "other"), ("volume", "spiro"), ("LAC_x", "motion"),
    ("mono", "audio"), ("left", "audio"),
    # respiration channels of polysomnography EDFs (Sleep-EDF, SHHS, MESA, Apnea-ECG, MIT-BIH PSG)
    ("Resp oro-nasal", "resp"), ("THOR RES", "resp"), ("ABDO RES", "resp"), ("NEW AIR", "resp"),
    ("Resp C", "resp"), ("Resp (chest)", "resp"), ("Effort THO", "resp"), ("Effort ABD", "resp"),
    ("Nasal Pressure", "resp"), ("CHEST", "resp"), ("Respiratory belt", "resp"), ("Thermistor", "resp"),
    # ... but not a rate trend, a fetal-ECG abdominal lead or a numbered channel
    ("Respiration rate", "other"), ("RESP RATE", "other"), ("RespRate", "other"), ("Abdomen_1", "other"),
    ("RESP_1", "other"), ("SpO2", "other"),
])
def test_channel_modality(name, expected):
    assert channel_modality(name) == expected


def test_infer_modality_majority_and_fallback():
    assert infer_modality(["II", "V", "PLETH"]) == "ecg"
    assert infer_modality(["PLETH", "RESP", "RESP"]) == "resp"
    assert infer_modality(["ABP", "CVP"]) == "other"


def test_channel_lists_in_messages_stay_one_line():
    from biosig.record import names_text
    assert names_text(["II", "V5"]) == "II, V5"
    assert names_text([f"ch{i}" for i in range(1, 11)]) == ", ".join(f"ch{i}" for i in range(1, 11))
    assert names_text([f"ch{i}" for i in range(1, 1001)]) == \
        "ch1, ch2, ch3, ch4, ch5, ch6, ch7, ch8, ch9, ch10, ... (1000 in all)"
    rec = Record(np.zeros((40, 5), np.float32), 100.0, [f"ch{i}" for i in range(1, 41)])
    with pytest.raises(SignalError, match=r"channels are ch1, .*ch10, \.\.\. \(40 in all\)$"):
        rec.select(["ppg"])


def test_an_encoder_without_its_channels_says_how_to_name_them():
    from encoders.data import select_channels
    from encoders.errors import EncoderError
    rec = Record(np.zeros((40, 500), np.float32), 100.0, [f"ch{i}" for i in range(1, 41)])
    with pytest.raises(EncoderError, match=r"name the ppg channel: --channel NAME=ppg or --modality ppg; the record "
                                           r"has other channels ch1, .*\(40 in all\); in Python "
                                           r"Record\(\.\.\., modality='ppg'\)"):
        select_channels(rec, "ppg")


def test_an_encoder_takes_the_channel_the_user_named():
    """--channel b=ppg on a two-column table: the ppg encoder takes b, not the first column."""
    from encoders.data import select_channels
    x = np.random.default_rng(0).standard_normal((2, 1000)).astype(np.float32)
    rec = Record(x, 100.0, ("a", "b"), metadata={"channel_modalities": {"b": "ppg"}}, modality="ppg")
    assert select_channels(rec, "ppg").channels == ("b",)
    ecg = Record(x, 360.0, ("MLII", "V5"))       # named leads: all of them, as before
    assert select_channels(ecg, "ecg").channels == ("MLII", "V5")


def test_to_polars_refuses_channel_names_a_table_cannot_hold():
    """Two channels named ECG became one column (the second; the first dropped without a word), and a channel
    named t_s replaced the times."""
    x = np.arange(1000, dtype=np.float32).reshape(2, 500)
    for names, said in ((["ECG", "ECG"], "two channels are named 'ECG'"), (["t_s", "II"], "a channel is named 't_s'")):
        with pytest.raises(SignalError, match=said):
            Record(x, 250.0, names).to_polars()
    df = Record(x, 250.0, ["I", "II"]).to_polars()
    assert df.columns == ["t_s", "I", "II"] and df["II"][0] == 500.0

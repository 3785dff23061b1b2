"""The readers' and Record's arguments: a caller's mistake (a path that is not a path, one channel
name given as a str, a rate that is not a number) is a BiosigError naming the value, never a
TypeError from pathlib / NumPy, and never a silently different selection."""
import os
import re

import numpy as np
import pytest

from biosig.errors import BiosigError, ReadError, SignalError
from biosig.readers import (detect_format, discover, group_sessions, is_marker_csv, read, read_marker_csv,
                            read_marker_session, resample)
from biosig.record import Record

NOT_PATHS = [None, 3, 1.5, b"rec.csv", ["rec.csv"], "a\0b.csv"]


@pytest.fixture
def table(tmp_path):
    """A 10 s, 2-channel CSV table at 100 Hz (ECG lead II and a PPG)."""
    t = np.arange(1000) / 100.0
    rows = "\n".join(f"{a:.2f},{np.sin(a):.4f},{np.cos(a):.4f}" for a in t)
    path = tmp_path / "rec.csv"
    path.write_text("t_s,II,PLETH\n" + rows + "\n")
    return path


@pytest.fixture
def markers(tmp_path):
    paths = []
    for marker in ("LAC", "RAC"):
        p = tmp_path / f"201205101519-{marker}-1-T-222-6.csv"
        lines = ['"Frame";"Timestamp";"x";"y";"z"'] + [f"{i};{1000 + 40 * i};{i};{2 * i};{3 * i}" for i in range(50)]
        p.write_text("\n".join(lines) + "\n")
        paths.append(p)
    return paths


def _one_line(exc_info, cls=BiosigError):
    assert isinstance(exc_info.value, cls)
    assert "\n" not in str(exc_info.value)
    return str(exc_info.value)


@pytest.mark.parametrize("path", NOT_PATHS, ids=repr)
def test_read_and_detect_refuse_a_path_that_is_not_one(path):
    for fn in (read, detect_format, read_marker_csv):
        with pytest.raises(ReadError) as info:
            fn(path)
        assert "path" in _one_line(info)


def test_is_marker_csv_never_opens_a_file_descriptor():
    # open(3) would read, then close, whatever descriptor 3 is (a socket, a log file)
    r, w = os.pipe()
    try:
        os.write(w, b'"Frame";"Timestamp";"x";"y";"z"\n')
        assert is_marker_csv(r) is False
        os.fstat(r)   # still open
    finally:
        os.close(r)
        os.close(w)


@pytest.mark.parametrize("paths", [None, 3, 2.5, b"x"], ids=repr)
def test_discover_and_sessions_refuse_non_paths(paths):
    for fn in (discover, read_marker_session, group_sessions):
        with pytest.raises(ReadError):
            fn(paths)
    for fn in (discover, read_marker_session, group_sessions):
        with pytest.raises(ReadError, match="a file path is a str or os.PathLike, not int"):
            fn([3])


def test_marker_session_still_reads_paths_and_one_str(markers):
    rec = read_marker_session([str(p) for p in markers])
    assert rec.channels == ("LAC_x", "LAC_y", "LAC_z", "RAC_x", "RAC_y", "RAC_z")
    assert list(group_sessions(markers)) == ["201205101519"]
    assert read_marker_session(str(markers[0])).channels == ("LAC_x", "LAC_y", "LAC_z")


def test_one_channel_name_is_one_channel(table):
    # before: "PLETH" was iterated into 'P', 'L', ... ("no channel 'P'"); "II" into 'I', 'I'
    assert read(table, channels="PLETH").channels == ("PLETH",)
    assert read(table, channels="II").channels == ("II",)
    assert read(table, channels=1).channels == ("PLETH",)
    assert read(table, channels=["PLETH", 0]).channels == ("PLETH", "II")
    assert read(table, channels=np.array([1])).channels == ("PLETH",)


@pytest.mark.parametrize("channels, message", [
    ([True], "a channel is a name"),          # before: selected channel 1 silently
    ([1.5], "a channel is a name"),
    ([None], "a channel is a name"),
    (2.0, "give a channel name or index"),
    ([], "at least one channel"),
    ([2], "out of range"),
    ("V1", "no channel 'V1'"),
])
def test_bad_channel_selection(table, channels, message):
    with pytest.raises(ReadError, match=message) as info:
        read(table, channels=channels)
    _one_line(info)


@pytest.mark.parametrize("kw, message", [
    (dict(fs_hz="x"), "fs_hz='x' must be a positive"),
    (dict(fs_hz=[50]), "must be a positive"),
    (dict(fs_hz=True), "must be a positive"),      # before: resampled to 1 Hz
    (dict(fs_hz=0), "must be a positive"),
    (dict(fs_hz=float("nan")), "must be a positive"),
    (dict(mono="yes"), "mono='yes' must be True or False"),
    (dict(channel_modalities=["II"]), "must be a dict"),
    (dict(channel_modalities={0: "ecg"}), "must be a dict"),
    (dict(channel_modalities={"II": 3}), "must be a dict"),
])
def test_bad_read_options(table, kw, message):
    with pytest.raises(ReadError, match=message) as info:
        read(table, **kw)
    assert str(table) in _one_line(info)


def test_good_read_options_unchanged(table):
    rec = read(table, fs_hz=50, channel_modalities={"PLETH": "ppg"}, mono=False)
    assert rec.fs_hz == 50.0 and rec.n_samples == 500
    assert rec.channel_modalities == ("ecg", "ppg")


def test_resample_arguments(table):
    rec = read(table)
    with pytest.raises(SignalError, match="takes a biosig Record"):
        resample(rec.samples, 50)
    for bad in (None, "x", True, -5, float("inf")):
        with pytest.raises(SignalError, match="must be a positive sampling rate"):
            resample(rec, bad)
    assert resample(rec, 200).n_samples == 2000


def test_record_select_and_names():
    rec = Record(samples=np.zeros((3, 10)), fs_hz=10, channels=("I", "II", "III"))
    assert rec.select("II").channels == ("II",)
    assert rec.select(2).channels == ("III",)
    with pytest.raises(SignalError, match="channels=None"):
        rec.select(None)
    with pytest.raises(SignalError, match="a channel is a name"):
        rec.select([np.bool_(True)])
    # one str names one channel (before: "ECG" named three channels 'E', 'C', 'G')
    with pytest.raises(SignalError, match="1 channel names for 3 channels"):
        Record(samples=np.zeros((3, 10)), fs_hz=10, channels="ECG")
    one = Record(samples=np.zeros((1, 10)), fs_hz=10, channels="ECG", units="mV")
    assert one.channels == ("ECG",) and one.units == ("mV",)


def test_slice_arguments():
    rec = Record(samples=np.arange(100.0)[None], fs_hz=10, channels=("x",))
    for kw in (dict(start_s="1"), dict(start_s=None), dict(stop_s="2"), dict(start_s=float("nan")),
               dict(start_s=float("inf")), dict(stop_s=True)):
        with pytest.raises(SignalError, match="must be a number of seconds"):
            rec.slice_s(**kw)
    assert rec.slice_s(2.0, float("inf")).n_samples == 80   # before: OverflowError
    assert rec.slice_s(2, 5).samples[0, 0] == 20.0


def test_slice_to_the_end_keeps_an_irregular_tail():
    # 10 samples at a nominal 10 Hz whose last 5 come after a 3 s gap: n / fs_hz = 1 s but the
    # record lasts 3.9 s. Slicing "to the end" dropped the 5 samples after 1 s before.
    t = np.r_[np.arange(5) * 0.1, 3.5 + np.arange(5) * 0.1]
    rec = Record(samples=np.arange(10.0)[None], fs_hz=10, channels=("x",), times_s=t)
    assert rec.slice_s(0.0).n_samples == 10
    assert rec.slice_s(0.2).n_samples == 8
    assert rec.slice_s(0.2, float("inf")).n_samples == 8
    assert rec.slice_s(0.0, 3.6).n_samples == 6


def test_functions_of_a_record_refuse_a_bare_array(tmp_path):
    from biosig.measures import choose_channel, detect_events, heart_rate, respiratory_rate
    from biosig.pipeline import default_pipeline
    from biosig.quality_summary import quality_summary
    from biosig.windows import embedding_grid, window_array, windows
    from biosig.writers import write

    x = np.zeros((1, 1000), np.float32)
    calls = {
        "detect_events()": lambda: detect_events(x, "ecg"), "heart_rate()": lambda: heart_rate(x),
        "respiratory_rate()": lambda: respiratory_rate(x), "choose_channel()": lambda: choose_channel(x, "ecg"),
        "quality_summary()": lambda: quality_summary(x), "windows()": lambda: list(windows(x, 1.0)),
        "window_array()": lambda: window_array(x, 1.0), "embedding_grid()": lambda: embedding_grid(x, 1.0, 1.0),
        "Pipeline.apply()": lambda: default_pipeline("ecg").apply(x), "resample()": lambda: resample(x, 10),
        "write()": lambda: write(x, tmp_path / "a.csv"),
    }
    for name, call in calls.items():   # before: AttributeError 'numpy.ndarray' object has no attribute ...
        with pytest.raises(SignalError, match=f"{re.escape(name)} takes a biosig Record") as info:
            call()
        assert "not ndarray" in _one_line(info)
    assert not (tmp_path / "a.csv").exists()


@pytest.mark.parametrize("path", [None, 3, "a\0b.csv"], ids=repr)
def test_write_refuses_a_path_that_is_not_one(path):
    from biosig.errors import WriteError
    from biosig.writers import write

    rec = Record(samples=np.zeros((1, 100)), fs_hz=10, channels=("x",))
    with pytest.raises(WriteError, match="an output path is a str or os.PathLike") as info:
        write(rec, path)
    _one_line(info)


@pytest.mark.parametrize("max_windows", [0, -1, 2.5, "3", True, None], ids=repr)
def test_quality_summary_max_windows(max_windows):
    from biosig.quality_summary import quality_summary

    rec = Record(samples=np.random.default_rng(0).normal(size=(1, 3000)), fs_hz=100, channels=("II",))
    with pytest.raises(SignalError, match="max_windows=.* must be a whole number, 1 or more"):
        quality_summary(rec, max_windows=max_windows)   # before: a TypeError, or 0 windows assessed
    assert quality_summary(rec, max_windows=np.int64(2))["n_assessed"] == 2


def test_format_readers_called_directly(tmp_path):
    from biosig.readers.audio import read_audio
    from biosig.readers.camera_ppg import read_camera_ppg_csv
    from biosig.readers.edf_format import read_edf
    from biosig.readers.surrogates import read_surrogate_csv, read_vxp
    from biosig.readers.tables import read_csv, read_parquet
    from biosig.readers.wfdb_format import read_wfdb
    readers = (read_audio, read_camera_ppg_csv, read_edf, read_surrogate_csv, read_vxp, read_csv, read_parquet,
               read_wfdb)
    for reader in readers:   # before: TypeError from pathlib (read_audio(0) would open descriptor 0)
        for path in (None, 0):
            with pytest.raises(ReadError, match="a file path is a str or os.PathLike"):
                reader(path)
    for reader in (read_audio, read_csv, read_camera_ppg_csv):   # before: FileNotFoundError
        with pytest.raises(ReadError, match="no such file"):
            reader(tmp_path / "absent.csv")
        with pytest.raises(ReadError, match="is a folder, not a record"):
            reader(tmp_path)


def test_window_padding_flag():
    from biosig.windows import window_array, windows
    rec = Record(samples=np.zeros((1, 50)), fs_hz=10, channels=("x",))
    for flag in ("no", 0, None):   # before: "no" was truthy and padded
        with pytest.raises(SignalError, match="pad_short=.* must be True or False"):
            window_array(rec, 10.0, pad_short=flag)
        with pytest.raises(SignalError, match="pad_short"):
            list(windows(rec, 10.0, pad_short=flag))
    assert window_array(rec, 10.0, pad_short=False).x.shape[0] == 0
    assert window_array(rec, 10.0, pad_short=np.bool_(True)).x.shape == (1, 1, 100)

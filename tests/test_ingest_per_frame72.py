"""The ingest path's per-frame shortcuts give what the long way gave: windows appended in place
(streams.windows.SampleTail) against a NumPy twin that concatenates, small frames checked for
finiteness in Python, header types decided by exact type, and a stream's frames matched to its
session without the allocations of ``InputStream.consistent``."""
import numpy as np
import pytest

from streams import protocol
from streams.errors import ProtocolError
from streams.ingest import InputStream
from streams.windows import SampleTail, Windower
from test_streams_helpers import signal


def _twin_windows(chunks, c, window_n, hop_n, fs_hz):
    """The windows of ``Windower`` computed from all samples at once (the oracle)."""
    x = np.concatenate([np.asarray(ch, np.float32) for ch, _ in chunks], axis=1)
    out, end = [], window_n
    while end <= x.shape[1]:
        out.append(x[:, end - window_n:end])
        end += hop_n
    return out


def test_windows_appended_in_place_are_those_of_all_samples_at_once():
    rng = np.random.default_rng(3)
    for c, window_n, hop_n in ((1, 250, 25), (3, 7, 7), (2, 1, 1), (12, 600, 300)):
        w = Windower(c, window_n, hop_n, 100.0)
        sizes = [int(s) for s in rng.choice([1, 5, 25, 999, 4000], size=80)]
        chunks = [(rng.normal(size=(c, t)), None) for t in sizes]
        got = []
        for x, _ in chunks:
            got += [win for win, _, _ in w.push(x, 0.0)]
            assert w.buf.shape[1] <= max(window_n, 1)
        want = _twin_windows(chunks, c, window_n, hop_n, 100.0)
        assert len(got) == len(want)
        assert all(np.array_equal(a, b) and a.dtype == np.float32 for a, b in zip(got, want))
        got[0][:] = 123.0                                       # a window is a copy: the buffer keeps its samples
        assert not np.any(w.buf == 123.0)


def test_a_sample_tail_keeps_the_newest_samples_and_refuses_other_channels():
    t = SampleTail(2, 4)
    ref = np.empty((2, 0), np.float32)
    rng = np.random.default_rng(0)
    for k in range(200):
        x = rng.normal(size=(2, int(rng.integers(0, 9)))).astype(np.float32)
        t.append(x)
        ref = np.concatenate([ref, x], axis=1)
        drop = int(rng.integers(0, 6))
        t.drop(drop)
        ref = ref[:, drop:]
        assert np.array_equal(t.view, ref)
    with pytest.raises(ValueError):
        t.append(np.zeros((1, 3), np.float32))


def test_small_frames_are_refused_for_nan_and_inf_and_float64_beyond_a_sum_is_kept():
    for bad in (np.nan, np.inf, -np.inf):
        x = np.ones((1, 25))
        x[0, 7] = bad
        with pytest.raises(ProtocolError) as e:
            protocol.decode(signal("a/b", 0, x.astype(np.float32)))
        assert e.value.reason == "nonfinite"
    big = np.full((1, 10), 1.7e308)                              # finite samples whose sum overflows
    h = protocol.signal_header("a/b", 0, 1, 0.0, 25.0, ["c0"], [""], "resp")
    assert protocol.decode(protocol.encode("a/b", h, big)).array.dtype == np.float64
    big[0, 3] = np.nan
    with pytest.raises(ProtocolError):
        protocol.decode(protocol.encode("a/b", h, big))


def test_header_types_decided_at_once_keep_the_rules():
    def header_of(**change):
        h = protocol.signal_header("a/b", 0, 1, 0.0, 250.0, ["II"], ["mV"], "ecg")
        h.update(change)
        return protocol.encode("a/b", h, np.zeros((1, 5), np.float32))
    for change, words in (({"seq": True}, "'seq'"), ({"fs_hz": float("nan")}, "not finite"),
                          ({"t0_s": "0"}, "'t0_s'"), ({"extra": 1}, "unknown fields ['extra']")):
        with pytest.raises(ProtocolError) as e:
            protocol.decode(header_of(**change))
        assert e.value.reason == "schema" and words in str(e.value)
    assert protocol.decode(header_of(fs_hz=250)).header["fs_hz"] == 250   # an int rate is a number


def test_same_layout_says_false_wherever_consistent_finds_a_difference():
    h = protocol.decode(signal("a/b", 0, np.zeros((2, 5)), fs_hz=250.0, modality="ecg")).header
    st = InputStream(h, None)
    assert st.same_layout(dict(h)) and st.consistent(h) == ""
    for key, value in (("fs_hz", 500.0), ("channels", ["x", "y"]), ("units", ["V", "V"]), ("modality", "ppg"),
                       ("dtype", "<f8")):
        other = dict(h, **{key: value})
        assert not st.same_layout(other)
        assert st.consistent(other) or key == "units"
    assert st.same_layout(dict(h, fs_hz=250))                    # an int header rate equals the session's

"""Wire protocol v1: encode/decode round trips, every reject reason, and a property test that no
byte sequence makes the decoder raise anything but ProtocolError."""
import math

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams import protocol
from streams.errors import ProtocolError


def _signal(x=None, **over):
    x = np.arange(6, dtype=np.float32).reshape(2, 3) if x is None else x
    h = protocol.signal_header("bed01/ecg", 5, 42, 1000.0, 250.0, ["II", "V5"], ["mV", "mV"], "ecg")
    h.update(over)
    return protocol.encode("bed01/ecg", h, x)


def _raw(topic, header: dict, payload=None):
    parts = [topic.encode(), msgpack.packb(header)]
    return parts + ([payload] if payload is not None else [])


def test_signal_round_trip_keeps_values_dtype_and_header():
    x = np.random.default_rng(0).normal(size=(2, 100)).astype(np.float32)
    f = protocol.decode(_signal(x))
    assert f.topic == "bed01/ecg" and f.kind == "signal"
    assert f.header["seq"] == 5 and f.header["session"] == 42 and f.header["shape"] == [2, 100]
    assert f.header["dtype"] == "<f4" and f.array.dtype == np.dtype("<f4")
    np.testing.assert_array_equal(f.array, x)


def test_big_endian_input_is_sent_little_endian():
    x = np.arange(6, dtype=">f8").reshape(2, 3)
    parts = _signal(x)
    assert msgpack.unpackb(parts[1])["dtype"] == "<f8"
    np.testing.assert_array_equal(protocol.decode(parts).array, x.astype("<f8"))


def test_large_payloads_are_not_copied():
    x = np.zeros((4, 100_000), np.float32)
    parts = _signal(x)
    assert isinstance(parts[2], memoryview) and parts[2].obj is x  # the array's own buffer


@pytest.mark.parametrize("parts, reason", [
    ([b"only one"], "frames"),
    ([b"a/b", b"x", b"y", b"z"], "frames"),
    ([b"\xff\xfe/x", msgpack.packb({"v": 1})], "topic"),
    ([b"bed01/ecg", b"\xc1\xc1garbage"], "header"),
    ([b"bed01/ecg", msgpack.packb([1, 2, 3])], "header"),
    ([b"bed01/ecg", msgpack.packb({"v": 2, "kind": "signal"})], "version"),
    ([b"bed01/ecg", msgpack.packb({"v": 1, "kind": "pickle"})], "schema"),
])
def test_structural_rejects(parts, reason):
    with pytest.raises(ProtocolError) as e:
        protocol.decode(parts)
    assert e.value.reason == reason


def test_schema_rejects_missing_unknown_and_mistyped_fields():
    parts = _signal()
    h = msgpack.unpackb(parts[1])
    for change in ({"fs_hz": "250"}, {"seq": -1}, {"extra": 1}, {"channels": "II"}, {"seq": True},
                   {"t0_s": float("nan")}, {"modality": "eeg"}, {"dtype": "<u8"}):
        bad = dict(h, **change)
        with pytest.raises(ProtocolError) as e:
            protocol.decode([parts[0], msgpack.packb(bad), parts[2]])
        assert e.value.reason in ("schema", "shape"), change
        assert e.value.stream == "bed01/ecg"
    missing = {k: v for k, v in h.items() if k != "session"}
    with pytest.raises(ProtocolError, match="session"):
        protocol.decode([parts[0], msgpack.packb(missing), parts[2]])


@pytest.mark.parametrize("change, reason", [
    ({"fs_hz": 1e9}, "rate"), ({"fs_hz": 0.0}, "rate"), ({"fs_hz": 1e-3}, "rate"),
    ({"shape": [3, 2]}, "shape"), ({"shape": [2, 4]}, "payload_size"),
    ({"shape": [2]}, "shape"), ({"shape": [0, 3]}, "shape"),
    ({"channels": ["II"]}, "shape"), ({"stream": "bed02/ecg"}, "topic"),
])
def test_signal_rejects(change, reason):
    parts = _signal()
    h = dict(msgpack.unpackb(parts[1]), **change)
    with pytest.raises(ProtocolError) as e:
        protocol.decode([parts[0], msgpack.packb(h), parts[2]])
    assert e.value.reason == reason


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_samples_are_rejected(bad):
    x = np.ones((2, 3), np.float32)
    x[1, 2] = bad
    with pytest.raises(ProtocolError) as e:
        protocol.decode(_signal(x))
    assert e.value.reason == "nonfinite"


def test_payload_truncated_by_one_byte():
    parts = _signal()
    with pytest.raises(ProtocolError) as e:
        protocol.decode([parts[0], parts[1], bytes(parts[2])[:-1]])
    assert e.value.reason == "payload_size"


def test_output_kinds_round_trip():
    h = {"kind": "forecast", "stream": "couch1/markers", "seq": 3, "t_s": 1.0, "target_s": 1.1,
         "horizon_steps": 3, "horizon_s": 0.1, "method": "rtrl", "valid": True, "channels": ["a"],
         "latency_ms": {"total": 1.0}, "t_out_s": 2.0}
    f = protocol.decode(protocol.encode("fcst/couch1", h, np.array([1.5], np.float32)))
    assert f.header["valid"] is True and f.array.tolist() == [1.5]
    hold = {"kind": "hold", "stream": "couch1/markers", "seq": 0, "t_s": 1.0, "reason": "gap", "t_out_s": 1.0}
    assert protocol.decode(protocol.encode("hold/couch1", hold)).array is None
    with pytest.raises(ProtocolError, match="no payload"):
        protocol.decode(protocol.encode("hold/couch1", hold) + [b"x"])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=64), min_size=0, max_size=5))
def test_random_bytes_only_ever_raise_protocol_error(parts):
    try:
        protocol.decode(parts)
    except ProtocolError as exc:
        assert exc.reason in protocol.REJECT_REASONS


_values = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**64 - 1), st.floats(allow_nan=True),
                    st.text(max_size=8), st.lists(st.integers(-3, 5), max_size=3))


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(["v", "kind", "stream", "seq", "session", "t0_s", "fs_hz",
                                        "channels", "units", "dtype", "shape", "modality", "sent_s"]),
                       _values), st.binary(max_size=32))
def test_random_headers_only_ever_raise_protocol_error(mutation, payload):
    h = msgpack.unpackb(_signal()[1])
    h.update(mutation)
    try:
        f = protocol.decode([b"bed01/ecg", msgpack.packb(h), payload])
    except ProtocolError:
        return
    # accepted: then it really is consistent
    assert f.array.nbytes == len(payload)
    assert math.prod(f.header["shape"]) == f.array.size and np.isfinite(f.array).all()

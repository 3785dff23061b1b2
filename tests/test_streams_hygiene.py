"""Streaming hygiene (issue 16, item 4): endpoint parsing for the loopback check, key file
permissions, one-line exit-2 errors for every bad flag and config value (with a property test over
the whole config schema), replay stamped in wall-clock device time."""
import dataclasses
import io
import contextlib
import json
import math
import stat
import subprocess
import sys
import tempfile
import time
import typing

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.config import RuntimeConfig, config_from_dict, load_config
from streams.config_schema import field_limits
from streams.errors import StreamError
from streams.security import generate_keys, is_loopback, parse_endpoint
from test_streams_helpers import free_port

BIOSIG = [sys.executable, "-c", "import sys; from biosig.cli import main; sys.exit(main(sys.argv[1:]))"]


def _run(*args, timeout=120):
    return subprocess.run(BIOSIG + list(args), capture_output=True, text=True, timeout=timeout)


def _one_line_exit_2(r):
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r.stderr[-2000:]


# ------------------------------------------------------------------------------ loopback
@pytest.mark.parametrize("endpoint, loop", [
    ("tcp://127.0.0.1:5555", True), ("tcp://127.8.9.10:1", True), ("tcp://localhost:5555", True),
    ("tcp://LOCALHOST:5555", True), ("tcp://[::1]:5555", True), ("tcp://127.0.0.1:*", True),
    ("tcp://[::ffff:127.0.0.1]:5555", True), ("ipc:///tmp/biosig.sock", True), ("inproc://rt", True),
    ("tcp://127.evil.example.com:5555", False), ("tcp://127.0.0.1.evil.example.com:5555", False),
    ("tcp://localhost.evil.example.com:5555", False), ("tcp://0.0.0.0:5555", False),
    ("tcp://*:5555", False), ("tcp://10.0.0.1:5555", False), ("tcp://[::]:5555", False),
    ("tcp://[2001:db8::1]:5555", False), ("tcp://eth0:5555", False), ("tcp://128.0.0.1:5555", False),
    ("tcp://127.0.0.1", False), ("tcp://127.0.0.1:notaport", False), ("tcp://127.0.0.1:0", False),
    ("udp://127.0.0.1:5555", False), ("127.0.0.1:5555", False), ("", False),
    ("tcp://10.0.0.1:5000;127.0.0.1:5555", True), ("tcp://127.0.0.1:5000;10.0.0.1:5555", False),
])
def test_is_loopback_parses_the_endpoint(endpoint, loop):
    assert is_loopback(endpoint) is loop


def test_parse_endpoint_parts():
    assert parse_endpoint("tcp://[::1]:80") == ("tcp", "::1", "80")
    assert parse_endpoint("tcp://host.example:5555") == ("tcp", "host.example", "5555")
    assert parse_endpoint("ipc:///tmp/x") == ("ipc", "/tmp/x", "")
    with pytest.raises(StreamError):
        parse_endpoint("tcp://[::1]5555")


def test_serve_refuses_a_lookalike_loopback_host_without_keys():
    r = _run("serve", "--ingest", f"tcp://127.evil.example.com:{free_port()}", "--models", "none", "--seconds", "1")
    _one_line_exit_2(r)
    assert "not loopback" in r.stderr


# ------------------------------------------------------------------------------ key files
def test_keys_generate_writes_secrets_0600_and_folder_0700(tmp_path):
    d = tmp_path / "k"
    r = _run("keys", "generate", str(d), "--clients", "3")
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    secrets = sorted(d.glob("*.key_secret"))
    assert [p.name for p in secrets] == ["client.key_secret", "client2.key_secret", "client3.key_secret",
                                         "server.key_secret"]
    for p in secrets:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    assert len(list((d / "allowed").glob("*.key"))) == 3


def test_keys_generate_makes_an_existing_folder_private(tmp_path):
    d = tmp_path / "open"
    d.mkdir(mode=0o755)
    generate_keys(d, 1)
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert stat.S_IMODE((d / "client.key_secret").stat().st_mode) == 0o600


# ------------------------------------------------------------------------------ bad flags (CLI)
@pytest.mark.parametrize("args, message", [
    (["monitor", "--frame-s", "0"], "--frame-s must be"),
    (["monitor", "--frame-s", "-1"], "--frame-s must be"),
    (["monitor", "--frame-s", "nan"], "--frame-s must be"),
    (["monitor", "--simulate", "-1"], "--simulate must be"),
    (["monitor", "--simulate", "0", "--couches", "0"], "nothing to simulate"),
    (["monitor", "--couches", "-2"], "--couches must be"),
    (["monitor", "--seconds", "inf"], "--seconds must be"),
    (["keys", "generate", "KEYDIR", "--clients", "-1"], "--clients must be"),
    (["keys", "generate", "KEYDIR", "--clients", "0"], "--clients must be"),
    (["status", "--timeout-s", "-1"], "--timeout-s must be"),
    (["status", "--timeout", "0"], "--timeout-s must be"),
    (["replay", "RECORD", "--speed", "inf"], "--speed must be"),
    (["replay", "RECORD", "--speed", "0"], "--speed must be"),
    (["replay", "RECORD", "--speed", "nan"], "--speed must be"),
    (["serve", "--record", "/proc/x", "--models", "none", "--seconds", "1"], "--record /proc/x"),
    (["serve", "--state", "/proc/x/y", "--models", "none", "--seconds", "1"], "--state /proc/x/y"),
    (["serve", "--record-keep-h", "0", "--models", "none", "--seconds", "1"], "--record-keep-h"),
    (["serve", "--record-keep-h", "1", "--models", "none", "--seconds", "1"], "--record-keep-h needs --record"),
    (["serve", "--models", "ecg=nosuch", "--seconds", "1"], "ecg=nosuch: no such model"),
    (["serve", "--models", "ecg=ppg-tiny", "--seconds", "1"], "embeds ppg"),
    (["serve", "--models", "eeg=ecg-tiny", "--seconds", "1"], "modality 'eeg' unknown"),
    (["demo", "--beds", "-1"], "--beds must be"),
    (["monitor", "--ingest", "foo"], "is not SCHEME://ADDRESS"),
    (["monitor", "--streams", ",", "--couches", "0"], "--streams is empty"),
    (["replay", "RECORD", "--ingest", "tcp://127.0.0.1"], "has no port"),
    (["listen", "--output", "tcp://127.0.0.1:0", "--seconds", "1"], "PORT in 1..65535"),
    (["status", "--status", "udp://127.0.0.1:1"], "scheme 'udp' unknown"),
    (["bridge", "lsl", "--prop", "type", "--seconds", "1"], "--prop and --value go together"),
    (["bridge", "lsl", "--resolve-s", "0", "--seconds", "1"], "--resolve-s must be"),
])
def test_bad_flags_are_one_line_exit_2(args, message, tmp_path):
    args = [a.replace("KEYDIR", str(tmp_path / "k")).replace("RECORD", str(tmp_path / "r.csv")) for a in args]
    r = _run(*args)
    _one_line_exit_2(r)
    assert message in r.stderr


# ------------------------------------------------------------------------------ bad config files
@pytest.mark.parametrize("name, content, message", [
    ("c.toml", "endpoints = 3\n", "endpoints must be a table"),
    ("c.toml", "forecaster = \"lms\"\n", "forecaster must be a table"),
    ("c.toml", "windows = [1, 2]\n", "windows must be a table"),
    ("c.toml", "max_streams = 0\n", "max_streams must be >= 1"),
    ("c.toml", "status_every_s = 0\n", "status_every_s must be > 0"),
    ("c.toml", "status_every_s = nan\n", "status_every_s must be a finite number"),
    ("c.toml", "max_batch = 2.5\n", "max_batch must be an integer"),
    ("c.toml", "[forecaster]\nmethod = \"nosuch\"\n", "forecaster.method must be one of"),
    ("c.toml", "[forecaster]\nhorizon_steps = -1\n", "forecaster.horizon_steps must be >= 1"),
    ("c.toml", "[endpoints]\ningest = \"udp://127.0.0.1:1\"\n", "endpoints.ingest"),
    ("c.toml", "[windows]\necg = [1.0, 2.0]\n", "0 < hop_s <= window_s"),
    ("c.toml", "[models]\necg = \"nosuch\"\n", "ecg=nosuch: no such model"),
    ("c.toml", "nonsense = 1\n", "unknown config key"),
    ("c.toml", "max_streams = \n", "not valid TOML"),
    ("c.json", "[1, 2]", "table/object at top level"),
    ("c.json", "{\"record_dir\": \"/proc/x\"}", "/proc/x"),
    ("c.toml", b"\x00\x01\xff\xfe\x80binary", "not text"),
    ("c.yaml", "a: 1", "must end in .json or .toml"),
])
def test_bad_config_files_are_one_line_exit_2(tmp_path, name, content, message):
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    r = _run("serve", "--config", str(p), "--seconds", "1")
    _one_line_exit_2(r)
    assert message in r.stderr


def test_config_folder_is_one_line(tmp_path):
    d = tmp_path / "dir.toml"
    d.mkdir()
    with pytest.raises(StreamError, match="cannot read"):
        load_config(d)


# ------------------------------------------------------------------------------ property test
def _leaves(cls, prefix=""):
    """(dotted key, dataclass field, resolved type) for every non-dataclass field, recursively."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            yield from _leaves(tp, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", f, tp


ALL_LEAVES = list(_leaves(RuntimeConfig))
_NOT_NUMBERS = st.sampled_from(["x", "", [], [1], {}, {"a": 1}])
_NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])


def _base(tp):
    """The non-None types of ``tp``."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, getattr(__import__("types"), "UnionType")):
        return [a for a in args if a is not type(None)], type(None) in args
    return [tp], False


def _bad_values(f, tp):
    """Values that are wrong for the field by construction (type, range, choice or shape)."""
    lim = field_limits(f)
    bases, optional = _base(tp)
    base = typing.get_origin(bases[0]) or bases[0]
    options = []
    if not optional:
        options.append(st.none())
    if base is bool:
        options += [st.integers(0, 5), st.sampled_from(["true", "yes", 1.0, []])]
    elif base is int:
        options += [st.booleans(), _NOT_NUMBERS, st.floats(allow_nan=True).filter(lambda v: v != int(v)
                                                                                if math.isfinite(v) else True)]
    elif base is float:
        options += [st.booleans(), _NOT_NUMBERS, _NON_FINITE]
    elif base is str:
        options += [st.booleans(), st.integers(), st.floats(allow_nan=False), st.sampled_from([[], {}, ["a"]])]
    elif base is dict:
        options += [st.booleans(), st.integers(), st.text(max_size=5), st.sampled_from([[], [1, 2]])]
        args = typing.get_args(bases[0])
        if len(args) == 2 and args[1] in (int, float):
            options.append(st.dictionaries(st.sampled_from(["ecg", "resp"]), st.text(max_size=3), min_size=1))
    elif base in (list, tuple):
        options += [st.booleans(), st.integers(), st.sampled_from([{}, {"a": 1}])]
    if base in (int, float):
        lo, hi = lim["min"], lim["max"]
        num = st.integers if base is int else (lambda a=None, b=None: st.floats(a, b, allow_nan=False,
                                                                                  allow_infinity=False))
        if lo is not None:
            options.append(num(None, lo - 1) if base is int else num(None, lo).filter(
                lambda v: v < lo or (lim["exclusive_min"] and v == lo)))
            if lim["exclusive_min"]:
                options.append(st.just(lo))
        if hi is not None:
            options.append(num(hi + 1, None) if base is int else num(hi, None).filter(
                lambda v: v > hi or (lim["exclusive_max"] and v == hi)))
    if lim["choices"] is not None:
        choices = lim["choices"]() if callable(lim["choices"]) else lim["choices"]
        options.append(st.text(max_size=8).filter(lambda v: v not in choices))
    if f.name in ("ingest", "output", "status"):
        options.append(st.sampled_from(["", "tcp://", "udp://127.0.0.1:1", "tcp://127.0.0.1", "127.0.0.1:5555",
                                        "tcp://127.0.0.1:0", "tcp://127.0.0.1:70000", "tcp://[::1]5555"]))
    if f.name == "windows":
        modality = st.sampled_from(["ecg", "resp", "audio"])
        options += [st.dictionaries(st.sampled_from(["eeg", "ECG", ""]), st.just([2.0, 1.0]), min_size=1),
                    st.dictionaries(modality, st.tuples(st.floats(0.1, 10), st.floats(0.1, 10)).filter(
                        lambda wh: wh[1] > wh[0]).map(list), min_size=1),
                    st.dictionaries(modality, st.sampled_from([[0.0, 0.0], [1.0, -1.0], [1.0], "x", 3,
                                                               [math.inf, 1.0], [1.0, math.nan]]), min_size=1)]
    if f.name == "models":
        options += [st.dictionaries(st.sampled_from(["eeg", "x"]), st.just("ecg-tiny"), min_size=1),
                    st.dictionaries(st.sampled_from(["ecg", "ppg"]), st.sampled_from([3, "", None, []]), min_size=1)]
    return options


def _nest(key, value):
    data = value
    for part in reversed(key.split(".")):
        data = {part: data}
    return data


LEAVES = [leaf for leaf in ALL_LEAVES if _bad_values(leaf[1], leaf[2])]   # every field with a checkable type


@st.composite
def bad_configs(draw):
    key, f, tp = draw(st.sampled_from(LEAVES))
    return key, draw(st.one_of(*_bad_values(f, tp)))


def test_every_field_of_the_schema_has_bad_values():
    """New fields (int, float, str, bool, dict, list, tuple, X | None) join the property tests."""
    assert len(ALL_LEAVES) >= 25 and LEAVES == ALL_LEAVES
    for key, f, tp in LEAVES:
        assert len(_bad_values(f, tp)) >= 2, key


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bad_configs())
def test_bad_value_for_any_config_field_is_one_line_error(case):
    key, value = case
    with pytest.raises(StreamError) as err:
        config_from_dict(_nest(key, value))
    msg = str(err.value)
    assert "\n" not in msg and key.split(".")[-1] in msg, msg


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bad_configs())
def test_bad_config_file_through_the_cli_is_one_line_exit_2(case):
    from biosig.cli import main
    key, value = case
    with tempfile.TemporaryDirectory() as d:
        p = f"{d}/c.json"
        with open(p, "w") as fh:
            json.dump(_nest(key, value), fh)      # nan/inf are written as JSON's NaN/Infinity
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            rc = main(["serve", "--config", p, "--seconds", "0.5"])
    assert rc == 2 and err.getvalue().count("\n") == 1 and "Traceback" not in err.getvalue(), err.getvalue()


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=1, max_size=12).filter(lambda k: k not in {f.name for f in dataclasses.fields(RuntimeConfig)}))
def test_unknown_keys_are_refused_and_accepted_ones_listed(key):
    with pytest.raises(StreamError, match="unknown config key.*accepted: .*max_streams"):
        config_from_dict({key: 1})


def test_defaults_and_valid_values_are_accepted():
    cfg = config_from_dict({"max_streams": 1, "status_every_s": 0.05, "max_delay_s": 0,
                            "windows": {"ecg": [2, 1]}, "models": {}, "key_dir": None,
                            "forecaster": {"method": "lms", "horizon_steps": 1, "lr": 1},
                            "endpoints": {"ingest": "tcp://[::1]:5555", "output": "ipc:///tmp/x",
                                          "status": "tcp://127.0.0.1:*"}})
    assert cfg.windows["ecg"] == (2, 1) and cfg.forecaster.method == "lms" and cfg.max_streams == 1
    assert RuntimeConfig() == RuntimeConfig()


# ------------------------------------------------------------------------------ replay time
def test_replay_stamps_the_recordings_clock_at_any_speed(tmp_path):
    """At 10x the frames tile device time at the recording's rate, starting at the moment the
    first is sent; they go out 10 times faster than device time runs, so later stamps are ahead of
    the wall clock (by 0.9 s after 1 s). Stamped at the wall clock (this test's old contract: never
    in the future), 10x replay said 10 * fs_hz samples per second of device time: what a monitor
    misdeclaring its rate says, whose measures the runtime now withholds (streams.device_rate)."""
    import zmq
    from streams import protocol
    from streams.replay import replay_sources
    from streams.simulate import run_sources
    fs = 100.0
    t = np.arange(int(20 * fs)) / fs
    csv = tmp_path / "rec.csv"
    csv.write_text("t_s,resp\n" + "\n".join(f"{a:.3f},{b:.5f}" for a, b in zip(t, np.sin(t))))
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.setsockopt(zmq.LINGER, 0)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    try:
        pubs, sources = replay_sources([csv], speed=10.0, endpoint=f"tcp://127.0.0.1:{port}", ctx=ctx)
        run_sources(sources, 1.0)
        lags, n, t0s, sizes = [], 0, [], []
        while pull.poll(500):
            f = protocol.decode(pull.recv_multipart())
            recv = time.time()
            h = f.header
            t_last = h["t0_s"] + (f.array.shape[1] - 1) / h["fs_hz"]
            lags.append(recv - t_last)
            t0s.append(h["t0_s"])
            sizes.append(f.array.shape[1])
            n += f.array.shape[1]
        for p in pubs:
            p.close()
    finally:
        pull.close()
        ctx.term()
    assert len(lags) >= 8 and n >= 8 * 100           # 10 frames of 100 samples (0.1 s x 10)
    # each frame starts where the one before ended, at the recording's rate (no overlap, no hole)
    np.testing.assert_allclose(np.diff(t0s), np.array(sizes[:-1]) / fs, atol=1e-6)
    assert -0.005 <= lags[0] < 0.5, lags[0]           # the first frame's last sample: about when sent
    assert min(lags) > -(len(lags) * 0.1 * 9 + 0.5), min(lags)   # ahead by ~0.9 s per wall second at most


def _replayed(path, seconds: float):
    """(sources, decoded frames) of replaying ``path`` at 10x for ``seconds`` into a PULL socket on
    loopback."""
    import zmq
    from streams import protocol
    from streams.replay import replay_sources
    from streams.simulate import run_sources
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.setsockopt(zmq.LINGER, 0)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    try:
        pubs, sources = replay_sources([path], speed=10.0, endpoint=f"tcp://127.0.0.1:{port}", ctx=ctx)
        run_sources(sources, seconds)
        frames = []
        while pull.poll(500):
            frames.append(protocol.decode(pull.recv_multipart()))
        for p in pubs:
            p.close()
    finally:
        pull.close()
        ctx.term()
    return sources, frames


def _sent_instants(frames, fs_hz: float) -> set:
    """The sample indices of the record (from the first frame's device time: replay starts at the record's start)
    that the replayed ``frames`` hold."""
    t0 = min(fr.header["t0_s"] for fr in frames)
    return {int(round((fr.header["t0_s"] - t0) * fs_hz)) + k for fr in frames for k in range(fr.array.shape[1])}


def _gaps_cover_only(frames, fs_hz: float, missing: set):
    """The frames hold every instant up to their last except ``missing`` (a frame is split at a missing instant:
    until 2026-12-07 the whole frame holding it was left out, 0.1 s of every lead), and skip one sequence number
    for the run of missing instants (the runtime's gap)."""
    sent = _sent_instants(frames, fs_hz)
    assert sent.isdisjoint(missing) and set(range(max(sent) + 1)) - sent == missing, sorted(set(range(max(sent) + 1)) - sent)
    seqs = sorted(fr.header["seq"] for fr in frames)
    assert len(set(range(seqs[0], seqs[-1] + 1)) - set(seqs)) == 1, seqs


def test_replay_never_sends_invalid_surrogate_samples_as_positions(tmp_path):
    """A 1-D surrogate with an invalid stretch (validity 0) is replayed without those instants: the
    runtime sees a sequence gap (a hold), never zeros or NaN as a position."""
    import polars as pl
    t = np.arange(200) / 10.0
    valid = np.ones(200, int)
    valid[52:55] = 0                                   # inside the 6th frame (samples 50-59)
    f = tmp_path / "trace.csv"
    pl.DataFrame({"t_s": t, "chest (mm)": 5 + np.sin(2 * np.pi * 0.25 * t), "valid": valid}).write_csv(f)
    sources, frames = _replayed(f, 1.2)
    assert [s.out.modality for s in sources] == ["motion"] and sources[0].frame_n == 10
    _gaps_cover_only(frames, 10.0, {52, 53, 54})
    for fr in frames:
        assert np.isfinite(fr.array).all() and (fr.array > 3).all()   # positions only, never 0 or NaN


def test_replay_sends_gaps_of_any_modality_as_sequence_gaps_and_drops_empty_channels(tmp_path, caplog):
    """An ECG record with a missing stretch is replayed without those instants (a sequence gap:
    the runtime restarts its windows, or bridges one of <= 60 ms), never zeros; a lead with no valid sample is
    left out of the stream with a warning; a record with nothing valid is a clear error."""
    import polars as pl
    from streams.errors import StreamError
    from streams.replay import replay_sources
    fs = 100.0
    t = np.arange(int(20 * fs)) / fs
    ecg = 1.0 + np.sin(2 * np.pi * 1.2 * t)
    ecg[520:540] = np.nan                               # inside the 6th frame at 10x (samples 500-599)
    f = tmp_path / "bed.csv"
    pl.DataFrame({"t_s": t, "ecg_I": ecg, "ecg_II": np.full(t.size, np.nan)}).write_csv(f)
    sources, frames = _replayed(f, 1.2)
    assert [(s.out.modality, s.out.channels) for s in sources] == [("ecg", ["ecg_I"])]
    assert "ecg_II hold no valid sample" in caplog.text
    _gaps_cover_only(frames, fs, set(range(520, 540)))
    for fr in frames:
        assert fr.array.shape[0] == 1 and np.isfinite(fr.array).all() and (fr.array > -0.01).all()   # never 0-filled
    empty = tmp_path / "empty.csv"
    pl.DataFrame({"t_s": t, "ecg_I": np.full(t.size, np.nan)}).write_csv(empty)
    with pytest.raises(StreamError, match="no channel holds a valid sample"):
        replay_sources([empty], speed=10.0, endpoint="tcp://127.0.0.1:9")


def test_replay_takes_each_channel_modality_from_name_and_rate(tmp_path):
    """A 1 Hz trend table with a column named 'II' is not an ECG stream (ECG below 50 Hz is a unit
    mistake to the runtime, and `biosig info` lists it as 'other'): replay sends it with the record's
    other channels instead of refusing the whole file; at 250 Hz the same table is an ECG stream of
    lead II alone (a heart-rate trend named 'HR' is no ECG lead: until 2026-12-07 it rode on the ECG
    stream; biosig.modality.modality_channel_indices)."""
    import polars as pl
    t = np.arange(60.0)
    trend = tmp_path / "trend.csv"
    pl.DataFrame({"t_s": t, "HR": 70 + np.sin(t), "II": np.cos(t)}).write_csv(trend)
    sources, frames = _replayed(trend, 0.5)
    assert [(s.out.modality, s.out.channels, s.out.fs_hz) for s in sources] == [("other", ["HR", "II"], 1.0)]
    assert frames and all(fr.header["modality"] == "other" for fr in frames)
    fs = 250.0
    t = np.arange(int(4 * fs)) / fs
    bed = tmp_path / "bed.csv"
    pl.DataFrame({"t_s": t, "HR": np.full(t.size, 70.0), "II": np.sin(2 * np.pi * t)}).write_csv(bed)
    sources, _ = _replayed(bed, 0.3)
    assert [(s.out.modality, s.out.channels) for s in sources] == [("ecg", ["II"])]


def test_replay_closes_the_publishers_it_opened_when_a_later_record_fails(tmp_path):
    """`replay_sources([good, bad])` raises for the bad record and closes the good one's socket, so
    the caller's context terminates (it hung on the open socket before)."""
    import threading
    import polars as pl
    import zmq
    from biosig.errors import BiosigError
    from streams.replay import replay_sources
    t = np.arange(1000) / 100.0
    good = tmp_path / "good.csv"
    pl.DataFrame({"t_s": t, "PLETH": np.sin(t)}).write_csv(good)
    ctx = zmq.Context()
    with pytest.raises(BiosigError):
        replay_sources([good, tmp_path / "missing.csv"], speed=10.0, endpoint="tcp://127.0.0.1:9", ctx=ctx)
    done = threading.Thread(target=ctx.term, daemon=True)
    done.start()
    done.join(5.0)
    assert not done.is_alive(), "a publisher of the first record was left open"


def test_replay_keeps_a_hole_in_time_as_a_gap(tmp_path):
    """A table whose times skip 10-12 s was replayed sample after sample at its nominal rate: the
    hole closed up and everything after it was sent 2 s early. On the uniform grid the hole is
    NaN, and the frames holding it are not sent (a sequence gap)."""
    import polars as pl
    fs = 100.0
    t = np.arange(int(20 * fs)) / fs
    keep = (t < 10.0) | (t >= 12.0)
    f = tmp_path / "hole.csv"
    pl.DataFrame({"t_s": t[keep], "PLETH": (1.5 + np.sin(2 * np.pi * 1.2 * t))[keep]}).write_csv(f)
    sources, frames = _replayed(f, 2.0)
    assert sources[0].samples.shape[1] == 2000               # 20 s on the grid, not 18 s
    seqs = sorted(fr.header["seq"] for fr in frames)
    assert seqs and 10 not in seqs and 11 not in seqs and 12 in seqs, seqs   # frames of 1 s at 10x

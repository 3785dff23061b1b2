"""Bug bash of `biosig bridge lsl` / `bridge lsl-out` with real pylsl outlets and inlets, real ZeroMQ sockets and
one real runtime for the module: two outlets matching --prop, channel formats, streams that cannot be bridged,
an outlet gone for good, LSL stamps as device time, no runtime, Ctrl-C while resolving, lsl-out frames whose
size changes or that the subscription missed, many topics."""
import os
import signal
import threading
import time
import uuid

import numpy as np
import pytest

from streams import protocol
from test_streams_helpers import config, free_port, running, stream_status, wait_for

pylsl = pytest.importorskip("pylsl", reason="pylsl is not installed (pip install 'biosig[lsl]')")
try:
    pylsl.local_clock()
except Exception as exc:  # pragma: no cover - the wheel ships liblsl; say why if it cannot load
    pytest.skip(f"liblsl cannot be loaded on this machine: {exc}", allow_module_level=True)
from streams.lsl import _pylsl, bridge_lsl_in, bridge_lsl_out  # noqa: E402

_pylsl()   # liblsl's INFO lines off, as the bridge has them


from test_lsl import _lsl_discovery_works, _offset_s  # noqa: E402  (pylsl alone: where discovery fails, test_lsl skips)

if not _lsl_discovery_works():  # pragma: no cover
    pytest.skip("LSL stream discovery (UDP multicast on loopback) does not work on this machine",
                allow_module_level=True)


@pytest.fixture(scope="module")
def rt():
    with running(config()) as runtime:
        yield runtime


def _uid() -> str:
    return uuid.uuid4().hex[:8]


def _outlet(name, kind, n, fs, fmt, sid="", labels=None, units=None):
    info = pylsl.StreamInfo(name, kind, n, fs, fmt, sid)
    if labels:
        chans = info.desc().append_child("channels")
        for i, label in enumerate(labels):
            c = chans.append_child("channel")
            c.append_child_value("label", label)
            if units:
                c.append_child_value("unit", units[i])
    return pylsl.StreamOutlet(info)


def _bridge_in_thread(**kw):
    result, errors = {}, []

    def run():
        try:
            result.update(bridge_lsl_in(**kw))
        except Exception as exc:   # the test says what went wrong instead of a thread's traceback
            errors.append(exc)
    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th, result, errors


def _push(outlet, x, t0_lsl, fs):
    for k in range(x.shape[1]):
        outlet.push_sample(x[:, k].tolist(), t0_lsl + k / fs)


def test_every_outlet_matching_prop_is_bridged_and_each_skipped_one_said(rt, caplog):
    """resolve_byprop(minimum=1) gave one of two ECG-typed outlets at random: the other was neither bridged nor
    named. Two outlets of one name and type (no source_id: one publisher) become <name>/<type> and
    <type>_2, even for a type of 70 characters (the old renaming looped for ever on it); a string outlet of
    that name is said on its own line, told apart by its host."""
    kind = f"T{_uid()}" + "x" * 61
    a = _outlet("twin", kind, 1, 100.0, pylsl.cf_float32)
    b = _outlet("twin", kind, 1, 100.0, pylsl.cf_float32)
    s = _outlet("twin", kind, 1, 100.0, pylsl.cf_string)
    th, result, errors = _bridge_in_thread(endpoint=rt.bound.ingest, prop="type", value=kind, resolve_s=1.0,
                                           seconds=0.6)
    wait_for(lambda: a.have_consumers() and b.have_consumers(), timeout_s=2.5, what="both inlets")
    for outlet, v in ((a, 1.0), (b, 2.0)):
        _push(outlet, np.full((1, 20), v, np.float32), pylsl.local_clock(), 100.0)
    th.join(3)
    assert not errors and not th.is_alive(), errors
    base = kind.lower()[:64]
    topics = {f"twin/{base}", f"twin/{base[:60]}_2"}
    assert topics <= result.keys() and all(result[t] >= 1 for t in topics), result
    host = f"{s.get_info().hostname()} uid {s.get_info().uid()[:8]}"   # (two "twin" outlets on one host: the uid tells them apart)
    assert result["skipped"] == [f"twin [{host}] (string stream)"], result
    assert f"LSL stream not bridged: twin [{host}] (string stream)" in caplog.text


def test_int16_and_float64_samples_arrive_as_sent_with_lsl_stamps_as_device_time():
    """Samples of an int16 outlet (labels and units in its desc) and of a float64 one (no desc) reach a real
    PULL socket unchanged, in order, and each frame's last sample carries its LSL stamp + time.time() -
    local_clock() (the test's own reading) within 5 ms: here the stamps are 2 s in the past (a device's
    acquisition delay), so a bridge stamping the arrival time would be 2 s off."""
    import zmq
    sid = _uid()
    fs = 100.0
    ints = _outlet("ints", f"Gauge{sid}", 2, fs, pylsl.cf_int16, f"i{sid}", labels=["p1", "p2"], units=["Pa", "Pa"])
    dbl = _outlet("dbl", f"Gauge{sid}", 1, fs, pylsl.cf_double64, f"d{sid}")
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.setsockopt(zmq.LINGER, 0)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    th, result, errors = _bridge_in_thread(endpoint=f"tcp://127.0.0.1:{port}", prop="type", value=f"Gauge{sid}",
                                           resolve_s=1.0, seconds=0.5)
    x16 = (np.arange(60) * 997 % 65536 - 32768).astype(np.int16)[None].repeat(2, 0)
    x16[1] = -x16[1]
    x64 = np.linspace(-1e6, 1e6, 60)[None] + 1 / 3
    try:
        wait_for(lambda: ints.have_consumers() and dbl.have_consumers(), timeout_s=2.5, what="the inlets")
        t0_lsl = pylsl.local_clock() - 2.0
        _push(ints, x16, t0_lsl, fs)
        _push(dbl, x64, t0_lsl, fs)
        frames = {}
        while sum(f.array.shape[1] for fs_ in frames.values() for f in fs_) < 120 and pull.poll(1500):
            f = protocol.decode(pull.recv_multipart())
            frames.setdefault(f.header["stream"], []).append(f)
    finally:
        th.join(3)
        pull.close()
        ctx.term()
    assert not errors, errors
    offset = _offset_s()
    for topic, x, labels, units in ((f"i{sid}/gauge{sid}", x16, ["p1", "p2"], ["Pa", "Pa"]),
                                    (f"d{sid}/gauge{sid}", x64, ["ch1"], [""])):
        got = frames[topic]
        assert got[0].header["channels"] == labels and got[0].header["units"] == units
        np.testing.assert_array_equal(np.concatenate([f.array for f in got], axis=1), x.astype(np.float32))
        i = 0
        for f in got:
            n = f.array.shape[1]
            assert abs(f.header["t0_s"] + (n - 1) / fs - (t0_lsl + (i + n - 1) / fs + offset)) < 0.005
            i += n
        assert result[topic] == len(got)


def test_an_outlet_gone_for_good_is_said_and_the_others_go_on(rt):
    """An outlet without source_id cannot be recovered: the inlet raised LostError out of the bridge, whose
    thread died with a traceback and no summary (the other stream's frames unreported)."""
    sid = _uid()
    gone = _outlet(f"gone{sid}", f"Resp{sid}", 1, 25.0, pylsl.cf_float32)
    stays = _outlet(f"stays{sid}", f"Resp{sid}", 1, 25.0, pylsl.cf_float32, f"s{sid}")
    th, result, errors = _bridge_in_thread(endpoint=rt.bound.ingest, prop="type", value=f"Resp{sid}",
                                           resolve_s=1.0, seconds=1.0)
    wait_for(lambda: gone.have_consumers() and stays.have_consumers(), timeout_s=2.5, what="the inlets")
    _push(gone, np.ones((1, 10), np.float32), pylsl.local_clock(), 25.0)
    wait_for(lambda: stream_status(rt, f"gone{sid}/resp{sid}").get("samples"), timeout_s=2, what="its samples")
    del gone
    _push(stays, np.ones((1, 10), np.float32), pylsl.local_clock(), 25.0)
    th.join(3)
    assert not errors and not th.is_alive(), errors
    assert result["lost"] == [f"gone{sid}"], result
    assert result[f"s{sid}/resp{sid}"] >= 1 and result[f"gone{sid}/resp{sid}"] >= 1, result
    assert wait_for(lambda: stream_status(rt, f"s{sid}/resp{sid}").get("samples"), timeout_s=1, what="samples")


def _main(capsys, *argv):
    """``biosig`` in this process; the signal handlers it sets are put back."""
    from biosig.cli import main
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = main([str(a) for a in argv])
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return code, capsys.readouterr().err


def test_bridge_lsl_with_no_runtime_says_samples_were_dropped_and_fails(capsys):
    """No runtime at --ingest: it printed {"<src>/<type>": 0} and exited 0, the samples gone in silence."""
    sid = _uid()
    outlet = _outlet("ecgless", "ECG", 1, 250.0, pylsl.cf_float32, f"e{sid}")
    stop = threading.Event()

    def feed():
        while not stop.is_set():
            if outlet.have_consumers():
                _push(outlet, np.zeros((1, 25), np.float32), pylsl.local_clock(), 250.0)
            time.sleep(0.1)
    pusher = threading.Thread(target=feed, daemon=True)
    pusher.start()
    try:
        code, err = _main(capsys, "bridge", "lsl", "--prop", "source_id", "--value", f"e{sid}", "--resolve-s", 1,
                          "--seconds", 0.4, "--ingest", f"tcp://127.0.0.1:{free_port()}")
    finally:
        stop.set()
        pusher.join(2)
    assert code == 1, err
    assert f'"e{sid}/ecg": 0' in err and '"dropped": {"e' in err and "no runtime accepted the connection" in err, err
    assert "Traceback" not in err


def test_bridge_lsl_says_which_outlet_sent_nothing(rt, capsys):
    sid = _uid()
    quiet = _outlet("quiet", "Resp", 1, 25.0, pylsl.cf_float32, f"q{sid}")
    code, err = _main(capsys, "bridge", "lsl", "--prop", "source_id", "--value", f"q{sid}", "--resolve-s", 1,
                      "--seconds", 0.3, "--ingest", rt.bound.ingest)
    assert code == 0 and f"warning: no samples came from the LSL outlet(s) of q{sid}/resp" in err, err
    del quiet


def test_ctrl_c_while_looking_for_outlets_stops_at_once(capsys):
    """SIGINT during --resolve-s 30 only set a flag: the resolve went on for its 30 s."""
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    t0 = time.monotonic()
    timer.start()
    try:
        code, err = _main(capsys, "bridge", "lsl", "--prop", "source_id", "--value", f"none-{_uid()}",
                          "--resolve-s", 30, "--ingest", f"tcp://127.0.0.1:{free_port()}")
    finally:
        timer.cancel()
    assert code == 0 and time.monotonic() - t0 < 1.5, err
    assert "stopped by signal before any LSL stream was bridged" in err and "Traceback" not in err, err


def _embedding(topic, seq, dim, t_s):
    h = {"kind": "embedding", "stream": topic[4:], "seq": seq, "model_id": "m", "window_start_s": t_s - 1.0,
         "window_end_s": t_s, "quality": 1.0, "latency_ms": {}, "t_out_s": t_s}
    return protocol.encode(topic, h, np.arange(dim, dtype=np.float32))


def test_lsl_out_counts_frames_of_another_size_and_missed_frames_over_many_topics():
    """A frame whose size is not its outlet's was logged each time and not counted anywhere (the summary
    read as if all came); frames lost on the subscription were not said. 12 topics, 12 outlets."""
    import zmq
    prefix = f"bb72-{_uid()}"
    port = free_port()
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind(f"tcp://127.0.0.1:{port}")
    result, stop = {}, threading.Event()
    th = threading.Thread(target=lambda: result.update(bridge_lsl_out(
        endpoint=f"tcp://127.0.0.1:{port}", topics=["emb/"], prefix=prefix, stop=stop)), daemon=True)
    th.start()
    try:
        topics = [f"emb/bed{i}/ecg" for i in range(12)]
        time.sleep(0.4)   # the subscription is made
        t = time.time()
        for seq in range(5):
            for topic in topics:
                # bed0: its dimension changes at seq 3; bed1: seq 2 never sent (a gap of one)
                if topic == topics[1] and seq == 2:
                    continue
                pub.send_multipart(_embedding(topic, seq, 4 if topic == topics[0] and seq >= 3 else 8, t + seq))
            time.sleep(0.02)
        found = pylsl.resolve_byprop("source_id", f"{prefix}:{topics[5]}", minimum=1, timeout=2)
        time.sleep(0.2)
    finally:
        stop.set()
        th.join(3)
        pub.close()
        ctx.term()
    assert found and found[0].channel_count() == 8 and found[0].type() == "Embedding"
    assert result[topics[0]] == 3 and result["not_pushed"] == {topics[0]: 2}, result
    assert result[topics[1]] == 4 and result["missed"] == {topics[1]: 1}, result
    assert all(result[t] == 5 for t in topics[2:]), result

"""The LSL bridge both ways over loopback, with real liblsl (pylsl wheel), real ZeroMQ sockets and
a real runtime: LSL outlet -> runtime, runtime outputs -> LSL outlets, timestamps mapped between
LSL time and device time (Unix seconds)."""
import subprocess
import sys
import threading
import time
import uuid

import numpy as np
import pytest

from streams import protocol
from test_streams_helpers import config, running, stream_status, wait_for

pylsl = pytest.importorskip("pylsl", reason="pylsl is not installed (pip install 'biosig[lsl]')")
try:
    pylsl.local_clock()
except Exception as exc:  # pragma: no cover - the wheel ships liblsl; say why if it cannot load
    pytest.skip(f"liblsl cannot be loaded on this machine: {exc}", allow_module_level=True)


def _lsl_discovery_works() -> bool:
    """LSL finds outlets by UDP multicast/broadcast; some sandboxes have no route for it even on
    loopback. Probe with pylsl alone (none of our code) so such machines skip with a reason."""
    uid = f"biosigprobe-{uuid.uuid4().hex[:8]}"
    probe = pylsl.StreamOutlet(pylsl.StreamInfo("probe", "Probe", 1, 10.0, pylsl.cf_float32, uid))
    try:
        return bool(pylsl.resolve_byprop("source_id", uid, minimum=1, timeout=5.0))
    finally:
        del probe


if not _lsl_discovery_works():  # pragma: no cover
    pytest.skip("LSL stream discovery (UDP multicast on loopback) does not work on this machine",
                allow_module_level=True)

BIOSIG = [sys.executable, "-c", "import sys; from biosig.cli import main; sys.exit(main(sys.argv[1:]))"]
FS = 250.0


def _offset_s():
    best = None
    for _ in range(7):
        a = time.time()
        lsl = pylsl.local_clock()
        b = time.time()
        if best is None or b - a < best[0]:
            best = (b - a, (a + b) / 2 - lsl)
    return best[1]


def _ecg_outlet(uid):
    info = pylsl.StreamInfo("biosig-test-ecg", "ECG", 2, FS, pylsl.cf_float32, uid)
    chans = info.desc().append_child("channels")
    for label in ("I", "II"):
        c = chans.append_child("channel")
        c.append_child_value("label", label)
        c.append_child_value("unit", "mV")
    return pylsl.StreamOutlet(info)


def _push_real_time(outlet, x, t0_lsl, stop):
    """Push sample i of x (C, N) with LSL stamp t0_lsl + i / FS, at real time (chunks of 10 ms)."""
    n = x.shape[1]
    i = 0
    while i < n and not stop.is_set():
        due = t0_lsl + i / FS
        if pylsl.local_clock() < due:
            time.sleep(0.005)
            continue
        for k in range(i, min(n, i + int(FS * 0.01) or 1)):
            outlet.push_sample(x[:, k].tolist(), t0_lsl + k / FS)
        i = min(n, i + int(FS * 0.01) or 1)


def test_lsl_outlet_into_runtime_socket_keeps_samples_and_maps_time():
    """bridge_lsl_in on a real PULL socket: every sample arrives in order, channel labels and
    units from the LSL description, and each frame's last sample is stamped
    LSL stamp + offset (device time), within 5 ms."""
    import zmq
    from streams.lsl import bridge_lsl_in
    uid = f"biosigtest-{uuid.uuid4().hex[:8]}"
    outlet = _ecg_outlet(uid)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, int(FS * 1.5))).astype(np.float32)
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.setsockopt(zmq.LINGER, 0)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    stop = threading.Event()
    result = {}
    th = threading.Thread(target=lambda: result.update(bridge_lsl_in(
        endpoint=f"tcp://127.0.0.1:{port}", prop="source_id", value=uid, resolve_s=5.0, stop=stop)))
    th.start()
    try:
        wait_for(lambda: outlet.have_consumers(), timeout_s=15, what="the bridge's inlet")
        time.sleep(0.3)
        t0_lsl = pylsl.local_clock() + 0.05
        pusher = threading.Thread(target=_push_real_time, args=(outlet, x, t0_lsl, threading.Event()))
        pusher.start()
        pusher.join(30)
        frames, got = [], 0
        while got < x.shape[1] and pull.poll(3000):
            f = protocol.decode(pull.recv_multipart())
            frames.append(f)
            got += f.array.shape[1]
    finally:
        stop.set()
        th.join(15)
        pull.close()
        ctx.term()
    offset = _offset_s()
    assert frames, "no frames from the bridge"
    h = frames[0].header
    assert h["stream"] == f"{uid}/ecg" and h["modality"] == "ecg"
    assert h["channels"] == ["I", "II"] and h["units"] == ["mV", "mV"] and h["fs_hz"] == FS
    y = np.concatenate([f.array for f in frames], axis=1)
    np.testing.assert_array_equal(y, x)
    assert [f.header["seq"] for f in frames] == list(range(len(frames)))
    i = 0
    for f in frames:
        n = f.array.shape[1]
        t_last = f.header["t0_s"] + (n - 1) / FS
        assert abs(t_last - (t0_lsl + (i + n - 1) / FS + offset)) < 0.005
        i += n
    assert result[f"{uid}/ecg"] == len(frames)


def test_bridge_lsl_cli_feeds_a_real_runtime():
    uid = f"biosigtest-{uuid.uuid4().hex[:8]}"
    outlet = _ecg_outlet(uid)
    x = np.sin(np.arange(int(FS * 30)) / FS * 2 * np.pi)[None].repeat(2, 0).astype(np.float32)
    stop = threading.Event()
    with running(config(windows={"ecg": (1.0, 0.5)})) as rt:
        pusher = threading.Thread(target=_push_real_time, args=(outlet, x, pylsl.local_clock(), stop))
        pusher.start()
        try:
            r = subprocess.run(BIOSIG + ["bridge", "lsl", "--prop", "source_id", "--value", uid, "--resolve-s", "5",
                                         "--seconds", "4", "--ingest", rt.bound.ingest],
                               capture_output=True, text=True, timeout=120)
        finally:
            stop.set()
            pusher.join(10)
        assert r.returncode == 0, r.stderr[-2000:]
        s = wait_for(lambda: stream_status(rt, f"{uid}/ecg").get("windows"), timeout_s=10, what="windows")
        st = stream_status(rt, f"{uid}/ecg")
    assert s > 0 and st["frames"] > 10 and st["gaps"] == 0 and st["rejected_total"] == 0, st
    assert st["samples"] >= 2 * FS


def test_runtime_outputs_as_lsl_outlets_with_device_time_mapped():
    """Forecasts and holds of a real runtime come out as LSL outlets; every LSL forecast sample
    equals a ZeroMQ forecast frame and is stamped with its target time mapped to LSL time."""
    from streams.lsl import bridge_lsl_out
    from streams.publisher import Publisher
    from streams.subscriber import Subscriber
    prefix = f"biosigtest-{uuid.uuid4().hex[:8]}"
    fs = 30.0
    t = np.arange(int(fs * 12)) / fs
    marks = np.stack([np.sin(2 * np.pi * 0.25 * t), np.cos(2 * np.pi * 0.25 * t), 0.1 * t]).astype(np.float32)
    stop = threading.Event()
    with running() as rt:
        ref = Subscriber(["fcst/"], rt.bound.output)
        pushed = {}
        bridge = threading.Thread(target=lambda: pushed.update(bridge_lsl_out(
            endpoint=rt.bound.output, topics=("fcst/", "hold/"), prefix=prefix, stop=stop)))
        bridge.start()
        pub = Publisher("couchL", rt.bound.ingest)
        out = pub.stream("markers", fs, ["x", "y", "z"], ["mm"] * 3, modality="motion")

        def send():
            t0 = time.time()
            for i in range(marks.shape[1]):
                if stop.is_set():
                    return
                time.sleep(max(0.0, t0 + i / fs - time.time()))
                out.send(marks[:, i:i + 1])
        sender = threading.Thread(target=send)
        sender.start()
        try:
            found = pylsl.resolve_byprop("source_id", f"{prefix}:fcst/couchL", minimum=1, timeout=20)
            assert found, "no LSL outlet for the forecasts"
            holds = pylsl.resolve_byprop("source_id", f"{prefix}:hold/couchL", minimum=1, timeout=5)
            inlet = pylsl.StreamInlet(found[0])
            inlet.open_stream(timeout=5)
            info = inlet.info(timeout=5)
            samples, stamps = [], []
            end = time.monotonic() + 3.0
            while time.monotonic() < end:
                chunk, ts = inlet.pull_chunk(timeout=0.2)
                samples += chunk
                stamps += ts
            stop.set()
            frames = []
            while (f := ref.recv(0.5)) is not None:
                frames.append(f)
        finally:
            stop.set()
            sender.join(20)
            bridge.join(20)
            ref.close()
            pub.close()
    offset = _offset_s()
    assert info.type() == "Forecast" and info.channel_count() == 3 and holds and holds[0].type() == "Markers"
    assert info.desc().child_value("method") == "lms"
    assert len(samples) >= 20, len(samples)
    by_target = {round(f.header["target_s"], 4): f.array for f in frames}
    matched = 0
    for v, ts in zip(samples, stamps):
        key = round(ts + offset, 4)
        near = [k for k in (key - 1e-4, key, key + 1e-4) if k in by_target]
        if near:
            np.testing.assert_array_equal(np.asarray(v, np.float32), by_target[near[0]])
            matched += 1
    assert matched >= 0.9 * len(samples), (matched, len(samples))
    assert pushed["fcst/couchL"] >= len(samples) and pushed.get("hold/couchL", 0) >= 1


def test_bridge_lsl_cli_refuses_what_it_cannot_bridge_in_one_line():
    uid = f"biosigtest-{uuid.uuid4().hex[:8]}"
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo("events", "Markers", 1, pylsl.IRREGULAR_RATE, pylsl.cf_string, uid))
    for value, message in ((uid, "can be bridged: events (string stream)"), (uid + "-absent", "no LSL streams with source_id")):
        r = subprocess.run(BIOSIG + ["bridge", "lsl", "--prop", "source_id", "--value", value, "--resolve-s", "2",
                                     "--seconds", "1", "--ingest", "tcp://127.0.0.1:5999"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and message in r.stderr, r.stderr[-2000:]
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    del outlet


def test_bridge_lsl_skips_a_stream_at_a_rate_the_runtime_refuses():
    # an ECG outlet at 10 Hz: every frame would be rejected by the runtime (ECG needs >= 50 Hz);
    # the bridge names it among the streams it cannot bridge rather than stopping or sending in vain
    uid = f"biosigtest-{uuid.uuid4().hex[:8]}"
    info = pylsl.StreamInfo("slow-ecg", "ECG", 1, 10.0, pylsl.cf_float32, uid)
    outlet = pylsl.StreamOutlet(info)
    r = subprocess.run(BIOSIG + ["bridge", "lsl", "--prop", "source_id", "--value", uid, "--resolve-s", "2",
                                 "--seconds", "1", "--ingest", "tcp://127.0.0.1:5999"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "can be bridged: slow-ecg (" in r.stderr and "fs_hz=10.0" in r.stderr, r.stderr[-2000:]
    assert "50..20000 Hz" in r.stderr and "Traceback" not in r.stderr, r.stderr[-2000:]
    del outlet


def test_bridge_lsl_out_cli_publishes_runtime_holds_and_forecasts():
    from streams.publisher import Publisher
    prefix = f"biosigtest-{uuid.uuid4().hex[:8]}"
    stop = threading.Event()
    with running() as rt:
        proc = subprocess.Popen(BIOSIG + ["bridge", "lsl-out", "--prefix", prefix, "--topics", "fcst/", "hold/",
                                          "--seconds", "8", "--output", rt.bound.output],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        pub = Publisher("couchC", rt.bound.ingest)
        out = pub.stream("markers", 30.0, ["x", "y", "z"], ["mm"] * 3, modality="motion")

        def send():
            t0, i = time.time(), 0
            while not stop.is_set():
                time.sleep(max(0.0, t0 + i / 30.0 - time.time()))
                out.send(np.array([[np.sin(i / 30.0)], [np.cos(i / 30.0)], [0.0]], np.float32))
                i += 1
        sender = threading.Thread(target=send)
        sender.start()
        try:
            found = pylsl.resolve_byprop("source_id", f"{prefix}:fcst/couchC", minimum=1, timeout=20)
            assert found, "no LSL outlet from `biosig bridge lsl-out`"
            inlet = pylsl.StreamInlet(found[0])
            inlet.open_stream(timeout=5)
            got = []
            end = time.monotonic() + 2.0
            while time.monotonic() < end:
                got += inlet.pull_chunk(timeout=0.2)[0]
        finally:
            stop.set()
            sender.join(10)
            pub.close()
            _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-2000:]
    assert len(got) >= 10 and all(len(v) == 3 for v in got)
    assert '"fcst/couchC"' in err and '"hold/couchC"' in err       # the summary: samples pushed per topic


def test_lsl_types_name_the_modality_and_mocap_is_motion():
    """A radiotherapy tracker publishing LSL type MoCap is a motion stream (forecast, with holds),
    whatever its labels; a known type wins; otherwise the labels decide."""
    from streams.lsl import lsl_modality
    assert lsl_modality("MoCap", ["chest", "abdomen"]) == "motion"
    assert lsl_modality("ECG", ["ch1"]) == "ecg" and lsl_modality("Audio", ["mic"]) == "audio"
    assert lsl_modality("EEG", ["II", "V5"]) == "ecg" and lsl_modality("", ["LAC_x", "LAC_y"]) == "motion"
    assert lsl_modality("Gaze", ["x0", "q"]) == "other"


def test_bridge_lsl_out_that_pushed_nothing_says_so(capsys):
    """It printed "biosig bridge lsl-out: {}" when no frame came (no runtime at --output)."""
    from biosig.cli import main
    from test_streams_helpers import free_port
    output = f"tcp://127.0.0.1:{free_port()}"
    assert main(["bridge", "lsl-out", "--seconds", "0.5", "--output", output, "--insecure"]) == 0
    err = capsys.readouterr().err
    assert f"nothing pushed: no frame of emb/, fcst/, hold/ came from {output}" in err and "{}" not in err, err

"""Nothing compiles or loads on the runtime's hot path (house rule; streams/runtime.py's docstring).

A real runtime with the default configuration and the shipped models it serves by default runs in a
fresh interpreter (this test process has imported pytest, the signal generators and the SDK: they would
hide a lazy import). Once it serves, the interpreter records ``set(sys.modules)`` and the compiled
signatures of every Numba dispatcher in ``kernels.*`` and ``realtime.*``, and listens for Numba compile
events anywhere (a dispatcher not at module level, or outside those packages). This process then streams
over real sockets every modality the runtime serves (ECG, PPG, respiration, audio, spirometry and motion
markers of 1, 3 and 9 coordinates), in float32 and float64 frames, with a gap and a restart (a new
publisher session) in one ECG and one marker stream, until windows, embeddings, score frames and forecasts
have come; the runtime must have imported no module and compiled (or loaded from the Numba cache) no
signature since it began serving. Its stderr (shown when it fails, or with ``-s``) gives the warm-up's seconds,
each stream's first frame on the event loop against its later ones, and the encoder runs.

Found so (2026-12-07): a new stream's first frame (``streams.ingest.InputStream``) imported
``streams.audio_band_live`` and ``biosig.audio_band`` on the event loop; streams.ingest now imports them.
"""
import json
import pathlib
import subprocess
import sys
import time

import msgpack
import numpy as np
import zmq

from biosig.synthetic import simulate
from streams import protocol
from test_streams_helpers import checked_stop, never_left_running, push_socket, sub_socket

TESTS = pathlib.Path(__file__).resolve().parent

# The runtime's own interpreter: started like the streams tests start one (test_streams_helpers.running), with
# RuntimeConfig's defaults (models, windows, forecaster) on loopback ports the OS picks.
DRIVER = r"""
import json, statistics, sys, time
sys.path.insert(0, sys.argv[1])
import msgpack
from numba.core import event
from streams.config import RuntimeConfig
from streams.models import HostedModel
from streams.runtime import Runtime
from test_streams_helpers import ANY, running

armed, compiled = [False], []   # armed once the runtime serves
handled = {}   # stream -> (samples, seconds on the event loop, its forecast included) of each frame
runs = {}      # modality -> (batch, ms) of each encoder run after the runtime serves
on_ingest, hm_run = Runtime._on_ingest, HostedModel.run

def timed(self, parts):   # timing only: the runtime's own methods run
    t = time.perf_counter()
    on_ingest(self, parts)
    dt = time.perf_counter() - t
    topic = bytes(parts[0]).decode(errors="replace")
    handled.setdefault(topic, []).append((msgpack.unpackb(bytes(parts[1]))["shape"][1], dt))

def timed_run(self, x, channels=None):
    t = time.perf_counter()
    out = hm_run(self, x, channels)
    if armed[0]:
        runs.setdefault(self.modality, []).append((x.shape[0], round(1e3 * (time.perf_counter() - t), 2)))
    return out

Runtime._on_ingest, HostedModel.run = timed, timed_run

class Compiles(event.Listener):   # every Numba compile in the process, wherever its dispatcher lives
    def on_start(self, ev):
        if armed[0]:
            d = ev.data["dispatcher"]
            compiled.append(f"{d.py_func.__module__}.{d.py_func.__qualname__}{tuple(map(str, ev.data['args']))}")
    def on_end(self, ev):
        pass

def signatures():   # "module.name" -> compiled signatures of the Numba dispatchers in kernels.* and realtime.*
    out = {}
    for name, mod in list(sys.modules.items()):
        if mod is None or name.split(".")[0] not in ("kernels", "realtime"):
            continue
        for attr, obj in list(vars(mod).items()):
            if hasattr(obj, "signatures") and hasattr(obj, "py_func"):
                out[f"{name}.{attr}"] = sorted(map(str, obj.signatures))
    return out

def first_vs_later(frames):   # samples of the first frame, its ms, the median ms of the later ones as long
    n = frames[0][0]
    later = [dt for k, dt in frames[1:] if k == n] or [0.0]
    return [n, round(1e3 * frames[0][1], 2), round(1e3 * statistics.median(later), 3)]

event.register("numba:compile", Compiles())
with running(RuntimeConfig(endpoints=ANY)) as rt:
    modules, sigs = set(sys.modules), signatures()
    armed[0] = True
    print(json.dumps({"bound": list(rt.bound.all()), "warm": rt.warm}), flush=True)
    sys.stdin.readline()   # the test has streamed and seen every output
    new_sigs = {k: sorted(set(v) - set(sigs.get(k, []))) for k, v in signatures().items()}
    print(json.dumps({"modules": sorted(set(sys.modules) - modules), "compiled": compiled,
                      "signatures": {k: v for k, v in new_sigs.items() if v}}), flush=True)
    print("warm-up s:", json.dumps({k: round(v, 2) for k, v in rt.warm.items()}), file=sys.stderr)
    print("first frame vs later (samples, ms, ms):", json.dumps({k: first_vs_later(v) for k, v in handled.items()}),
          file=sys.stderr)
    print("encoder runs (batch, ms):", json.dumps(runs), file=sys.stderr, flush=True)
"""

SIGNALS = {   # stream -> (modality, seconds of backlog before now, dtype); every window of the defaults fits
    "ecg": ("ecg", 14.0, np.float32), "ppg": ("ppg", 14.0, np.float64), "resp": ("resp", 34.0, np.float32),
    "audio": ("audio", 6.0, np.float64), "spiro": ("spiro", 20.0, np.float64)}
# source -> coordinates, dtype (one marker stream a source: a source has one forecaster)
MARKERS = {"couch1": (1, np.float64), "couch3": (3, np.float32), "couch9": (9, np.float32)}
MARKER_HZ = 30.0


def _frames(x: np.ndarray, fs_hz: float, t0_s: float, dtype, frame_s: float = 1.0):
    """``x`` (C, T) as (t0_s, samples) frames of ``frame_s`` (the dtype is fixed within a session)."""
    n = max(1, int(round(frame_s * fs_hz)))
    for i in range(0, x.shape[1], n):
        yield t0_s + i / fs_hz, x[:, i:i + n].astype(dtype)


class Sender:
    """Raw PUSH of signal frames (the SDK's Publisher sends float32 only), one sequence per stream and
    session."""

    def __init__(self, push):
        self.push, self.seq = push, {}

    def send(self, stream, session, t0_s, fs_hz, x, modality, units, channels=None, skip=0):
        key = (stream, session)
        seq = self.seq.get(key, 0) + skip
        channels = channels or [f"c{i}" for i in range(x.shape[0])]
        h = protocol.signal_header(stream, seq, session, t0_s, fs_hz, channels, [units] * len(channels), modality)
        self.push.send_multipart(protocol.encode(stream, h, x))
        self.seq[key] = seq + 1


def _send_signals(tx: Sender, now: float, live_s: float) -> list:
    """Every stream of SIGNALS as a backlog ending at ``now``; ECG and PPG go on live (``live_s``, frames
    of 0.5 s from ``now``), as ``(stream, session, fs_hz, frames, modality, units)`` for :func:`_stream_markers`."""
    live = []
    for name, (modality, seconds, dtype) in SIGNALS.items():
        kw = {"ecg": {"leads": 2}, "audio": {"kind": "breath"}}.get(modality, {})
        rec = simulate(modality, seconds + live_s, seed=3, **kw)
        fs = rec.fs_hz
        x, rest = rec.samples[:, :int(seconds * fs)], rec.samples[:, int(seconds * fs):]
        units = rec.units[0] if rec.units else ""
        session, t0 = 1, now - seconds
        if name == "ecg":   # a gap (4 s of samples and 2 sequence numbers missing), then a restart: a new
            t0 = now - 3 * seconds   # session, in float64
            for t, f in _frames(x, fs, t0, dtype):
                tx.send(f"bed1/{name}", 1, t, fs, f, modality, units)
            for k, (t, f) in enumerate(_frames(x[:, :2 * x.shape[1] // 3], fs, t0 + seconds + 4.0, dtype)):
                tx.send(f"bed1/{name}", 1, t, fs, f, modality, units, skip=2 if k == 0 else 0)
            session, t0, dtype = 2, now - seconds, np.float64
        for t, f in _frames(x, fs, t0, dtype):
            tx.send(f"bed1/{name}", session, t, fs, f, modality, units)
        if name in ("ecg", "ppg"):
            live.append((f"bed1/{name}", session, fs, list(_frames(rest, fs, now, dtype, 0.5)), modality, units))
    return live


def _marker(t: np.ndarray, c: int) -> np.ndarray:
    k = np.arange(c)[:, None]
    return (10.0 * np.sin(2 * np.pi * 0.25 * t[None, :] + k) + k).astype(np.float64)


def _stream_markers(tx: Sender, seconds_live: float, live: list):
    """6 s of backlog (the scaler's 5 s warm-up), then one sample a frame in real time; the 3-coordinate
    marker skips 0.5 s (a gap) half way and restarts (a new session) at 3/4, the 1-coordinate one switches
    to metres at 6/10, the 9-coordinate one has a glitch at 4/10 and moves to another origin at 7/10. The
    ``live`` streams send their next frame every 0.5 s meanwhile (one new window, embedded alone)."""
    fs = MARKER_HZ
    t_start = time.time() - 6.0
    back = np.arange(int(6.0 * fs)) / fs + t_start
    for name, (c, dtype) in MARKERS.items():
        for t0, f in _frames(_marker(back - t_start, c), fs, t_start, dtype, 0.5):
            tx.send(f"{name}/markers", 1, t0, fs, f, "motion", "mm")
    i0 = len(back)
    t_live = t_start + i0 / fs
    n_live = int(seconds_live * fs)
    skipped = {}
    for i in range(n_live):
        t = t_live + i / fs
        while time.time() < t:
            time.sleep(0.001)
        if i % int(0.5 * fs) == int(0.5 * fs) - 1:   # (once its last sample is taken)
            for stream, session, fs_hz, frames, modality, units in live:
                if frames:
                    t0, f = frames.pop(0)
                    tx.send(stream, session, t0, fs_hz, f, modality, units)
        for name, (c, dtype) in MARKERS.items():
            session = 1
            if name == "couch3" and i >= 3 * n_live // 4:   # restarted, in float64
                session, dtype = 2, np.float64
            gap = name == "couch3" and n_live // 2 <= i < n_live // 2 + int(0.5 * fs)
            if gap:   # a gap: these samples never come (their sequence numbers are skipped)
                skipped[name] = skipped.get(name, 0) + 1
                continue
            x = _marker(np.array([t - t_start]), c)
            if name == "couch1" and i >= 6 * n_live // 10:   # switched to metres (realtime.scale_switch)
                x = x / 1000.0
            if name == "couch9" and (i == 4 * n_live // 10 or i >= 7 * n_live // 10):   # a glitch; a new origin
                x = x + 500.0
            tx.send(f"{name}/markers", session, t, fs, x.astype(dtype), "motion", "mm", skip=skipped.pop(name, 0))


def test_nothing_compiles_or_loads_on_the_hot_path():
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(TESTS)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=TESTS.parent)
    ctx = zmq.Context()
    try:
        line = proc.stdout.readline()
        assert line, f"the runtime did not start (exit {proc.wait(60)})"
        ingest, output, status = json.loads(line)["bound"]
        sub = sub_socket(ctx, output)
        tx = Sender(push_socket(ctx, ingest))
        time.sleep(0.3)   # the subscription reaches the PUB socket
        _stream_markers(tx, 4.0, _send_signals(tx, time.time(), 4.0))
        seen, end = {}, time.monotonic() + 15.0

        def complete():
            return all({"emb", "score", "ok"} <= seen.get(f"bed1/{s}", set()) for s in SIGNALS) and all(
                "forecast" in seen.get(f"{m}/markers", set()) for m in MARKERS)

        while not complete() and time.monotonic() < end:
            if sub.poll(200):
                parts = sub.recv_multipart()
                h = msgpack.unpackb(parts[1])
                kind = h.get("kind")
                stream = h.get("stream")
                seen.setdefault(stream, set()).add({"embedding": "emb"}.get(kind, kind))
                if kind == "hold":
                    seen[stream].add(f"hold: {h.get('reason')}")
                if kind == "score" and h.get("ok"):   # measures (and heads) ran, not withheld
                    seen[stream].add("ok")
        req = ctx.socket(zmq.REQ)   # a status request is served on the event loop too
        req.setsockopt(zmq.LINGER, 0)
        req.connect(status)
        req.send(b"status")
        assert req.poll(5000), "no status reply"
        assert msgpack.unpackb(req.recv_multipart()[1])["body"]["state"] == "serving"
        found = checked_stop(proc)
    finally:
        ctx.destroy(linger=0)
        never_left_running(proc)   # (a failure above)
    assert complete(), f"not every output came: {seen}"
    assert found == {"modules": [], "compiled": [], "signatures": {}}, found

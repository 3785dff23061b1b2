"""Helpers for the streams tests (real sockets on loopback, random free ports, linger 0)."""
import contextlib
import socket
import time

import numpy as np

from streams import protocol
from streams.config import Endpoints, ForecasterConfig, RuntimeConfig
from streams.runtime import Runtime

ANY = Endpoints("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", "tcp://127.0.0.1:*")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_endpoints() -> Endpoints:
    return Endpoints(*(f"tcp://127.0.0.1:{free_port()}" for _ in range(3)))


def config(**over) -> RuntimeConfig:
    base = dict(endpoints=ANY, models={}, windows={"resp": (2.0, 1.0), "ecg": (2.0, 1.0)},
                forecaster=ForecasterConfig(method="lms", horizon_steps=2, lookback=4, warmup_s=1.0,
                                            recover_steps=5, stale_s=0.5),
                status_every_s=0.2)
    base.update(over)
    return RuntimeConfig(**base)


@contextlib.contextmanager
def running(cfg: RuntimeConfig | None = None):
    rt = Runtime(cfg or config()).start()
    try:
        yield rt
    finally:
        rt.stop()
        assert rt.error is None, rt.error


def push_socket(ctx, endpoint):
    import zmq
    s = ctx.socket(zmq.PUSH)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)
    return s


def sub_socket(ctx, endpoint, prefix=b""):
    import zmq
    s = ctx.socket(zmq.SUB)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.SUBSCRIBE, prefix)
    s.connect(endpoint)
    return s


def signal(stream, seq, x, *, session=1, fs_hz=25.0, modality="resp", t0_s=None, channels=None):
    x = np.asarray(x, np.float32)
    channels = channels or [f"c{i}" for i in range(x.shape[0])]
    t0_s = time.time() - (x.shape[1] - 1) / fs_hz if t0_s is None else t0_s
    h = protocol.signal_header(stream, seq, session, t0_s, fs_hz, channels, [""] * len(channels), modality)
    return protocol.encode(stream, h, x)


def wait_for(pred, timeout_s=10.0, what="condition"):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = pred()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def stream_status(rt, name):
    return rt.status()["streams"].get(name, {})


def replay_scores(rt, rec, name: str, n_frames: int, *, source: str = "replay", chunk: int = 75,
                  modality: str | None = None, timeout_s: float = 60.0) -> list[dict]:
    """Publish the record ``rec`` as stream ``<source>/<name>`` to the running runtime ``rt`` over
    real sockets, ``chunk`` samples a frame, and return the headers of the first ``n_frames``
    ``score`` frames of that stream (fewer when ``timeout_s`` passes first)."""
    from streams.publisher import Publisher
    from streams.subscriber import Subscriber
    sub = Subscriber(["score/", "hb/"], rt.bound.output)
    wait_for(lambda: sub.recv(0.2), what="subscription")
    pub = Publisher(source, rt.bound.ingest)
    out = pub.stream(name, rec.fs_hz, list(rec.channels), list(rec.units), modality=modality)
    x = rec.samples.astype(np.float32)
    for i in range(0, x.shape[1], chunk):
        out.send(x[:, i:i + chunk])
    frames, end = [], time.monotonic() + timeout_s
    while len(frames) < n_frames and time.monotonic() < end:
        f = sub.recv(0.2)
        if f is not None and f.kind == "score" and f.header["stream"] == f"{source}/{name}":
            frames.append(f.header)
    pub.close()
    sub.close()
    return frames


def ecg_score_headers(x: np.ndarray, channels, n_expected: int, *, window=(10.0, 5.0), timeout_s: float = 60.0,
                      fs_hz: float = 250.0, **over) -> list[dict]:
    """Send ``x`` (C, T) as the one ECG stream ``bed1/ecg`` (session 7) of a model-less runtime, in
    1 s frames with contiguous device time ending now, over real sockets; the headers of its first
    ``n_expected`` score frames (fewer when ``timeout_s`` passes first). ``window``: (window_s, hop_s)."""
    import msgpack
    import zmq

    ctx = zmq.Context()
    try:
        with running(config(windows={"ecg": window}, **over)) as rt:
            sub = sub_socket(ctx, rt.bound.output, b"score/")
            push = push_socket(ctx, rt.bound.ingest)
            time.sleep(0.3)   # the subscription reaches the PUB socket
            t0 = time.time() - x.shape[1] / fs_hz
            n = int(fs_hz)
            for i in range(0, x.shape[1], n):
                h = protocol.signal_header("bed1/ecg", i // n, 7, t0 + i / fs_hz, fs_hz, list(channels),
                                           ["mV"] * len(channels), "ecg")
                push.send_multipart(protocol.encode("bed1/ecg", h, x[:, i:i + n]))
            frames, end = [], time.monotonic() + timeout_s
            while len(frames) < n_expected and time.monotonic() < end:
                if sub.poll(500):
                    frames.append(msgpack.unpackb(sub.recv_multipart()[1]))
            sub.close()
            push.close()
            return frames
    finally:
        ctx.destroy(linger=0)   # closes the sockets a failed assertion left open

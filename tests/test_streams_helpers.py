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

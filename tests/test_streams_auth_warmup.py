"""A CURVE handshake the runtime refuses while its models warm up is counted like any other.

The status socket is bound before the warm-up (it answers "starting" meanwhile: seconds with real
models), but the monitors that count refused handshakes were attached after it: a client with a
key the runtime never allowed, knocking during the warm-up, was refused and never counted (status
``auth_failures`` 0, no warning). They are now attached before each bind. Real sockets, real keys,
ecg-tiny's real warm-up, which waits until the stranger has been refused once (it skipped under load
when the warm-up ended first).
"""
import threading

import streams.runtime
from streams.config import Endpoints
from streams.errors import StreamError
from streams.runtime import Runtime
from streams.security import generate_keys
from streams.subscriber import request_status
from test_streams_helpers import config, free_port, wait_for


def test_a_key_refused_during_the_warm_up_is_counted(tmp_path, monkeypatch):
    keys = generate_keys(tmp_path / "keys")
    generate_keys(tmp_path / "stranger")   # a key pair of its own, and the runtime's real server key
    (tmp_path / "stranger" / "server.key").write_bytes((keys / "server.key").read_bytes())
    status = f"tcp://127.0.0.1:{free_port()}"
    cfg = config(key_dir=str(keys), models={"ecg": "ecg-tiny"}, backend="torch",
                 endpoints=Endpoints(f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}", status))
    knocked = threading.Event()
    real_warm_up = streams.runtime.warm_up_all

    def warm_up_after_the_knock(*args, **kwargs):   # the real warm-up, once the stranger was refused
        knocked.wait(60)
        return real_warm_up(*args, **kwargs)

    monkeypatch.setattr(streams.runtime, "warm_up_all", warm_up_after_the_knock)
    rt = Runtime(cfg)
    starter = threading.Thread(target=rt.start, daemon=True)
    starter.start()
    try:
        refused = None
        while refused is None and not rt.ready.is_set():
            try:
                request_status(status, key_dir=tmp_path / "stranger", timeout_s=0.3)
            except StreamError as exc:   # not bound yet: no answer; bound: refused
                if "refused this client's key" in str(exc):
                    refused = rt.state
        knocked.set()
        assert refused == "starting", refused
        starter.join(120)
        assert rt.ready.is_set(), rt.error
        wait_for(lambda: rt.status()["auth_failures"] >= 1, timeout_s=10,
                 what="the handshake refused during the warm-up counted")
    finally:
        knocked.set()
        rt.stop()
        starter.join(30)

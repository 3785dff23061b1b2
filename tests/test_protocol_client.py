"""A client written only from docs/protocol.md (plain pyzmq + numpy + msgpack, no biosig code)
publishes an ECG stream and receives its embeddings from a real runtime."""
import pytest

from streams.config import RuntimeConfig
from test_streams_helpers import ANY, running

CLIENT = '''
import time, msgpack, numpy as np, zmq

def run_client(ingest, output, seconds=12.0, fs=250.0, frame_s=0.5, want=2):
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH); push.setsockopt(zmq.LINGER, 0); push.connect(ingest)
    sub = ctx.socket(zmq.SUB); sub.setsockopt(zmq.LINGER, 0); sub.connect(output)
    sub.setsockopt(zmq.SUBSCRIBE, b"emb/ward3/ecg")
    sub.setsockopt(zmq.SUBSCRIBE, b"hb/")
    while sub.recv_multipart()[0] != b"hb/runtime":      # subscribed once heartbeats arrive
        pass
    n = int(frame_s * fs)
    t = np.arange(int(seconds * fs)) / fs
    x = (np.sin(2 * np.pi * 1.1 * t) ** 15).astype("<f4")[None, :]   # spiky 66 bpm "ECG"
    t_start = time.time() - seconds
    for seq, i in enumerate(range(0, x.shape[1], n)):
        chunk = np.ascontiguousarray(x[:, i:i + n])
        hdr = {"v": 1, "kind": "signal", "stream": "ward3/ecg", "seq": seq, "session": 7,
               "t0_s": t_start + i / fs, "fs_hz": fs, "channels": ["II"], "units": ["mV"],
               "modality": "ecg", "dtype": "<f4", "shape": list(chunk.shape)}
        push.send_multipart([b"ward3/ecg", msgpack.packb(hdr), chunk.tobytes()])
    got = []
    while len(got) < want:
        if not sub.poll(30000):
            raise TimeoutError("no embedding")
        topic, header, *payload = sub.recv_multipart()
        if topic == b"hb/runtime":
            continue
        h = msgpack.unpackb(header)
        emb = np.frombuffer(payload[0], dtype=h["dtype"]).reshape(h["shape"])
        got.append((topic.decode(), h, emb))
    push.close(); sub.close(); ctx.term()
    return got
'''


def test_client_from_the_protocol_doc_gets_embeddings():
    pytest.importorskip("encoders")
    assert len(CLIENT.strip().splitlines()) <= 50
    scope = {}
    exec(compile(CLIENT, "protocol_client", "exec"), scope)
    cfg = RuntimeConfig(endpoints=ANY, models={"ecg": "ecg-tiny"}, backend="torch", status_every_s=0.2)
    with running(cfg) as rt:
        got = scope["run_client"](rt.bound.ingest, rt.bound.output)
        s = rt.status()["streams"]["ward3/ecg"]
    assert [topic for topic, _, _ in got] == ["emb/ward3/ecg"] * 2
    (_, h0, e0), (_, h1, e1) = got
    assert h0["kind"] == "embedding" and h0["seq"] == 0 and h1["seq"] == 1
    assert h0["model_id"].startswith("ecg-tiny") and e0.shape == (128,) and np.isfinite(e0).all()
    assert h1["window_end_s"] - h0["window_end_s"] == pytest.approx(1.0, abs=0.01)   # 1 s hop
    assert h1["window_end_s"] - h1["window_start_s"] == pytest.approx(10.0, abs=0.01)  # 10 s window
    assert not np.allclose(e0, e1)
    assert s["frames"] == 24 and s["gaps"] == 0 and s["rejected_total"] == 0


import numpy as np  # noqa: E402  (after the client text so that it visibly needs no import from here)

"""Bad input and faults over real sockets on loopback: the runtime rejects and counts what is bad,
keeps serving the good streams and never crashes."""
import time

import msgpack
import numpy as np
import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams import protocol
from streams.errors import StreamError
from streams.publisher import Publisher
from streams.subscriber import Subscriber, request_status
from test_streams_helpers import config, push_socket, running, signal, stream_status, sub_socket, wait_for

GOOD = "bed01/resp"


def _bad_frames():
    ok = signal("bed02/resp", 0, np.ones((1, 5)))
    h = msgpack.unpackb(ok[1])
    pack = lambda **c: [ok[0], msgpack.packb(dict(h, **c)), ok[2]]  # noqa: E731
    nan = np.ones((1, 5), np.float32)
    nan[0, 2] = np.nan
    return {
        "garbage": [b"\x00\xff garbage"],
        "frames": [ok[0], ok[1], ok[2], b"extra"],
        "header": [ok[0], b"\x93\x01", ok[2]],
        "version": pack(v=7),
        "schema": pack(fs_hz="fast"),
        "rate": pack(fs_hz=5e6),
        "payload_size": [ok[0], ok[1], bytes(ok[2]) + b"\0\0\0\0"],
        "nonfinite": signal("bed02/resp", 1, nan),
        "inf": signal("bed02/resp", 2, np.full((1, 5), np.inf)),
        "topic": [b"no-slash", ok[1], ok[2]],
        "ecg_at_5_hz": signal("bed02/ecg", 0, np.ones((1, 5)), fs_hz=5.0, modality="ecg"),
        "audio_at_100_hz": signal("bed02/audio", 0, np.ones((1, 5)), fs_hz=100.0, modality="audio"),
    }


def test_bad_frames_are_counted_and_good_stream_keeps_flowing():
    ctx = zmq.Context()
    with running() as rt:
        push = push_socket(ctx, rt.bound.ingest)
        sub = sub_socket(ctx, rt.bound.output, b"emb/bed01/resp")
        bad = _bad_frames()
        good_seq = 0
        for _ in range(3):
            for parts in bad.values():
                push.send_multipart(parts)
                push.send_multipart(signal(GOOD, good_seq, np.sin(np.arange(25) / 3.0)[None]))
                good_seq += 1
        wait_for(lambda: stream_status(rt, GOOD).get("frames") == good_seq, what="all good frames")
        s = rt.status()
        assert s["streams"][GOOD]["rejected_total"] == 0
        assert s["streams"][GOOD]["gaps"] == 0
        # bed02/resp became a stream only through its one valid-schema rejects: counted per reason
        inv = s["invalid"]
        counts = {**inv}
        for name in ("bed02/resp", "bed02/ecg", "bed02/audio"):   # named streams: counted per stream
            assert s["streams"][name]["frames"] == 0
            for k, v in s["streams"][name]["rejected"].items():
                counts[k] = counts.get(k, 0) + v
        assert s["streams"]["bed02/ecg"]["rejected"] == {"rate": 3}
        for reason in ("frames", "header", "version", "schema", "payload_size", "nonfinite", "topic"):
            assert counts.get(reason, 0) >= 3, (reason, counts)
        assert counts["rate"] == 9
        assert sum(counts.values()) == 3 * len(bad)
        # the good stream produced its windows: 30 frames x 1 s = 30 s, 2 s windows every 1 s
        assert sub.poll(5000)
        assert wait_for(lambda: stream_status(rt, GOOD)["outputs"] >= 28, what="windows")
        push.close()
        sub.close()
    ctx.term()


def test_sequence_duplicates_late_gaps_and_inconsistent_frames():
    ctx = zmq.Context()
    with running() as rt:
        push = push_socket(ctx, rt.bound.ingest)
        x = np.ones((1, 5))
        for seq in (0, 1, 1, 0, 2, 5, 6, 3):
            push.send_multipart(signal(GOOD, seq, x))
        push.send_multipart(signal(GOOD, 7, x, fs_hz=50.0))           # rate changed, same session
        push.send_multipart(signal(GOOD, 8, np.ones((2, 5))))          # channel count changed
        push.send_multipart(signal(GOOD, 9, x))
        s = wait_for(lambda: (st := stream_status(rt, GOOD)) and st["frames"] == 6 and
                     st["rejected_total"] == 2 and st, what="counts")
        # 0 1 [1 dup] [0 late] 2 (gap: 3 4) 5 6 [3 late] [7 8 rejected] (gap: 7 8) 9
        assert (s["duplicates"], s["late"], s["gaps"], s["missing"]) == (1, 2, 2, 4)
        assert s["rejected"] == {"inconsistent": 2}
        push.close()
    ctx.term()


def test_publisher_that_vanishes_and_returns_is_a_restart_not_a_failure():
    with running() as rt:
        p1 = Publisher("bed01", rt.bound.ingest)
        out = p1.stream("resp", 25.0, ["RESP"])
        for _ in range(40):
            out.send(np.sin(np.arange(25) / 4.0))
        wait_for(lambda: stream_status(rt, GOOD).get("frames") == 40, what="first session")
        p1.close()
        p2 = Publisher("bed01", rt.bound.ingest)   # same device, new session, seq from 0 again
        out2 = p2.stream("resp", 25.0, ["RESP"])
        for _ in range(10):
            out2.send(np.cos(np.arange(25) / 4.0))
        s = wait_for(lambda: (st := stream_status(rt, GOOD)) and st["frames"] == 50 and st, what="second session")
        assert s["restarts"] == 1 and s["late"] == 0 and s["duplicates"] == 0
        w_before = s["windows"]
        for _ in range(5):
            out2.send(np.cos(np.arange(25) / 4.0))
        wait_for(lambda: stream_status(rt, GOOD)["windows"] > w_before, what="windows after the restart")
        p2.close()


def test_curve_allow_list(tmp_path):
    from streams.security import generate_keys
    keys = generate_keys(tmp_path / "keys")
    stranger = generate_keys(tmp_path / "stranger")   # a valid key pair the runtime never allowed
    generate_keys(tmp_path / "stranger2")             # another runtime's keys altogether
    cfg = config(key_dir=str(keys))
    with running(cfg) as rt:
        ok = Publisher("bed01", rt.bound.ingest, key_dir=keys)
        sub = Subscriber(["emb/", "hb/"], rt.bound.output, key_dir=keys)
        assert sub.recv(timeout_s=10).topic == "hb/runtime"   # subscribed through CURVE
        bad = Publisher("bed66", rt.bound.ingest, key_dir=stranger)   # right server? no: wrong server key
        # a client with its own key pair but the real server key: authentication must refuse it
        import shutil
        shutil.copy(keys / "server.key", tmp_path / "stranger" / "server.key")
        bad2 = Publisher("bed77", rt.bound.ingest, key_dir=tmp_path / "stranger")
        plain = zmq.Context.instance().socket(zmq.PUSH)
        plain.setsockopt(zmq.LINGER, 0)
        plain.connect(rt.bound.ingest)
        for i in range(6):
            for p in (ok, bad, bad2):
                p.stream("resp", 25.0, ["RESP"]).send(np.sin(np.arange(25) / (3.0 + i)))
            try:  # a plain socket never completes the handshake: its queue may be closed
                plain.send_multipart(signal("bed88/resp", i, np.ones((1, 25))), zmq.NOBLOCK)
            except zmq.Again:
                pass
        frame = wait_for(lambda: (f := sub.recv(0.1)) is not None and f.topic.startswith("emb/") and f,
                         what="an embedding frame")
        assert frame.topic == "emb/bed01/resp"
        wait_for(lambda: rt.status()["auth_failures"] >= 1, what="an authentication failure")
        wait_for(lambda: stream_status(rt, GOOD).get("frames") == 6, what="the allowed client's frames")
        s = rt.status()
        assert list(s["streams"]) == [GOOD]   # nothing from the stranger or the plain socket
        # a client whose handshake the runtime refused is told why, not "no runtime answered"
        with pytest.raises(StreamError, match="uses CURVE keys: give --keys"):
            request_status(rt.bound.status, timeout_s=1.0)          # plain REQ
        with pytest.raises(StreamError, match="stranger2/server.key is not that runtime's server key"):
            request_status(rt.bound.status, key_dir=tmp_path / "stranger2", timeout_s=1.0)
        with pytest.raises(StreamError, match="refused this client's key: .*stranger/client.key"):
            request_status(rt.bound.status, key_dir=tmp_path / "stranger", timeout_s=1.0)
        from biosig.cli import main   # listen said "0 frames" (and a hint) with keys the runtime refused
        assert main(["listen", "--output", rt.bound.output, "--status", rt.bound.status,
                     "--keys", str(tmp_path / "stranger"), "--seconds", "8"]) == 2
        assert request_status(rt.bound.status, key_dir=keys)["streams"][GOOD]["frames"] == 6
        for p in (ok, bad, bad2):
            p.close()
        plain.close()
        sub.close()


@pytest.mark.timeout(120)
def test_random_frames_never_break_the_runtime():
    ctx = zmq.Context()
    base = msgpack.unpackb(signal("bed09/resp", 0, np.ones((1, 4)))[1])
    keys = sorted(base)
    value = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**64 - 1), st.floats(),
                      st.text(max_size=6), st.lists(st.integers(-2, 6), max_size=3), st.binary(max_size=8))
    frame = st.one_of(
        st.lists(st.binary(max_size=40), min_size=1, max_size=5),
        st.tuples(st.sampled_from([b"bed09/resp", b"x/y", b"bad topic"]),
                  st.dictionaries(st.sampled_from(keys + ["zz"]), value, max_size=4),
                  st.binary(max_size=64)).map(lambda t: [t[0], msgpack.packb({**base, **t[1]}), t[2]]),
    )
    with running() as rt:
        push = push_socket(ctx, rt.bound.ingest)
        sent = {"good": 0}

        @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        @given(st.lists(frame, min_size=1, max_size=4))
        def throw(frames):
            for parts in frames:
                push.send_multipart(parts)
            push.send_multipart(signal(GOOD, sent["good"], np.ones((1, 25)) * sent["good"]))
            sent["good"] += 1

        throw()
        wait_for(lambda: stream_status(rt, GOOD).get("frames") == sent["good"], timeout_s=20,
                 what="every good frame")
        assert rt._thread.is_alive()
        s = rt.status()
        assert s["streams"][GOOD]["rejected_total"] == 0 and s["streams"][GOOD]["gaps"] == 0
        push.close()
    ctx.term()


def test_two_publishers_under_one_stream_name_do_not_stop_its_windows(caplog):
    """Two monitors with the same bed names: each switch between their sessions restarted the
    stream (restarts in the thousands, no window for as long as both ran, nothing in the table).
    The newer session keeps the stream; the other's frames are rejected as session_conflict
    (counted, one warning); once the newer one is silent for SESSION_TAKEOVER_S the other takes over."""
    import logging
    from streams.ingest import SESSION_TAKEOVER_S
    with running() as rt, caplog.at_level(logging.WARNING, logger="streams"):
        p1, p2 = Publisher("bed01", rt.bound.ingest), Publisher("bed01", rt.bound.ingest)
        o1, o2 = p1.stream("resp", 25.0, ["RESP"]), p2.stream("resp", 25.0, ["RESP"])
        wait_for(lambda: p1.sock.poll(0, zmq.POLLOUT) and p2.sock.poll(0, zmq.POLLOUT), what="both connected")
        t0 = time.time() - 40.0

        def seen():   # frames the runtime has taken in (accepted or refused), either session
            st = stream_status(rt, GOOD) or {"frames": 0, "rejected": {}}
            return st["frames"] + st["rejected"].get("session_conflict", 0)

        for k in range(30):   # interleaved at the runtime, one second of samples each, in device time
            # (each frame awaited: two sockets give no order, and under load one socket's frames
            # could all arrive first, which is one take-over, not the interleaving tested here)
            o1.send(np.sin(np.arange(25) / 4.0), t0_s=t0 + k)
            wait_for(lambda: seen() == 2 * k + 1, what=f"frame {2 * k + 1}")
            o2.send(np.cos(np.arange(25) / 4.0), t0_s=t0 + k)
            wait_for(lambda: seen() == 2 * k + 2, what=f"frame {2 * k + 2}")
        s = wait_for(lambda: (st := stream_status(rt, GOOD)) and
                     st["frames"] + st["rejected"].get("session_conflict", 0) == 60 and st, what="60 frames")
        assert s["restarts"] == 1 and s["rejected"]["session_conflict"] >= 25, s
        assert s["windows"] >= 15, s   # ~30 s of one publisher's samples in 10 s windows, 1 s hop
        told = [r.getMessage() for r in caplog.records if "two publishers send this stream" in r.getMessage()]
        assert len(told) == 1 and "bed01/resp" in told[0]
        # whichever session reached the runtime second owns the stream (two sockets: no order)
        owner, other = (p1, (p2, o2)) if rt.streams[GOOD].session == p1.session else (p2, (p1, o1))
        owner.close()
        time.sleep(SESSION_TAKEOVER_S + 0.3)   # the owner stopped: the other publisher takes over
        other[1].send(np.sin(np.arange(25) / 4.0), t0_s=t0 + 31)
        s = wait_for(lambda: (st := stream_status(rt, GOOD)) and st["restarts"] == 2 and st, what="the take-over")
        assert s["frames"] == 60 - s["rejected"]["session_conflict"] + 1
        other[0].close()

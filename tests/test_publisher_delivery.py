"""What a publisher counts as sent reached a runtime, over real sockets on loopback: frames with
nobody listening, or refused by the runtime's CURVE keys, are dropped (not sent, not queued for a
later runtime), a long refusal is logged once, and `biosig monitor` / `biosig replay` say so and
exit 1 when nothing was delivered. The runtime counts every refused CURVE handshake (wrong server
key, a plain client). Replay loops a record with a sequence gap at each wrap, never a frame that
glues the record's end to its start."""
import logging
import subprocess
import sys
import time

import numpy as np
import pytest
import zmq

from streams import protocol
from streams import publisher as publisher_module
from streams.publisher import Publisher
from streams.replay import replay_sources
from streams.security import generate_keys
from streams.simulate import run_sources
from test_streams_helpers import config, free_port, running, stream_status, wait_for

BIOSIG = [sys.executable, "-c", "import sys; from biosig.cli import main; sys.exit(main(sys.argv[1:]))"]


def _pull(ctx, endpoint):
    s = ctx.socket(zmq.PULL)
    s.setsockopt(zmq.LINGER, 0)
    s.bind(endpoint)
    return s


def _drain(sock, quiet_s=0.3):
    """Every frame until none came for ``quiet_s``: (header, samples) pairs."""
    got = []
    while sock.poll(int(quiet_s * 1000)):
        f = protocol.decode(sock.recv_multipart())
        got.append((f.header, f.array[0]))
    return got


def test_frames_with_nobody_listening_are_dropped_not_queued_for_a_later_runtime():
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    ctx = zmq.Context()
    pub = Publisher("bed01", endpoint, block_s=0.2, ctx=ctx)
    out = pub.stream("resp", 25.0, ["RESP"])
    t = time.monotonic()
    early = [out.send(np.full(5, i, np.float32)) for i in range(10)]
    took_s = time.monotonic() - t
    if early != [False] * 10:   # (the old code queued them for whoever would connect: "sent")
        pub.close()
        ctx.term()
    assert early == [False] * 10 and (out.sent, out.dropped, out.seq) == (0, 10, 10)
    assert took_s < 1.0   # the first send waits block_s for a runtime, the next ones do not wait again
    pull = _pull(ctx, endpoint)                    # a runtime comes up: it gets fresh frames only
    try:
        wait_for(lambda: out.send(np.full(5, 99, np.float32)), what="a frame through the new connection")
        got = _drain(pull)
        assert got and all(h["seq"] >= 10 for h, _ in got) and out.sent == len(got)
    finally:
        pub.close()
        pull.close()
        ctx.term()


def test_a_long_refusal_is_logged_once_naming_the_endpoint(caplog):
    endpoint = f"tcp://127.0.0.1:{free_port()}"   # a new endpoint: not warned about yet
    pub = Publisher("bed01", endpoint, policy="drop")
    out = pub.stream("resp", 25.0, ["RESP"])
    with caplog.at_level(logging.WARNING, logger="streams.publisher"):
        end = time.monotonic() + getattr(publisher_module, "WARN_AFTER_S", 3.0) + 0.5
        while time.monotonic() < end:
            out.send(np.ones(5))
            time.sleep(0.05)
    pub.close()
    warned = [r.getMessage() for r in caplog.records if "no runtime accepted" in r.getMessage()]
    assert len(warned) == 1 and endpoint in warned[0] and "biosig serve" in warned[0]
    assert out.sent == 0 and out.dropped == out.seq


def _three_publishers(rt, keys, foreign):
    """A client with another runtime's keys, a plain client and an allowed one."""
    return (Publisher("bed66", rt.bound.ingest, key_dir=foreign, block_s=0.3),
            Publisher("bed77", rt.bound.ingest, block_s=0.3), Publisher("bed01", rt.bound.ingest, key_dir=keys))


@pytest.mark.timeout(120)
def test_frames_refused_by_the_runtimes_keys_are_dropped_not_sent(tmp_path):
    keys = generate_keys(tmp_path / "keys")
    foreign = generate_keys(tmp_path / "foreign")   # another runtime's keys: the wrong server key
    with running(config(key_dir=str(keys))) as rt:
        pubs = _three_publishers(rt, keys, foreign)
        try:
            for _ in range(5):
                for p in pubs:
                    p.stream("resp", 25.0, ["RESP"]).send(np.ones(25))
            assert [p.streams["resp"].sent for p in pubs] == [0, 0, 5]
            assert [p.streams["resp"].dropped for p in pubs] == [5, 5, 0]
            wait_for(lambda: stream_status(rt, "bed01/resp").get("frames") == 5, what="the allowed frames")
            assert list(rt.status()["streams"]) == ["bed01/resp"]
        finally:
            for p in pubs:
                p.close()


@pytest.mark.timeout(120)
def test_runtime_counts_and_logs_a_wrong_server_key_and_a_plain_client(tmp_path, caplog):
    keys = generate_keys(tmp_path / "keys")
    foreign = generate_keys(tmp_path / "foreign")
    with running(config(key_dir=str(keys))) as rt, caplog.at_level(logging.WARNING, logger="streams.runtime"):
        wrong, plain, _ = pubs = _three_publishers(rt, keys, foreign)
        try:
            wrong.stream("resp", 25.0, ["RESP"]).send(np.ones(25))
            by = wait_for(lambda: rt.status()["auth_failures_by_socket"], what="the wrong server key counted")
            plain.stream("resp", 25.0, ["RESP"]).send(np.ones(25))
            wait_for(lambda: "without CURVE keys" in caplog.text, what="the plain client logged")
            s = rt.status()
            assert by == {"ingest": by["ingest"]} and s["auth_failures"] > by["ingest"] >= 1
            assert s["auth_failures"] == sum(s["auth_failures_by_socket"].values())
        finally:
            for p in pubs:
                p.close()
    refused = [r.getMessage() for r in caplog.records if "refused by CURVE" in r.getMessage()]
    # the wrong key retries every 0.1 s, counted each time but logged once per 10 s; the plain client
    # is refused for its plain greeting, or leaves on seeing the CURVE one (whichever comes first)
    assert sum("another server key" in m for m in refused) == 1 and 2 <= len(refused) <= 3


def _run(*args, timeout=120):
    return subprocess.run(BIOSIG + list(args), capture_output=True, text=True, timeout=timeout)


def _csv_record(path, n=40, fs_hz=25.0):
    """A respiration table whose samples are 0, 1, ..., n-1 (each sample tells its index)."""
    path.write_text("t_s,RESP\n" + "".join(f"{i / fs_hz:.4f},{i}\n" for i in range(n)))
    return path


@pytest.mark.timeout(200)
def test_monitor_and_replay_without_a_runtime_warn_and_exit_1(tmp_path):
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    mon = _run("monitor", "--ingest", endpoint, "--simulate", "0", "--couches", "1", "--seconds", "2")
    rep = _run("replay", str(_csv_record(tmp_path / "r.csv")), "--ingest", endpoint, "--seconds", "2")
    for r, who in ((mon, "monitor"), (rep, "replay")):
        assert r.returncode == 1, r.stderr
        assert f"biosig {who}: sent 0 frames" in r.stderr and "Traceback" not in r.stderr
        assert f"no runtime accepted the connection at {endpoint}" in r.stderr
        assert "is `biosig serve` running there?" in r.stderr


@pytest.mark.timeout(120)
def test_monitor_stopped_by_ctrl_c_exits_1_when_nothing_was_delivered():
    """Ctrl-C is the normal end of a stream (exit 0), but not of one that reached no runtime."""
    import signal
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    proc = subprocess.Popen(BIOSIG + ["monitor", "--ingest", endpoint, "--simulate", "0", "--couches", "1"],
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert "publishing 1 streams" in line, line
        time.sleep(3.0)
        proc.send_signal(signal.SIGINT)
        rest = proc.stderr.read()
        assert proc.wait(timeout=30) == 1, rest
    finally:
        proc.kill()
    assert "(stopped by signal)" in rest and f"no runtime accepted the connection at {endpoint}" in rest


def test_replay_of_one_pass_sends_the_records_last_frame(tmp_path):
    """run_sources stopped at t_start + seconds, but a one-pass replay's last frame is due just
    before it (1 / (fs * speed) earlier): a sleep that overran the end skipped it, and the window
    ending at the record's end never reached the runtime (03700181 at 10x: 599 of 600 ECG frames).
    Here the loop wakes after the end (t_start in the past), as an overrun sleep makes it do."""
    n, fs_hz, speed = 100, 25.0, 10.0
    seconds = n / (fs_hz * speed)                            # exactly one pass
    got, frame_n = _replayed(tmp_path, n, fs_hz, speed, seconds, t_start=time.time() - seconds - 0.002)
    assert len(got) == -(-n // frame_n) and got[-1][1][-1] == n - 1, [x[-1] for _, x in got]


def _replayed(tmp_path, n, fs_hz, speed, seconds, t_start=None):
    """The frames a replay of an n-sample record at ``speed`` sends in ``seconds`` (received on
    a real PULL socket), and its frame length."""
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    ctx = zmq.Context()
    pull = _pull(ctx, endpoint)
    pubs, sources = replay_sources([_csv_record(tmp_path / "r.csv", n, fs_hz)], speed=speed, endpoint=endpoint,
                                   ctx=ctx)
    run_sources(sources, seconds=seconds, t_start=t_start)
    got = _drain(pull)
    for p in pubs:
        p.close()
    pull.close()
    ctx.term()
    return got, sources[0].frame_n


def test_replay_loops_with_a_sequence_gap_never_gluing_end_to_start(tmp_path):
    n, fs_hz, speed = 40, 25.0, 10.0
    # frames of 0.1 s * 25 Hz * 10 = 25 samples: a 40-sample record does not hold a whole number of them
    got, frame_n = _replayed(tmp_path, n, fs_hz, speed, 4.2 * n / (fs_hz * speed))   # a bit over four passes
    assert frame_n == 25
    assert len(got) >= 6
    seqs = [h["seq"] for h, _ in got]
    wraps = [i for i, (_, x) in enumerate(got) if x[-1] == n - 1]   # frames ending at the record's end
    assert len(wraps) >= 2
    for h, x in got:   # every frame is a run of consecutive samples of one pass: none wraps
        assert np.array_equal(x, np.arange(x[0], x[0] + len(x))), (h["seq"], x)
    for i in wraps:
        if i + 1 < len(got):   # the next pass starts at sample 0, one sequence number skipped
            assert got[i + 1][1][0] == 0 and seqs[i + 1] == seqs[i] + 2
    others = [b - a for k, (a, b) in enumerate(zip(seqs, seqs[1:])) if k not in wraps]
    assert set(others) == {1}
    # device time stays monotonic and each frame's last sample is stamped at its due moment
    t_last = [h["t0_s"] + (len(x) - 1) / fs_hz for h, x in got]
    assert all(b > a for a, b in zip(t_last, t_last[1:]))


def test_a_simulated_couch_loops_with_a_sequence_gap_never_gluing_end_to_start():
    """monitor's couches (not cut to loop seamlessly, unlike the beds' beats) loop as replay does."""
    from streams.simulate import make_couches
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    ctx = zmq.Context()
    pull = _pull(ctx, endpoint)
    pubs, sources, truth = make_couches(1, endpoint=endpoint, seconds=1.0, ctx=ctx)
    n = 12
    src = sources[0]
    src.samples = np.ascontiguousarray(src.samples[:, :n])   # a short pass: 0.4 s at 30 Hz
    run_sources(sources, seconds=1.5)
    got = _drain(pull)
    for p in pubs:
        p.close()
    pull.close()
    ctx.term()
    assert len(got) >= 2 * n
    first = truth[0].samples[0, :n].astype(np.float32)   # _drain keeps channel 0; one sample a frame
    assert len(np.unique(first)) == n
    pos = [int(np.flatnonzero(first == x[0])[0]) for _, x in got]
    seqs = [h["seq"] for h, _ in got]
    for k in range(1, len(got)):
        if pos[k] == 0:   # a new pass: after the record's last sample, one sequence number skipped
            assert pos[k - 1] == n - 1 and seqs[k] == seqs[k - 1] + 2
        else:
            assert pos[k] == pos[k - 1] + 1 and seqs[k] == seqs[k - 1] + 1
    assert pos.count(0) >= 2

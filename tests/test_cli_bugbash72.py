"""Bug bash 72 of `biosig listen`, `status` and `replay` as a demanding user: the real CLI in this process against a
real runtime (or a bare PULL socket) on loopback ports of its own.

- two publishers of one stream name (the same record replayed twice at once): the runtime rejected one's frames as
  ``session_conflict`` while replay said "dropped 0" (its PUSH socket is one-way); replay now asks the runtime's
  ``--status`` at the end what it rejected of its streams, and whose frames they were;
- a replay whose frames no status endpoint can confirm says so (nobody there, or a runtime taking frames elsewhere);
- ``replay --status`` and ``listen --status`` malformed: refused at once (listen met it after 2 s of silence, never
  while frames came; replay at its end);
- ``listen --all --json`` printed status frames without their body (all they say); ``listen --all`` a bare line;
- ``check_first_frames`` called a source's private ``_frame_len()``: ``ReplaySource.next_frame_n``.
"""
import json
import re
import threading
import time

import numpy as np
import pytest

# the readers' first use imports pandas and scipy (2-3 s here): at collection, not in the first test of this file
import pandas  # noqa: F401,E402
import scipy.signal  # noqa: F401,E402
from streams.publisher import Publisher
from test_cli_bugbash71_streams import _csv, ingest  # noqa: F401  (a fixture)
from test_cli_errors import one_line_error, run_main
from test_streams_helpers import config, free_port, running


@pytest.fixture(scope="module")
def rt():
    """One runtime for the tests of this file (its start takes 1 s); each test replays a source name of its own."""
    with running(config()) as runtime:
        yield runtime


def _other_publisher(ingest, stop, source, after=None, fs_hz=25.0):
    """A second device sending ``SOURCE/resp`` (what a replay of ``SOURCE.csv`` sends) in real time until ``stop``;
    with ``after`` (a runtime), once that runtime took a frame of the stream (the replay's: this one is the newer)."""
    def run():
        while after is not None and not stop.is_set() and \
                not after.status()["streams"].get(f"{source}/resp", {}).get("frames"):
            time.sleep(0.02)
        pub = Publisher(source, ingest)
        out = pub.stream("resp", fs_hz, ["resp"], [""], modality="resp")
        t0, n = time.time(), 5
        try:
            while not stop.is_set():
                out.send(np.sin(np.arange(n, dtype=np.float32))[None, :], t0_s=t0)
                t0 += n / fs_hz
                time.sleep(n / fs_hz)
        finally:
            pub.close()
    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th


def _replay(capsys, rt, rec, *more):
    b = rt.bound
    return run_main(capsys, "replay", rec, "--ingest", b.ingest, "--status", b.status, *more)


def test_replay_says_its_frames_were_rejected_as_a_second_publisher_of_the_stream(capsys, tmp_path, rt):
    rec = _csv(tmp_path / "mine.csv", seconds=4.0)
    stop = threading.Event()
    th = _other_publisher(rt.bound.ingest, stop, "mine", after=rt)   # the newer session: it keeps the stream
    try:
        code, _, err = _replay(capsys, rt, rec, "--seconds", 1.0)
    finally:
        stop.set()
        th.join(2)
    rejected = rt.status()["streams"]["mine/resp"]["rejected"].get("session_conflict", 0)
    assert rejected > 0
    assert code == 0 and "dropped 0" in err, err
    line = next(x for x in err.splitlines() if "session_conflict" in x)
    assert line.startswith("biosig replay: warning: mine/resp: the runtime rejected"), err
    assert f"session_conflict {rejected} (this run's frames" in line, (line, rejected)


def test_replay_says_it_kept_the_stream_from_another_publisher(capsys, tmp_path, rt):
    rec = _csv(tmp_path / "theirs.csv", seconds=4.0)
    stop = threading.Event()
    th = _other_publisher(rt.bound.ingest, stop, "theirs")   # older session: the replay takes the stream over
    try:
        time.sleep(0.3)
        code, _, err = _replay(capsys, rt, rec, "--seconds", 0.8)
    finally:
        stop.set()
        th.join(2)
    assert code == 0, err
    line = next(x for x in err.splitlines() if "session_conflict" in x)
    assert "another publisher's frames" in line and "this run's were kept" in line, err


def test_replay_without_rejections_says_nothing_more(capsys, tmp_path, rt):
    rec = _csv(tmp_path / "alone.csv", seconds=2.0)
    code, _, err = _replay(capsys, rt, rec, "--seconds", 0.5, "--speed", 2)
    assert code == 0 and "sent" in err and "warning" not in err and "unconfirmed" not in err, err


@pytest.fixture
def pull(ingest):
    """The endpoint of a bare PULL socket (test_cli_bugbash71_streams.ingest): frames go somewhere, no runtime."""
    return ingest[0]


def test_replay_says_delivery_is_unconfirmed_when_no_status_answers(capsys, tmp_path, pull):
    rec = _csv(tmp_path / "r.csv")
    nobody = f"tcp://127.0.0.1:{free_port()}"
    t0 = time.monotonic()
    code, _, err = run_main(capsys, "replay", rec, "--ingest", pull, "--status", nobody, "--seconds", 0.3)
    assert code == 0 and "delivery unconfirmed" in err and f"no runtime answered on {nobody}" in err, err
    assert time.monotonic() - t0 < 2.5


def test_replay_says_a_runtime_taking_frames_elsewhere_cannot_confirm(capsys, tmp_path, pull, rt):
    rec = _csv(tmp_path / "r.csv")
    code, _, err = run_main(capsys, "replay", rec, "--ingest", pull, "--status", rt.bound.status, "--seconds", 0.3)
    assert code == 0 and f"takes frames on {rt.bound.ingest}, not {pull}" in err, err


def test_replay_and_listen_refuse_a_malformed_status_at_once(capsys, tmp_path, pull):
    rec = _csv(tmp_path / "r.csv")
    code, _, err = run_main(capsys, "replay", rec, "--ingest", pull, "--status", "foo")
    assert "--status: endpoint 'foo'" in one_line_error(code, err)
    code, _, err = run_main(capsys, "monitor", "--ingest", pull, "--status", "tcp://*:5557", "--seconds", 1)
    assert "--status: endpoint 'tcp://*:5557'" in one_line_error(code, err)
    t0 = time.monotonic()
    code, _, err = run_main(capsys, "listen", "--output", f"tcp://127.0.0.1:{free_port()}", "--status", "foo",
                            "--seconds", 3)
    assert "--status: endpoint 'foo'" in one_line_error(code, err) and time.monotonic() - t0 < 1.0


def test_listen_all_json_status_frames_carry_their_body(capsys, rt):
    b = rt.bound
    code, out, err = run_main(capsys, "listen", "--output", b.output, "--status", b.status, "--topics", "status",
                              "--all", "--json", "--seconds", 0.9)
    rows = [json.loads(line) for line in out.splitlines()]
    code2, out2, _ = run_main(capsys, "listen", "--output", b.output, "--status", b.status, "--topics", "status",
                              "--all", "--seconds", 0.7)
    assert code == 0 and rows, err
    assert all(r["topic"] == "status" and r["body"]["state"] == "serving" and "streams" in r["body"] for r in rows)
    n = len(rt.status()["streams"])
    assert code2 == 0 and re.search(rf"status +status .* serving {n} streams? \d+ frames \d+ rejected", out2), out2


def test_listen_topics_status_prints_status_frames_without_all(capsys, rt):
    """`--topics status` alone printed nothing while its summary counted the status frames."""
    b = rt.bound
    code, out, err = run_main(capsys, "listen", "--output", b.output, "--status", b.status, "--topics", "status",
                              "--json", "--seconds", 0.9)
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and rows and all(r["topic"] == "status" for r in rows), (out, err)
    code, out, err = run_main(capsys, "listen", "--output", b.output, "--status", b.status, "--topics", "score/",
                              "--json", "--seconds", 0.5)
    assert code == 0 and not any('"status"' in line for line in out.splitlines())


def test_first_frame_check_uses_the_public_frame_length(tmp_path, pull):
    from biosig.cli.replay_checks import check_first_frames
    from streams.errors import StreamError
    from streams.replay import replay_sources
    pubs, sources = replay_sources([str(_csv(tmp_path / "r.csv", seconds=0.3))], endpoint=pull, speed=1.0)
    try:
        (s,) = sources
        assert s.next_frame_n == 2   # 0.1 s at 25 Hz, rounded
        s.pos = s.samples.shape[1] - 1   # the last frame of a pass is shorter
        assert s.next_frame_n == 1
        s.pos = 0
        check_first_frames(sources, 0.05)
        with pytest.raises(StreamError, match="ends before the first frame"):
            check_first_frames(sources, 0.03)
    finally:
        for p in pubs:
            p.close()

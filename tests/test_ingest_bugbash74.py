"""Bug bash of getting real devices in (replay, publisher, LSL bridge), with a real runtime on loopback sockets.

* ``biosig replay --speed 1000`` of a long 48 kHz recording made frames of ``0.1 s * fs * speed`` samples (4.8 M),
  which the publisher refused: exit 2 after "publishing", for a speed replay itself offers. Frames are now cut to
  what one frame may hold, and every sample reaches the runtime.
* A frame over the runtime's ingest message limit (256 MiB: ZeroMQ closes the sender's connection) was "sent"
  (``sent`` counted, ``send`` True) and lost, with the frames queued behind it: now refused before it goes.
* A replay started before its runtime (or while it warmed up) ended with "delivery unconfirmed: no runtime answered"
  (or "was still starting") about a runtime that had taken its frames since: it is asked again at the end.
* ``biosig bridge lsl`` of an outlet with a dead (NaN) channel sent nothing, said ``"dropped"`` (no runtime took
  them) and exit 0: now ``"nonfinite"``, a warning, exit 1 when no frame could be sent.
"""
import numpy as np
import pytest

from streams.errors import StreamError
from test_streams_helpers import config, free_endpoints, running, stream_status, wait_for


def _wav(path, fs_hz: int, seconds: float):
    import scipy.io.wavfile
    t = np.arange(int(fs_hz * seconds)) / fs_hz
    scipy.io.wavfile.write(path, fs_hz, (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16))
    return int(fs_hz * seconds)


def _ecg_csv(path, fs_hz: float, seconds: float):
    t = np.arange(0, seconds, 1 / fs_hz)
    np.savetxt(path, np.c_[t, np.sin(2 * np.pi * 1.2 * t)], delimiter=",", header="t_s,II", comments="", fmt="%.6f")
    return path


def test_replay_at_top_speed_of_a_long_48khz_file_sends_every_sample(tmp_path, capsys):
    from biosig.cli import main
    from streams.protocol import MAX_FRAME_SAMPLES
    wav = tmp_path / "tone.wav"
    n = _wav(wav, 48_000, 25.0)   # 1.2 M samples; 0.1 s of wall time at --speed 1000: 4.8 M a frame
    assert n > MAX_FRAME_SAMPLES
    with running(config()) as rt:
        rc = main(["replay", "--ingest", rt.bound.ingest, "--status", rt.bound.status, "--speed", "1000", str(wav)])
        err = capsys.readouterr().err
        assert rc == 0, err
        wait_for(lambda: stream_status(rt, "tone/audio").get("samples") == n, 3.0, f"{n} samples in the runtime")
    assert "error" not in err and "dropped 0" in err, err


def test_a_frame_over_the_runtimes_message_limit_is_refused_not_lost():
    from streams.publisher import Publisher
    with running(config()) as rt:
        pub = Publisher("big", rt.bound.ingest)
        try:
            out = pub.stream("eeg", 250.0, [f"c{i}" for i in range(256)], modality="other")
            big = np.zeros((256, 270_000), np.float32)   # 276 MB: over the runtime's 256 MiB a message
            with pytest.raises(StreamError, match="more than the 255 MiB a runtime takes in one message; send at "
                                                  "most 261120 samples a frame"):
                out.send(big)
            assert out.sent == 0 and out.seq == 0   # refused, not counted as sent (nor a gap)
            out.send(np.ones((256, 250), np.float32))   # the connection is whole: the next frame arrives
            wait_for(lambda: stream_status(rt, "big/eeg").get("samples") == 250, 2.0, "the small frame")
        finally:
            pub.close()


def test_a_replay_started_before_its_runtime_is_confirmed_by_it_at_the_end(tmp_path):
    from biosig.cli.replay_checks import DeliveryCheck
    from streams.replay import replay_sources
    from streams.simulate import run_sources
    ep = free_endpoints()
    pubs, sources = replay_sources([_ecg_csv(tmp_path / "p9.csv", 250.0, 4.0)], endpoint=ep.ingest)
    try:
        check = DeliveryCheck(sources, ep.ingest, ep.status)   # asked when the run starts: nobody there yet
        check._thread.join(2.0)
        assert check.before is None
        with running(config(endpoints=ep)) as rt:
            run_sources(sources, 0.6)
            wait_for(lambda: stream_status(rt, "p9/ecg").get("samples") == sources[0].out.sent * 25, 2.0, "frames")
            assert sources[0].out.sent >= 3
            lines, all_rejected = check.finish()
            assert lines == [] and not all_rejected   # it was: delivery unconfirmed: no runtime answered on ...
            # and what the runtime rejected of this run is said: a second publisher takes the stream over
            from streams.publisher import Publisher
            with Publisher("p9", ep.ingest) as other:
                other.stream("ecg", 250.0, ["II"], modality="ecg").send(np.zeros((1, 25), np.float32))
                wait_for(lambda: stream_status(rt, "p9/ecg").get("samples") == (sources[0].out.sent + 1) * 25, 2.0,
                         "the other publisher's frame")
                for _ in range(3):   # the replay goes on: its older session is rejected
                    sources[0].send()
                wait_for(lambda: stream_status(rt, "p9/ecg").get("rejected"), 2.0, "session_conflict")
                lines, _ = check.finish()
    finally:
        for p in pubs:
            p.close()
    assert len(lines) == 1 and "session_conflict" in lines[0] and "this run's frames" in lines[0], lines


def test_an_lsl_outlet_with_a_dead_nan_channel_is_said_not_dropped_and_exits_1(capsys):
    """LSL devices mark missing samples NaN: a dead channel made every frame unsendable, and the bridge said
    ``"dropped": {...}`` (frames no runtime took) with exit 0, while a runtime was there and took nothing."""
    import threading
    import time
    import uuid
    pylsl = pytest.importorskip("pylsl", reason="pylsl is not installed (pip install 'biosig[lsl]')")
    from biosig.cli import main
    from streams.lsl import _pylsl
    _pylsl()   # liblsl's INFO lines off
    sid = f"nan{uuid.uuid4().hex[:8]}"
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo(f"dev{sid}", "Resp", 2, 50.0, pylsl.cf_float32, sid))
    if not pylsl.resolve_byprop("source_id", sid, minimum=1, timeout=1.0):   # pragma: no cover - sandboxes
        pytest.skip("LSL stream discovery (UDP multicast on loopback) does not work on this machine")
    stop = threading.Event()

    def push():
        while not stop.is_set():
            x = np.ones((5, 2), np.float32)
            x[:, 1] = np.nan   # the second lead is off
            outlet.push_chunk(x.tolist())
            time.sleep(0.1)
    th = threading.Thread(target=push, daemon=True)
    th.start()
    try:
        with running(config()) as rt:
            rc = main(["bridge", "lsl", "--ingest", rt.bound.ingest, "--seconds", "0.8", "--resolve-s", "1",
                       "--prop", "source_id", "--value", sid])
            assert rt.status()["totals"]["samples"] == 0
    finally:
        stop.set()
        th.join(1)
    err = capsys.readouterr().err
    assert rc == 1, err
    assert f'"nonfinite": {{"{sid}/resp": ' in err and '"dropped"' not in err, err
    assert "held NaN/inf samples (the LSL device's missing samples) and were not sent" in err, err

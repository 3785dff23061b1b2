"""Hospital IT bug-bash: a device whose clock is set back (or forward) an hour mid-stream, with
its sequence numbers running on; a JSON config that gives one key twice. Real runtime on loopback."""
import time

import numpy as np
import pytest
import zmq

from streams import protocol
from streams.config import load_config
from streams.errors import StreamError
from test_streams_helpers import config, push_socket, running, signal, stream_status, sub_socket, wait_for


def _window_ends(step_s):
    """12 one-second respiration frames (seq 0..11); from frame 6 on the device clock is ``step_s``
    off. Returns the window ends (relative to the first frame) and the stream's status."""
    ctx = zmq.Context()
    try:
        with running(config()) as rt:
            push = push_socket(ctx, rt.bound.ingest)
            sub = sub_socket(ctx, rt.bound.output, b"emb/")
            time.sleep(0.5)   # the subscription reaches the PUB socket
            t0 = time.time() - 6.0
            for k in range(12):
                x = np.sin(np.arange(25) / 4.0 + k)[None, :].astype(np.float32)
                push.send_multipart(signal("bed01/resp", k, x, t0_s=t0 + k + (step_s if k >= 6 else 0.0)))
            wait_for(lambda: stream_status(rt, "bed01/resp").get("samples") == 300, what="every frame")
            ends = []
            while len(ends) < 10 and sub.poll(5000):
                ends.append(protocol.decode(sub.recv_multipart()).header["window_end_s"] - t0)
            return np.array(ends), stream_status(rt, "bed01/resp")
    finally:
        ctx.destroy(linger=0)


@pytest.mark.parametrize("step_s", [-3600.0, -3.0, 3600.0])
def test_a_device_clock_set_back_or_ahead_restarts_the_windows_on_its_new_time(step_s):
    """Set back an hour, the device's samples were joined to the old ones without a gap and every
    later window was stamped an hour ahead of the device's own time (window ends 6.96, 7.96, ...;
    ingest latency p99 3,599,237 ms). Now a step back of more than DEVICE_TIME_HOLE_S is a gap, as
    a step ahead already was: the windows restart on the device's new time."""
    ends, st = _window_ends(step_s)
    assert st["gaps"] == 1 and st["late"] == 0 and st["rejected"] == {}, st
    # 2 s windows every 1 s: 5 before the step (ends 2..6 s), 5 after it, restarted at frame 6
    assert len(ends) == 10, ends
    np.testing.assert_allclose(ends[:5], np.arange(2, 7) - 0.04, atol=1e-6)
    np.testing.assert_allclose(ends[5:], np.arange(8, 13) - 0.04 + step_s, atol=1e-6)


def test_json_config_with_a_key_twice_is_refused(tmp_path):
    """`"windows"` given twice: json kept the last one without a word (the ECG window the operator
    wrote first was ignored). TOML already refused it; JSON now says it in one line."""
    p = tmp_path / "rt.json"
    p.write_text('{"windows": {"ecg": [10, 5]}, "models": {}, "windows": {"resp": [30, 5]}}')
    with pytest.raises(StreamError, match="key 'windows' is given twice"):
        load_config(p)
    p.write_text('{"models": {"ecg": "ecg-tiny", "ecg": "ecg-small"}}')
    with pytest.raises(StreamError, match="key 'ecg' is given twice"):
        load_config(p)
    p.write_text('{"windows": {"ecg": [10, 5]}, "models": {}, "forecaster": {"method": "lms"}}')
    cfg = load_config(p)
    assert cfg.windows == {"ecg": (10, 5)} and cfg.forecaster.method == "lms"

"""The live view forgets streams and couches gone quiet for ``forget_s`` (server state and page), and
shows every value's age, not only a stale one's: LiveState on real wire-format frames with a given
clock, the dashboard over a real runtime on loopback, a real headless Chromium (skipped with a
message where none is installed), and the server's cost per request with 50 streams (printed)."""
import json
import shutil
import time
import urllib.request

import numpy as np
import pytest
import zmq

from streams import protocol
from streams.dashboard import Dashboard, LiveState
from streams.errors import StreamError
from test_streams_helpers import config, push_socket, running, signal, wait_for


def _frame(topic, header, array=None):
    return protocol.decode(protocol.encode(topic, header, array), check_finite=False)


def _sig(stream, t0_s, n=25, fs_hz=25.0, modality="resp"):
    x = np.sin(np.arange(n) / 5.0)[None, :].astype(np.float32)
    return protocol.decode(signal(stream, 0, x, fs_hz=fs_hz, modality=modality, t0_s=t0_s))


def _emb(stream, t):
    return _frame(f"emb/{stream}", {"kind": "embedding", "stream": stream, "seq": 0, "v": protocol.VERSION,
                                    "window_start_s": t - 2.0, "window_end_s": t, "quality": 0.9,
                                    "latency_ms": {"total": 3.0}, "model_id": "m", "t_out_s": t},
                  np.zeros(4, np.float32))


def _hold(source, t):
    return _frame(f"hold/{source}", {"kind": "hold", "stream": f"{source}/markers", "seq": 0, "v": protocol.VERSION, "t_s": t,
                                     "reason": "gap", "t_out_s": t})


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_stream_and_a_couch_gone_quiet_are_forgotten_after_forget_s():
    """A bed and a couch whose publishers went away stayed in the state (and on the page) for as
    long as the dashboard ran; a ward's discharged beds piled up. Now they go after ``forget_s``
    without a frame, with their series, score rows and hold periods; a live one stays."""
    clock = Clock()
    st = LiveState(forget_s=60.0, clock=clock)
    for f in (_sig("bed01/resp", 0.0), _emb("bed01/resp", 1.0), _hold("couch1", 1.0), _sig("bed02/resp", 0.0)):
        st.on_frame(f)
    st.score_rows["bed01/resp"] = [{"ok": True}]
    clock.now += 59.0
    st.on_frame(_sig("bed02/resp", 1.0))                  # bed02 keeps sending
    up = st.update({})
    assert set(up["streams"]) == {"bed01/resp", "bed02/resp"} and set(up["couches"]) == {"couch1"}
    clock.now += 2.0                                      # bed01 and couch1: 61 s without a frame
    st.on_frame(_sig("bed02/resp", 2.0))
    up = st.update({})
    assert set(up["streams"]) == {"bed02/resp"} and up["couches"] == {} and up["hold_periods"] == {}
    assert set(st.series) == {"sig/bed02/resp"} and "bed01/resp" not in st.score_rows
    assert up["forget_s"] == 60.0


def test_forgetting_needs_no_open_page():
    """Frames alone prune (at most once a second): the state stays bounded with no page open."""
    clock = Clock()
    st = LiveState(forget_s=10.0, clock=clock)
    for k in range(100):                                  # 100 short-lived streams, one after another
        st.on_frame(_sig(f"bed{k:03d}/resp", 0.0))
        clock.now += 1.0
    assert len(st.streams) <= 11 and len(st.series) <= 11, len(st.streams)


def test_a_stream_forgotten_and_back_is_sent_afresh_to_an_open_page():
    """The page's cursor counted rows of the old series; the new one starts at 0: its rows must
    reach the page, not wait until the new count passes the old."""
    clock = Clock()
    st = LiveState(forget_s=5.0, clock=clock)
    cursors = {}
    for k in range(8):
        st.on_frame(_sig("bed01/resp", float(k)))
    assert len(st.update(cursors)["new"]["sig/bed01/resp"][0]) == 8 * 25
    clock.now += 6.0
    assert st.update(cursors)["streams"] == {}
    st.on_frame(_sig("bed01/resp", 100.0))
    assert st.update(cursors)["new"]["sig/bed01/resp"][0][0] == 100.0


def test_every_value_carries_its_age():
    """Only a stale score line had an age (``score_age_s``, shown once stale); the window's quality
    and latency, the waveform and a couch's state had none."""
    clock = Clock()
    st = LiveState(clock=clock)
    st.on_frame(_sig("bed01/resp", 0.0))
    clock.now += 2.0
    st.on_frame(_emb("bed01/resp", 1.0))
    st.on_frame(_hold("couch1", 1.0))
    clock.now += 0.5
    up = st.update({})
    s, c = up["streams"]["bed01/resp"], up["couches"]["couch1"]
    assert s["signal_age_s"] == pytest.approx(2.5) and s["window_age_s"] == pytest.approx(0.5)
    assert s["age_s"] == pytest.approx(0.5) and s["score_age_s"] is None and c["age_s"] == pytest.approx(0.5)
    assert not any(k.startswith("_") for k in s) and not any(k.startswith("_") for k in c)


@pytest.mark.parametrize("bad", [0, -1.0, float("inf"), float("nan"), "60"])
def test_forget_s_must_be_a_positive_number(bad):
    with pytest.raises(StreamError, match="forget_s"):
        LiveState(forget_s=bad)


def test_cli_forget_s_flag_is_checked(capsys):
    from biosig.cli import main
    with pytest.raises(SystemExit) as exc:
        main(["dashboard", "--forget-s", "0"])
    assert exc.value.code == 2 and "--forget-s" in capsys.readouterr().err


def _state(url) -> dict:
    with urllib.request.urlopen(url + "state.json", timeout=5) as r:
        return json.loads(r.read())


def test_a_publisher_gone_leaves_the_served_state():
    """Over a real runtime: the bed's stream is in state.json while it sends, gone ``forget_s``
    after its last frame."""
    ctx = zmq.Context()
    try:
        with running(config(tap_signals=True)) as rt, Dashboard(rt.bound.output, port=0, forget_s=1.5) as dash:
            push = push_socket(ctx, rt.bound.ingest)
            time.sleep(0.5)   # the subscriptions reach the PUB socket
            t0 = time.time() - 3.0
            for k in range(3):
                push.send_multipart(signal("bed01/resp", k, np.ones((1, 25), np.float32), t0_s=t0 + k))
            s = wait_for(lambda: _state(dash.url)["streams"].get("bed01/resp"), timeout_s=20, what="the stream")
            assert s["signal_age_s"] is not None
            wait_for(lambda: "bed01/resp" not in _state(dash.url)["streams"], timeout_s=20,
                     what="the stream to be forgotten")
            assert not any(k.endswith("bed01/resp") for k in _state(dash.url)["new"])
            push.close()
    finally:
        ctx.destroy(linger=0)


def test_browser_shows_ages_and_drops_a_forgotten_stream(tmp_path):
    """The page shows the age of an ok reading (it said nothing until the line was stale) and
    removes the panel of a stream the server forgot (it stayed, with its last values)."""
    from test_dashboard import _browser
    driver, profile = _browser()
    ctx = zmq.Context()
    try:
        with running(config(tap_signals=True)) as rt, Dashboard(rt.bound.output, port=0, forget_s=3.0) as dash:
            push = push_socket(ctx, rt.bound.ingest)
            driver.get(dash.url)
            wait_for(lambda: driver.execute_script("return window.biosigDash.updates") > 0, 20, "the page")
            t0 = time.time() - 4.0
            x = np.sin(np.arange(100) / 4.0)[None, :].astype(np.float32)
            for k in range(4):   # 4 s of respiration: two windows of 2 s (config: hop 1 s)
                push.send_multipart(signal("bed01/resp", k, x[:, k * 25:(k + 1) * 25], t0_s=t0 + k))
            vals = wait_for(lambda: (v := driver.execute_script(
                "const c = window.biosigDash.charts['sig/bed01/resp']; return c ? c.vals.textContent : ''"))
                and "s ago" in v and v, timeout_s=20, what="the values with their age")
            assert "last samples (" in vals, vals
            wait_for(lambda: driver.execute_script("return document.getElementById('panel-bed01/resp') === null "
                                                   "&& !window.biosigDash.charts['sig/bed01/resp']"),
                     timeout_s=20, what="the forgotten stream's panel to go")
            assert driver.execute_script("return window.biosigDash.lastError || null") is None
            push.close()
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
        ctx.destroy(linger=0)


def test_server_cost_per_request_with_50_streams():
    """Measured, not asserted (no timed assertions): a full state (a page opening, state.json) and
    an incremental update (an open page, 0.1 s of new frames per stream), update and JSON both."""
    from biosig import json_text
    st = LiveState()
    t0 = time.time() - 12.0
    for b in range(50):
        for k in range(120):   # 12 s of ECG at 250 Hz in 0.1 s frames, a window a second
            x = np.sin(np.arange(25) / 3.0)[None, :].astype(np.float32)
            st.on_frame(protocol.decode(signal(f"bed{b:02d}/ecg", k, x, fs_hz=250.0, modality="ecg",
                                               t0_s=t0 + k / 10)))
            if k % 10 == 9:
                st.on_frame(_emb(f"bed{b:02d}/ecg", t0 + k / 10))
    cursors = {}
    reps = 20
    t = time.perf_counter()
    for _ in range(reps):
        body = json_text.dumps(st.update({}))
    full_ms = (time.perf_counter() - t) / reps * 1e3
    st.update(cursors)
    inc = []
    for r in range(reps):
        for b in range(50):
            x = np.sin(np.arange(25) / 3.0)[None, :].astype(np.float32)
            st.on_frame(protocol.decode(signal(f"bed{b:02d}/ecg", 200 + r, x, fs_hz=250.0, modality="ecg",
                                               t0_s=t0 + 12.0 + r / 10)))
        t = time.perf_counter()
        small = json_text.dumps(st.update(cursors))
        inc.append(time.perf_counter() - t)
    print(f"\ndashboard, 50 streams: full state {full_ms:.1f} ms ({len(body) / 1e6:.2f} MB JSON); "
          f"incremental update {np.median(inc) * 1e3:.2f} ms median ({len(small) / 1e3:.0f} kB JSON)")
    assert len(st.streams) == 50 and len(json.loads(body)["new"]) == 100

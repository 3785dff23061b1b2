"""The live view stays honest and cheap: a stream that stops is shown as such (NO SIGNAL, its trace
dimmed, its score line NO CURRENT READING), a page whose dashboard server stopped shows nothing as
live and reconnects when it is back, a chart is redrawn only when its data changed and while it is
on screen, and the series go out as compact JSON. Real runtime, real ZeroMQ on loopback, real
headless Chromium (skipped with a message where none is installed, as in test_dashboard.py)."""
import json
import shutil
import threading
import time

import numpy as np
import zmq

from biosig import json_text
from streams import protocol
from streams.dashboard import Dashboard, LiveState, score_stale_after_s
from test_dashboard import _browser, _feeder
from test_streams_helpers import config, free_port, push_socket, running, signal, wait_for


class _Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _sig(stream, seq, t0_s, x, fs_hz=250.0, modality="ecg"):
    return protocol.decode(signal(stream, seq, x, fs_hz=fs_hz, modality=modality, t0_s=t0_s))


# ------------------------------------------------------------------ state (no browser)
def test_a_stream_whose_samples_stop_is_signal_stale_after_three_of_its_intervals():
    """The page dimmed nothing when a stream's samples stopped (only the score line went stale, and a
    stream without score frames never): ``signal_stale`` once no frame came for 3 of its usual
    intervals and at least SCORE_STALE_MIN_S."""
    clock = _Clock()
    st = LiveState(clock=clock)
    x = np.zeros((1, 25), np.float32)
    for k in range(20):   # a frame every 0.1 s of wall time
        st.on_frame(_sig("bed01/ecg", k, 100.0 + k / 10, x))
        clock.now += 0.1
    bound_s = score_stale_after_s([0.1] * 9)
    clock.now += bound_s - 0.1 - 0.05
    assert st.update({})["streams"]["bed01/ecg"]["signal_stale"] is False
    clock.now += 0.1
    assert st.update({})["streams"]["bed01/ecg"]["signal_stale"] is True
    st.on_frame(_sig("bed01/ecg", 20, 102.0, x))   # samples again: live again
    assert st.update({})["streams"]["bed01/ecg"]["signal_stale"] is False


def test_series_go_out_compact_and_within_float32_precision():
    """Values to 7 significant digits (float32's precision), times exact: float64 reprs of float32
    samples took ~40 bytes a point with their times (1 MB/s of JSON at 50 beds); oracle: the samples."""
    rng = np.random.default_rng(3)
    st = LiveState()
    t0 = time.time()
    xs = [rng.normal(scale=0.8, size=(1, 25)).astype(np.float32) for _ in range(40)]
    xs[0][0, :3] = [0.0, 1e-30, -3.4e38]
    for k, x in enumerate(xs):
        st.on_frame(_sig("bed01/ecg", k, t0 + k / 10, x))
    cols = json.loads(json_text.dumps(st.update({})["new"]))["sig/bed01/ecg"]
    want_v = np.concatenate([x[0] for x in xs]).astype(np.float64)
    want_t = t0 + np.arange(len(want_v)) / 250.0
    np.testing.assert_allclose(cols[1], want_v, rtol=5e-7, atol=0)
    np.testing.assert_allclose(cols[0], want_t, rtol=0, atol=1e-6)   # as sent (float sums differ in ulps)
    assert np.all(np.diff(cols[0]) > 0)
    bytes_per_point = len(json_text.dumps(cols)) / len(want_v)
    print(f"\ndashboard series JSON: {bytes_per_point:.1f} bytes a point")
    assert bytes_per_point < 33, bytes_per_point     # 40 as float64 reprs


# ------------------------------------------------------------------ real browser
def _feed(push, stop, streams, fs_hz=25.0):
    """0.1 s resp frames of every stream in ``streams`` (name -> threading.Event that stops it) in real time."""
    seq, t = {n: 0 for n in streams}, time.time()
    n_s = int(fs_hz * 0.1)
    while not stop.is_set():
        stop.wait(max(0.0, t + 0.1 - time.time()))
        for name, halt in streams.items():
            if not halt.is_set():
                x = np.sin(2 * np.pi * 0.3 * (t + np.arange(n_s) / fs_hz))[None, :]
                push.send_multipart(signal(name, seq[name], x, fs_hz=fs_hz, t0_s=t))
                seq[name] += 1
        t += n_s / fs_hz


def test_browser_shows_a_stopped_stream_and_redraws_only_changed_charts_on_screen():
    driver, profile = _browser()
    ctx = zmq.Context()
    stop, halt1, halt2 = threading.Event(), threading.Event(), threading.Event()
    try:
        with running(config(tap_signals=True)) as rt, Dashboard(rt.bound.output, port=0) as dash:
            push = push_socket(ctx, rt.bound.ingest)
            feeder = threading.Thread(target=_feed, args=(push, stop, {"bed01/resp": halt1, "bed02/resp": halt2}),
                                      daemon=True)
            feeder.start()
            driver.get(dash.url)
            state = "return document.getElementById('panel-{}').dataset.stale"
            wait_for(lambda: driver.execute_script("const d = window.biosigDash.data; return "
                                                   "d['sig/bed01/resp'] && d['sig/bed02/resp'] && d['sig/bed02/resp'][0].length > 50"),
                     timeout_s=20, what="both traces")
            # count each chart's redraws (every uPlot redraw clears its canvas first)
            driver.execute_script("""
                window.__redraws = {};
                for (const k of ['sig/bed01/resp', 'sig/bed02/resp']) {
                  const ctx = window.biosigDash.charts[k].u.ctx, clear = ctx.clearRect.bind(ctx);
                  window.__redraws[k] = 0;
                  ctx.clearRect = (...a) => { window.__redraws[k]++; return clear(...a); };
                }""")
            # 1. bed02 stops: its chart is not redrawn for nothing (it was at every update, 20 a second) ...
            halt2.set()
            t_stop = time.time()
            upd = lambda: driver.execute_script("return window.biosigDash.updates")
            u = upd()
            wait_for(lambda: upd() >= u + 5, timeout_s=20, what="5 page updates (its last frame in flight)")
            r0 = driver.execute_script("return [window.biosigDash.updates, {...window.__redraws}]")
            wait_for(lambda: upd() >= r0[0] + 30, timeout_s=20, what="30 more page updates")
            r1 = driver.execute_script("return {...window.__redraws}")
            assert r1["sig/bed02/resp"] == r0[1]["sig/bed02/resp"], (r0, r1)
            assert r1["sig/bed01/resp"] > r0[1]["sig/bed01/resp"], (r0, r1)    # the live one still is
            # ... and it is shown as NO SIGNAL (trace dimmed) within its bound, the live one not
            vals = wait_for(lambda: driver.execute_script(state.format("bed02/resp")) == "yes" and driver.execute_script(
                "return window.biosigDash.charts['sig/bed02/resp'].vals.textContent"), timeout_s=15,
                what="the stopped stream shown as NO SIGNAL")
            print(f"\nstopped stream shown as such {time.time() - t_stop:.1f} s after its last frame: {vals[:40]}")
            assert vals.startswith("NO SIGNAL for "), vals
            assert driver.execute_script(state.format("bed01/resp")) == "no"
            # 2. a chart scrolled off screen is not drawn; it is, up to date, once back on screen
            driver.execute_script("const s = document.createElement('div'); s.id = 'spacer'; s.style.height = '20000px';"
                                  "document.body.insertBefore(s, document.body.firstChild); window.scrollTo(0, 0);")
            time.sleep(0.5)   # the observer's callback comes after layout
            n0 = driver.execute_script("return window.__redraws['sig/bed01/resp']")
            u0 = driver.execute_script("return window.biosigDash.updates")
            wait_for(lambda: driver.execute_script("return window.biosigDash.updates") >= u0 + 20, timeout_s=20,
                     what="20 more page updates")
            assert driver.execute_script("return window.__redraws['sig/bed01/resp']") == n0
            driver.execute_script("document.getElementById('spacer').remove()")
            wait_for(lambda: driver.execute_script("""
                const c = window.biosigDash.charts['sig/bed01/resp'], d = window.biosigDash.data['sig/bed01/resp'];
                return window.__redraws['sig/bed01/resp'] > arguments[0] && c.u.data[0].length > 0 &&
                       Math.abs(c.u.data[0][c.u.data[0].length - 1] - d[0][d[0].length - 1]) < 1.0""", n0),
                     timeout_s=10, what="the chart drawn again once on screen")
            assert driver.execute_script("return window.biosigDash.lastError || null") is None
            stop.set()
            feeder.join(5)
            push.close()
    finally:
        stop.set()
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
        ctx.destroy(linger=0)


def test_browser_shows_nothing_as_live_while_its_server_is_down_and_reconnects():
    """The dashboard server stopped: the page said "retrying" in its header only; the last HR stayed
    in green and the couch said FORECAST. Now every reading is NO CURRENT READING, every trace
    dimmed, every couch NO DASHBOARD SERVER; a server back on the same port is read again."""
    driver, profile = _browser()
    ctx = zmq.Context()
    stop, gap_at = threading.Event(), threading.Event()
    port = free_port()
    js = """const D = window.biosigDash, c = D.charts['sig/bed01/ecg'];
            return c && {updates: D.updates, ok: c.score.dataset.ok, score: c.score.textContent,
                         stale: c.panel.dataset.stale, badge: document.getElementById('hold-couch1').textContent,
                         pill: document.getElementById('runtime').dataset.state, err: D.lastError || null}"""
    dash = None
    try:
        with running(config(tap_signals=True)) as rt:
            push = push_socket(ctx, rt.bound.ingest)
            feeder = threading.Thread(target=_feeder, args=(push, stop, gap_at), daemon=True)
            feeder.start()
            dash = Dashboard(rt.bound.output, port=port).start()
            driver.get(dash.url)
            live = lambda v: v and v["ok"] in ("ok", "withheld") and v["badge"] == "FORECAST"
            wait_for(lambda: live(driver.execute_script(js)), timeout_s=30, what="a score line and a forecast")
            dash.stop()
            dash = None
            v = wait_for(lambda: (v := driver.execute_script(js)) and v["ok"] == "stale" and v, timeout_s=15,
                         what="the page to stop showing the last reading as current")
            assert v["score"].startswith("NO CURRENT READING"), v
            assert v["stale"] == "yes" and v["pill"] == "lost" and v["badge"].startswith("NO DASHBOARD SERVER"), v
            n = v["updates"]
            time.sleep(1.5)   # the page has tried (and failed) to reconnect meanwhile
            dash = Dashboard(rt.bound.output, port=port).start()
            v = wait_for(lambda: (v := driver.execute_script(js)) and v["updates"] > n + 5 and live(v) and v,
                         timeout_s=30, what="the page to reconnect and show live values again")
            assert v["pill"] == "alive" and v["stale"] == "no" and v["err"] is None, v
            stop.set()
            feeder.join(5)
            push.close()
    finally:
        stop.set()
        if dash is not None:
            dash.stop()
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
        ctx.destroy(linger=0)


def test_an_open_page_gets_only_the_stream_fields_that_changed_and_merges_to_the_full_state():
    """Every field of every stream went out 20 times a second (~700 bytes a stream, most of the
    JSON at 50 beds); now what changed since the page's cursor. Oracle: the full state
    (``state.json``, no cursor) equals what a page holds after merging the updates it got."""
    clock = _Clock()
    st = LiveState(clock=clock)
    x = np.zeros((1, 25), np.float32)
    cursors, held = {}, {}

    def page_update():
        up = st.update(cursors)
        for name in list(held):
            if name not in up["streams"]:
                del held[name]
        for name, fields in up["streams"].items():
            held.setdefault(name, {}).update(fields)
        return up

    for k in range(30):
        for b in range(3):
            st.on_frame(_sig(f"bed0{b}/ecg", k, 100.0 + k / 10, x))
        clock.now += 0.1
        up = page_update()
        assert held == st.update({})["streams"]
    first = st.update({})["streams"]["bed00/ecg"]
    assert "channels" in first and "channels" not in up["streams"]["bed00/ecg"]   # unchanged: not sent again
    assert set(up["streams"]) == {"bed00/ecg", "bed01/ecg", "bed02/ecg"}           # every stream named
    assert len(json_text.dumps(up["streams"])) < len(json_text.dumps(st.update({})["streams"])) / 2
    clock.now += 1000.0   # all forgotten: gone from the page, and a stream back is sent whole
    page_update()
    st.on_frame(_sig("bed01/ecg", 99, 200.0, x))
    assert page_update()["streams"]["bed01/ecg"] == st.update({})["streams"]["bed01/ecg"] and held.keys() == {"bed01/ecg"}

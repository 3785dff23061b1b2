"""The live view is never more confident than the runtime, read as a clinician reads it: a withheld
window reads withheld with its reason (never the last HR), a stream whose samples stopped reads NO
SIGNAL / NO CURRENT READING within a few seconds, a forecast hold reads HOLD with its detail (never
a forecast number) and clears when forecasts resume, numbers carry units and chart times are the
viewer's clock, and 40 streams leave the page and the server quick (sizes and times printed).
One real runtime and one dashboard on loopback ports of their own, one headless Chromium for the
whole file (skipped with a message where none is installed, as in test_dashboard.py)."""
import json
import re
import shutil
import threading
import time
import urllib.request

import numpy as np
import pytest

from biosig import json_text
from biosig.synthetic import simulate
from streams import protocol
from streams.dashboard import Dashboard, LiveState, SCORE_STALE_MIN_S
from test_dashboard import _browser
from test_streams_helpers import config, push_socket, running, wait_for

ECG_FS_HZ, FRAME_S = 250.0, 0.1
ECG = simulate("ecg", 8, seed=3, fs_hz=ECG_FS_HZ, heart_rate_bpm=72).samples[0]


def _signal(stream, seq, t0_s, x, fs_hz, modality, channels, units):
    x = np.asarray(x, np.float32)
    h = protocol.signal_header(stream, seq, 1, t0_s, fs_hz, channels, units, modality)
    return protocol.encode(stream, h, x)


class _Markers(threading.Thread):
    """couch1's 9 marker coordinates (mm) in real time, 3 samples every 0.1 s; ``skip(n)`` leaves out
    the next n frames (their seq numbers skipped: a gap, held by the runtime)."""

    def __init__(self, push):
        super().__init__(daemon=True)
        self.push, self.stop, self.skipping, self.lock = push, threading.Event(), 0, threading.Lock()

    def skip(self, n):
        with self.lock:
            self.skipping = n

    def run(self):
        seq, t = 0, time.time()
        names = [f"m{i // 3 + 1}_{'xyz'[i % 3]}" for i in range(9)]
        while not self.stop.is_set():
            self.stop.wait(max(0.0, t + FRAME_S - time.time()))
            with self.lock:
                skip = self.skipping > 0
                self.skipping -= skip
            if not skip:
                tm = t + np.arange(3) / 30.0
                xm = np.vstack([np.sin(2 * np.pi * 0.25 * tm + k) * (5 + k) for k in range(9)])
                self.push.send_multipart(_signal("couch1/markers", seq, t, xm, 30.0, "motion", names, ["mm"] * 9))
            seq, t = seq + 1, t + FRAME_S


@pytest.fixture(scope="module")
def ward():
    import zmq
    import concurrent.futures
    pool = concurrent.futures.ThreadPoolExecutor(1)
    browser = pool.submit(_browser)   # Chromium starts (~1 s) while the runtime does (~3 s here)
    ctx = zmq.Context()
    push = markers = driver = profile = None
    try:
        with running(config(tap_signals=True, windows={"ecg": (4.0, 0.5)})) as rt, \
                Dashboard(rt.bound.output, port=0) as dash:
            push = push_socket(ctx, rt.bound.ingest)
            markers = _Markers(push_socket(ctx, rt.bound.ingest))
            markers.start()
            driver, profile = browser.result()   # skips (or fails) the file here where no browser is at hand
            driver.get(dash.url)
            yield {"rt": rt, "dash": dash, "driver": driver, "push": push, "markers": markers, "ecg_seq": [0]}
    finally:
        if markers is not None:
            markers.stop.set()
            markers.join(2)
            markers.push.close(0)
        if push is not None:
            push.close(0)
        pool.shutdown()   # a browser still starting (the runtime failed first) is quit too
        if driver is None and browser.exception() is None:
            driver, profile = browser.result()
        if driver is not None:
            driver.quit()
            shutil.rmtree(profile, ignore_errors=True)
        ctx.term()


def _text(driver, id_):
    return driver.execute_script("const e = document.getElementById(arguments[0]); return e ? e.textContent : null", id_)


def _attr(driver, id_, name):
    return driver.execute_script("const e = document.getElementById(arguments[0]); return e ? e.getAttribute(arguments[1]) : null",
                                 id_, name)


def _pushed(driver, key, name):
    """What the page holds of a stream (its merged fields) or a couch (the last update's)."""
    return driver.execute_script("const D = window.biosigDash, u = D.lastUpdate; if (!u) return null; "
                                 "const v = arguments[0] === 'streams' ? D.streams[arguments[1]] : u.couches[arguments[1]]; "
                                 "return v ? JSON.parse(JSON.stringify(v)) : null", key, name)


def _send_ecg(ward, t0_s, x):
    """``x`` as 0.1 s frames from device time ``t0_s``, all at once (a short backlog: windows at once)."""
    n = int(ECG_FS_HZ * FRAME_S)
    for i in range(0, len(x) - n + 1, n):
        ward["push"].send_multipart(_signal("bed01/ecg", ward["ecg_seq"][0], t0_s + i / ECG_FS_HZ, x[None, i:i + n],
                                            ECG_FS_HZ, "ecg", ["II"], ["mV"]))
        ward["ecg_seq"][0] += 1
    return t0_s + len(x) / ECG_FS_HZ


def test_a_withheld_window_reads_withheld_with_its_reason_never_the_last_hr(ward):
    d = ward["driver"]
    t = _send_ecg(ward, time.time() - 10.0, ECG[250:1500])                   # 5 s of clean ECG: windows of 4 s
    hr = wait_for(lambda: (s := _text(d, "score-bed01/ecg")) and s.startswith("HR ") and s, timeout_s=5,
                  what="the HR of the clean window")
    assert re.match(r"HR \d+ /min", hr) and _attr(d, "score-bed01/ecg", "data-ok") == "ok", hr
    noise = np.random.default_rng(7).normal(scale=0.5, size=int(4.0 * ECG_FS_HZ))
    end = _send_ecg(ward, t, noise)                                           # 4 s of noise: withheld
    last_end = end - 1 / ECG_FS_HZ
    wait_for(lambda: abs((_pushed(d, "streams", "bed01/ecg") or {}).get("score_window_end_s", 0) - last_end) < 1e-6,
             timeout_s=5, what="the all-noise window's score on the page")
    pushed = _pushed(d, "streams", "bed01/ecg")
    score = _text(d, "score-bed01/ecg")
    assert not pushed["score_ok"] and pushed["score_missing"] == "low_quality", pushed
    assert re.fullmatch(r"withheld: low_quality \(quality 0\.\d\d < 0\.66\)", score), score
    assert "HR" not in score and "/min" not in score
    assert _attr(d, "score-bed01/ecg", "data-ok") == "withheld"


def test_a_hold_reads_hold_with_its_detail_never_a_forecast_number_and_clears(ward):
    d, markers = ward["driver"], ward["markers"]
    wait_for(lambda: _text(d, "hold-couch1") == "FORECAST", timeout_s=5, what="couch1 to forecast")
    assert "forecast latency" in _text(d, "couch-couch1") and _attr(d, "couch-couch1", "data-stale") == "no"
    markers.skip(4)
    wait_for(lambda: _text(d, "hold-couch1") == "HOLD: gap", timeout_s=3, what="the gap hold")
    c = _pushed(d, "couches", "couch1")
    assert c["state"] == "hold" and c["detail"], c
    assert _text(d, "detail-couch1") == f"held: {c['detail']}"
    panel = _text(d, "couch-couch1")
    assert "FORECAST" not in panel and "forecast latency" not in panel and "no current forecast" in panel, panel
    assert _attr(d, "couch-couch1", "data-stale") == "yes"       # the last forecast trace is dimmed
    wait_for(lambda: _text(d, "hold-couch1") == "FORECAST", timeout_s=4, what="forecasts to resume")
    assert _text(d, "detail-couch1") == "" and _attr(d, "hold-couch1", "data-reason") is None


def test_numbers_carry_units_and_chart_times_are_the_viewers_clock(ward):
    d = ward["driver"]
    vals = d.execute_script("return window.biosigDash.charts['sig/bed01/ecg'].vals.textContent")
    for want in (r"ecg 250 Hz", r"trace: II \(mV\)", r"last samples \(\d+ s ago\)", r"window quality \d\.\d\d \(0-1\)",
                 r"embedding latency [\d.]+ ms \(last 100: p50 [\d.]+ ms, p99 [\d.]+ ms\)"):
        assert re.search(want, vals), (want, vals)
    assert re.search(r"unit: mm", _text(d, "couch-couch1"))
    # the axes as drawn: y ticks with the stream's unit, x ticks HH:MM:SS on this browser's clock
    ax = wait_for(lambda: d.execute_script("""
        const c = window.biosigDash.charts, s = c['sig/bed01/ecg'].u, m = c['couch/couch1'].u;
        const now = new Date(), day = now.getHours() * 3600 + now.getMinutes() * 60 + now.getSeconds();
        return s.axes[0]._values && m.axes[1]._values && {x: s.axes[0]._values, y: s.axes[1]._values, my: m.axes[1]._values,
                tz: document.getElementById('tz').textContent, day: day};"""), timeout_s=3, what="drawn axes")
    assert ax["y"] and all(v.endswith(" mV") for v in ax["y"]), ax["y"]
    assert ax["my"] and all(v.endswith(" mm") for v in ax["my"]), ax["my"]
    assert ax["x"] and all(re.fullmatch(r"\d\d:\d\d:\d\d", v) for v in ax["x"]), ax["x"]
    secs = [int(v[:2]) * 3600 + int(v[3:5]) * 60 + int(v[6:]) for v in ax["x"]]
    assert all(min(abs(s - ax["day"]) % 86400, 86400 - abs(s - ax["day"]) % 86400) < 60 for s in secs), (ax, secs)
    assert re.fullmatch(r"this browser's clock \(UTC[+-]\d\d:\d\d\)", ax["tz"]), ax["tz"]


def test_forty_streams_keep_the_page_and_the_server_quick(ward):
    """Measured and bounded generously: 40 more taps (resp at 25 Hz, 10 frames a second each)."""
    d, dash = ward["driver"], ward["dash"]
    stop = threading.Event()

    def feed():
        seq, t = 0, time.time()
        while not stop.is_set():
            stop.wait(max(0.0, t + FRAME_S - time.time()))
            x = np.sin(2 * np.pi * 0.3 * (t + np.arange(3) / 25.0))[None, :]
            for b in range(40):
                ward["push"].send_multipart(_signal(f"ward{b:02d}/resp", seq, t, x, 25.0, "resp", ["belt"], ["a.u."]))
            seq, t = seq + 1, t + FRAME_S
    th = threading.Thread(target=feed, daemon=True)
    th.start()
    try:
        wait_for(lambda: d.execute_script("return document.querySelectorAll('[id^=\"panel-ward\"]').length") == 40,
                 timeout_s=4, what="40 panels")
        u0, t0 = d.execute_script("return window.biosigDash.updates"), time.monotonic()
        t = time.perf_counter()
        with urllib.request.urlopen(dash.url + "state.json", timeout=5) as r:
            body = r.read()
        full_ms = (time.perf_counter() - t) * 1e3
        sizes = []
        with urllib.request.urlopen(dash.url + "events", timeout=5) as r:   # an open page's updates for 1 s
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                line = r.readline()
                if line.startswith(b"data: "):
                    sizes.append(len(line))
        rate = (d.execute_script("return window.biosigDash.updates") - u0) / (time.monotonic() - t0)
    finally:
        stop.set()
        th.join(2)
    inc = sizes[1:]   # the first is a full state
    print(f"\ndashboard, {len(json.loads(body)['streams'])} streams: state.json {len(body) / 1e3:.0f} kB in "
          f"{full_ms:.0f} ms; open page: {len(sizes)} updates/s, median {np.median(inc) / 1e3:.1f} kB "
          f"({sum(inc) / 1e3:.0f} kB/s); browser {rate:.1f} updates/s")
    assert len(sizes) >= 10 and rate >= 8, (len(sizes), rate)
    assert np.median(inc) < 20_000 and full_ms < 500 and len(body) < 2_000_000


def test_a_stream_whose_samples_stopped_reads_no_signal_and_no_current_reading(ward):
    """bed01/ecg sent its last samples in the first test: within SCORE_STALE_MIN_S (3 s) and a page
    update, its panel says NO SIGNAL, its score line NO CURRENT READING (not the last one in colour)."""
    d = ward["driver"]
    wait_for(lambda: _attr(d, "score-bed01/ecg", "data-ok") == "stale", timeout_s=SCORE_STALE_MIN_S + 2,
             what="the stopped stream's score line to go stale")
    pushed = _pushed(d, "streams", "bed01/ecg")
    assert pushed["signal_stale"] and pushed["score_stale"] and pushed["signal_age_s"] < SCORE_STALE_MIN_S + 2
    assert re.fullmatch(r"NO CURRENT READING: no samples for \d+ s \(last: withheld: low_quality .*\)",
                        _text(d, "score-bed01/ecg"))
    assert _attr(d, "panel-bed01/ecg", "data-stale") == "yes"
    assert d.execute_script("return window.biosigDash.charts['sig/bed01/ecg'].vals.textContent").startswith("NO SIGNAL for ")


# ------------------------------------------------------------------ no browser: wire-format frames, a given clock
class _Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _frame(topic, header, array=None):
    return protocol.decode(protocol.encode(topic, header, array), check_finite=False)


def test_a_couch_silent_while_the_runtime_is_up_is_no_current_forecast():
    """The runtime answers every marker frame and holds a silent source every stale_s; a couch from
    which nothing came for 3 of its intervals (>= 3 s) is ``stale`` (the page: NO CURRENT FORECAST),
    whatever its last state; a signal that stopped makes its stream's score line stale at once."""
    clock = _Clock()
    st = LiveState(clock=clock)
    fc = lambda t: _frame("fcst/c1", {"kind": "forecast", "stream": "c1/markers", "seq": 0, "t_s": t, "target_s": t + 0.1,
                                      "horizon_steps": 3, "horizon_s": 0.1, "method": "lms", "valid": True,
                                      "channels": ["x"], "latency_ms": {"total": 1.0}, "t_out_s": t},
                          np.array([1.0], np.float32))
    for k in range(10):
        st.on_frame(fc(clock.now))
        clock.now += 0.1
    c = st.update({})["couches"]["c1"]
    assert c["state"] == "forecast" and not c["stale"] and c["forecast_age_s"] == pytest.approx(0.1)
    clock.now += SCORE_STALE_MIN_S - 0.2
    assert not st.update({})["couches"]["c1"]["stale"]
    clock.now += 0.2
    c = st.update({})["couches"]["c1"]
    assert c["stale"] and c["state"] == "forecast"
    st.on_frame(_frame("hold/c1", {"kind": "hold", "stream": "c1/markers", "seq": 0, "t_s": clock.now, "reason": "gap",
                                   "detail": "no input for 1000 ms", "t_out_s": clock.now}))
    c = st.update({})["couches"]["c1"]
    assert not c["stale"] and c["detail"] == "no input for 1000 ms" and c["forecast_age_s"] > SCORE_STALE_MIN_S
    st.on_frame(fc(clock.now))
    assert st.update({})["couches"]["c1"]["detail"] is None
    # a tapped stream: score frames every 5 s, samples every 0.1 s; the samples stop
    sig = lambda seq: protocol.decode(_signal("b1/ecg", seq, clock.now, np.zeros((1, 25)), 250.0, "ecg", ["II"], ["mV"]))
    score = _frame("score/b1/ecg", {"kind": "score", "stream": "b1/ecg", "seq": 0, "v": protocol.VERSION, "modality": "ecg",
                                    "window_start_s": 0.0, "window_end_s": 10.0, "quality": 0.9, "min_quality": 0.66,
                                    "ok": True, "measures": {"hr_bpm": 72.0}, "units": {"hr_bpm": "1/min"}, "heads": {},
                                    "t_out_s": 0.0})
    for k in range(60):
        st.on_frame(sig(k))
        if k % 50 == 0:
            st.on_frame(score)
        clock.now += 0.1
    s = st.update({})["streams"]["b1/ecg"]
    assert not s["score_stale"] and s["score"].startswith("HR 72 /min")
    clock.now += SCORE_STALE_MIN_S + 0.1        # 4 s since the last score frame: less than 3 hops of 5 s
    s = st.update({})["streams"]["b1/ecg"]
    assert s["signal_stale"] and s["score_stale"], s
    assert json_text.dumps(s)   # JSON-able

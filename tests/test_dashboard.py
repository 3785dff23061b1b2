"""The live view (streams.dashboard): decimation against a NumPy oracle, the runtime's sig/ tap,
the HTTP/SSE server over a real runtime on loopback, the CLI, the demo PNGs, and end to end in a
real headless Chromium (skipped with a message where no browser is installed; .ci/run installs
one from the Debian packages)."""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from streams import protocol
from streams.dashboard import Dashboard, LiveState, decimate
from streams.errors import StreamError
from test_streams_helpers import config, push_socket, running, signal, sub_socket, wait_for

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("BIOSIG_CHROMIUM", "/usr/bin/chromium")             # Debian: apt-get install chromium
CHROMEDRIVER = os.environ.get("BIOSIG_CHROMEDRIVER", "/usr/bin/chromedriver")  # ... chromium-driver


# ------------------------------------------------------------------ pure parts
@pytest.mark.parametrize("fs_hz,n", [(250.0, 25), (16000.0, 1600), (16000.0, 1601), (1000.0, 7)])
def test_decimate_keeps_the_largest_magnitude_per_bucket(fs_hz, n):
    rng = np.random.default_rng(int(fs_hz) + n)
    x = rng.normal(size=n).astype(np.float32)
    t, v = decimate(100.0, fs_hz, x, display_hz=250.0)
    k = max(1, int(np.ceil(fs_hz / 250.0)))
    # oracle: a plain loop over buckets
    want_i = [i0 + int(np.argmax(np.abs(x[i0:i0 + k]))) for i0 in range(0, n, k)]
    np.testing.assert_array_equal(v, x[want_i])
    np.testing.assert_allclose(t, 100.0 + np.array(want_i) / fs_hz)
    assert len(v) <= np.ceil(n / fs_hz * 250.0) + 1


def _frame(topic, header, array=None):
    return protocol.decode(protocol.encode(topic, header, array), check_finite=False)


def test_live_state_hold_periods_and_cursors():
    st = LiveState()
    hold = lambda t, r: _frame("hold/c1", {"kind": "hold", "stream": "c1/markers", "seq": 0, "t_s": t,
                                           "reason": r, "t_out_s": t + 0.001})
    fc = lambda t: _frame("fcst/c1", {"kind": "forecast", "stream": "c1/markers", "seq": 0, "t_s": t,
                                      "target_s": t + 0.1, "horizon_steps": 3, "horizon_s": 0.1, "method": "lms",
                                      "valid": True, "channels": ["x", "y"], "latency_ms": {"total": 1.0},
                                      "t_out_s": t}, np.array([1.0, 2.0], np.float32))
    for f in (hold(1.0, "warmup"), hold(1.5, "warmup"), fc(2.0), fc(2.1), hold(3.0, "gap"), fc(3.5)):
        st.on_frame(f)
    assert st.hold_periods["c1"] == [[1.0, 2.0, "warmup"], [3.0, 3.5, "gap"]]
    assert st.couches["c1"]["state"] == "forecast" and st.couches["c1"]["method"] == "lms"
    cur = {}
    up = st.update(cur)
    assert up["new"]["fcst/c1"] == [[2.1, 2.2, 3.6], [1.0] * 3, [2.0] * 3]
    assert st.update(cur)["new"] == {}          # nothing new since the cursor
    st.on_frame(fc(4.0))
    assert st.update(cur)["new"]["fcst/c1"][0] == [4.1]


# ------------------------------------------------------------------ runtime tap + server
def _get(url, host=None):
    req = urllib.request.Request(url, headers={"Host": host} if host else {})
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.status, r.read()


def test_tap_serves_what_arrived_over_zeromq():
    import zmq
    ctx = zmq.Context()
    with running(config(tap_signals=True)) as rt:
        ep = rt.bound
        sub = sub_socket(ctx, ep.output, b"sig/")
        with Dashboard(ep.output, port=0) as dash:
            push = push_socket(ctx, ep.ingest)
            time.sleep(0.3)   # slow joiner
            x = np.sin(np.arange(50) / 5.0)[None, :] * 1.25
            push.send_multipart(signal("bed01/resp", 0, x, fs_hz=25.0))
            # a tap frame sent *to* the runtime is refused, not taken as input
            bogus = protocol.encode("sig/bed01/resp", {**protocol.signal_header("bed01/resp", 1, 1, time.time(), 25.0,
                                                       ["c0"], [""], "resp")}, x.astype(np.float32))
            push.send_multipart(bogus)
            assert sub.poll(5000)
            f = protocol.decode(sub.recv_multipart())
            assert f.topic == "sig/bed01/resp" and f.kind == "signal"
            np.testing.assert_array_equal(f.array, x.astype(np.float32))
            state = wait_for(lambda: (s := json.loads(_get(dash.url + "state.json")[1]))["new"].get("sig/bed01/resp") and s,
                             what="the tapped waveform in state.json")
            np.testing.assert_allclose(state["new"]["sig/bed01/resp"][1], x[0], rtol=1e-6)
            assert state["streams"]["bed01/resp"]["fs_hz"] == 25.0
            wait_for(lambda: rt.status()["streams"]["bed01/resp"]["rejected"].get("schema") == 1,
                     what="the sig/ frame sent as input to be rejected")
            assert rt.status()["streams"]["bed01/resp"]["frames"] == 1
            # another Host name (DNS rebinding) is refused; unknown paths are 404
            with pytest.raises(urllib.error.HTTPError) as e:
                _get(dash.url, host="evil.example.com")
            assert e.value.code == 403
            with pytest.raises(urllib.error.HTTPError) as e:
                _get(dash.url + "static/../dashboard.py")
            assert e.value.code == 404
            # the page and its vendored assets come from the package
            for path in ("", "static/dashboard.js", "static/uPlot.iife.min.js", "static/uPlot.min.css"):
                assert _get(dash.url + path)[0] == 200
            # server-sent events: at least 10 updates a second
            n, t0 = 0, time.monotonic()
            with urllib.request.urlopen(dash.url + "events", timeout=5) as r:
                while time.monotonic() - t0 < 1.0:
                    if r.readline().startswith(b"data: "):
                        n += 1
            assert n >= 10, n
            push.close(0)
        sub.close(0)
    ctx.term()


def test_a_client_that_resets_its_connection_prints_no_traceback(capfd):
    """socketserver printed 'Exception occurred during processing of request ... ConnectionResetError'
    with a traceback for a browser that reset its connection; it is routine (DEBUG) now."""
    import socket
    import struct
    from test_streams_helpers import free_port
    with Dashboard(f"tcp://127.0.0.1:{free_port()}", port=0) as dash:
        for _ in range(3):
            s = socket.create_connection(dash.httpd.server_address[:2])
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))   # close = RST
            s.close()
        time.sleep(0.5)
        assert _get(dash.url)[0] == 200   # still serving
    err = capfd.readouterr().err
    assert "Traceback" not in err and "ConnectionResetError" not in err, err


def test_serve_dashboard_reads_the_output_once_the_runtime_is_ready(caplog):
    """serve --dashboard started the view before the runtime had loaded its models: the page's
    subscriber logged "no frames ... reconnecting" before serve's own ready line. With ``after`` the
    page is served at once and the output is read (and can go stale) only once the event is set."""
    import logging
    from test_streams_helpers import free_port
    ready = threading.Event()
    with caplog.at_level(logging.WARNING, logger="streams.subscriber"):
        with Dashboard(f"tcp://127.0.0.1:{free_port()}", port=0, after=ready) as dash:
            dash.sub.stale_s = 0.2
            time.sleep(1.0)                          # models loading: five stale periods
            assert _get(dash.url)[0] == 200          # the page is there already
            assert dash.sub.reconnects == 0 and "reconnecting" not in caplog.text
            ready.set()
            assert wait_for(lambda: dash.sub.reconnects >= 1, 5)   # from now on it reads (nothing comes)
    assert "reconnecting" in caplog.text


def test_live_state_keeps_each_streams_last_score_line():
    """score/ frames (real ScoreHost headers through the wire format) become the stream's score line."""
    from biosig.synthetic import simulate
    from streams.scores import ScoreHost, summary_text
    host, live = ScoreHost(), LiveState()
    ecg = simulate("ecg", 12, seed=3)
    w = int(10 * ecg.fs_hz)
    good = host.header("bed01/ecg", 1, "ecg", ecg.samples[:1, :w], ecg.fs_hz, 0.0, 10.0)
    bad = host.header("bed01/ecg", 1, "ecg", np.random.default_rng(1).normal(size=(1, w)), ecg.fs_hz, 1.0, 11.0)
    for seq, h in enumerate((good, bad)):
        live.on_frame(protocol.decode(protocol.encode("score/bed01/ecg", dict(h, seq=seq, v=protocol.VERSION))))
        s = live.update({})["streams"]["bed01/ecg"]
        assert s["score"] == summary_text(h) and s["score_ok"] == h["ok"] and s["score_window_end_s"] == h["window_end_s"]
    assert good["ok"] and summary_text(good).startswith("HR ")
    assert s["score"].startswith("withheld: low_quality") and s["score_missing"] == "low_quality"


def test_dashboard_refuses_non_loopback_and_bad_ports():
    with pytest.raises(StreamError, match="loopback"):
        Dashboard("tcp://127.0.0.1:1", host="0.0.0.0", port=0)
    with pytest.raises(StreamError, match="port"):
        Dashboard("tcp://127.0.0.1:1", port=70000)


@pytest.mark.parametrize("argv,msg", [(["--host", "10.1.2.3"], "not a loopback address"),
                                      (["--port", "x"], "expected a port number in 0..65535"),
                                      (["--seconds", "0"], "--seconds must be > 0")])
def test_cli_bad_flags_one_line_exit_2(argv, msg):
    r = subprocess.run([sys.executable, "-m", "biosig.cli", "dashboard", *argv], capture_output=True, text=True,
                       timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr


def test_demo_plots(tmp_path):
    from streams.demo_plots import plots

    class Col:
        emb_latency_ms = list(np.random.default_rng(0).gamma(4, 10, 500))
        fcst_latency_ms = list(np.random.default_rng(1).gamma(2, 1, 500))
    t = np.arange(0, 20, 1 / 30)
    y = np.sin(t)[:, None] * np.ones(9)
    live = LiveState()
    live.couches["couch1"] = {"method": "lms", "horizon_s": 0.1, "horizon_steps": 3}
    live.hold_periods["couch1"] = [[100.0, 105.0, "warmup"], [110.0, 110.5, "gap"]]
    plots(tmp_path, Col, {"couch1/markers": (t, y + 0.1, y, np.roll(y, 3, axis=0))}, live, t_start=100.0)
    for name in ("latency_hist.png", "forecast_vs_truth.png"):
        assert (tmp_path / name).stat().st_size > 10_000


# ------------------------------------------------------------------ real browser
def _browser():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium Python package")
    if missing and os.environ.get("BIOSIG_REQUIRE_BROWSER") == "1":   # set by .ci/run: CI must run it
        pytest.fail(f"BIOSIG_REQUIRE_BROWSER=1 but {', '.join(missing)} missing")
    if missing:
        pytest.skip(f"no headless browser for the dashboard test: {', '.join(missing)} missing "
                    "(apt-get install chromium chromium-driver; pip install -e '.[dev]'; .ci/run does both)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    profile = tempfile.mkdtemp(prefix="biosig-chromium-")
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage", "--window-size=1400,1000", f"--user-data-dir={profile}"):
        opts.add_argument(a)
    opts.binary_location = CHROMIUM
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts), profile


def _feeder(push, stop, gap_at, fs_ecg=250.0, fs_m=30.0):
    """ECG (bed01) and 9 marker coordinates (couch1) in real time, 0.1 s per frame, each frame sent
    once its last sample is due; once ``gap_at`` is set, 5 marker frames are not sent (their
    sequence numbers are skipped: a gap -> hold)."""
    seq_e = seq_m = 0
    t_e = t_m = time.time()
    skip = 5
    while not stop.is_set():
        n_e, n_m = int(fs_ecg * 0.1), int(fs_m * 0.1)
        stop.wait(max(0.0, t_e + 0.1 - time.time()))
        te = t_e + np.arange(n_e) / fs_ecg
        push.send_multipart(signal("bed01/ecg", seq_e, (1.25 * np.sin(2 * np.pi * 1.2 * te))[None, :],
                                   fs_hz=fs_ecg, modality="ecg", t0_s=t_e, channels=["II"]))
        if gap_at.is_set() and skip > 0:
            skip -= 1
        else:
            tm = t_m + np.arange(n_m) / fs_m
            xm = np.vstack([np.sin(2 * np.pi * 0.25 * tm + k) * (5 + k) for k in range(9)])
            push.send_multipart(signal("couch1/markers", seq_m, xm, fs_hz=fs_m, modality="motion", t0_s=t_m,
                                       channels=[f"m{i // 3 + 1}_{'xyz'[i % 3]}" for i in range(9)]))
        seq_e, t_e = seq_e + 1, t_e + n_e / fs_ecg
        seq_m, t_m = seq_m + 1, t_m + n_m / fs_m


def test_browser_draws_zeromq_data_and_shows_a_hold_within_1_s(tmp_path):
    import zmq
    driver, profile = _browser()
    ctx = zmq.Context()
    stop, gap_at = threading.Event(), threading.Event()
    push = None
    try:
        with running(config(tap_signals=True)) as rt, Dashboard(rt.bound.output, port=0) as dash:
            push = push_socket(ctx, rt.bound.ingest)
            feeder = threading.Thread(target=_feeder, args=(push, stop, gap_at), daemon=True)
            feeder.start()
            driver.get(dash.url)
            js = "return window.biosigDash && JSON.parse(JSON.stringify({updates: window.biosigDash.updates, " \
                 "ecg: (window.biosigDash.charts['sig/bed01/ecg'] || {u: {data: [[], []]}}).u.data[1], " \
                 "couch: (window.biosigDash.couchState || {})['couch1'], holds: window.biosigDash.holdShown, " \
                 "err: window.biosigDash.lastError || null}))"
            # 1. the ECG chart holds the samples published over ZeroMQ (>= 1 s of them)
            s = wait_for(lambda: (v := driver.execute_script(js)) and len(v["ecg"] or []) >= 250 and v,
                         timeout_s=20, what="the ECG chart to fill")
            ecg = np.array([v for v in s["ecg"] if v is not None])
            assert abs(ecg.max() - 1.25) < 1e-3 and abs(ecg.min() + 1.25) < 1e-3, (ecg.min(), ecg.max())
            assert s["err"] is None
            # ... and drew them: pixels of the trace colour (#1f77b4) on the chart's canvas
            px = driver.execute_script("""
                const c = window.biosigDash.charts['sig/bed01/ecg'].u.ctx.canvas, ctx = c.getContext('2d');
                const d = ctx.getImageData(0, 0, c.width, c.height).data; let n = 0;
                for (let i = 0; i < d.length; i += 4)
                  if (Math.abs(d[i] - 31) < 40 && Math.abs(d[i+1] - 119) < 40 && Math.abs(d[i+2] - 180) < 40 && d[i+3] > 100) n++;
                return n;""")
            assert px > 50, px
            # ... and the window's score line (measures and heads, or why they are withheld), as pushed
            score = wait_for(lambda: (t := driver.find_element("id", "score-bed01/ecg").text) != "no score yet" and t,
                             timeout_s=10, what="the ECG score line")
            pushed = driver.execute_script("return window.biosigDash.lastUpdate.streams['bed01/ecg']")
            print(f"dashboard score line: {score}")
            assert score == pushed["score"] and (score.startswith("HR ") or score.startswith("withheld: ")), score
            assert driver.find_element("id", "score-bed01/ecg").get_attribute("data-ok") == \
                ("ok" if pushed["score_ok"] else "withheld")
            # 2. the couch forecasts after its warm-up ...
            wait_for(lambda: (driver.execute_script(js)["couch"] or {}).get("state") == "forecast", timeout_s=20,
                     what="the couch to forecast")
            assert driver.find_element("id", "hold-couch1").text == "FORECAST"
            # 3. ... and a gap in the marker stream is shown as a hold within 1 s of its publication
            gap_at.set()
            s = wait_for(lambda: (v := driver.execute_script(js))["holds"].get("couch1", {}).get("reason") == "gap" and v,
                         timeout_s=10, what="the gap hold on the page")
            h = s["holds"]["couch1"]
            delay_s = h["shown_ms"] / 1e3 - h["t_out_s"]
            # the page's clock is Date.now(), whole milliseconds (truncated): shown in the same ms as
            # the publication reads up to 1 ms early
            assert -1e-3 <= delay_s < 1.0, delay_s
            # 4. the page is updated at least 10 times a second (the server pushes every 50 ms)
            u0, t0 = driver.execute_script(js)["updates"], time.monotonic()
            time.sleep(2.0)
            rate = (driver.execute_script(js)["updates"] - u0) / (time.monotonic() - t0)
            assert rate >= 10, rate
            shot = pathlib.Path(os.environ.get("BIOSIG_DASHBOARD_SCREENSHOT", tmp_path / "dashboard.png"))
            driver.save_screenshot(str(shot))
            # 5. a runtime gone quiet never leaves a green FORECAST on the page
            stop.set()
            feeder.join(5)
            rt.stop()
            wait_for(lambda: driver.find_element("id", "hold-couch1").text.startswith("NO RUNTIME"), timeout_s=10,
                     what="the page to notice the runtime stopped")
            print(f"dashboard: hold shown {delay_s * 1e3:.0f} ms after its publication; {rate:.1f} page updates/s")
    finally:
        stop.set()
        if push is not None:
            push.close(0)
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
        ctx.term()

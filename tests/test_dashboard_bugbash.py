"""Bug-bash of the live view (streams.dashboard): the Host check against DNS rebinding, the page on
IPv6 loopback, and a device time that goes back (a publisher restarted with a new time base), over a
real runtime on loopback, the dashboard's own HTTP server and, where one is installed, a real
headless Chromium (skipped with a message otherwise)."""
import json
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import zmq

from streams import protocol
from streams.dashboard import Dashboard, host_header_is_loopback
from test_streams_helpers import config, free_port, push_socket, running, wait_for

FS_HZ = 250.0


def _get(url, host=None):
    req = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.parametrize("host,ok", [("127.attacker.example", False), ("127.0.0.1.nip.io:8555", False),
                                     ("127.0.0.1:8555", True), ("127.0.0.2", True), ("localhost:8555", True),
                                     ("LOCALHOST", True), ("[::1]:8555", True), ("[::1]", True),
                                     ("attacker.example:8555", False), ("", False)])
def test_only_loopback_host_headers_are_served(host, ok):
    """DNS rebinding: a page on 127.attacker.example (rebound to 127.0.0.1) read the live view, as
    the check let any Host beginning with "127." through."""
    assert host_header_is_loopback(host) is ok
    with Dashboard(f"tcp://127.0.0.1:{free_port()}", port=0) as dash:
        if host:
            assert _get(dash.url + "state.json", host) == (200 if ok else 403)


def test_the_page_is_served_on_ipv6_loopback():
    """``--host ::1`` passed the loopback check, then failed: "Address family for hostname not supported"."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError as exc:
        pytest.skip(f"cannot bind ::1 here: {exc}")
    with Dashboard(f"tcp://127.0.0.1:{free_port()}", host="::1", port=0) as dash:
        assert dash.url.startswith("http://[::1]:")
        assert _get(dash.url) == 200


def _push_ecg(push, session, t0_s, seconds):
    x = (np.sin(np.arange(int(seconds * FS_HZ)) / 10.0) * (1.0 + session)).astype(np.float32)[None]
    for k in range(seconds):
        h = protocol.signal_header("bed01/ecg", k, session, t0_s + k, FS_HZ, ["II"], ["mV"], "ecg")
        push.send_multipart(protocol.encode("bed01/ecg", h, x[:, k * 250:(k + 1) * 250]))
        time.sleep(0.02)


def _restart_with_earlier_device_time(push):
    """A bed sends 6 s, then its publisher restarts (new session) with a device time 20 s earlier."""
    t0 = time.time() - 30.0
    _push_ecg(push, 1, t0 + 20.0, 6)
    time.sleep(0.5)
    _push_ecg(push, 2, t0, 3)
    return t0


def test_device_time_going_back_starts_the_waveform_afresh():
    """The server kept the old time base's rows ahead of the new ones (times 20 s apart, out of
    order), so a page that opened later got both."""
    ctx = zmq.Context()
    try:
        with running(config(tap_signals=True)) as rt, Dashboard(rt.bound.output, port=0) as dash:
            push = push_socket(ctx, rt.bound.ingest)
            time.sleep(0.5)   # the subscriptions reach the PUB socket
            t0 = _restart_with_earlier_device_time(push)
            state = lambda: json.loads(urllib.request.urlopen(dash.url + "state.json", timeout=5).read())
            cols = wait_for(lambda: (c := state()["new"].get("sig/bed01/ecg")) and c[0][-1] > t0 + 2.9 and c,
                            timeout_s=20, what="the second session's waveform")
            t = np.array(cols[0])
            assert np.all(np.diff(t) > 0), "waveform times out of order"
            assert t.min() >= t0 and t.max() < t0 + 3.0, (t.min() - t0, t.max() - t0)
            push.close()
    finally:
        ctx.destroy(linger=0)


def test_browser_restarts_the_waveform_when_device_time_goes_back(tmp_path):
    """The page appended the new time base's samples behind the old ones: uPlot got times out of
    order, and the page's pruning (12 s before the newest row) never cut the old rows."""
    from test_dashboard import _browser
    driver, profile = _browser()
    ctx = zmq.Context()
    try:
        with running(config(tap_signals=True)) as rt, Dashboard(rt.bound.output, port=0) as dash:
            push = push_socket(ctx, rt.bound.ingest)
            driver.get(dash.url)
            js = "const d = window.biosigDash.data['sig/bed01/ecg']; return d ? d[0] : [];"
            wait_for(lambda: driver.execute_script("return window.biosigDash.updates") > 0, 20, "the page")
            time.sleep(0.5)
            t0 = _restart_with_earlier_device_time(push)
            t = np.array(wait_for(lambda: (v := driver.execute_script(js)) and v[-1] > t0 + 2.9 and v,
                                  timeout_s=20, what="the second session on the page"))
            assert np.all(np.diff(t) > 0), "page times out of order"
            assert t.min() >= t0 and t.max() < t0 + 3.0, (t.min() - t0, t.max() - t0)
            assert driver.execute_script("return window.biosigDash.lastError || null") is None
            push.close()
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
        ctx.destroy(linger=0)


def test_browser_shows_the_units_a_stream_declares_and_names_as_text(tmp_path):
    """The marker axis said "mm" whatever the stream declared (a stream in metres read as mm) and the
    waveform said no unit at all. Channel names are a client's input: one that is HTML is shown as
    text, never run."""
    from test_dashboard import _browser
    driver, profile = _browser()
    ctx = zmq.Context()
    evil = '<img src=x onerror="window.pwned=1">'
    try:
        with running(config(tap_signals=True)) as rt, Dashboard(rt.bound.output, port=0) as dash:
            push = push_socket(ctx, rt.bound.ingest)
            driver.get(dash.url)
            wait_for(lambda: driver.execute_script("return window.biosigDash.updates") > 0, 20, "the page")
            time.sleep(0.5)
            t0 = time.time() - 2.0
            ecg = np.zeros((1, 250), np.float32)
            mk = np.zeros((3, 100), np.float32)
            push.send_multipart(protocol.encode("bed01/ecg", protocol.signal_header(
                "bed01/ecg", 0, 1, t0, FS_HZ, [evil], ["mV"], "ecg"), ecg))
            push.send_multipart(protocol.encode("couch1/markers", protocol.signal_header(
                "couch1/markers", 0, 1, t0, 100.0, ["m1_x", "m1_y", "m1_z"], ["m"] * 3, "motion"), mk))
            # find_elements: the panel appears with the page's first update after the frame (none yet: [])
            vals = wait_for(lambda: "trace:" in (v := "".join(e.text for e in driver.find_elements(
                "css selector", "[id='panel-bed01/ecg'] .vals"))) and v, timeout_s=20, what="the ECG panel's trace line")
            assert f"trace: {evil} (mV)" in vals, vals
            assert driver.execute_script("return window.pwned === undefined && document.querySelectorAll('main img').length === 0")
            unit = wait_for(lambda: (u := "".join(e.text for e in driver.find_elements("css selector", "#couch-couch1 .unit")))
                            not in ("", "unit: ?") and u, timeout_s=20, what="the couch's unit")
            assert unit == "unit: m", unit
            push.close()
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
        ctx.destroy(linger=0)

"""What a clinician sees of a running runtime is true: no stale number reads as current (task M, session 74).
Real runtime, real sockets, real headless Chromium (skipped with a message where none is installed)."""
import shutil
import time

import numpy as np
import pytest

from biosig.synthetic import simulate
from streams import protocol
from streams.dashboard import Dashboard
from test_dashboard import _browser
from test_streams_helpers import config, push_socket, running, wait_for

ECG_FS_HZ = 250.0
ECG = simulate("ecg", 8, seed=3, fs_hz=ECG_FS_HZ, heart_rate_bpm=72).samples[0]


def _send_ecg(push, seq, t0_s, x):
    """``x`` as 0.1 s frames of bed01/ecg from device time ``t0_s``; the next seq."""
    n = int(ECG_FS_HZ * 0.1)
    for i in range(0, len(x) - n + 1, n):
        h = protocol.signal_header("bed01/ecg", seq, 1, t0_s + i / ECG_FS_HZ, ECG_FS_HZ, ["II"], ["mV"], "ecg")
        push.send_multipart(protocol.encode("bed01/ecg", h, np.asarray(x[None, i:i + n], np.float32)))
        seq += 1
    return seq


@pytest.fixture
def page():
    driver, profile = _browser()
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _js(driver, script, *args):
    return driver.execute_script(script, *args)


def test_a_page_that_reconnects_to_a_new_dashboard_server_never_shows_the_old_hr_as_current(page):
    """The page merged a stream's fields into what it held: a dashboard server restarted (``serve --dashboard``
    restarted, ``biosig dashboard`` restarted) sends a stream without a score until its next window, and the page
    kept the last HR from before, in green, with no age, as if current."""
    import zmq
    ctx = zmq.Context()
    push = push_socket(ctx, "tcp://127.0.0.1:1")   # replaced once the runtime is bound
    try:
        with running(config(tap_signals=True, windows={"ecg": (4.0, 2.0)})) as rt:
            push.close(0)
            push = push_socket(ctx, rt.bound.ingest)
            with Dashboard(rt.bound.output, port=0) as dash:
                page.get(dash.url)
                t0 = time.time() - 10.0
                seq = _send_ecg(push, 0, t0, ECG[:int(6 * ECG_FS_HZ)])        # windows ending at 4 s and 6 s
                score = "document.getElementById('score-bed01/ecg')"
                wait_for(lambda: _js(page, f"const e = {score}; return e && e.dataset.ok === 'ok'"), 5, "HR in green")
            with Dashboard(rt.bound.output, port=dash.httpd.server_address[1]) as dash:   # a new server
                wait_for(lambda: dash.state.last_hb_s, 3, "the new server subscribed")
                _send_ecg(push, seq, t0 + 6.0, ECG[int(6 * ECG_FS_HZ):int(6.2 * ECG_FS_HZ)])   # no new window
                wait_for(lambda: _js(page, "const u = window.biosigDash.lastUpdate; "   # the new server: 2 frames
                                           "return u.frames.signal < 10 && u.streams['bed01/ecg']"), 8, "the new server's")
                text, ok = _js(page, f"const e = {score}; return [e.textContent, e.dataset.ok]")
    finally:
        push.close(0)
        ctx.term()
    assert ok != "ok" and "NO CURRENT READING" in text, (ok, text)

"""The live view never shows a bed's last reading as current once its windows stopped coming
(real runtime, real sockets, the dashboard's own HTTP state)."""
import json
import time
import urllib.request

import numpy as np
import zmq

from streams import protocol
from streams.dashboard import SCORE_STALE_MIN_S, Dashboard
from test_streams_helpers import config, push_socket, running, wait_for

FS_HZ = 250.0


def _state(url) -> dict:
    with urllib.request.urlopen(url + "state.json", timeout=5) as r:
        return json.loads(r.read())


def test_a_bed_that_stops_sending_is_shown_stale_not_with_its_last_heart_rate():
    """An ECG monitor sends 14 s (5 windows of 10 s every 1 s) and is unplugged. The page kept
    "HR 73 /min ..." as an ok reading for as long as it was open; now its state marks the score
    line stale (``score_stale``, with ``score_age_s``) once no window came for 3 hops (>= 3 s),
    and the page shows it as no current reading."""
    from biosig.synthetic import simulate
    ecg = simulate("ecg", 14, seed=5, rhythm="sinus", fs_hz=FS_HZ).samples[:1].astype(np.float32)
    ctx = zmq.Context()
    try:
        with running(config(windows={"ecg": (10.0, 1.0)})) as rt, Dashboard(rt.bound.output, port=0) as dash:
            push = push_socket(ctx, rt.bound.ingest)
            time.sleep(0.5)   # the dashboard's subscription reaches the PUB socket
            t0 = time.time() - 14.0
            for k in range(14):   # 1 s frames, as a monitor sends them (the last 4 one per 0.25 s)
                h = protocol.signal_header("bed01/ecg", k, 1, t0 + k, FS_HZ, ["II"], ["mV"], "ecg")
                push.send_multipart(protocol.encode("bed01/ecg", h, ecg[:, k * 250:(k + 1) * 250]))
                if k >= 10:
                    time.sleep(0.25)
            s = wait_for(lambda: (st := _state(dash.url)["streams"].get("bed01/ecg", {})).get("score") and st,
                         timeout_s=30, what="the bed's score line")
            assert s["score"].startswith("HR ") and s["score_ok"], s["score"]
            assert s["score_stale"] is False and s["score_age_s"] < SCORE_STALE_MIN_S
            # the monitor is unplugged: within a few seconds the line is stale, and stays so
            s = wait_for(lambda: (st := _state(dash.url)["streams"]["bed01/ecg"])["score_stale"] and st,
                         timeout_s=30, what="the score line to turn stale")
            assert s["score_age_s"] >= SCORE_STALE_MIN_S
            assert s["score"].startswith("HR ")     # the last line is kept, for the page to show as old
            push.close()
    finally:
        ctx.destroy(linger=0)   # closes the sockets a failed assertion left open


def test_the_page_shows_a_stale_score_as_no_current_reading():
    """The page's script (no browser here) turns ``score_stale`` into "NO CURRENT READING" with its
    own look, never the ok colour."""
    from streams.dashboard import STATIC
    js = (STATIC / "dashboard.js").read_text()
    css = (STATIC / "dashboard.css").read_text()
    assert "s.score_stale" in js and "NO CURRENT READING" in js and 'setData(c.score, "ok", "stale")' in js
    assert '.score[data-ok="stale"]' in css

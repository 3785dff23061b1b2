"""`biosig serve --dashboard` takes `--forget-s` as the standalone `biosig dashboard` does (it had
none: the view beside the runtime always kept a silent stream 300 s); without --dashboard the flag
is refused in one line. The dashboard of `serve` over a real runtime on loopback forgets a bed
``--forget-s`` after its last frame."""
import json
import threading
import time
import urllib.request

import numpy as np
import pytest
import zmq

from biosig.cli import build_parser, main
from biosig.cli.dashboard_commands import start_for_serve
from test_streams_helpers import config, push_socket, running, signal, wait_for


def _state(url) -> dict:
    with urllib.request.urlopen(url + "state.json", timeout=5) as r:
        return json.loads(r.read())


def _serve_args(*flags):
    return build_parser().parse_args(["serve", *flags])


def test_serve_dashboard_forgets_a_silent_bed_after_forget_s():
    with running(config(tap_signals=True)) as rt:
        ready = threading.Event()
        ready.set()
        dash = start_for_serve(_serve_args("--dashboard", "0", "--forget-s", "1.5"), rt.bound.output, ready)
        ctx = zmq.Context()
        try:
            assert dash.state.forget_s == 1.5
            push = push_socket(ctx, rt.bound.ingest)
            time.sleep(0.5)   # the dashboard's subscription reaches the PUB socket
            t0 = time.time() - 3.0
            for k in range(3):
                push.send_multipart(signal("bed01/resp", k, np.ones((1, 25), np.float32), t0_s=t0 + k))
            wait_for(lambda: "bed01/resp" in _state(dash.url)["streams"], timeout_s=20, what="the stream")
            wait_for(lambda: "bed01/resp" not in _state(dash.url)["streams"], timeout_s=20,
                     what="the stream forgotten after --forget-s 1.5 (300 s before)")
        finally:
            dash.stop()
            ctx.destroy(linger=0)


def test_serve_dashboard_forget_s_default_and_checks(capsys):
    assert _serve_args("--dashboard").forget_s is None   # the dashboard's own default then
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--dashboard", "--forget-s", "0"])
    assert exc.value.code == 2 and "--forget-s" in capsys.readouterr().err
    assert main(["serve", "--models", "none", "--forget-s", "5", "--seconds", "0.5"]) == 2
    assert capsys.readouterr().err.strip() == \
        "biosig serve: error: --forget-s needs --dashboard: it is how long the live view keeps a silent stream"


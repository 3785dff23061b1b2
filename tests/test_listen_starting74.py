"""``biosig listen`` against a runtime that answers ``starting`` (loading its encoders: tens of seconds): it said
"runtime starting ...; waiting", then the subscriber's silence line asked "not even a heartbeat yet: is the runtime
running, and is this its output endpoint?", which the first line had just answered. The silence line now says the
runtime was starting. Real sockets: the runtime's own StartingResponder on a REP socket, a real Subscriber."""
import argparse
import logging
import time

import zmq

from biosig.cli._stream_checks import listen_waiting_text
from streams.startup import StartingResponder
from streams.subscriber import Subscriber
from test_streams_helpers import free_port


def _listen_args(status: str, output: str):
    return argparse.Namespace(status=status, output=output, keys=None, insecure=False, topics=None)


def _silence_lines(caplog, status: str | None):
    output = f"tcp://127.0.0.1:{free_port()}"   # nothing publishes there: the runtime has not bound it yet
    ctx = zmq.Context()
    rep = ctx.socket(zmq.REP)
    responder = None
    try:
        if status is not None:
            rep.bind(status)
            responder = StartingResponder(rep, lambda: {"kind": "status", "stream": "runtime", "seq": 0,
                                                        "t_s": time.time(), "epoch": 1, "body": {"state": "starting"}})
        with caplog.at_level(logging.WARNING), Subscriber([""], output, stale_s=0.3) as sub:
            text = listen_waiting_text(_listen_args(status or f"tcp://127.0.0.1:{free_port()}", output), sub)
            sub.recv(0.8)
        return text, [r.getMessage() for r in caplog.records if "no frames from" in r.getMessage()]
    finally:
        if responder is not None:
            responder.stop()
        rep.close(0)
        ctx.term()


def test_the_silence_line_says_the_runtime_was_starting(caplog):
    status = f"tcp://127.0.0.1:{free_port()}"
    text, lines = _silence_lines(caplog, status)
    assert text.startswith("runtime starting"), text
    assert lines and all("was starting when asked" in line and "is the runtime running" not in line
                         for line in lines), lines


def test_without_a_runtime_the_silence_line_still_asks_whether_one_runs(caplog):
    text, lines = _silence_lines(caplog, None)
    assert text.startswith("no runtime answered"), text
    assert lines and all("is the runtime running" in line for line in lines), lines

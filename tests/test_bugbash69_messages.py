"""Messages that sent a user the wrong way (session 69 bug bash), over real sockets on loopback.

- A subscriber of a silent output (``biosig dashboard`` / ``listen`` with no runtime) logged
  ``no frames from tcp://... for 5.0 s; reconnecting`` every 5 s for as long as nobody published,
  and nothing when frames came; the page said "waiting for the runtime" without the endpoint.
  Now: said at ``stale_s``, 6 and then every 60 ``stale_s`` (5 s, 30 s, every 5 min), each line with
  how long; the first frame after a said silence is said; a runtime restart is said.
- ``biosig status --keys DIR`` at the runtime's output or ingest endpoint said the server key was
  wrong; the endpoint is said first. Without keys it said "no runtime answered" (is serve running?)
  although a runtime socket took the connection.
- ``--insecure`` where every endpoint is loopback changed nothing, without a word.
"""
import io
import logging
import re
import time
import urllib.request
from contextlib import redirect_stderr

import pytest
import zmq

from streams import protocol
from streams.errors import StreamError
from streams.security import check_plain_allowed, generate_keys
from streams import subscriber
from streams.subscriber import Subscriber, request_status
from test_streams_helpers import config, free_endpoints, free_port, running, wait_for


def _hb(seq, epoch=7):
    return protocol.encode("hb/runtime", {"kind": "heartbeat", "stream": "runtime", "seq": seq, "t_s": 1.0,
                                          "epoch": epoch})


def _lines(caplog, text):
    return [r.getMessage() for r in caplog.records if r.name == "streams.subscriber" and text in r.getMessage()]


def test_silence_schedule_is_stale_then_6_then_every_60_stale_periods():
    assert [subscriber.next_silence_report_s(s, 5.0) for s in (5.0, 29.9, 30.0, 31.0, 299.0, 300.2, 650.0)] == \
        [30.0, 30.0, 300.0, 300.0, 300.0, 600.0, 900.0]
    assert [subscriber.duration_text(s) for s in (0.25, 5.0, 30.4, 125, 300, 3900)] == \
        ["0.2 s", "5 s", "30 s", "2 min 5 s", "5 min", "1 h 5 min"]


def test_a_silent_output_is_said_once_then_later_and_when_frames_come(caplog):
    """stale_s 0.1 s for 1.2 s: lines at 0.1 s and 0.6 s (the next at 6 s), not one a reconnect
    (old: 10); frames from a PUB bound later: 'at last'; silent again, then 'again'."""
    port = free_port()
    endpoint = f"tcp://127.0.0.1:{port}"
    ctx = zmq.Context()
    try:
        with caplog.at_level(logging.WARNING, logger="streams.subscriber"):
            sub = Subscriber(["hb/"], endpoint, stale_s=0.1, ctx=ctx)
            end = time.monotonic() + 1.2
            while time.monotonic() < end:
                assert sub.recv(0.05) is None
            said = _lines(caplog, "no frames from")
            assert sub.reconnects >= 6 and len(said) == 2, said
            assert said[0].startswith(f"no frames from {endpoint} for 0.1 s (not even a heartbeat yet: is the "
                                      "runtime running, and is this its output endpoint?); reconnecting every 0.1 s "
                                      "(said again at 0.6 s)"), said
            assert " for 0.6 s " in said[1] or " for 0.7 s " in said[1], said
            pub = ctx.socket(zmq.PUB)
            pub.setsockopt(zmq.LINGER, 0)
            pub.bind(endpoint)
            seq = 0

            def heard():
                nonlocal seq
                pub.send_multipart(_hb(seq))
                seq += 1
                return sub.recv(0.05)
            wait_for(heard, 2.0, "a heartbeat")
            at_last = _lines(caplog, "at last after")
            assert len(at_last) == 1 and re.fullmatch(f"frames from {endpoint} at last after [12] s of silence",
                                                      at_last[0]), at_last
            time.sleep(0.25)                            # silent again: the runtime stopped?
            assert sub.recv(0.05) is None
            assert "(the runtime stopped?)" in _lines(caplog, "no frames from")[-1]
            wait_for(heard, 2.0, "a heartbeat again")
            assert len(_lines(caplog, "again after")) == 1 and len(_lines(caplog, "no frames from")) == 3
    finally:
        ctx.destroy(linger=0)   # a failed assertion left sockets open: term() would hang


def test_a_runtime_restart_on_the_same_endpoints_is_said_and_followed(caplog):
    """listen's Subscriber across a stop and start of an in-process runtime: the restart is one line
    at WARNING (was INFO: listen said nothing of it), frames of the new epoch keep coming."""
    ep = free_endpoints()
    cfg = config(endpoints=ep)
    with caplog.at_level(logging.WARNING, logger="streams.subscriber"):
        with Subscriber(["hb/"], ep.output, stale_s=60) as sub:
            with running(cfg) as rt1:
                wait_for(lambda: sub.recv(0.1) and sub.epoch == rt1.epoch, 3.0, "the first epoch")
            with running(cfg) as rt2:
                wait_for(lambda: sub.recv(0.1) and sub.epoch == rt2.epoch, 3.0, "the second epoch")
    said = _lines(caplog, "restarted")
    assert said == [f"the runtime at {ep.output} restarted (epoch {rt1.epoch} -> {rt2.epoch}): every topic's "
                    "sequence starts afresh"], said


def _page_state(dash):
    import json
    with urllib.request.urlopen(dash.url + "state.json", timeout=2) as r:
        return json.loads(r.read())


def test_the_dashboard_names_the_endpoint_it_waits_on():
    from streams.dashboard import Dashboard
    output = f"tcp://127.0.0.1:{free_port()}"
    with Dashboard(output, port=0) as dash:
        time.sleep(0.3)
        state = _page_state(dash)
        assert state["hb_age_s"] is None and state["endpoint"] == output and 0.2 <= state["waited_s"] < 5
        from test_dashboard import _browser   # the page's own words, when a browser is there (else skip)
        driver, _ = _browser()
        try:
            driver.get(dash.url)
            text = wait_for(lambda: (t := driver.find_element("id", "runtime").text) and "nothing from" in t and t,
                            2.0, "the page's runtime line")
            assert text.startswith(f"waiting for the runtime: nothing from {output} for "), text
        finally:
            driver.quit()


@pytest.mark.parametrize("which", ["output", "ingest"])
def test_status_with_keys_at_another_endpoint_says_the_endpoint_first(tmp_path, which):
    keys = generate_keys(tmp_path / "keys")
    with running(config(endpoints=free_endpoints(), key_dir=str(keys))) as rt:
        endpoint = getattr(rt.bound, which)
        with pytest.raises(StreamError) as err:
            request_status(endpoint, key_dir=keys, timeout_s=0.5)
        from biosig.cli import main
        stderr = io.StringIO()
        with redirect_stderr(stderr):
            assert main(["status", "--status", endpoint, "--keys", str(keys), "--timeout-s", "0.5"]) == 2
        assert request_status(rt.bound.status, key_dir=keys, timeout_s=2)["state"]   # the keys are right
    msg = str(err.value)
    assert msg.startswith(f"no status reply from {endpoint}: is it the runtime's status endpoint (`biosig serve` "
                          "prints it; default :5557), not its output or ingest? or else "), msg
    assert f"{keys / 'server.key'} is not that runtime's server key" in msg, msg
    assert msg in stderr.getvalue(), stderr.getvalue()


def test_status_without_keys_at_the_output_endpoint_is_not_an_absent_runtime():
    with running(config(endpoints=free_endpoints())) as rt:
        with pytest.raises(StreamError, match=f"no status reply from {rt.bound.output}: something there took the "
                                              "connection and closed it; is it the runtime's status endpoint"):
            request_status(rt.bound.output, timeout_s=0.5)
    with pytest.raises(StreamError, match=r"no runtime answered on .* within 0.3 s \(is `biosig serve` running"):
        request_status(f"tcp://127.0.0.1:{free_port()}", timeout_s=0.3)   # nothing there: as before


def test_insecure_on_loopback_is_said_once_and_never_refused(caplog):
    a, b = (f"tcp://127.0.0.1:{free_port()}" for _ in range(2))
    with caplog.at_level(logging.WARNING, logger="streams.security"):
        check_plain_allowed([a, b], False)                  # no --insecure: nothing to say
        assert not caplog.records
        check_plain_allowed([a, b, "ipc:///tmp/x"], True)
        check_plain_allowed([a], True)                      # a process opens many clients: said once
        check_plain_allowed(["tcp://10.1.2.3:5555", "tcp://127.0.0.1:1"], True)   # matters off loopback
        said = [r.getMessage() for r in caplog.records]
    assert said == [f"--insecure changes nothing here: {a}, {b}, ipc:///tmp/x are all on this machine, where plain "
                    "TCP is allowed anyway (it matters only for an endpoint on another host)"], said


def test_insecure_on_loopback_is_said_by_the_cli(caplog):
    from biosig.cli import main
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    with caplog.at_level(logging.WARNING, logger="streams.security"), redirect_stderr(io.StringIO()):
        assert main(["status", "--status", endpoint, "--insecure", "--timeout-s", "0.2"]) == 2   # no runtime
    assert any(f"--insecure changes nothing here: {endpoint} is on this machine" in r.getMessage()
               for r in caplog.records), caplog.text



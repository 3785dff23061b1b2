"""More messages that sent a user the wrong way (session 69 bug bash), over real sockets on loopback.

- ``biosig listen --status <the runtime's output endpoint>`` said "no runtime answered on X": the SDK's
  ``runtime_status`` turned the precise reason (something took the connection and closed it: is it the
  status endpoint?) into None. Now listen says what took the request.
- The runtime logged "it uses another server key" as if the client's keys were wrong; from its side that
  cannot be told from a client of another runtime, right keys there, sent to this port. The log says both
  (the count, ``auth_failures``, is as before).
- After a runtime restart ``listen``'s summary said "gaps on 1 topics": heartbeats the new runtime sent
  before the listener reconnected (tests/test_streams_recovery.py: by design, they are counted), read as
  lost data. The summary now says which gaps fall only across the restart; the counters are as before.
"""
import io
import logging
import re
import threading
import time
from contextlib import redirect_stderr

import zmq

from streams import protocol
from streams.publisher import Publisher
from streams.security import generate_keys
from streams.subscriber import Subscriber, status_or_reason
from test_streams_helpers import config, free_endpoints, free_port, running, wait_for


def test_status_or_reason_says_what_took_the_request_and_nothing_when_nobody_did():
    with running(config(endpoints=free_endpoints(), warm_up=False)) as rt:
        body, why = status_or_reason(rt.bound.output, timeout_s=0.5)
        assert body is None and why.startswith(f"no status reply from {rt.bound.output}: something there took "
                                               "the connection and closed it; is it the runtime's status endpoint")
        body, why = status_or_reason(rt.bound.status, timeout_s=2.0)
        assert body["state"] and why is None
    assert status_or_reason(f"tcp://127.0.0.1:{free_port()}", timeout_s=0.3) == (None, None)   # nobody there


def test_listen_with_status_at_an_output_endpoint_says_what_took_the_request():
    """A plain PUB socket stands for the runtime's output (what took the status request and dropped it):
    listen asks it after 2 s of nothing, for 1 s."""
    from biosig.cli import main
    ctx = zmq.Context()
    try:
        pub = ctx.socket(zmq.PUB)
        pub.setsockopt(zmq.LINGER, 0)
        output = f"tcp://127.0.0.1:{pub.bind_to_random_port('tcp://127.0.0.1')}"
        stderr = io.StringIO()
        with redirect_stderr(stderr):
            assert main(["listen", "--output", output, "--status", output, "--seconds", "2.1"]) == 0
    finally:
        ctx.destroy(linger=0)
    err = stderr.getvalue()
    assert f"biosig listen: no status reply from {output}: something there took the connection and closed it; " \
           "is it the runtime's status endpoint" in err and err.count("\n") == 2, err
    assert "no runtime answered" not in err, err


def test_the_runtime_log_names_both_causes_of_another_server_key(tmp_path, caplog):
    """A publisher holding another runtime's keys (right there, wrong here) at this runtime's ingest."""
    keys, other = generate_keys(tmp_path / "keys"), generate_keys(tmp_path / "other")
    with caplog.at_level(logging.WARNING, logger="streams.runtime"):
        with running(config(endpoints=free_endpoints(), key_dir=str(keys), warm_up=False)) as rt:
            pub = Publisher("bed01", rt.bound.ingest, key_dir=other)
            try:
                pub.stream("resp", 25.0, ["RESP"]).send([1.0] * 25)
                by = wait_for(lambda: rt.status()["auth_failures_by_socket"], 2.0, "the refusal counted")
            finally:
                pub.close()
            assert set(by) == {"ingest"} and rt.status()["auth_failures"] == by["ingest"] >= 1
    said = [r.getMessage() for r in caplog.records if "refused by CURVE" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith(
        "a client was refused by CURVE on the ingest socket: it uses another server key: it was given keys that "
        "are not this runtime's, or it is a client of another runtime (its keys right there) sent to this port, "
        "e.g. a status request to the wrong port; either way its endpoint and --keys must name the same runtime ("
    ), said


def _frame(topic, seq, epoch, last_seq=None):
    if topic == "hb/runtime":
        h = {"kind": "heartbeat", "stream": "runtime", "seq": seq, "t_s": 1.0, "epoch": epoch,
             "last_seq": last_seq or {}}
    else:
        h = {"kind": "hold", "stream": topic.split("/", 1)[1], "seq": seq, "t_s": 1.0, "reason": "warm_up",
             "t_out_s": 1.0, "epoch": epoch}
    return protocol.encode(topic, h)


def _publish(endpoint, script, started: threading.Event):
    """A stand-in runtime on ``endpoint``: sends ``script`` (frames) every 20 ms once a subscriber is there."""
    ctx = zmq.Context()
    try:
        pub = ctx.socket(zmq.PUB)
        pub.setsockopt(zmq.LINGER, 0)
        pub.bind(endpoint)
        started.wait(2.0)
        time.sleep(0.3)   # the subscription reaches the PUB socket
        for parts in script:
            pub.send_multipart(parts)
            time.sleep(0.02)
    finally:
        ctx.destroy(linger=0)


def _restart_script():
    """Epoch 7: heartbeats 0..4, holds 0..4. Epoch 8 (a restart): heartbeats from 3 (0..2 sent before the
    listener reconnected) saying hold/couch1 is at 2 (0..2 missed the same way), then holds 3, 4 and 6 (5 lost
    while the new runtime ran: a real gap)."""
    old = [p for i in range(5) for p in (_frame("hold/couch1", i, 7), _frame("hb/runtime", i, 7, {"hold/couch1": i}))]
    new = [_frame("hb/runtime", 3, 8, {"hold/couch1": 2})] + [_frame("hold/couch1", i, 8) for i in (3, 4, 6)]
    return old + new + [_frame("hb/runtime", 4, 8, {"hold/couch1": 6})]


def test_subscriber_tells_gaps_across_a_restart_from_gaps_while_it_ran():
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    started = threading.Event()
    t = threading.Thread(target=_publish, args=(endpoint, _restart_script(), started), daemon=True)
    t.start()
    with Subscriber([""], endpoint, stale_s=60) as sub:
        started.set()
        wait_for(lambda: sub.recv(0.05) and sub.stats["hb/runtime"]["frames"] == 7, 2.5, "every heartbeat")
        t.join(2.0)
        hb, hold = sub.stats["hb/runtime"], sub.stats["hold/couch1"]
        # the counters other code reads: as before (a gap across the restart is counted)
        assert (hb["gaps"], hb["missing"], hb["restarts"]) == (1, 3, 1)
        assert (hold["frames"], hold["gaps"], hold["missing"], hold["restarts"]) == (8, 2, 4, 1)
        assert dict(sub.restart_gaps) == {"hb/runtime": 1, "hold/couch1": 1} and len(sub.restarts_seen_at) == 1
        text = sub.summary_text()
    at = time.strftime("%H:%M:%S", time.localtime(sub.restarts_seen_at[0]))
    assert text.startswith(f"15 frames on 2 topics, gaps on 2 topics (1 of them only across the runtime restart at "
                           f"{at}: what the new runtime sent before this listener reconnected, not frames lost while "
                           "it ran) {"), text
    assert '"across_restart": 1' in text and re.search(r'"hold/couch1": \{[^}]*"gaps": 2', text), text


def test_listen_summary_says_gaps_that_are_all_across_a_restart():
    """Only heartbeats missed in the restart: the line listen ends with says so (was: "gaps on 1 topics")."""
    from biosig.cli import main
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    # the listener may miss the first heartbeats (it starts after the stand-in): not a gap, nothing before them
    script = [_frame("hb/runtime", i, 7) for i in range(30)] + [_frame("hb/runtime", i, 8) for i in (2, 3, 4)]
    started = threading.Event()
    started.set()
    t = threading.Thread(target=_publish, args=(endpoint, script, started), daemon=True)
    t.start()
    stderr = io.StringIO()
    with redirect_stderr(stderr):
        assert main(["listen", "--output", endpoint, "--seconds", "1.2"]) == 0
    t.join(2.0)
    last = stderr.getvalue().splitlines()[-1]
    assert re.match(r"biosig listen: \d+ frames on 1 topic, gaps on 1 topic \(all across the runtime restart at "
                    r"\d\d:\d\d:\d\d: what the new runtime sent", last), stderr.getvalue()
    assert re.search(r'"hb/runtime": \{"frames": \d+, "gaps": 1, "missing": 2, ', last), last

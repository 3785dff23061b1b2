"""Operator mistakes refused with one line before anything starts: two endpoints that are one port
spelt two ways, a monitor run too short for one frame; and the runtime's frozen-input default taken
from realtime's (one number, not two that a test kept equal)."""
import pytest

from biosig.cli import main
from streams.config import Endpoints, ForecasterConfig, RuntimeConfig
from streams.errors import StreamError
from streams.runtime import Runtime
from streams.startup import check_bindable
from test_streams_helpers import config, free_port, running


def _spellings(port, other):
    return {"localhost": (f"tcp://localhost:{port}", f"tcp://127.0.0.1:{port}"),
            "wildcard": (f"tcp://*:{port}", f"tcp://127.0.0.1:{port}"),
            "wildcard second": (f"tcp://127.0.0.1:{port}", f"tcp://*:{port}")}[other]


@pytest.mark.parametrize("other", ["localhost", "wildcard", "wildcard second"])
def test_one_port_spelt_two_ways_is_refused_before_the_warm_up(other):
    """`--ingest tcp://localhost:P --output tcp://127.0.0.1:P` (or `tcp://*:P` beside `127.0.0.1:P`)
    passed the check: the output bind failed after the warm-up (5.8 s with no encoders, 9.3 s with
    the defaults) and blamed "another runtime running?"."""
    port = free_port()
    ingest, output = _spellings(port, other)
    rt = Runtime(config(endpoints=Endpoints(ingest, output, f"tcp://127.0.0.1:{free_port()}"), insecure=True))
    with pytest.raises(StreamError) as err:
        rt.run(1.0)
    assert rt.models is None and rt.warm == {}, "loaded before the refusal"
    msg = str(err.value)
    assert "each socket needs its own" in msg and f"port {port} of 127.0.0.1" in msg, msg
    assert ingest in msg and output in msg and "another runtime" not in msg, msg


def test_the_serve_command_says_it_in_one_line(capsys):
    port = free_port()
    code = main(["serve", "--models", "none", "--seconds", "1", "--ingest", f"tcp://localhost:{port}",
                 "--output", f"tcp://127.0.0.1:{port}", "--status", f"tcp://127.0.0.1:{free_port()}"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "each socket needs its own" in err, err


def test_other_addresses_or_ports_are_not_a_collision():
    """One port on two loopback addresses, or two ports of one address, bind side by side."""
    port, port2 = free_port(), free_port()
    check_bindable([("ingest", f"tcp://127.0.0.1:{port}"), ("output", f"tcp://127.0.0.2:{port}"),
                    ("status", f"tcp://localhost:{port2}")])


def test_monitor_refuses_a_run_shorter_than_its_first_frame(capsys):
    """`monitor --frame-s 10 --seconds 2` generated the ward (seconds of ECGSYN), sent 0 frames from
    the 8 bed streams and exited 0. A frame goes when its last sample happens; a partial frame would
    not be the --frame-s asked for, so the run is refused before anything is generated."""
    code = main(["monitor", "--frame-s", "10", "--seconds", "2", "--couches", "0",
                 "--ingest", f"tcp://127.0.0.1:{free_port()}"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "the 8 bed streams would send nothing" in err, err


def test_monitor_says_which_late_beds_sent_nothing_in_a_short_run(capsys):
    """Beds start up to 1 s apart: in a 1.5 s run of 1 s frames bed03 (0.74 s late) has no whole
    frame. The run goes on (the others send) and says so, instead of a silent bed."""
    with running(config()) as rt:
        code = main(["monitor", "--simulate", "4", "--streams", "resp", "--frame-s", "1", "--seconds", "1.5",
                     "--couches", "0", "--ingest", rt.bound.ingest])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "warning: 1 bed streams (bed03/resp) started too late to send a frame in --seconds 1.5" in err, err
    assert "sent 3 frames from 4 streams" in err, err


def test_the_streams_refused_are_those_the_ward_would_not_send_in_time():
    """The check against the real sources: a stream is named exactly when its first frame's last
    sample happens after --seconds (beds start up to 1 s late, bed03 0.74 s)."""
    from streams.simulate import BED_STREAMS, make_ward, silent_bed_streams
    port = free_port()
    frame_s, seconds = 1.0, 1.5
    pubs, sources = make_ward(4, BED_STREAMS, endpoint=f"tcp://127.0.0.1:{port}", loop_s=4.0, frame_s=frame_s)
    try:
        late = sorted(s.out.topic for s in sources if s.next_s() > seconds)
    finally:
        for p in pubs:
            p.close()
    assert late and late == sorted(silent_bed_streams(4, BED_STREAMS, frame_s, seconds))
    assert len(late) < len(sources)   # some beds do send: not all-or-nothing


def test_the_runtime_frozen_input_default_is_realtimes(monkeypatch):
    """streams.config had its own 2.0 beside realtime's MAX_FROZEN_S; now it is realtime's."""
    import realtime.base
    monkeypatch.setattr(realtime.base, "MAX_FROZEN_S", 3.5)
    assert ForecasterConfig().max_frozen_s == 3.5 and RuntimeConfig().forecaster.max_frozen_s == 3.5
    assert ForecasterConfig(max_frozen_s=0.0).max_frozen_s == 0.0

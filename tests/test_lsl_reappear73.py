"""An LSL outlet that goes away and comes back under the same source_id (a device restarted), bridged into a real
runtime on loopback with real liblsl: it was checked by hand only. The samples of the new outlet reach the runtime
(its recording is the oracle) with their LSL stamps as device time, and the bridge says it re-connected (it said
nothing, unless the outlet was away for 5 s). Two outlets of one name without source_id on one host had one label."""
import logging
import threading
import time
import uuid

import numpy as np
import pytest

from streams.config import Endpoints
from test_streams_helpers import config, free_port, running, stream_status, wait_for

# (test_lsl skips the module where pylsl, liblsl or LSL discovery on loopback cannot work)
from test_lsl import _offset_s, pylsl  # noqa: E402
from streams.lsl import _label, _pylsl, bridge_lsl_in  # noqa: E402

_pylsl()   # liblsl's INFO lines off, as the bridge has them
FS = 25.0


def _outlet(sid: str, source_id: str = "", name: str = ""):
    return pylsl.StreamOutlet(pylsl.StreamInfo(name or f"dev{sid}", "Resp", 1, FS, pylsl.cf_float32, source_id))


def _found(outlet_sid: str, timeout_s: float = 1.0) -> bool:
    return bool(pylsl.resolve_byprop("source_id", outlet_sid, minimum=1, timeout=timeout_s))


def test_an_outlet_back_under_the_same_source_id_is_bridged_again_and_said(tmp_path, caplog):
    sid = uuid.uuid4().hex[:8]
    first = _outlet(sid, f"r{sid}")
    if not _found(f"r{sid}"):   # pragma: no cover - no UDP discovery on loopback in some sandboxes
        pytest.skip("LSL stream discovery (UDP multicast on loopback) does not work on this machine")
    topic = f"r{sid}/resp"
    x = np.arange(1, 21, dtype=np.float32)
    stamps = []
    stop, result, errors = threading.Event(), {}, []
    ingest = f"tcp://127.0.0.1:{free_port()}"   # the bridge looks for the outlet while the runtime starts

    def run():
        try:
            result.update(bridge_lsl_in(endpoint=ingest, prop="source_id", value=f"r{sid}", resolve_s=1.0, stop=stop))
        except Exception as exc:   # said by the test, not as a thread's traceback
            errors.append(exc)
    th = threading.Thread(target=run, daemon=True)
    cfg = config(endpoints=Endpoints(ingest, "tcp://127.0.0.1:*", "tcp://127.0.0.1:*"), record_dir=str(tmp_path))
    with caplog.at_level(logging.INFO, logger="streams.lsl"):
        th.start()
        try:
            with running(cfg) as rt:
                wait_for(first.have_consumers, 2.0, "the bridge's inlet")
                t0 = pylsl.local_clock() - 1.0   # a device's acquisition delay: an arrival-time stamp is 1 s off
                for k in range(10):
                    stamps.append(t0 + k / FS)
                    first.push_sample([float(x[k])], stamps[-1])
                wait_for(lambda: stream_status(rt, topic).get("samples") == 10, 2.0, "the first outlet's samples")
                del first   # the device goes away ...
                second = _outlet(sid, f"r{sid}")   # ... and comes back: a new outlet (uid), the same source_id
                wait_for(second.have_consumers, 8.0, "liblsl's recovery of the inlet")
                t1 = pylsl.local_clock() - 0.5
                for k in range(10, 20):
                    stamps.append(t1 + (k - 10) / FS)
                    second.push_sample([float(x[k])], stamps[-1])
                wait_for(lambda: stream_status(rt, topic).get("samples") == 20, 3.0, "the second outlet's samples")
                stop.set()
                th.join(3)
        finally:
            stop.set()
            th.join(3)
    assert not errors and not th.is_alive(), errors
    said = [r.getMessage() for r in caplog.records if "re-connected" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith(f"LSL stream dev{sid}: re-connected to a new outlet of the same "
                                                 "source_id"), said
    assert result["reconnected"] == {topic: 1} and "lost" not in result, result
    from streams.recorder import read_recording
    rows = read_recording(tmp_path)
    rows = rows.filter(rows["stream"] == topic).sort("seq")
    got = np.concatenate([np.asarray(s, np.float32) for s in rows["samples"].to_list()])
    np.testing.assert_array_equal(got, x)   # every sample, in order, once
    offset, i = _offset_s(), 0
    for t0_s, n in zip(rows["t0_s"].to_list(), rows["n_samples"].to_list()):
        assert abs(t0_s + (n - 1) / FS - (stamps[i + n - 1] + offset)) < 0.005, (i, n)   # the last sample's stamp
        i += n
    assert result[topic] == len(rows)


def test_two_outlets_of_one_name_without_source_id_have_labels_of_their_own():
    sid = uuid.uuid4().hex[:8]
    outlets = [_outlet(sid, name=f"twin{sid}") for _ in range(2)]
    found = pylsl.resolve_byprop("name", f"twin{sid}", minimum=2, timeout=2.0)
    if len(found) < 2:   # pragma: no cover
        pytest.skip("LSL stream discovery (UDP multicast on loopback) does not work on this machine")
    labels = [_label(f, found) for f in found]
    assert len(set(labels)) == 2, labels
    for f, label in zip(found, labels):
        assert label == f"twin{sid} [{f.hostname()} uid {f.uid()[:8]}]"
    del outlets

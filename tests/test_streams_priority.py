"""The forecast path's CPU priority (streams.priority) and where it runs: the runtime's event loop
learns each marker frame and publishes its forecast at receipt (no hand-over to another thread),
at SCHED_FIFO where the OS allows it, with ZeroMQ's I/O threads. Real runtime, real sockets."""
import os
import resource
import threading
import time

import numpy as np
import pytest
import zmq

from streams import protocol
from streams.priority import (_io_thread_name, _zmq_io_threads, name_os_thread, policy_of, realtime_thread,
                              realtime_zmq_io_threads, tagged_zmq_context)
from streams.runtime import Runtime
from test_streams_helpers import config, push_socket, signal, sub_socket


def _fifo_allowed() -> bool:
    return os.geteuid() == 0 or resource.getrlimit(resource.RLIMIT_RTPRIO)[0] > 0


def _in_thread(fn):
    out = {}

    def run():
        out["result"] = fn()
        out["tid"] = threading.get_native_id()
        out["policy"] = policy_of(out["tid"])
        out["rt_priority"] = os.sched_getparam(out["tid"]).sched_priority
        with open(f"/proc/self/task/{out['tid']}/comm") as f:
            out["comm"] = f.read().strip()

    t = threading.Thread(target=run)
    t.start()
    t.join(10)
    return out


def test_realtime_thread_gives_sched_fifo_where_allowed_and_says_so_where_not():
    got = _in_thread(lambda: realtime_thread(7, "biosig-test"))
    assert got["comm"] == "biosig-test"
    if _fifo_allowed():
        assert got["result"] == "SCHED_FIFO 7" and got["policy"] == "SCHED_FIFO" and got["rt_priority"] == 7
    else:
        assert got["result"].startswith("normal (no permission") and got["policy"] == "SCHED_OTHER"
    # only the calling thread changes
    assert policy_of(threading.get_native_id()) == "SCHED_OTHER"


def test_priority_zero_leaves_the_thread_alone():
    got = _in_thread(lambda: realtime_thread(0))
    assert got["result"].startswith("normal (real-time priority off)") and got["policy"] == "SCHED_OTHER"


def test_zmq_io_threads_are_raised_with_the_loop():
    if not _fifo_allowed():
        pytest.skip("SCHED_FIFO is not allowed here (not root, ulimit -r 0)")
    ctx = tagged_zmq_context()
    s = ctx.socket(zmq.PUSH)   # the I/O thread starts with the first socket
    try:
        tag = ctx.get(zmq.THREAD_NAME_PREFIX)
        # no waiting here: the function waits for the new thread to name itself
        assert realtime_zmq_io_threads(5, [ctx]) == 1
        ours = [t for t, name in _zmq_io_threads().items() if name == f"{tag}/ZMQbg/IO/0"]
        assert len(ours) == 1 and policy_of(ours[0]) == "SCHED_FIFO"
        assert realtime_zmq_io_threads(0, [ctx]) == 0
    finally:
        s.close(0)
        ctx.term()


def test_zmq_io_threads_of_other_contexts_are_left_alone():
    """Another context's I/O thread (a library's, or one waiting for the garbage collector) is
    neither raised nor taken for the caller's: the caller's are found by their context's tag. The
    other contexts' threads are named before the caller's start (the case where the first named
    I/O thread is not the caller's)."""
    if not _fifo_allowed():
        pytest.skip("SCHED_FIFO is not allowed here (not root, ulimit -r 0)")
    other, untagged = tagged_zmq_context(), zmq.Context()
    socks = [other.socket(zmq.PUSH), untagged.socket(zmq.PUSH)]
    ctxs = [tagged_zmq_context() for _ in range(3)]
    try:
        # an untagged context's I/O thread has the plain libzmq name, as every untagged one's
        earlier = {f"{other.get(zmq.THREAD_NAME_PREFIX)}/ZMQbg/IO/0", "ZMQbg/IO/0"}
        t_end = time.monotonic() + 5.0
        while not earlier <= set(_zmq_io_threads().values()) and time.monotonic() < t_end:
            time.sleep(0.005)
        assert earlier <= set(_zmq_io_threads().values())
        socks += [c.socket(zmq.PUSH) for c in ctxs]
        tags = {c.get(zmq.THREAD_NAME_PREFIX) for c in [other, *ctxs]}
        assert len(tags) == 4 and 0 not in tags
        assert realtime_zmq_io_threads(4, ctxs) == 3
        by_name = {name: t for t, name in _zmq_io_threads().items()}
        for c in ctxs:
            assert policy_of(by_name[f"{c.get(zmq.THREAD_NAME_PREFIX)}/ZMQbg/IO/0"]) == "SCHED_FIFO"
        assert policy_of(by_name[f"{other.get(zmq.THREAD_NAME_PREFIX)}/ZMQbg/IO/0"]) == "SCHED_OTHER"
        assert policy_of(by_name["ZMQbg/IO/0"]) == "SCHED_OTHER"
    finally:
        for s in socks:
            s.close(0)
        for c in [other, untagged, *ctxs]:
            c.term()


def test_io_thread_names_follow_libzmq():
    assert _io_thread_name(0, 0) == "ZMQbg/IO/0"
    assert _io_thread_name(17, 1) == "17/ZMQbg/IO/1"
    assert _io_thread_name(999, 12) == "999/ZMQbg/IO/12"[:15]
    for tag in (1, 999):   # the tags tagged_zmq_context gives keep the whole I/O thread name
        assert len(_io_thread_name(tag, 0)) <= 15


def test_name_os_thread_is_what_top_shows():
    got = _in_thread(lambda: name_os_thread("a-very-long-thread-name"))
    assert got["comm"] == "a-very-long-thr"   # the kernel keeps 15 bytes


def _markers(i, fs_hz=30.0, t0_s=None):
    x = np.array([[np.sin(i / fs_hz * 2)], [np.cos(i / fs_hz)], [0.0]], np.float32)
    return signal("couch1/markers", i, x, modality="motion", fs_hz=fs_hz, channels=["x", "y", "z"], t0_s=t0_s)


def test_the_runtime_forecasts_on_its_event_loop_at_the_configured_priority():
    rt = Runtime(config(rt_priority=3, rt_cpu=-2)).start()
    ctx = zmq.Context()
    try:
        sub = sub_socket(ctx, rt.bound.output, b"fcst/")
        push = push_socket(ctx, rt.bound.ingest)
        time.sleep(0.3)
        loop_tid = rt._thread.native_id
        with open(f"/proc/self/task/{loop_tid}/comm") as f:
            assert f.read().strip() == "biosig-loop"
        if _fifo_allowed():
            assert rt.priority.startswith("SCHED_FIFO 3") and policy_of(loop_tid) == "SCHED_FIFO"
            assert os.sched_getaffinity(loop_tid) == {max(os.sched_getaffinity(0))}   # pinned (rt_cpu -2)
        else:
            assert rt.priority.startswith("normal")
        assert rt.status()["forecast_path_priority"] == rt.priority
        # every forecast is made on the loop thread: no thread of the runtime process is named
        # biosig-forecast any more, and the forecast header's queue part (receipt -> learning) is
        # the loop's own decode time
        assert not [t for t in threading.enumerate() if t.name == "biosig-forecast"]
        got = []
        for i in range(90):
            push.send_multipart(_markers(i))   # stamped now: never stale
            time.sleep(1 / 30)
            while sub.poll(0):
                got.append(protocol.decode(sub.recv_multipart()))
        end = time.monotonic() + 5
        while time.monotonic() < end and len(got) < 40:
            if sub.poll(100):
                got.append(protocol.decode(sub.recv_multipart()))
        assert len(got) >= 40, len(got)
        queue_ms = [f.header["latency_ms"]["queue"] for f in got]
        model_ms = [f.header["latency_ms"]["model"] for f in got]
        assert np.all(np.isfinite(queue_ms)) and np.all(np.array(queue_ms) >= 0)
        assert np.all(np.array(model_ms) >= 0)
    finally:
        ctx.destroy(linger=0)
        rt.stop()
    assert rt.error is None


def test_rt_priority_is_checked_like_every_other_setting():
    from streams.config_schema import validate
    from streams.errors import StreamError
    for bad in (-1, 100, 1.5, "high"):
        with pytest.raises(StreamError):
            validate(config(rt_priority=bad))


def test_the_forecast_path_cpu_is_one_this_process_may_use_and_fifo_threads_are_pinned_to_it():
    from streams.priority import forecast_cpu
    allowed = os.sched_getaffinity(0)
    assert forecast_cpu(-1) is None                          # the default: not pinned
    assert forecast_cpu(-2) == max(allowed)
    assert forecast_cpu(min(allowed)) == min(allowed)
    assert forecast_cpu(max(allowed) + 1000) is None        # not allowed here: no pinning
    cpu = forecast_cpu(-2)
    got = _in_thread(lambda: (realtime_thread(4, None, cpu), os.sched_getaffinity(0)))
    result, affinity = got["result"]
    if _fifo_allowed():
        assert result == f"SCHED_FIFO 4 on CPU {cpu}" and affinity == {cpu}
    else:   # an ordinary thread is never pinned: it could not move to an idle CPU
        assert result.startswith("normal") and affinity == allowed
    assert os.sched_getaffinity(0) == allowed                 # only that thread


def _qos_target_us() -> int:
    """The kernel's current CPU latency target (reading /dev/cpu_dma_latency gives it)."""
    with open("/dev/cpu_dma_latency", "rb") as f:
        return int.from_bytes(f.read(4), "little", signed=True)


def _qos_writable() -> bool:
    return os.path.exists("/dev/cpu_dma_latency") and os.access("/dev/cpu_dma_latency", os.W_OK)


def test_cpu_wakeup_latency_request_is_held_while_open_and_released_on_close():
    from streams.priority import CpuWakeupLatency
    if not _qos_writable():
        got = CpuWakeupLatency(0)
        assert not got.held and got.state.startswith("not held")   # says why, changes nothing
        pytest.skip("/dev/cpu_dma_latency is not writable here (not root): only the refusal was checked")
    before = _qos_target_us()
    with CpuWakeupLatency(0) as req:
        assert req.held and req.state.startswith("held at 0 us")
        assert _qos_target_us() == 0          # the kernel took the request
    assert req.state == "released"
    assert _qos_target_us() == before         # and dropped it with the file
    assert CpuWakeupLatency(-1).state == "not requested" and not CpuWakeupLatency(-1).held


def test_cpu_wakeup_latency_refusal_is_a_state_not_an_error(tmp_path):
    from streams.priority import CpuWakeupLatency
    req = CpuWakeupLatency(0, path=str(tmp_path / "no-such-device"))
    assert not req.held and req.state.startswith("not held") and "No such file" in req.state
    req.close()   # closing an unheld request is fine


def test_the_runtime_holds_the_wakeup_request_while_it_runs_and_reports_it():
    rt = Runtime(config(cpu_wakeup_latency_us=0)).start()
    try:
        state = rt.status()["cpu_wakeup_latency"]
        if _qos_writable():
            assert state.startswith("held at 0 us") and _qos_target_us() == 0
        else:
            assert state.startswith("not held")
    finally:
        rt.stop()
    if _qos_writable():
        assert rt.wakeup.state == "released"
    off = Runtime(config(cpu_wakeup_latency_us=-1)).start()
    try:
        assert off.status()["cpu_wakeup_latency"] == "not requested"
    finally:
        off.stop()


def _spawned_by(parent_setup, child_action=None):
    """Policy of a thread started by a thread that first ran ``parent_setup``, and of the parent;
    with ``child_action``, also the child's policy after it ran that and the child's OS name."""
    out = {}

    def child():
        tid = threading.get_native_id()
        out["child"] = policy_of(tid)
        if child_action is not None:
            child_action()
            out["child_after"] = policy_of(tid)
            with open(f"/proc/self/task/{tid}/comm") as f:
                out["comm"] = f.read().strip()

    def parent():
        parent_setup()
        out["parent"] = policy_of(threading.get_native_id())
        t = threading.Thread(target=child, name="biosig-bg-test")
        t.start()
        t.join(10)

    t = threading.Thread(target=parent)
    t.start()
    t.join(10)
    return out


def test_threads_a_realtime_thread_starts_begin_as_ordinary_threads():
    if not _fifo_allowed():
        pytest.skip("SCHED_FIFO is not allowed here (not root, ulimit -r 0)")
    from streams.priority import resets_on_fork
    got = _spawned_by(lambda: realtime_thread(6))
    assert got == {"parent": "SCHED_FIFO", "child": "SCHED_OTHER"}
    # the oracle: without the flag the kernel hands the policy down (what the runtime did before)
    plain = _spawned_by(lambda: os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(6)))
    assert plain == {"parent": "SCHED_FIFO", "child": "SCHED_FIFO"}
    flagged = _in_thread(lambda: (realtime_thread(6), resets_on_fork(threading.get_native_id()))[1])
    assert flagged["result"] is True and flagged["policy"] == "SCHED_FIFO"


def test_background_threads_drop_a_realtime_policy_they_inherited():
    if not _fifo_allowed():
        pytest.skip("SCHED_FIFO is not allowed here (not root, ulimit -r 0)")
    from streams.models import background_thread_priority
    # the parent: a real-time thread without SCHED_RESET_ON_FORK (another library's, say)
    got = _spawned_by(lambda: os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(6)), background_thread_priority)
    assert got == {"parent": "SCHED_FIFO", "child": "SCHED_FIFO", "child_after": "SCHED_OTHER",
                   "comm": "biosig-bg-test"}


_RECORDING_RUNTIME = r"""
import json, os, sys, time
import numpy as np
sys.path[:0] = sys.argv[2:]
from streams.priority import _zmq_io_threads, policy_of
from streams.publisher import Publisher
from test_streams_helpers import config, running, stream_status, wait_for
with running(config(record_dir=sys.argv[1], rotate_s=0.2, rt_priority=3)) as rt:
    pub = Publisher("bed01", rt.bound.ingest)
    out = pub.stream("resp", 25.0, ["RESP"])
    for i in range(12):
        out.send(np.full((1, 25), float(i), np.float32))
        time.sleep(0.05)
    import pathlib
    wait_for(lambda: len(list(pathlib.Path(sys.argv[1]).glob("inputs-*.parquet"))) >= 2, what="Parquet files")
    fifo = {}
    for tid in map(int, os.listdir("/proc/self/task")):
        try:
            if policy_of(tid) == "SCHED_FIFO":
                fifo[tid] = open(f"/proc/self/task/{tid}/comm").read().strip()
        except OSError:
            pass
    allowed = {rt._thread.native_id, *_zmq_io_threads()}
    print(json.dumps({"loop": policy_of(rt._thread.native_id),
                      "zmq_io_fifo": sum(policy_of(t) == "SCHED_FIFO" for t in _zmq_io_threads()) >= 1,
                      "other_fifo": sorted(n for t, n in fifo.items() if t not in allowed)}))
    pub.close()
"""


def test_only_the_loop_and_zmq_threads_of_a_recording_runtime_run_at_realtime_priority(tmp_path):
    """In a fresh process (polars' thread pools are per process and start with the first write):
    the recorder's writer and the threads polars writes Parquet with are ordinary threads, though
    the event loop, a SCHED_FIFO thread, starts them."""
    if not _fifo_allowed():
        pytest.skip("SCHED_FIFO is not allowed here (not root, ulimit -r 0)")
    import json
    import pathlib
    import subprocess
    import sys
    here = pathlib.Path(__file__).parent
    r = subprocess.run([sys.executable, "-c", _RECORDING_RUNTIME, str(tmp_path / "rec"), str(here),
                        str(here.parent)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    # (the runtime's ZeroMQ I/O thread is raised; the test client's context here is not)
    assert got == {"loop": "SCHED_FIFO", "zmq_io_fifo": True, "other_fifo": []}

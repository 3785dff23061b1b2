"""Nothing loads on the streaming path after start-up, recording included (house rule; streams/runtime.py).

A real runtime with recording on (``record_dir``, a short ``rotate_s``, ``record_keep_s`` with an old recording
file to remove) runs in a fresh interpreter: this test process has imported pytest, polars and more, which would
hide a lazy import. Once it serves, the interpreter records ``set(sys.modules)``; this process then sends signal
frames over real ZeroMQ sockets until the recorder has written its first input and output files and rotated to the
next ones (and removed the old file); the runtime must have imported no module since it began serving.

Found so (2026-12-07): the first write imported ``polars._utils.parquet`` (~3 ms) on the writer thread, with the
GIL held; :class:`streams.recorder.Recorder` now writes a small file at start-up on that thread.
"""
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np
import zmq

from streams.recorder import recording_files
from test_streams_helpers import checked_stop, never_left_running, push_socket, signal

TESTS = pathlib.Path(__file__).resolve().parent

DRIVER = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from test_streams_helpers import config, running

with running(config(record_dir=sys.argv[2], rotate_s=0.2, record_keep_s=3600.0)) as rt:
    modules = set(sys.modules)
    print(json.dumps({"bound": list(rt.bound.all())}), flush=True)
    sys.stdin.readline()   # the test has seen the files written and rotated
    print(json.dumps({"modules": sorted(set(sys.modules) - modules), "recorder": rt.recorder.rows_written}),
          flush=True)
"""


def test_recording_loads_nothing_after_start_up(tmp_path):
    record = tmp_path / "rec"
    record.mkdir()
    old = record / "inputs-000001.parquet"   # an earlier run's file, older than record_keep_s: removed
    old.write_bytes(b"")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(TESTS), str(record)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=TESTS.parent)
    ctx = zmq.Context()
    try:
        line = proc.stdout.readline()
        assert line, f"the runtime did not start (exit {proc.wait(60)})"
        ingest = json.loads(line)["bound"][0]
        push = push_socket(ctx, ingest)
        rng = np.random.default_rng(0)
        end, seq = time.monotonic() + 6.0, 0

        def written():   # (part, path) of the files this run wrote, once it has rotated at least once
            files = [(part, p.name) for part, p in recording_files(record) if part > 1]
            parts = {part for part, name in files if name.startswith("outputs")}
            return files if len(parts) >= 2 and not old.exists() else None

        t0 = time.time() - 2.0
        while not written() and time.monotonic() < end:
            # 2 s of respiration a frame: a window (2 s, hop 1 s) and an output with each
            push.send_multipart(signal("bed1/resp", seq, rng.normal(size=(1, 50)), t0_s=t0 + 2.0 * seq))
            seq += 1
            time.sleep(0.05)
        files = written()
        found = checked_stop(proc)
    finally:
        ctx.destroy(linger=0)
        never_left_running(proc)   # (a failure above)
    assert files, f"no rotation seen: {sorted(p.name for p in record.iterdir())}"
    assert found["recorder"]["lost_batches"] == 0 and found["recorder"]["removed_files"] == 1, found
    assert found["modules"] == [], found

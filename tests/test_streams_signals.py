"""`biosig monitor` and `biosig replay` stop within a second of SIGINT/SIGTERM (issue 16, item 4),
also when no runtime listens and every send blocks: real subprocesses, real signals, timing bound
STOP_BOUND_S (the target is 1 s; the slack is for a loaded CI machine). What the bound catches is a
stop that waits for something (sends blocked for ever, the ward's records still being made): on this
machine each stop takes 0.02-0.03 s (monitor, SIGINT 0.5-4 s after its start, 12 runs, empty caches);
one fresh-clone CI run at 1736dfd took 3.47 s once in the set-up case (3 s was the bound then)."""
import math
import subprocess
import sys
import time

import numpy as np

from test_streams_helpers import free_port

STOP_BOUND_S = 5.0

BIOSIG = [sys.executable, "-c", "import sys; from biosig.cli import main; sys.exit(main(sys.argv[1:]))"]


def _start(args):
    env = dict(__import__("os").environ, OMP_NUM_THREADS="1")
    return subprocess.Popen(BIOSIG + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)


def _stop_time_s(p, sig) -> float:
    t = time.monotonic()
    p.send_signal(sig)
    try:
        p.wait(30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return math.inf
    return time.monotonic() - t


def _expected_code(err: str) -> int:
    """A stop by signal exits 0, or 1 when frames were dropped and none reached a runtime."""
    import re
    m = re.search(r"sent (\d+) frames .*dropped (\d+)", err)
    return 1 if m and int(m.group(1)) == 0 and int(m.group(2)) > 0 else 0


def test_monitor_stops_on_signal_with_no_runtime_even_when_sends_block():
    """No runtime listens: with 1 ms frames the send queue (10,000 frames) fills within seconds
    and then every send blocks for 1 s before it drops (the hang of issue 16, 80-106 s); SIGINT
    still stops the process at once. ``dropped > 0`` in the summary shows sends were blocking."""
    import re
    import signal as signals
    p = _start(["monitor", "--simulate", "1", "--couches", "0", "--streams", "resp,audio", "--frame-s", "0.001",
                "--ingest", f"tcp://127.0.0.1:{free_port()}"])
    try:
        assert "publishing" in p.stderr.readline()
        time.sleep(12.0)
        elapsed = _stop_time_s(p, signals.SIGINT)
        err = p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
    assert elapsed < STOP_BOUND_S, (elapsed, err[-1000:])    # the issue asks 1 s: slack for a loaded CI box
    assert int(re.search(r"dropped (\d+)", err).group(1)) > 0, err[-1000:]
    assert p.returncode == 1 == _expected_code(err), err[-1000:]   # nothing delivered
    assert "stopped by signal" in err and "Traceback" not in err, err[-1000:]


def test_monitor_stops_on_sigterm_while_publishing():
    import signal as signals
    p = _start(["monitor", "--simulate", "1", "--couches", "1", "--streams", "resp",
                "--ingest", f"tcp://127.0.0.1:{free_port()}"])
    try:
        assert "publishing" in p.stderr.readline()
        time.sleep(1.0)
        elapsed = _stop_time_s(p, signals.SIGTERM)
        err = p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
    assert elapsed < STOP_BOUND_S, (elapsed, err[-1000:])
    assert p.returncode == _expected_code(err) and "stopped by signal" in err and "Traceback" not in err, err[-1000:]


def test_monitor_stops_on_signal_during_set_up():
    import signal as signals
    p = _start(["monitor", "--simulate", "4", "--ingest", f"tcp://127.0.0.1:{free_port()}"])
    try:
        time.sleep(2.0)                                  # imports done or simulated records being made
        elapsed = _stop_time_s(p, signals.SIGINT)
        err = p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
    assert elapsed < STOP_BOUND_S, (elapsed, err[-1000:])
    assert p.returncode in (0, 130) and "Traceback" not in err, err[-1000:]


def test_replay_stops_on_sigterm(tmp_path):
    import signal as signals
    fs = 100.0
    t = np.arange(int(600 * fs)) / fs
    csv = tmp_path / "long.csv"
    csv.write_text("t_s,resp\n" + "\n".join(f"{a:.2f},{b:.4f}" for a, b in zip(t, np.sin(t))))
    p = _start(["replay", str(csv), "--ingest", f"tcp://127.0.0.1:{free_port()}"])
    try:
        assert "publishing" in p.stderr.readline()
        time.sleep(1.0)
        elapsed = _stop_time_s(p, signals.SIGTERM)
        err = p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
    assert elapsed < STOP_BOUND_S, (elapsed, err[-1000:])
    assert p.returncode == _expected_code(err) and "stopped by signal" in err, err[-1000:]

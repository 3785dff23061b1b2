"""The overload signal of the status body (``status["overload"]``) and the OVERLOADED line of
``biosig status``: a runtime pushed past its encoder (a real ecg-tiny on long windows, real sockets on
loopback) or past its score thread (real measures of 500 windows a second) says it in words and names
the queue; one that keeps up does not. 40 simulated beds on 2 cores (embedding p99 3-5 s, encoder
queue 299 -> 609 and growing) answered `biosig status` with nothing saying overloaded; so did 50 beds
whose score queue grew 0 -> 1,554 windows in 12 s (the signal watched the encoder lanes only)."""
import contextlib
import threading
import time

import numpy as np
import pytest
import zmq

from biosig.cli import main
from streams.runtime import Runtime
from streams.status_overload import OverloadWatch, overload_text
from test_streams_helpers import config, push_socket, signal, wait_for

WATCH_S = 2.0   # the overload span of these runtimes (the default is 10 s)


class Ward(threading.Thread):
    """``n`` ECG streams pushed in real time: first ``history_s`` of signal at once (a full window),
    then a 0.1 s frame per stream every 0.1 s until stopped."""

    def __init__(self, endpoint, n, history_s, fs_hz=500.0, ecg: np.ndarray | None = None):
        super().__init__(daemon=True)
        self.endpoint, self.n, self.history_s, self.fs_hz, self.ecg = endpoint, n, history_s, fs_hz, ecg
        self.halt = threading.Event()

    def run(self):
        ctx = zmq.Context()
        try:
            push = push_socket(ctx, self.endpoint)
            rng = np.random.default_rng(0)
            t0 = time.time()
            n_first, n_frame = int(self.history_s * self.fs_hz), int(0.1 * self.fs_hz)
            trace = None if self.ecg is not None else rng.normal(size=(1, n_first + n_frame)).astype(np.float32)
            for b in range(self.n):
                first = trace[:, :n_first] if self.ecg is None else self._ecg_at(b, 0, n_first)
                push.send_multipart(signal(f"bed{b:02d}/ecg", 0, first, fs_hz=self.fs_hz, modality="ecg",
                                           t0_s=t0 - self.history_s))
            k = 0
            while not self.halt.is_set():
                for b in range(self.n):
                    x = (trace[:, n_first:] if self.ecg is None else self._ecg_at(b, n_first + k * n_frame, n_frame))
                    push.send_multipart(signal(f"bed{b:02d}/ecg", k + 1, x, fs_hz=self.fs_hz, modality="ecg",
                                               t0_s=t0 + 0.1 * k))
                k += 1
                self.halt.wait(max(0.0, t0 + 0.1 * k - time.time()))
            push.close()
        finally:
            ctx.destroy(linger=0)

    def _ecg_at(self, bed: int, start: int, n: int) -> np.ndarray:
        """``n`` samples of the ECG trace from ``start``, bed ``bed`` 0.777 s further on (repeated):
        every bed's windows differ, so no bed's beats are another's (what the score thread keeps
        of a window it has seen serves no other)."""
        offset = int(0.777 * self.fs_hz) * bed
        return np.take(self.ecg, np.arange(offset + start, offset + start + n), axis=1, mode="wrap")


def _status_cli(rt, capsys) -> str:
    capsys.readouterr()
    assert main(["status", "--status", rt.bound.status]) == 0
    return capsys.readouterr().out


@contextlib.contextmanager
def _ward_runtime(window_s, hop_s, n, model="ecg-tiny", ecg=None):
    """A runtime (``model`` on ECG, one window per batch; None: no encoder) fed by a :class:`Ward`
    of ``n`` streams (of white noise; ``ecg``: that (1, T) trace at 500 Hz, repeated)."""
    if model:
        pytest.importorskip("encoders")
        cfg = config(models={"ecg": model}, backend="torch", windows={"ecg": (window_s, hop_s)},
                     max_batch=1, max_delay_s=0.0)
    else:
        cfg = config(models={}, windows={"ecg": (window_s, hop_s)})
    rt = Runtime(cfg, overload_window_s=WATCH_S).start()
    ward = Ward(rt.bound.ingest, n, window_s, ecg=ecg)
    ward.start()
    try:
        yield rt
    finally:
        ward.halt.set()
        ward.join(10)
        rt.stop()
        assert rt.error is None, rt.error


def test_a_runtime_behind_its_encoder_says_overloaded(capsys):
    """6 streams of 300 s ECG windows every 0.1 s (60 windows a second, one per batch): ecg-tiny
    embeds ~10 a second on the 2-core test machine, so the queue grows and never empties."""
    with _ward_runtime(300.0, 0.1, 6) as rt:
        o = wait_for(lambda: (s := rt.status()["overload"])["overloaded"] and s, timeout_s=60,
                     what="the overload signal")
        lane = o["queues"]["encoder/ecg"]   # ECG has an encoder lane of its own (own_worker_modalities)
        assert lane["overloaded"] and lane["growth"] > 0 and lane["least_pending"] > 0
        assert "encoder/ecg" in o["behind"] and o["watched_s"] >= WATCH_S and "never empty" in o["reason"]
        out = _status_cli(rt, capsys)
        assert out.startswith("OVERLOADED: encoder/ecg") and "the encoders do not keep up" in out.splitlines()[0], out
        print("overloaded:", o["reason"])


def test_a_runtime_that_keeps_up_never_says_overloaded(capsys):
    """2 streams of 2 s windows every 1 s: the queue empties after every window."""
    with _ward_runtime(2.0, 1.0, 2) as rt:
        verdicts, give_up = 0, time.monotonic() + 60   # a bound on a hung runtime, not a timing
        while verdicts < 20:                           # 20 verdicts 0.1 s apart, every one "keeping up"
            o = rt.status()["overload"]
            assert o["overloaded"] is not True, o
            verdicts += o["overloaded"] is False
            assert time.monotonic() < give_up, f"no verdict within 60 s: {o}"
            time.sleep(0.1)
        assert rt.status()["totals"]["outputs"] > 0          # the encoder did run
        assert {"encoder", "encoder/ecg", "scores"} <= set(o["queues"]) and o["behind"] == []
        assert "OVERLOADED" not in _status_cli(rt, capsys)


def test_a_runtime_whose_score_thread_falls_behind_says_overloaded_scores(capsys):
    """50 streams of 10 s ECG windows every 0.1 s, no encoder: 500 windows a second reach the score
    thread (beat detection and measures, ~3.5 ms a window on one thread: ~280 a second here), which
    cannot keep up while the encoder lane (quality only) does. Before, the score queue grew and the
    status said nothing. Every bed sends its own stretch of a simulated ECG: with one frame of white
    noise for all of them (as before session 68) the score thread found each window's beats among
    those it had just found for another bed and kept up with 500 a second, and the signal came
    late or not at all (85 s of a 90 s bound, then a time-out, on a loaded machine)."""
    from biosig.synthetic import simulate
    ecg = simulate("ecg", 60, seed=5, rhythm="sinus", fs_hz=500.0).samples[:1].astype(np.float32)
    with _ward_runtime(10.0, 0.1, 50, model=None, ecg=ecg) as rt:
        o = wait_for(lambda: (s := rt.status()["overload"])["overloaded"] and "scores" in s["behind"] and s,
                     timeout_s=90, what="the overload signal naming the score queue")
        q = o["queues"]["scores"]
        assert q["overloaded"] or o["dropped"]["scores"] > 0, o
        assert "scores:" in o["reason"]
        out = _status_cli(rt, capsys)
        assert out.startswith("OVERLOADED: scores") or out.startswith("OVERLOADED: encoder/ecg, scores"), out
        assert "score thread" in out.splitlines()[0]
        print("overloaded:", o["reason"])


def test_a_runtime_without_encoder_that_keeps_up_never_says_overloaded(capsys):
    """3 streams of 2 s ECG windows every 1 s, no encoder: the score queue empties after every window."""
    with _ward_runtime(2.0, 1.0, 3, model=None) as rt:
        verdicts, give_up = 0, time.monotonic() + 60   # a bound on a hung runtime, not a timing
        while verdicts < 20:
            o = rt.status()["overload"]
            assert o["overloaded"] is not True, o
            verdicts += o["overloaded"] is False
            assert time.monotonic() < give_up, f"no verdict within 60 s: {o}"
            time.sleep(0.1)
        assert "scores" in o["queues"] and not o["queues"]["scores"]["overloaded"]
        assert wait_for(lambda: rt.score_worker.published > 0, what="a score frame")
        assert "OVERLOADED" not in _status_cli(rt, capsys)


def _feed(watch, series, dt=0.25, dropped=None):
    """Feed ``series`` (windows waiting at each loop pass, one lane), ``dt`` seconds apart."""
    drops = dropped or [0] * len(series)
    for i, (n, d) in enumerate(zip(series, drops)):
        watch.observe(i * dt, {"encoder": n}, lambda d=d: {"encoder": d})
    return watch.state()


def test_the_definition_on_known_queue_histories():
    """Growing and never empty: overloaded. Catching up (never empty, shrinking), or growing at the
    samples while it empties in between (bursts the encoder clears): not. A drop: overloaded. Too
    short a history: not judged (None)."""
    grow = list(range(5, 30))                      # 25 passes 0.25 s apart: 6 s
    assert _feed(OverloadWatch(2.0), grow)["overloaded"] is True
    assert _feed(OverloadWatch(2.0), grow[::-1])["overloaded"] is False
    bursty = [v for k in range(13) for v in (k, 0)]   # empties between samples that grow
    assert _feed(OverloadWatch(2.0, sample_s=0.5), bursty)["overloaded"] is False
    assert _feed(OverloadWatch(2.0), [0] * 25, dropped=[0] * 20 + [3] * 5)["overloaded"] is True
    assert _feed(OverloadWatch(10.0), grow)["overloaded"] is None
    assert overload_text({"overload": _feed(OverloadWatch(2.0), [0] * 25)}) is None


def test_the_verdict_names_the_queue_at_fault():
    """Two queues watched at once: only the one growing and never empty is named; a drop names its
    queue; the OVERLOADED line starts with the names."""
    watch = OverloadWatch(2.0)
    for i in range(25):   # the encoder empties every pass, the score queue grows and never empties
        watch.observe(i * 0.25, {"encoder": 0, "scores": 5 + 10 * i}, lambda: {"encoder": 0, "scores": 0})
    o = watch.state()
    assert o["overloaded"] is True and o["behind"] == ["scores"]
    assert o["queues"]["encoder"]["overloaded"] is False and o["queues"]["scores"]["growth"] > 0
    assert overload_text({"overload": o}).startswith("OVERLOADED: scores: the score thread")
    watch = OverloadWatch(2.0)
    for i in range(25):   # both keep up, but score frames were dropped for a full queue
        watch.observe(i * 0.25, {"encoder": 0, "scores": 0}, lambda i=i: {"encoder": 0, "scores": 3 * (i > 20)})
    o = watch.state()
    assert o["overloaded"] is True and o["behind"] == ["scores"] and o["dropped"] == {"encoder": 0, "scores": 3}

"""Review of 2486457..697cddb (2026-12-07): ``interruptible``'s re-delivered Ctrl-C, ``_warm_largest_batch``'s batch,
``_fit_blocks`` / ``load_state_dict`` with a malformed ``_pg_hold``."""
import logging
import signal
import sys
import threading
import time
import weakref

import numpy as np
import pytest

from biosig.cli._stream_checks import interruptible
from encoders.backend_base import Backend
from encoders.errors import EncoderError
from realtime.errors import ForecastError
from streams.models import HostedModel
from streams.startup import WARM_BATCH_MAX, _warm_largest_batch
from test_forecast_baseline72 import _forecaster, _run, _series


class _Thing:
    pass


def _drop_in_callback(signum):
    """The installed handler run inside a weakref callback: CPython drops its _Interrupted (the hook sees it). No
    gc.collect(): the callback runs at ``del`` (no cycle), and the caller goes on at once (a collection of pytest's
    objects took over the re-delivery's 10 ms, and the signal came back before the caller's next step)."""
    handler = signal.getsignal(signum)
    obj = _Thing()
    ref = weakref.ref(obj, lambda r: handler(signum, None))
    del obj
    assert ref() is None


@pytest.fixture
def handlers():
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for s, h in old.items():
        signal.signal(s, h)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_dropped_signal_ends_a_blocking_call_in_the_block(handlers, signum):
    """_thread.interrupt_main only flagged the handler: a main thread blocked in a call (a send waiting for a
    runtime, here a sleep) ran on until it returned (the whole 2 s)."""
    stop, reached = threading.Event(), []
    t0 = time.monotonic()
    with interruptible(stop):
        _drop_in_callback(signum)
        time.sleep(2.0)
        reached.append("ran on")
    took = time.monotonic() - t0
    assert not reached and stop.is_set() and took < 1.0, took


def test_a_dropped_signal_is_not_raised_in_the_next_block(handlers):
    """The first block ended (it saw ``stop``) before the re-delivery: it was raised in the next block, whose own
    ``stop`` was never set by any signal."""
    first, second, reached = threading.Event(), threading.Event(), []
    with interruptible(first):
        _drop_in_callback(signal.SIGINT)
    with interruptible(second):
        t_end = time.monotonic() + 0.3
        while time.monotonic() < t_end:
            time.sleep(0.002)
        reached.append("end")
    assert first.is_set() and reached == ["end"] and not second.is_set()


class _Recording(Backend):
    """A backend that returns zeros and records each batch; ``limit``: a larger batch is refused (an engine built
    with a smaller ``biosig compile --max-batch``)."""
    name = "recording"

    def __init__(self, limit=None):
        self.batches, self.limit = [], limit

    def _run(self, x, channel_idx):
        if self.limit is not None and x.shape[0] > self.limit:
            raise EncoderError(f"input shape {x.shape} is outside the engine's optimisation profile")
        self.batches.append(x.shape[0])
        return np.zeros((x.shape[0], 4), np.float32)


def _hosted(backend):
    return HostedModel("rec", "rec", "ecg", 100.0, 1, None, backend, False)


def test_the_warm_up_batch_is_bounded():
    """max_batch 4096 (accepted by the config) ran 4096 windows at start: 11 s and 3.7 GB more peak memory per model."""
    be = _Recording()
    x = np.zeros((2, 1, 50), np.float32)
    _warm_largest_batch(_hosted(be), 4096, x)
    assert be.batches == [WARM_BATCH_MAX]
    be.batches.clear()
    _warm_largest_batch(_hosted(be), 32, x)
    assert be.batches == [32]


def test_an_engine_refusing_the_warm_up_batch_only_warns(caplog):
    be = _Recording(limit=8)
    with caplog.at_level(logging.WARNING, logger="streams.startup"):
        _warm_largest_batch(_hosted(be), 32, np.zeros((2, 1, 50), np.float32))
    assert be.batches == [] and "a batch of 32 windows" in caplog.text


@pytest.mark.parametrize("hold", [5.0, np.array(5), -1, 10 ** 30])
@pytest.mark.parametrize("extra_rows", [0, 2])
def test_a_malformed_pg_hold_is_refused_or_fitted(hold, extra_rows):
    """A _pg_hold outside 0..blocks loaded as it was (10**30: no forecast after a restart published again); with
    another number of blocks, 5.0 or array(5) were not clamped (only Python/NumPy ints were)."""
    f = _forecaster("lms", 1)
    _run(f, _series()[:300], 1)
    n = len(f._pg_rec)
    state = f.state_dict()
    state["_pg_rec"] = np.vstack([f._pg_rec, np.ones((extra_rows, 3))])
    state["_pg_hold"] = hold
    g = _forecaster("lms", 1)
    before = g.state_dict()
    if extra_rows and hold >= 0:   # a checkpoint with more blocks: its count fitted to this learner's
        g.load_state_dict(state)
        assert g._pg_hold == n and g.restart_horizons_held == n
    else:
        with pytest.raises(ForecastError, match="_pg_hold"):
            g.load_state_dict(state)
        assert g._pg_hold == before["_pg_hold"]


def test_nested_the_enclosing_block_is_interrupted_after_the_inner_one(handlers):
    """The inner block left the handlers on its own ``stop``: a Ctrl-C in the enclosing block after it stopped
    neither."""
    outer, inner, reached = threading.Event(), threading.Event(), []
    with interruptible(outer):
        with interruptible(inner):
            pass
        signal.raise_signal(signal.SIGINT)
        time.sleep(1.0)
        reached.append("ran on")
    assert not reached and outer.is_set() and inner.is_set()
    signal.raise_signal(signal.SIGINT)   # after both: only sets the events (clean-up is not interrupted)

"""Start-up limits of the streaming forecaster: a configuration whose state is too large is refused
before it is driven (rls with lookback_s 60 at 30 Hz: 223 MiB, 40 s of warm-up), one whose step is
too slow for the event loop is named in a warning. Real forecasters, real kernels."""
import logging
import time

import pytest

import streams.forecast as sf
from streams.config import ForecasterConfig
from streams.errors import StreamError


def test_a_forecaster_state_over_the_limit_is_refused_at_once():
    t = time.perf_counter()
    with pytest.raises(StreamError, match=r"rls holds 2\d\d MiB of state for 3 coordinates .* shorten lookback_s"):
        sf.warm_up(ForecasterConfig(method="rls", lookback_s=60.0))
    assert time.perf_counter() - t < 20.0          # refused before the 40 s drive (generous: a loaded machine)


def test_the_shipped_default_warms_up_without_a_word(caplog):
    with caplog.at_level(logging.WARNING, logger="streams.forecast"):
        assert sf.warm_up(ForecasterConfig()) > 0
    assert not [r for r in caplog.records if "to learn and forecast" in r.getMessage()]


def test_a_step_over_the_budget_is_named_in_a_warning(monkeypatch, caplog):
    monkeypatch.setattr(sf, "STEP_BUDGET_S", 0.0)   # every real step is over a zero budget
    with caplog.at_level(logging.WARNING, logger="streams.forecast"):
        sf.warm_up(ForecasterConfig(method="rls", lookback_s=1.2))
    msg = " ".join(r.getMessage() for r in caplog.records)
    assert "forecaster rls took at least" in msg and "fall behind" in msg

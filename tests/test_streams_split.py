"""streams/runtime.py and streams/forecast.py split along their seams (status body ->
streams.runtime_status, checkpoints -> streams.forecast_checkpoint): every name stays importable
where it was, the checkpoint messages keep the ``streams.forecast`` logger, a real checkpoint
round-trips through real files, and both modules stay under the house limit."""
import logging
import pathlib

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("module, names", [
    ("streams.forecast", ["STATES", "LEARN_RATE", "LEARN_BURST_S", "STEP_BUDGET_S", "MAX_STATE_BYTES",
                          "SourceForecaster", "build_forecaster", "frame_budget", "frozen_steps",
                          "lookback_steps", "source_of", "warm_up", "write_checkpoint"]),
    ("streams.runtime", ["Runtime", "freeze_start_up_heap", "AUTH_WARN_EVERY_S", "DRAIN_S"]),
])
def test_every_public_name_is_still_importable_where_it_was(module, names):
    import importlib
    mod = importlib.import_module(module)
    assert [n for n in names if not hasattr(mod, n)] == []


def test_the_runtime_and_the_forecaster_keep_their_methods():
    from streams.forecast import SourceForecaster
    from streams.runtime import Runtime
    assert all(callable(getattr(Runtime, n)) for n in ("status", "_status_header", "_queue_lengths", "_drops"))
    assert all(callable(getattr(SourceForecaster, n)) for n in ("snapshot", "save", "try_restore"))


def _fed(cfg, n=120):
    from streams.forecast import SourceForecaster
    sf = SourceForecaster("couch1/markers", ["x", "y", "z"], 30.0, cfg)
    t0 = 1000.0
    for i in range(n):
        x = np.sin(np.arange(3)[:, None] + i / 15)
        sf.on_frame(x, t0 + i / 30, t0 + i / 30)
    return sf


def test_a_checkpoint_round_trips_through_a_real_file(tmp_path):
    from streams.config import ForecasterConfig
    from streams.forecast import SourceForecaster, write_checkpoint
    cfg = ForecasterConfig(method="lms", lookback=8, horizon_steps=3, warmup_s=1.0)
    sf = _fed(cfg)
    source, meta, arrays = sf.snapshot()
    assert source == "couch1" and meta["last_t_s"] == sf.last_t_s
    write_checkpoint(tmp_path, source, meta, arrays)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["couch1.npz"]   # no temporary file left
    back = SourceForecaster("couch1/markers", ["x", "y", "z"], 30.0, cfg)
    assert back.try_restore(tmp_path) and back.resumed and back.last_t_s == sf.last_t_s
    before, after = sf.forecaster.state_dict(), back.forecaster.state_dict()
    assert after.keys() == before.keys()
    for k, v in before.items():
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(after[k], v)
        else:
            assert after[k] == v, k


def test_checkpoint_messages_keep_the_streams_forecast_logger(tmp_path, caplog):
    from streams.config import ForecasterConfig
    from streams.forecast import SourceForecaster
    cfg = ForecasterConfig(method="lms", lookback=8, horizon_steps=3, warmup_s=1.0)
    _fed(cfg).save(tmp_path)
    other = SourceForecaster("couch1/markers", ["a", "b", "c"], 30.0, cfg)     # other channels
    (tmp_path / "couch2.npz").write_bytes(b"not a checkpoint")                 # a corrupt file
    corrupt = SourceForecaster("couch2/markers", ["x", "y", "z"], 30.0, cfg)
    with caplog.at_level(logging.WARNING, logger="streams.forecast"):
        assert not other.try_restore(tmp_path) and not other.resumed
        assert not corrupt.try_restore(tmp_path)
    told = [r.getMessage() for r in caplog.records if r.name == "streams.forecast"]
    assert any("afresh" in m and "couch1" in m for m in told)
    assert any("cannot restore" in m and "couch2" in m for m in told)


@pytest.mark.parametrize("path", ["streams/runtime.py", "streams/forecast.py"])
def test_the_split_modules_stay_under_the_house_limit(path):
    assert len((ROOT / path).read_text().splitlines()) <= 380

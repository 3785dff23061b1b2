"""A runtime restarted from its forecaster checkpoint while the marker source now sends another layout
(channel count, names, order, rate) or the configuration changed (horizon, method), or the checkpoint is
cut short or lacks fields: never resumed from weights that do not fit, refused with one warning saying
why and what to do and a ``checkpoint_refused`` status entry, the file kept as ``.refused``, and the
source forecasts from a fresh learner (real ForecastWorker objects over a real state folder)."""
import json
import logging
import time

import numpy as np
import pytest

from streams.config import ForecasterConfig
from streams.forecast import SourceForecaster
from streams.forecast_worker import ForecastWorker

SRC, STREAM, XYZ = "couch1", "couch1/markers", ["x", "y", "z"]


class _Stats:
    holds = forecasts = 0

    class output_ms:   # noqa: N801 - the runtime's latency histogram, add() only
        @staticmethod
        def add(_):
            pass


def _cfg(**over):
    return ForecasterConfig(**{"method": "lms", "horizon_steps": 3, "lookback": 5, "warmup_s": 1.0,
                               "recover_steps": 3, "stale_s": 30.0, "max_input_age_s": 0.5, **over})


def _signal(t, n):
    return np.array([(k + 1) * 10 * np.sin(2 * np.pi * 0.25 * t + k) + 100 * k for k in range(n)])


def _frames(channels, fs_hz, n):
    """n one-sample frames ending now (the last ones fresh enough to be forecast)."""
    t_end = time.time()
    ts = [t_end - (n - 1 - i) / fs_hz for i in range(n)]
    return [(t, _signal(t, len(channels))[:, None].astype(np.float32)) for t in ts]


def _run(state, cfg, channels, fs_hz, frames):
    sent = []
    w = ForecastWorker(cfg, lambda topic, header, array=None: sent.append(header), state_dir=state,
                       checkpoint_every_s=1e9)
    for t, x in frames:
        w.submit(_Stats(), STREAM, channels, fs_hz, t, x, time.time())
    status = w.describe()
    sf = w.forecasters.get(SRC)
    w.stop()
    return status, sent, sf


def _checkpointed(tmp_path):
    _run(tmp_path, _cfg(), XYZ, 10.0, _frames(XYZ, 10.0, 120))
    path = tmp_path / "forecasters" / f"{SRC}.npz"
    assert path.exists()
    return path


def _fresh_state(cfg, channels, fs_hz, frames):
    """The oracle: a forecaster that never saw a checkpoint, fed the same frames."""
    sf = SourceForecaster(STREAM, channels, fs_hz, cfg)
    for t, x in frames:
        sf.on_frame(x.astype(np.float64), t, time.time())
    return sf.forecaster.state_dict()


@pytest.mark.parametrize("change", ["count", "names", "order", "rate", "horizon", "method"])
def test_a_checkpoint_that_does_not_fit_is_refused_named_and_kept(tmp_path, caplog, change):
    path = _checkpointed(tmp_path)
    channels = {"count": ["x", "y"], "names": ["a", "b", "c"], "order": ["y", "x", "z"]}.get(change, XYZ)
    fs_hz = 30.0 if change == "rate" else 10.0
    cfg = _cfg(**{"horizon": {"horizon_steps": 5}, "method": {"method": "rls"}}.get(change, {}))
    frames = _frames(channels, fs_hz, 60)
    with caplog.at_level(logging.WARNING, logger="streams.forecast"):
        status, sent, sf = _run(tmp_path, cfg, channels, fs_hz, frames)
    fc = status[SRC]
    assert not fc["resumed"] and fc["seen"] == 60 and not fc["failed"]
    assert "not restored" in fc["checkpoint_refused"] and "couch1.npz.refused" in fc["checkpoint_refused"]
    lines = [r.getMessage() for r in caplog.records if "cannot restore" in r.getMessage()]
    assert len(lines) == 1 and "starts afresh" in lines[0]
    assert ("restart with the forecaster configuration" in lines[0] if change in ("horizon", "method")
            else f"this stream is {STREAM} {channels} at {fs_hz:g} Hz" in lines[0])
    assert (tmp_path / "forecasters" / "couch1.npz.refused").exists()   # the learnt state is not lost
    assert any(h["kind"] == "forecast" for h in sent)
    assert not any(h.get("reason") == "unavailable" for h in sent)
    # the learner is exactly a fresh one fed the same frames: none of the checkpoint's weights
    oracle = _fresh_state(cfg, channels, fs_hz, frames)
    mine = sf.forecaster.state_dict()
    for k, v in oracle.items():
        if isinstance(v, np.ndarray):
            assert np.array_equal(mine[k], v, equal_nan=True), k


def _edit_meta(path, edit):
    with np.load(path) as z:
        meta = json.loads(bytes(z["__meta__"]).decode())
        arrays = {k: z[k] for k in z.files if k != "__meta__"}
    edit(meta)
    np.savez(path, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)


@pytest.mark.parametrize("edit", [lambda m: m.pop("resets_seen"), lambda m: m.pop("last_t_s"),
                                  lambda m: m.update(last_t_s="soon"), lambda m: m.update(fs_hz=float("nan"))],
                         ids=["no_resets_seen", "no_last_t_s", "last_t_s_text", "rate_nan"])
def test_a_checkpoint_with_bad_metadata_is_refused_and_the_source_forecasts(tmp_path, caplog, edit):
    """Until 2026-12-07 a checkpoint without resets_seen / last_t_s raised after its weights were loaded:
    the source was held ``unavailable`` for good (an error line per frame); a text last_t_s was resumed
    and failed at the first frame, for good; a NaN rate passed the rate check and was resumed."""
    path = _checkpointed(tmp_path)
    _edit_meta(path, edit)
    with caplog.at_level(logging.WARNING):
        status, sent, _ = _run(tmp_path, _cfg(), XYZ, 10.0, _frames(XYZ, 10.0, 60))
    fc = status[SRC]
    assert not fc["resumed"] and not fc["failed"] and "not restored" in fc["checkpoint_refused"]
    assert not any(h.get("reason") == "unavailable" for h in sent)
    assert any(h["kind"] == "forecast" for h in sent)
    assert sum("cannot restore" in r.getMessage() for r in caplog.records) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_checkpoint_cut_short_is_refused_with_what_to_do(tmp_path, caplog):
    path = _checkpointed(tmp_path)
    path.write_bytes(path.read_bytes()[:1000])
    with caplog.at_level(logging.WARNING, logger="streams.forecast"):
        status, sent, _ = _run(tmp_path, _cfg(), XYZ, 10.0, _frames(XYZ, 10.0, 60))
    assert not status[SRC]["resumed"] and "not restored" in status[SRC]["checkpoint_refused"]
    (line,) = [r.getMessage() for r in caplog.records if "cannot restore" in r.getMessage()]
    assert "a new one is written" in line
    assert any(h["kind"] == "forecast" for h in sent)


def test_the_same_layout_still_resumes(tmp_path):
    _checkpointed(tmp_path)
    status, _, _ = _run(tmp_path, _cfg(), XYZ, 10.0, _frames(XYZ, 10.0, 30))
    assert status[SRC]["resumed"] and status[SRC]["seen"] == 150 and status[SRC]["checkpoint_refused"] == ""
    assert not (tmp_path / "forecasters" / "couch1.npz.refused").exists()

"""Resampling onto the --rate-hz grid never turns an invalid or lost sample into data.

`resample_uniform` kept every grid point within one period of a valid sample, interpolating across
the hole: the first and last invalid sample of every invalid stretch of a surrogate whose ms
timestamps are off the 30 Hz grid (a real VXP export), and the rows next to lost rows of a `t_s`
table, became values made up from both ends of the hole, learnt by the forecasters and scored.
"""
import numpy as np
import polars as pl

from realtime.sessions import load_sessions, resample_uniform


def test_invalid_surrogate_samples_stay_missing(tmp_path):
    fs, n = 30, 3000
    t_ms = np.round(np.arange(n) / fs * 1000)          # ms timestamps: up to 1.5 % of a step off the grid
    amp = 5 * np.sin(2 * np.pi * t_ms / 1000 / 4)
    valid = np.ones(n, int)
    valid[1000:1021] = 0                               # 21 invalid samples (lost track)
    pl.DataFrame({"t_ms": t_ms, "amp_mm": amp, "valid": valid}).write_csv(tmp_path / "s.csv")
    s = load_sessions([tmp_path / "s.csv"], fs)[0]
    missing = np.flatnonzero(~np.isfinite(s.X[:, 0]))
    np.testing.assert_array_equal(missing, np.arange(1000, 1021))
    ok = np.isfinite(s.X[:, 0])
    np.testing.assert_allclose(s.X[ok, 0], amp[ok], atol=0.02 * 5 * 2 * np.pi / 4 / fs)   # within a jitter


def test_lost_rows_of_a_table_stay_missing(tmp_path):
    t = np.arange(1000) / 10.0
    x = np.sin(2 * np.pi * t / 4.0)
    keep = np.ones(t.size, bool)
    keep[700:720] = False                              # 2 s of rows lost
    keep[900:903] = False
    pl.DataFrame({"t_s": t[keep], "a": x[keep]}).write_csv(tmp_path / "g.csv")
    s = load_sessions([tmp_path / "g.csv"], 10)[0]
    np.testing.assert_array_equal(np.flatnonzero(~np.isfinite(s.X[:, 0])), np.flatnonzero(~keep))
    np.testing.assert_allclose(s.X[keep, 0], x[keep], atol=1e-9)


def test_irregular_and_slower_inputs_are_still_interpolated():
    rng = np.random.default_rng(0)
    t = np.cumsum(rng.uniform(0.02, 0.045, 3000))      # jittered ~30 Hz, no hole
    g, Y = resample_uniform(t, np.sin(t)[:, None], 10.0)
    assert np.isfinite(Y).all()
    np.testing.assert_allclose(Y[:, 0], np.sin(g + t[0]), atol=1e-3)
    t5 = np.arange(200) / 5.0                          # 5 Hz up to 10 Hz: every grid point between neighbours
    g, Y = resample_uniform(t5, np.cos(t5)[:, None], 10.0)
    assert np.isfinite(Y).all() and Y.shape[0] == 2 * 200 - 1


def test_marker_rows_at_a_rate_other_than_rate_hz_are_warned(tmp_path, caplog):
    """Marker rows are steps at --rate-hz: a 10 Hz session given --rate-hz 11.5 used to be taken
    silently (refused only beyond 20 %), its horizons in seconds and times 13 % off."""
    import logging

    lines = ['"Frame";"Timestamp";"x";"y";"z"'] + [f"{6 * i};{100 * i};{np.sin(i / 6):.3f};1;2" for i in range(50)]
    (tmp_path / "s1-LAC-1-N-5-6.csv").write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING, logger="realtime.sessions"):
        load_sessions([tmp_path / "s1-LAC-1-N-5-6.csv"], 11.5)
    assert any("--rate-hz is 11.5" in r.getMessage() and "13 % off" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="realtime.sessions"):
        load_sessions([tmp_path / "s1-LAC-1-N-5-6.csv"], 10)
    assert not [r for r in caplog.records if "--rate-hz" in r.getMessage()]


def test_t_s_column_in_milliseconds_is_named_as_the_likely_cause(tmp_path, caplog):
    import logging

    t = np.arange(800) * 100.0                        # ms, in a column that says seconds
    pl.DataFrame({"t_s": t, "a": np.sin(t / 500)}).write_csv(tmp_path / "ms.csv")
    with caplog.at_level(logging.WARNING, logger="realtime.sessions"):
        load_sessions([tmp_path / "ms.csv"], 10)
    assert any("look like milliseconds" in r.getMessage() for r in caplog.records)

"""Bug-bash 74 of ``biosig forecast evaluate`` as a radiotherapy physicist uses it (real objects, NumPy oracles).

* A CSV of one marker's positions ``t_s, x_mm, y_mm, z_mm`` was scored per axis (each column a marker of
  its own), so RMSE, max, p95 and the >2 mm / >5 mm shares understated the 3-D error (up to sqrt(3)).
* One unreadable input and nothing else: a warning and then the error said the same, the error naming
  the file twice ("typo.csv: typo.csv: ...").
* Positions in metres under columns that say mm (``x_mm`` holding -0.49): scored as sub-micrometre
  motion (">2mm 0.000") without a word.
"""
import json

import numpy as np
import pytest

from test_cli_errors import assert_one_line_error, run_main

FS_HZ = 10.0


def _breathing(n_s=75.0, seed=0):
    """One marker's 3-D positions in mm (a 4 s breath, 10 mm superior-inferior) with noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(n_s * FS_HZ)) / FS_HZ
    ph = 2 * np.pi * t / 4.0
    X = np.stack([-490 + 2 * np.sin(ph + 0.4), 4 + 1.5 * np.sin(ph), 64 + 10 * np.sin(ph) ** 2], axis=1)
    return t, X + rng.normal(0, 0.2, X.shape)


def _write(path, t, X, header="t_s,x_mm,y_mm,z_mm"):
    np.savetxt(path, np.column_stack([t, X]), delimiter=",", header=header, comments="", fmt="%.6f")
    return path


def test_xyz_mm_columns_are_scored_as_one_marker_in_3d(tmp_path, capsys):
    t, X = _breathing(n_s=66)
    src = _write(tmp_path / "couch.csv", t, X)
    code, out, err = run_main(capsys, "forecast", "evaluate", src, "--methods", "last", "--horizons", "1,5",
                              "--workers", "1", "--out", tmp_path / "run")
    assert code == 0, err
    res = json.loads((tmp_path / "run" / "report.json").read_text())["results"]["couch"]["last"]
    n0 = int(60 * FS_HZ)   # the test starts at 60 s
    for h in (1, 5):       # NumPy oracle: last value, 3-D Euclidean error of the one marker
        d = np.linalg.norm(X[n0:] - X[n0 - h:len(X) - h], axis=1)
        assert res[str(h)]["rmse"] == pytest.approx(np.sqrt(np.mean(d ** 2)), rel=1e-4)
        assert res[str(h)]["max"] == pytest.approx(d.max(), rel=1e-4)
        assert res[str(h)]["frac_gt2"] == pytest.approx(np.mean(d > 2.0), abs=1e-9)


def test_one_unreadable_input_is_one_line_naming_it_once(tmp_path, capsys):
    t, X = _breathing(n_s=5)
    src = _write(tmp_path / "typo.csv", t, X, header="t_s,x_mm,y_mm,z_mn")   # a header typo: z_mn
    code, _, err = run_main(capsys, "forecast", "evaluate", src, "--methods", "last", "--out", tmp_path / "run")
    assert_one_line_error(code, err, "z_mn")
    assert err.count("typo.csv") == 1, err


def test_positions_in_metres_under_mm_columns_are_said(tmp_path, caplog):
    from realtime.sessions import load_sessions

    t, X = _breathing(n_s=20)
    metres = _write(tmp_path / "metres.csv", t, X / 1000.0)   # -0.49 "mm": a file in metres
    good = _write(tmp_path / "mm.csv", t, X)
    with caplog.at_level("WARNING", logger="realtime.sessions"):
        sessions = load_sessions([metres, good], FS_HZ)
    assert [s.name for s in sessions] == ["metres", "mm"]
    said = [r.getMessage() for r in caplog.records if "peak-to-peak" in r.getMessage()]
    assert len(said) == 1 and "session metres:" in said[0] and "metres" in said[0], said


def test_real_sessions_are_not_taken_for_metres(caplog):
    from conftest import shared_path
    from realtime.sessions import load_sessions

    with caplog.at_level("WARNING", logger="realtime.sessions"):
        sessions = load_sessions([shared_path("resp_motion")], FS_HZ)
    assert len(sessions) == 4
    assert not [r for r in caplog.records if "peak-to-peak" in r.getMessage()]


def test_hyperparameters_not_chosen_on_data_are_said(tmp_path, capsys, caplog):
    # selection window 5-10 s; a 6 s horizon leaves it no forecast: rls ran its grid's first
    # configuration on the test without a word (report.json: selection_nrmse null)
    t, X = _breathing(n_s=25)
    src = _write(tmp_path / "short.csv", t, X)
    args = [src, "--methods", "last,rls", "--norm-s", "5", "--select-start-s", "5", "--test-start-s", "10",
            "--workers", "1"]
    with caplog.at_level("WARNING"):
        code, _, err = run_main(capsys, "forecast", "evaluate", *args, "--horizons", "2,60", "--out", tmp_path / "run")
    assert code == 0, err
    res = json.loads((tmp_path / "run" / "report.json").read_text())["results"]["short"]["rls"]
    assert res["60"]["selection_nrmse"] is None and res["2"]["selection_nrmse"] is not None
    said = [r.getMessage() for r in caplog.records if "selection window" in r.getMessage()]
    # one line, for rls at 60 only: not for h 2 (chosen on data), nor for last (nothing to choose)
    assert len(said) == 1 and said[0].startswith("rls h 60:") and "short" in said[0], said


def test_a_table_upsampled_to_rate_hz_is_said(tmp_path, caplog):
    # a 10 Hz table at --rate-hz 12.5: a fifth of the samples scored were interpolated, with an info line only
    from realtime.sessions import load_sessions

    t, X = _breathing(n_s=20)
    src = _write(tmp_path / "ten.csv", t, X)
    with caplog.at_level("WARNING", logger="realtime"):
        (s,) = load_sessions([src], 12.5)
        (same,) = load_sessions([src], FS_HZ)   # on its own rate: nothing to say
    assert s.n_steps == pytest.approx(same.n_steps * 1.25, abs=2)
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "upsampled" in said[0] and "--rate-hz 10" in said[0], said


@pytest.mark.parametrize("opt", ["--seeds", "--select-seeds"])
def test_a_bad_seed_count_names_only_the_option_given(tmp_path, capsys, opt):
    src = _write(tmp_path / "s.csv", *_breathing(n_s=5))
    code, _, err = run_main(capsys, "forecast", "evaluate", src, opt, "0", "--out", tmp_path / "run")
    assert_one_line_error(code, err, f"{opt} must be >= 1, got 0")
    assert "None" not in err, err


def test_a_horizon_in_seconds_past_the_end_is_answered_in_seconds(tmp_path, capsys):
    # --horizons-s 1000 on a 75 s session: the answer named only --horizons (steps)
    src = _write(tmp_path / "s.csv", *_breathing())
    code, _, err = run_main(capsys, "forecast", "evaluate", src, "--horizons-s", "1000", "--methods", "last",
                            "--out", tmp_path / "run")
    assert_one_line_error(code, err, "--horizons-s up to 14.9")

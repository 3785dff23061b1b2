"""nRMSE of a run whose scored steps do not move (a tracker frozen at the start of the test).

nRMSE divides by the truth's spread over the steps scored; on a truth that repeats one position
that spread is 0, but the mean of the repeated numbers is off by rounding (-461.9 twenty times:
1.7e-13), so the denominator came out 1e-12 and the report said nRMSE 5.1e11 for ``last`` on the
real session 201205111055 frozen from 8 s (the runtime held every later step but the first 2 s):
a number that swamped every average over sessions without a word. Now the spread of a constant
truth is exactly 0, the nRMSE undefined (NaN) and the run named in a warning.
"""
import json
import logging

import numpy as np
import pytest

from biosig.cli import main
from conftest import shared_path
from realtime.metrics import forecast_metrics


def _frozen_at_test_start(path) -> None:
    """20 s of the real session 201205111055 (3 markers) as a t_s table; from 8 s the tracker repeats
    one position, and only the last sample moves again (so the test window is not all constant)."""
    from biosig.readers.markers import read_marker_session
    logging.disable(logging.WARNING)   # the reader's repaired timestamps
    try:
        rec = read_marker_session(sorted(shared_path("resp_motion").glob("201205111055-*.csv")))
    finally:
        logging.disable(logging.NOTSET)
    X = rec.samples.T[:200].astype(float)
    X[80:199] = X[80]
    with open(path, "w") as fh:
        fh.write("t_s," + ",".join(rec.channels) + "\n")
        for k, x in enumerate(X):
            fh.write(f"{k / 10:.1f}," + ",".join(f"{v:.1f}" for v in x) + "\n")


def test_a_constant_truth_has_no_nrmse_not_a_huge_one():
    y = np.repeat([[-461.9, 13.3, 80.5]], 20, axis=0)   # mean(-461.9 x 20) != -461.9 in floats
    m = forecast_metrics(y, y + 0.3, [[0, 1, 2]])
    assert np.isnan(m["nrmse"]) and m["rmse"] == pytest.approx(0.3 * np.sqrt(3))
    moving = y + np.arange(20)[:, None] * 0.1   # a moving truth: the published definition, unchanged
    ref = np.sqrt(np.sum(0.3 ** 2 * 3 * 20)) / np.sqrt(np.sum((moving - moving.mean(0)) ** 2))
    assert forecast_metrics(moving, moving + 0.3, [[0, 1, 2]])["nrmse"] == pytest.approx(ref, rel=1e-12)


def test_frozen_test_window_reports_no_nrmse_and_names_the_run(tmp_path, caplog):
    _frozen_at_test_start(tmp_path / "frozen.csv")
    out = tmp_path / "o"
    with caplog.at_level(logging.WARNING, logger="realtime"):
        rc = main(["forecast", "evaluate", str(tmp_path / "frozen.csv"), "--methods", "last", "--horizons", "1",
                   "--seeds", "1", "--select-seeds", "1", "--norm-s", "3", "--select-start-s", "3",
                   "--test-start-s", "8", "--workers", "1", "--out", str(out)])
    assert rc == 0
    run = json.loads((out / "report.json").read_text())["results"]["frozen"]["last"]["1"]
    assert run["nrmse"] is None          # NaN in the report (strict JSON: null); before: 5.1e11
    assert run["rmse"] > 0 and 0 < run["duty"] < 0.5   # the frozen steps after 2 s are held
    said = [r.getMessage() for r in caplog.records if "nRMSE" in r.getMessage()]
    assert len(said) == 1 and "frozen" in said[0] and "last" in said[0], said

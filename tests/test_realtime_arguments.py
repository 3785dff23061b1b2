"""realtime's public functions answer a caller's mistake with a ForecastError naming the value,
never an IndexError / ZeroDivisionError / AttributeError from inside NumPy (and realtime stays
free of torch: these run without it)."""
import numpy as np
import pytest

from realtime import ForecastError, make_forecaster
from realtime.metrics import forecast_metrics, marker_groups
from realtime.sessions import load_sessions, resample_uniform


@pytest.mark.parametrize("state", [None, [], "state", 3], ids=repr)
def test_load_state_dict_refuses_what_is_not_a_state(state):
    f = make_forecaster("rls", n_coords=2)
    with pytest.raises(ForecastError, match="a forecaster state is the dict state_dict\\(\\) returns"):
        f.load_state_dict(state)   # before: AttributeError 'NoneType' object has no attribute 'get'


def test_forecast_metrics_arguments():
    y = np.cumsum(np.random.default_rng(0).normal(size=(20, 2)), axis=0)
    with pytest.raises(ForecastError, match="truth must hold real numbers"):
        forecast_metrics(np.full((20, 2), "a"), y)
    with pytest.raises(ForecastError, match="forecast must hold real numbers"):
        forecast_metrics(y, y.astype(complex))
    for hold in (np.zeros(3, bool), np.zeros((20, 2), bool)):   # before: IndexError / a silent misread
        with pytest.raises(ForecastError, match="hold shaped .* for 20 steps"):
            forecast_metrics(y, y + 0.1, hold=hold)
    m = forecast_metrics(y, y + 0.1, hold=np.r_[np.ones(5, bool), np.zeros(15, bool)])
    assert m["duty"] == pytest.approx(0.75) and m["rmse"] == pytest.approx(np.sqrt(0.02))


def test_marker_groups_arguments():
    assert marker_groups("LAC_x") == [[0]]   # one name, not the characters of one
    assert marker_groups(["LAC_x", "LAC_y", "amp"]) == [[0, 1], [2]]
    for bad in (None, 3):
        with pytest.raises(ForecastError, match="give the channel names"):
            marker_groups(bad)


@pytest.mark.parametrize("kw, message", [
    (dict(rate_hz=0), "rate_hz=0 must be a positive number of Hz"),          # ZeroDivisionError before
    (dict(rate_hz="ten"), "rate_hz='ten' must be a positive"),
    (dict(rate_hz=True), "rate_hz=True must be a positive"),
    (dict(rate_hz=float("nan")), "must be a positive"),
    (dict(t_s=np.arange(5.0)), "times shaped \\(5,\\) and samples shaped \\(10, 1\\)"),  # IndexError before
    (dict(t_s=np.arange(10.0)[::-1]), "strictly increasing"),                # IndexError before
    (dict(t_s=np.r_[0.0, np.nan, np.arange(2.0, 10.0)]), "strictly increasing"),
    (dict(X=np.zeros(10)), "expected \\(T,\\) and \\(T, n\\)"),
])
def test_resample_uniform_arguments(kw, message):
    args = {"t_s": np.arange(10.0) * 0.11, "X": np.zeros((10, 1)), "rate_hz": 10.0, **kw}
    with pytest.raises(ForecastError, match=message):
        resample_uniform(args["t_s"], args["X"], args["rate_hz"])


def test_load_sessions_arguments(tmp_path):
    path = tmp_path / "trace.csv"
    path.write_text("t_s,amp\n" + "\n".join(f"{i / 10:.1f},{np.sin(i / 5):.4f}" for i in range(50)) + "\n")
    assert [s.name for s in load_sessions(str(path), 10)] == ["trace"]   # one path as a str
    with pytest.raises(ForecastError, match="paths=None: give a list of file paths"):
        load_sessions(None, 10)
    with pytest.raises(ForecastError, match="3 is not a file path"):
        load_sessions([path, 3], 10)
    for rate in (0, -10, "x", None):
        with pytest.raises(ForecastError, match="rate_hz=.* must be a positive number of Hz"):
            load_sessions([path], rate)


def test_evaluate_takes_one_method_and_one_horizon():
    from realtime.evaluation import Protocol, evaluate
    from realtime.sessions import Session
    t = np.arange(1200) / 10.0
    s = Session("s", np.sin(2 * np.pi * t / 4.0)[:, None], t, ("amp",), ("mm",), [[0]])
    proto = Protocol(seeds=1, select_seeds=1)
    one = evaluate([s], "last", 2, proto, workers=1)   # before: "unknown method(s) l, a, s, t"
    many = evaluate([s], ["last"], [2], proto, workers=1)
    for key in ("methods", "horizons"):
        assert one["protocol"][key] == many["protocol"][key] == (["last"] if key == "methods" else [2])
    assert one["results"]["s"]["last"]["2"]["nrmse"] == many["results"]["s"]["last"]["2"]["nrmse"]
    for horizons in (0, [1.5], "2", [True], None, []):
        with pytest.raises(ForecastError, match="horizons=.*whole numbers of steps"):
            evaluate([s], "last", horizons, proto, workers=1)
    for methods in (None, [3], []):
        with pytest.raises(ForecastError, match="method"):
            evaluate([s], methods, 2, proto, workers=1)

"""Configuration values that passed validation and then failed at start-up (operator bug bash,
2026-12-05): a traceback with exit 1 (OverflowError, a 335 GiB array), a start-up that never
ended and ignored SIGTERM (lookback 1e9), an unknown device or an empty folder accepted and
then serving without encoders / recording. Each is one line now, before anything starts."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

from streams.config import ForecasterConfig, config_from_dict
from streams.errors import StreamError

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("data, needle", [
    ({"forecaster": {"horizon_steps": 10 ** 9}}, "horizon_steps"),
    ({"forecaster": {"lookback": 10 ** 9}}, "lookback"),
    ({"forecaster": {"lookback_s": 1e9}}, "lookback_s"),
    ({"forecaster": {"hidden": 10 ** 7}}, "hidden"),
    ({"out_hwm": 2 ** 40}, "out_hwm"),
    ({"cpu_wakeup_latency_us": 2 ** 40}, "cpu_wakeup_latency_us"),
    ({"device": "gpu"}, "is not a device"),
    ({"record_dir": ""}, "empty folder name"),
    ({"state_dir": " "}, "empty folder name"),
    ({"windows": {"ecg": [1e-6, 1e-6]}}, "window for 'ecg' must be"),
    ({"windows": {"ecg": [1e9, 1]}}, "window for 'ecg' must be"),
])
def test_out_of_range_settings_are_refused_in_one_line(data, needle):
    with pytest.raises(StreamError, match=needle) as exc:
        config_from_dict(data)
    assert "\n" not in str(exc.value)


def test_sane_settings_still_pass():
    cfg = config_from_dict({"device": "cuda:1", "windows": {"ecg": [10, 5]}, "out_hwm": 2 ** 31 - 1,
                            "forecaster": {"lookback": 2000, "horizon_steps": 30}})
    assert cfg.device == "cuda:1" and cfg.forecaster.lookback == 2000


def test_an_input_window_too_long_for_the_streams_rate_is_no_forecaster():
    """lookback_s is bounded, but 60 s of a 1000 Hz stream is still 60,000 samples: that stream
    gets no forecaster (its frames are answered by 'unavailable' holds), one line saying why."""
    from streams.forecast import SourceForecaster
    with pytest.raises(StreamError, match="input window of 60000 samples"):
        SourceForecaster("c/m", ["x"], 1000.0, ForecasterConfig(lookback_s=60.0))


def test_serve_with_such_a_config_is_one_line_and_exit_2(tmp_path):
    cfg = tmp_path / "runtime.json"
    cfg.write_text(json.dumps({"forecaster": {"horizon_steps": 10 ** 9}}))
    r = subprocess.run([sys.executable, "-m", "biosig.cli", "serve", "--config", str(cfg), "--seconds", "1"],
                       capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 2 and "horizon_steps" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr

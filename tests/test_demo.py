"""`biosig demo` (what `make demo` runs), shortened: exits 0, prints the summary and writes
demo-out/ with recordings and both plots."""
import json
import subprocess
import sys

import numpy as np
import polars as pl
import pytest

from test_streams_helpers import free_endpoints

BIOSIG = [sys.executable, "-c", "import sys; from biosig.cli import main; sys.exit(main(sys.argv[1:]))"]


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_demo_runs_and_writes_its_outputs(tmp_path):
    pytest.importorskip("encoders")
    ep = free_endpoints()
    out = tmp_path / "demo-out"
    r = subprocess.run(BIOSIG + ["demo", "--seconds", "14", "--beds", "1", "--out", str(out),
                                 "--ingest", ep.ingest, "--output", ep.output, "--status", ep.status],
                       capture_output=True, text=True, timeout=380)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "summary" in r.stdout and "RMSE vs simulated truth" in r.stdout
    assert "\x1b[" not in r.stdout                      # not a TTY: no in-place refresh
    s = json.loads((out / "summary.json").read_text())
    assert s["frames"] > 0 and s["embeddings"] > 0 and s["forecasts"] > 0
    assert s["gaps"] == 0 and s["dropped_windows"] == 0 and s["rejected"] == 0 and s["subscriber_gaps"] == 0
    for key in ("forecast_latency_ms", "forecast_ingest_ms", "forecast_runtime_ms", "forecast_delivery_ms"):
        assert s[key]["p50"] >= 0, key            # the breakdown printed in the summary line
    assert s["runtime_ready_after_s"] > 0       # the runtime ran in its own process and said when it was ready
    assert "device -> runtime receipt" in r.stdout and "load average" in r.stdout
    assert "forecast path priority: runtime event loop" in r.stdout
    assert s["stolen_cpu_s"] >= 0 and "(steal)" in r.stdout
    late = s["forecast_late"]   # which forecasts over the target overlapped the host's steal
    assert late["n"] == s["received"]["forecast"] and 0 <= late["over_with_steal"] <= late["over"] <= late["n"]
    assert "forecasts over the 5 ms target: " in r.stdout and "forecasts without steal" in r.stdout
    assert s["forecast_path_priority"]["runtime"].startswith(("SCHED_FIFO", "normal"))
    # the live view ran in its own process; the forecast plot got its warm-up hold period from it
    assert "live view on http://127.0.0.1:" in r.stdout
    assert any(p[2] == "warm_up" for p in s["hold_periods"]["couch1"]), s["hold_periods"]
    # the scores the bed published, next to what the simulator made (bed01: sinus rhythm; its
    # respiration windows are 30 s, longer than this run: tests/test_scores_stream.py checks them)
    sc = s["scores"]
    assert {"bed01/ecg", "bed01/ppg"} <= set(sc), sorted(sc)
    # (the simulated pulse wave's rate wanders around its target: NeuroKit2's PPG model; a few windows)
    for name, key, sim, tol in (("bed01/ecg", "hr_bpm", "heart_rate_bpm", 3.0),
                                ("bed01/ppg", "hr_bpm", "heart_rate_bpm", 8.0)):
        assert sc[name]["ok"] >= 1 and sc[name]["windows"] >= sc[name]["ok"], sc[name]
        assert abs(sc[name]["median"][key] - sc[name]["simulated"][sim]) <= tol, sc[name]
    assert sc["bed01/ecg"]["simulated"]["rhythm"] == "sinus" and sc["bed01/ecg"]["median"]["af_prob"] < 0.5
    assert "bed01/ecg (simulated sinus rhythm, " in r.stdout and "windows scored" in r.stdout
    from encoders.heads import load_head   # af_prob as fitted: calibrated to the head's training records
    p0 = load_head("ecg-af").training_prevalence
    assert sc["bed01/ecg"]["prevalence"]["af_prob"] == p0
    assert f"af_prob {sc['bed01/ecg']['median']['af_prob']:.2f} (at AF prevalence {p0:.3g})" in r.stdout, r.stdout
    parts = np.loadtxt(out / "forecast_latency.csv", delimiter=",", skiprows=1, ndmin=2)
    assert parts.shape == (s["received"]["forecast"], 8)
    fc = s["forecast"]["couch1/markers"]
    assert fc["forecasts"] > 100 and 0 < fc["rmse_mm"] < 5.0
    for png in ("latency_hist.png", "forecast_vs_truth.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    inputs = pl.concat([pl.read_parquet(p) for p in sorted((out / "recordings").glob("inputs-*.parquet"))])
    assert inputs.height == s["frames"]
    assert set(inputs["stream"].unique()) >= {"bed01/ecg", "bed01/ppg", "bed01/resp", "bed01/audio", "couch1/markers"}


def test_demo_says_in_one_line_when_its_runtime_process_cannot_start(tmp_path):
    """The runtime runs in its own process: a start failure there (the status port is taken)
    still ends the demo with one line and exit code 2, and no process is left behind."""
    import socket
    ep = free_endpoints()
    host, port = ep.status.rsplit(":", 1)
    with socket.socket() as s:
        s.bind(("127.0.0.1", int(port)))
        s.listen()
        r = subprocess.run(BIOSIG + ["demo", "--seconds", "3", "--beds", "1", "--out", str(tmp_path / "o"),
                                     "--ingest", ep.ingest, "--output", ep.output, "--status", ep.status],
                           capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr[-2000:]
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "cannot bind" in err[0] and err[0].count("failed to start") == 1, err
    assert "Traceback" not in r.stderr

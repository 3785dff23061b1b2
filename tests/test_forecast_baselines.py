"""`forecast evaluate` puts every method next to the simple baselines (rls, lms, last) with a
bootstrap interval over sessions: against a plain computation and the exact bootstrap distribution."""
import itertools
import json

import numpy as np
import pytest

from realtime.report import compare_with_baselines, format_baseline_comparison


def _sessions(values: dict) -> dict:
    """{method: [nRMSE per session]} -> the report's session_averages shape."""
    n = len(next(iter(values.values())))
    return {f"s{i}": {m: {"nrmse": v[i]} for m, v in values.items()} for i in range(n)}


def test_ratio_interval_and_wins_against_a_plain_computation():
    vals = {"mix": [0.80, 0.28, 0.60, 0.32], "rls": [0.89, 0.31, 0.64, 0.35], "last": [1.0, 1.03, 1.02, 1.01],
            "snap1": [0.95, 0.25, 0.70, 0.40]}
    cmp = compare_with_baselines(_sessions(vals), list(vals))
    assert list(cmp) == ["mix / rls", "mix / last", "snap1 / rls", "snap1 / last"]   # baselines are not compared
    r = cmp["mix / rls"]
    assert r["ratio"] == pytest.approx(np.mean(vals["mix"]) / np.mean(vals["rls"]), rel=1e-12)
    assert (r["sessions_lower"], r["n_sessions"]) == (4, 4)
    assert cmp["snap1 / rls"]["sessions_lower"] == 1
    # the exact bootstrap distribution: all 4^4 equally likely resamples of the 4 sessions
    m, b = np.array(vals["mix"]), np.array(vals["rls"])
    exact = np.array([m[list(i)].mean() / b[list(i)].mean() for i in itertools.product(range(4), repeat=4)])
    lo, hi = np.percentile(exact, [2.5, 97.5])
    assert r["ci_low"] == pytest.approx(lo, abs=0.004) and r["ci_high"] == pytest.approx(hi, abs=0.004)
    assert r["ci_low"] <= r["ratio"] <= r["ci_high"]
    lines = format_baseline_comparison(cmp)
    assert "over the 4 sessions, 10000 resamples; rough with so few sessions" in lines[0]
    assert lines[1].split() == ["mix", "/", "rls", f"{r['ratio']:.3f}", f"[{r['ci_low']:.3f},", f"{r['ci_high']:.3f}]",
                                "lower", "in", "4", "of", "4", "sessions"]


def test_one_session_has_no_interval_and_no_baseline_no_rows():
    cmp = compare_with_baselines(_sessions({"mix": [0.5], "lms": [0.6]}), ["mix", "lms"])
    assert cmp["mix / lms"]["ci_low"] is None and cmp["mix / lms"]["ratio"] == pytest.approx(0.5 / 0.6)
    assert "one session: no interval" in format_baseline_comparison(cmp)[0]
    assert compare_with_baselines(_sessions({"mix": [0.5, 0.4]}), ["mix"]) == {}
    assert format_baseline_comparison({}) == []


def test_the_cli_report_carries_the_comparison(tmp_path, capsys):
    """Three synthetic sessions (generic CSVs: each file is one session)."""
    import polars as pl

    from biosig.cli import main
    files = []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        t = np.arange(800) / 10.0
        x = (4 + seed) * np.sin(2 * np.pi * t / (3.5 + 0.5 * seed))
        path = tmp_path / f"session{seed}.csv"
        pl.DataFrame({"t_s": t, "m1_x": x + rng.normal(0, 0.05, 800), "m1_y": 0.5 * x + rng.normal(0, 0.05, 800),
                      "m1_z": 100 - x + rng.normal(0, 0.05, 800)}).write_csv(path)
        files.append(str(path))
    assert main(["forecast", "evaluate", *files, "--methods", "mix,rls,last", "--horizons", "1,5",
                 "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    cmp = report["baseline_comparison"]
    assert set(cmp) == {"mix / rls", "mix / last"}
    avg, per = report["averages"], report["session_averages"]
    assert cmp["mix / rls"]["ratio"] == pytest.approx(avg["mix"]["nrmse"] / avg["rls"]["nrmse"], rel=1e-12)
    assert cmp["mix / last"]["sessions_lower"] == sum(per[s]["mix"]["nrmse"] < per[s]["last"]["nrmse"] for s in per)
    assert cmp["mix / last"]["n_sessions"] == 3 and cmp["mix / last"]["ci_low"] <= cmp["mix / last"]["ci_high"]
    assert "nRMSE against the baselines" in out and "over the 3 sessions" in out and "mix / last" in out

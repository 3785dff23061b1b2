"""CSV records with slightly irregular sample times: gaps, embedding and scoring.

A ``t_s,ECG [mV]`` CSV of a 60 s, 250 Hz synthetic ECG in four variants: clean, +-0.2 ms uniform
timestamp jitter (5 % of a period), 30 random rows dropped, and the rows of 10-12 s dropped.
Oracles: the holes are computed with numpy from the written times; the grid values with
``numpy.interp`` of the written samples; the embeddings of the clean file.
"""
from __future__ import annotations

import json
import logging

import numpy as np
import polars as pl
import pytest

from biosig.cli import main
from biosig.errors import BiosigError
from biosig.readers import read
from biosig.readers.gap_resample import BRIDGE_PERIODS, to_uniform_grid
from biosig.record import TIME_GAP_PERIODS, Record
from biosig.synthetic import simulate_ecg

FS_HZ = 250.0
SECONDS = 60


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """{variant: (path, t_s written, samples written)}."""
    folder = tmp_path_factory.mktemp("irregular")
    x = simulate_ecg(SECONDS, seed=0, fs_hz=FS_HZ).samples[0].astype(np.float64)
    t = np.arange(x.size) / FS_HZ
    rng = np.random.default_rng(1)
    drop = np.ones(t.size, bool)
    drop[rng.choice(np.arange(1, t.size - 1), 30, replace=False)] = False
    hole = ~((t >= 10.0) & (t < 12.0))
    variants = {"clean": (t, x), "jitter": (t + rng.uniform(-2e-4, 2e-4, t.size), x),
                "drop30": (t[drop], x[drop]), "hole": (t[hole], x[hole])}
    out = {}
    for name, (tt, xx) in variants.items():
        path = folder / f"{name}.csv"
        pl.DataFrame({"t_s": tt, "ECG [mV]": xx}).write_csv(path)
        back = pl.read_csv(path)   # what the file holds (the CSV's decimal text)
        out[name] = (path, back["t_s"].to_numpy(), back["ECG [mV]"].to_numpy())
    return out


def _holes(t: np.ndarray) -> list[tuple[float, float]]:
    """numpy oracle: each interval longer than 1.5 periods, as (first missing sample, next sample)."""
    i = np.flatnonzero(np.diff(t) > 1.5 / FS_HZ)
    return [(t[k] + 1 / FS_HZ - t[0], t[k + 1] - t[0]) for k in i]


# ---------------------------------------------------------------------------------- gaps / info
@pytest.mark.parametrize("variant", ["clean", "jitter", "drop30", "hole"])
def test_gaps_report_holes_in_time(files, variant, capsys):
    path, t, _ = files[variant]
    rec = read(path)
    assert rec.fs_hz == FS_HZ                          # the nominal rate, not the jittered median
    want = _holes(t)
    assert len(rec.gaps()) == len(want)
    np.testing.assert_allclose(np.array(rec.gaps()).reshape(-1, 2), np.array(want).reshape(-1, 2), atol=1e-9)
    assert main(["info", "--json", "--no-quality", str(path)]) == 0
    gaps = json.loads(capsys.readouterr().out)[0]["gaps"]
    assert gaps["count"] == len(want)
    assert gaps["total_s"] == pytest.approx(sum(b - a for a, b in want), abs=1e-9)
    if variant == "hole":
        assert rec.gaps() == [pytest.approx((10.0, 12.0), abs=1e-9)]
    if variant == "drop30":   # 30 rows out, single or adjacent: 30 missing samples
        assert gaps["total_s"] == pytest.approx(30 / FS_HZ, abs=1e-9)


def test_nan_gaps_of_an_irregular_record_are_on_its_time_axis_and_merge_with_holes():
    t = np.array([0.0, 0.1, 0.2, 0.5, 0.6, 0.7, 0.8])   # 10 Hz, a hole of 2 missing samples at 0.3-0.5
    x = np.array([1.0, 2.0, np.nan, 4.0, 5.0, np.nan, 7.0])
    rec = Record(samples=x, fs_hz=10, channels=("x",), times_s=t)
    assert rec.gaps() == [pytest.approx((0.2, 0.5)), pytest.approx((0.7, 0.8))]
    assert TIME_GAP_PERIODS == 1.5


@pytest.mark.parametrize("variant", ["clean", "jitter", "drop30", "hole"])
def test_duration_counts_holes_in_time(files, variant, capsys):
    """From the first sample to one period after the last: the 2 s hole is part of the recording."""
    path, t, _ = files[variant]
    rec = read(path)
    assert rec.duration_s == pytest.approx(t[-1] - t[0] + 1 / FS_HZ, abs=1e-9)
    assert rec.times_irregular == (variant != "clean")
    assert main(["info", "--json", "--no-quality", str(path)]) == 0
    info = json.loads(capsys.readouterr().out)[0]
    assert info["duration_s"] == pytest.approx(SECONDS, abs=5e-4) and info["irregular"] == (variant != "clean")


def test_regular_times_kept_by_a_timestamped_reader_are_not_called_irregular(tmp_path, capsys, caplog):
    """The surrogate reader keeps the times of `simulate motion` (exactly 10 Hz): info says no
    "irregular times", and the grid is the samples themselves (times dropped, nothing interpolated)."""
    path = tmp_path / "m.csv"
    assert main(["simulate", "motion", "--seconds", "5", "--fs-hz", "10", "--out", str(path)]) == 0
    rec = read(path)
    assert rec.times_s is not None and not rec.times_irregular and rec.duration_s == pytest.approx(5.0)
    capsys.readouterr()
    assert main(["info", "--no-quality", str(path)]) == 0
    assert "irregular" not in capsys.readouterr().out
    with caplog.at_level(logging.INFO, logger="biosig.readers"):
        out = to_uniform_grid(rec)
    assert out.times_s is None and "resampled" not in caplog.text
    np.testing.assert_array_equal(out.samples, rec.samples)
    shaken = rec.replace(times_s=rec.times_s + np.r_[0.0, 0.002, np.zeros(rec.n_samples - 2)])   # 2 % of a period
    assert shaken.times_irregular


# ---------------------------------------------------------------------------------- the grid
@pytest.mark.parametrize("variant", ["jitter", "drop30", "hole"])
def test_grid_values_against_numpy_interp(files, variant, caplog):
    _, t, x = files[variant]
    rec = read(files[variant][0])
    with caplog.at_level(logging.INFO, logger="biosig.readers"):
        out = to_uniform_grid(rec)
    assert "resampled from irregular sample times" in caplog.text
    assert out.times_s is None and out.fs_hz == FS_HZ and out.n_samples == SECONDS * FS_HZ
    grid = np.arange(out.n_samples) / FS_HZ
    want = np.interp(grid, t - t[0], x)
    nan = np.isnan(out.samples[0])
    if variant == "hole":   # the 2 s hole stays a gap: exactly the 500 grid samples of 10-12 s
        np.testing.assert_array_equal(np.flatnonzero(nan), np.arange(2500, 3000))
        assert out.gaps() == [pytest.approx((10.0, 12.0))]
    else:                   # jitter and single dropped rows are interpolated (<= BRIDGE_PERIODS)
        assert not nan.any() and BRIDGE_PERIODS < 3
    np.testing.assert_allclose(out.samples[0][~nan], want[~nan], rtol=1e-5, atol=1e-6)   # float32


def test_too_irregular_times_are_a_clear_error():
    rng = np.random.default_rng(0)
    t = np.cumsum(rng.exponential(0.01, 2000))   # Poisson times: no nominal rate
    rec = Record(samples=rng.standard_normal(t.size), fs_hz=100, channels=("ECG",), times_s=t - t[0],
                 metadata={"source": "poisson.csv"})
    with pytest.raises(BiosigError, match=r"^poisson.csv: sample times too irregular for a uniform rate") as err:
        to_uniform_grid(rec)
    assert "times_s" not in str(err.value)


# ---------------------------------------------------------------------------------- embed / score
@pytest.fixture(scope="module")
def embeddings(files):
    import encoders
    enc = encoders.load("ecg-tiny")
    return {name: enc.embed(read(path)) for name, (path, _, _) in files.items()}


def _rel_err(a: pl.DataFrame, b: pl.DataFrame) -> np.ndarray:
    ea, eb = np.stack(a["embedding"].to_list()), np.stack(b["embedding"].to_list())
    return np.linalg.norm(ea - eb, axis=1) / np.linalg.norm(ea, axis=1)


@pytest.mark.parametrize("variant", ["jitter", "drop30"])
def test_jittered_and_dropped_rows_embed_like_the_clean_record(embeddings, variant):
    """Same windows, and embeddings within 3 % (relative L2) of the clean file's. Linear
    interpolation at +-5 % jitter, or across one missing sample, differs from the clean samples by
    a fraction of the ECG's high-frequency content; the embeddings moved by at most 1.3 % when
    this was written, so 3 % leaves room for other platforms' float noise yet stays below the
    4-45 % between neighbouring windows of the clean record (half their samples shared): each
    window's embedding must also be nearest to the clean embedding of the same window."""
    clean, other = embeddings["clean"], embeddings[variant]
    assert other["t0_s"].to_list() == clean["t0_s"].to_list() == [5.0 * k for k in range(11)]
    assert other["t1_s"].to_list() == clean["t1_s"].to_list()
    err = _rel_err(clean, other)
    assert err.max() < 0.03, err
    ea, eb = np.stack(clean["embedding"].to_list()), np.stack(other["embedding"].to_list())
    dist = np.linalg.norm(eb[:, None, :] - ea[None, :, :], axis=-1)   # (other window, clean window)
    np.testing.assert_array_equal(dist.argmin(axis=1), np.arange(len(ea)))


def test_hole_lowers_quality_only_in_the_windows_over_it(embeddings):
    clean, hole = embeddings["clean"], embeddings["hole"]
    assert hole["t0_s"].to_list() == clean["t0_s"].to_list()
    over = ((hole["t0_s"] < 12.0) & (hole["t1_s"] > 10.0)).to_numpy()
    assert over.sum() == 2                                 # [5, 15) and [10, 20)
    q, q0 = hole["quality"].to_numpy(), clean["quality"].to_numpy()
    assert (q[over] < 0.85 * q0[over]).all()
    np.testing.assert_allclose(q[~over], q0[~over], atol=0.01)
    err = _rel_err(clean, hole)
    far = ((hole["t0_s"] >= 12.0 + 1.0) | (hole["t1_s"] <= 10.0 - 1.0)).to_numpy()   # 1 s from the hole
    assert err[far].max() < 0.03, err


def test_score_accepts_irregular_times_and_sees_the_hole(files, tmp_path):
    import contextlib
    import io
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("clean", "jitter", "drop30", "hole"):
        (folder / f"{name}.csv").write_bytes(files[name][0].read_bytes())
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(["score", str(folder), "--model", "ecg-tiny", "--backend", "torch", "--out", str(tmp_path / "o")])
    assert code == 0, err.getvalue()
    assert not (tmp_path / "o" / "errors.parquet").exists() or pl.read_parquet(tmp_path / "o" / "errors.parquet").height == 0
    win = pl.read_parquet(tmp_path / "o" / "windows.parquet")
    by = {pathlib_name(r): g.sort("t0_s") for (r,), g in win.group_by("record")}
    for name in ("clean", "jitter", "drop30"):
        assert by[name]["t0_s"].to_list() == [5.0 * k for k in range(11)]
        assert (by[name]["valid_fraction"] == 1.0).all()
    hole = by["hole"]
    over = ((hole["t0_s"] < 12.0) & (hole["t1_s"] > 10.0)).to_numpy()
    np.testing.assert_allclose(hole["valid_fraction"].to_numpy()[over], 0.8, atol=1e-6)   # 2 s of 10
    assert (hole["valid_fraction"].to_numpy()[~over] == 1.0).all()
    rec = pl.read_parquet(tmp_path / "o" / "records.parquet")
    assert rec["duration_s"].to_list() == pytest.approx([60.0] * 4)


def pathlib_name(path: str) -> str:
    import pathlib
    return pathlib.Path(path).stem

"""`biosig info` says that a camera-PPG CSV's irregular frame times were put on a uniform grid
(before: only the grid's rate, a rate the file never had), with the file's median frame rate, the
spread of its frame intervals and the grid's rate, all checked against NumPy on the file's times."""
import json

import numpy as np
import polars as pl

from biosig.cli import main
from conftest import shared_path


def _info(capsys, path, *extra):
    assert main(["info", str(path), "--no-quality", *extra]) == 0
    return capsys.readouterr().out


def _oracle(path):
    t_ms = pl.read_csv(path)["time"].cast(pl.Float64).to_numpy()
    dt = np.diff(t_ms)
    return len(t_ms), 1000.0 / np.median(dt), np.percentile(dt, [5, 95]), dt.max()


def _check(capsys, path):
    n, median_hz, (p5, p95), longest = _oracle(path)
    grid = json.loads(_info(capsys, path, "--json"))[0]["uniform_grid"]
    assert grid["n_frames"] == n and grid["grid_fs_hz"] == round(median_hz)
    assert abs(grid["median_fs_hz"] - median_hz) < 1e-3
    iv = grid["frame_interval_ms"]
    np.testing.assert_allclose([iv["p5"], iv["p95"], iv["max"]], [p5, p95, longest], atol=1e-3)
    text = _info(capsys, path)
    rows = {ln.split()[0]: ln.split(None, 1)[1] for ln in text.splitlines()[1:] if ln.strip()}
    assert "not the file's rate" in rows["fs_hz"]
    assert rows["resampled"].startswith(f"{n} frames at irregular times (median {grid['median_fs_hz']:g} Hz")
    assert f"{p5:g}-{p95:g} ms" in rows["resampled"] and f"uniform {round(median_hz)} Hz grid" in rows["resampled"]


def test_a_jittered_camera_ppg_says_its_grid(tmp_path, capsys):
    rng = np.random.default_rng(5)
    t_ms = np.cumsum(np.r_[0, rng.integers(20, 48, 899)]).astype(float)
    r = 200 + 5 * np.sin(2 * np.pi * 1.2 * t_ms / 1000)
    path = tmp_path / "PPG.csv"
    path.write_text("time,R,G,B\n" + "".join(f"{int(t)},{x:.4f},0,0\n" for t, x in zip(t_ms, r)))
    _check(capsys, path)


def test_welltory_subject_01(capsys):
    _check(capsys, shared_path("pretrain", "ppg", "welltory", "subject_01", "PPG.csv"))


def test_a_record_read_as_it_was_says_no_grid(tmp_path, capsys):
    path = tmp_path / "ecg.csv"
    path.write_text("t_s,II [mV]\n" + "".join(f"{i / 250},{np.sin(i / 9):.4f}\n" for i in range(2500)))
    assert json.loads(_info(capsys, path, "--json"))[0]["uniform_grid"] is None
    assert "resampled" not in _info(capsys, path)

"""Real-world files (issue 11): every WFDB storage format reads equal to ``wfdb.rdrecord``,
hostile header fields are refused with one line, permission problems are ReadErrors, any rate
resamples exactly, and no message leaks a Python exception class name."""
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest
import wfdb

from biosig.errors import ReadError
from biosig.filters import RESAMPLE_RATE_REL_TOL, resample, resample_ratio
from biosig.readers import discover, read

ROOT = pathlib.Path(__file__).resolve().parents[1]
#: Python exception class names that must never reach a user-facing message.
_LEAK = re.compile(r"\b(TypeError|ValueError|IndexError|KeyError|AttributeError|PermissionError|"
                   r"FileNotFoundError|OSError|ZeroDivisionError|Traceback)\b")


def _digital(n=600, seed=0, lo=-100, hi=100):
    rng = np.random.default_rng(seed)
    return np.clip(np.round(rng.normal(0, 30, (n, 2))), lo, hi).astype(np.int64)


def _write(folder, name, d, fmt, fs=250):
    wfdb.wrsamp(name, fs=fs, units=["mV", "mV"], sig_name=["II", "V5"], d_signal=d, fmt=[fmt] * 2,
                adc_gain=[200.0, 200.0], baseline=[0, 0], write_dir=str(folder))
    return folder / f"{name}.hea"


@pytest.mark.parametrize("fmt", ["80", "16", "24", "32", "212", "508", "516", "524"])
def test_every_format_wfdb_writes_reads_equal_to_rdrecord(tmp_path, fmt):
    hea = _write(tmp_path, f"r{fmt}", _digital(), fmt)
    ref = wfdb.rdrecord(str(hea.with_suffix("")))
    rec = read(hea)
    assert rec.samples.shape == ref.p_signal.T.shape
    np.testing.assert_allclose(rec.samples, ref.p_signal.T, atol=1e-6)


def _hand_written(tmp_path, fmt: str, encode) -> pathlib.Path:
    """A record in a storage format wfdb cannot write: format 16 rewritten with ``encode``."""
    d = _digital()
    hea16 = _write(tmp_path, "src", d, "16")
    raw = np.fromfile(hea16.with_suffix(".dat"), dtype="<i2")
    encode(raw).tofile(tmp_path / f"f{fmt}.dat")
    text = hea16.read_text().replace("src.dat 16", f"f{fmt}.dat {fmt}").replace("src ", f"f{fmt} ", 1)
    (tmp_path / f"f{fmt}.hea").write_text(text)
    return tmp_path / f"f{fmt}.hea"


@pytest.mark.parametrize("fmt,encode", [
    ("61", lambda raw: raw.astype(">i2")),                           # big-endian 16-bit
    ("160", lambda raw: (raw.astype(np.int64) + 32768).astype("<u2")),  # offset binary 16-bit
])
def test_formats_written_by_hand_read_equal_to_rdrecord(tmp_path, fmt, encode):
    hea = _hand_written(tmp_path, fmt, encode)
    ref = wfdb.rdrecord(str(hea.with_suffix("")))  # wfdb's defaults read it
    np.testing.assert_allclose(ref.p_signal, _digital() / 200.0, atol=1e-9)  # the file is right
    rec = read(hea)
    np.testing.assert_allclose(rec.samples, ref.p_signal.T, atol=1e-6)


def _cli(*args, cwd=None, env_extra=None, user=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "biosig.cli", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=120, user=user)


@pytest.mark.parametrize("fs", ["-1", "nan", "1e9", "1000000000", "0", "abc"])
def test_hostile_header_fs_refused_with_one_line(tmp_path, fs):
    hea = _write(tmp_path, "r", _digital(), "16")
    hea.write_text(hea.read_text().replace("r 2 250 ", f"r 2 {fs} ", 1))
    with pytest.raises(ReadError) as info:
        read(hea)
    assert "sampling rate" in info.value.problem and fs in info.value.problem
    out = _cli("info", hea)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "implausible sampling rate" in lines[0] and not _LEAK.search(lines[0])


def test_wfdb_default_fs_when_omitted_still_reads(tmp_path):
    hea = _write(tmp_path, "r", _digital(), "16")
    hea.write_text(hea.read_text().replace("r 2 250 600", "r 2", 1))
    assert read(hea).fs_hz == 250.0  # WFDB's documented default, not a fallback


def test_more_signals_declared_than_signal_lines(tmp_path):
    hea = _write(tmp_path, "r", _digital(), "16")
    hea.write_text(hea.read_text().replace("r 2 250", "r 3 250", 1))
    with pytest.raises(ReadError, match="declares 3 signals but has 2 signal line"):
        read(hea)


def test_empty_record_is_reported_without_wfdb_internals(tmp_path):
    hea = _write(tmp_path, "r", _digital(), "16")
    (tmp_path / "r.dat").write_bytes(b"")
    with pytest.raises(ReadError, match="holds no samples") as info:
        read(hea)
    assert "sampto" not in str(info.value)
    hea.write_text(hea.read_text().replace("r 2 250 600", "r 2 250 0", 1))
    with pytest.raises(ReadError, match="holds no samples"):
        read(hea)


def test_missing_segment_reported_under_the_record_name(tmp_path):
    for i, name in enumerate(("seg_1", "seg_2")):
        _write(tmp_path, name, _digital(seed=i), "16", fs=125)
    (tmp_path / "multi.hea").write_text("multi/2 2 125 1200\nseg_1 600\nseg_2 600\n")
    assert read(tmp_path / "multi.hea").n_samples == 1200
    (tmp_path / "seg_2.hea").unlink()
    with pytest.raises(ReadError) as info:
        read(tmp_path / "multi.hea")
    assert info.value.path.endswith("multi.hea") and "segment seg_2" in info.value.problem


def test_multi_frequency_record_at_a_fractional_frame_rate_resamples_to_250(tmp_path):
    # 249.89 frames/s, one channel at 2 samples per frame: the record is 499.78 Hz.
    n = 2000
    t = np.arange(2 * n) / 499.78
    fast = np.round(1000 * np.sin(2 * np.pi * 5 * t)).astype(np.int64)
    slow = np.round(1000 * np.sin(2 * np.pi * 2 * t[::2])).astype(np.int64)
    wfdb.wrsamp("mf", fs=249.89, units=["mV", "mV"], sig_name=["II", "V5"], e_d_signal=[fast, slow],
                fmt=["16"] * 2, samps_per_frame=[2, 1], adc_gain=[1000.0] * 2, baseline=[0, 0],
                write_dir=str(tmp_path))
    got = read(tmp_path / "mf.hea")
    assert got.fs_hz == pytest.approx(499.78)
    up, down = resample_ratio(got.fs_hz, 250.0)
    assert abs(got.fs_hz * up / down - 250.0) <= RESAMPLE_RATE_REL_TOL * 250.0
    at250 = read(tmp_path / "mf.hea", fs_hz=250.0)
    assert at250.fs_hz == 250.0 and abs(at250.n_samples - got.duration_s * 250) <= 1
    # independent oracle: the 5 Hz sine sampled at 250 Hz (edges excluded: filter start-up)
    want = np.sin(2 * np.pi * 5 * np.arange(at250.n_samples) / 250.0)
    np.testing.assert_allclose(at250.samples[0, 200:-200], want[200:-200], atol=2e-3)


def test_resample_ratio_error_bound_and_refusal():
    for fs_in, fs_out in [(249.89, 250), (360, 250), (303.0303, 256), (1000 / 3, 250), (44100, 16000)]:
        up, down = resample_ratio(fs_in, fs_out)
        assert abs(fs_in * up / down - fs_out) <= RESAMPLE_RATE_REL_TOL * fs_out
    from biosig.errors import SignalError
    with pytest.raises(SignalError, match="exactly"):
        resample_ratio(np.pi * 100, 250.0, max_denominator=1000)  # no ratio that small is exact
    with pytest.raises(SignalError, match="exactly"):
        resample_ratio(1e9, 250.0)  # was 0/1 -> scipy's "up and down must be >= 1"
    x = np.random.default_rng(0).normal(size=(1, 2499))
    y = resample(x, 249.89, 250.0)
    assert y.shape == (1, -(-2499 * 25000 // 24989))  # ceil(T * up / down), as resample_poly


# ------------------------------------------------------------------ permissions
_DROP = "-dac_override,-dac_read_search"


def _as_unprivileged(code: str, folder: pathlib.Path) -> subprocess.CompletedProcess:
    """Run ``code`` as the current user; as root, without the capabilities that let root read
    anything (``setpriv``), so that file modes apply as they do to everyone else."""
    prefix = []
    if os.geteuid() == 0:
        prefix = ["setpriv", "--bounding-set", _DROP, "--inh-caps", _DROP]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=str(folder), timeout=120)


@pytest.fixture
def locked_tree():
    if os.geteuid() == 0 and not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: file modes cannot be exercised")
    top = pathlib.Path(tempfile.mkdtemp(prefix="biosig-perm-"))
    os.chmod(top, 0o755)
    ok = top / "ok"
    ok.mkdir()
    _write(ok, "r", _digital(), "16")
    locked = top / "locked"
    locked.mkdir()
    _write(locked, "s", _digital(), "16")
    unreadable = top / "unreadable"
    unreadable.mkdir()
    _write(unreadable, "u", _digital(), "16")
    for p in [ok, *ok.iterdir(), locked, *locked.iterdir(), unreadable, *unreadable.iterdir()]:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    os.chmod(unreadable / "u.hea", 0o000)
    os.chmod(locked, 0o000)
    yield top
    os.chmod(locked, 0o755)
    shutil.rmtree(top)


def test_permission_problems_are_read_errors_and_one_line(locked_tree):
    code = """
import json, sys
from biosig.errors import ReadError
from biosig.readers import discover, read
out = {"discover": discover(["."])}
for p in ["locked/s.hea", "unreadable/u.hea", "locked"]:
    try:
        read(p); out[p] = "read"
    except ReadError as exc:
        out[p] = exc.problem
    except Exception as exc:
        out[p] = "LEAK " + type(exc).__name__
print(json.dumps(out))
"""
    res = _as_unprivileged(code, locked_tree)
    assert res.returncode == 0, res.stderr
    import json
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert "locked" in out["discover"]  # not skipped silently
    assert "unreadable/u.hea" in out["discover"]
    for key in ("locked/s.hea", "unreadable/u.hea", "locked"):
        assert "permission denied" in out[key], out
    cli = _as_unprivileged("import sys; from biosig.cli import main; sys.exit(main(['info', 'locked/s.hea', 'ok']))",
                           locked_tree)
    assert cli.returncode == 1 and "Traceback" not in cli.stderr, cli.stderr   # one of two unreadable
    errors = [ln for ln in cli.stderr.splitlines() if "error" in ln]
    assert len(errors) == 1 and "permission denied" in errors[0] and not _LEAK.search(errors[0])
    assert "ok/r.hea" in cli.stdout  # the readable record is still summarised
    cli = _as_unprivileged("import sys; from biosig.cli import main; sys.exit(main(['info', '.']))", locked_tree)
    assert cli.returncode == 1 and "no records found" not in cli.stderr and "permission denied" in cli.stderr
    assert "ok/r.hea" in cli.stdout


def test_folder_of_unparsable_csvs_is_reported(tmp_path):
    (tmp_path / "a.csv").write_text("time,value\n0,1\n")
    (tmp_path / "b.csv").write_text("foo;bar\n1;2\n")
    found = discover([tmp_path])
    assert sorted(pathlib.Path(p).name for p in found) == ["a.csv", "b.csv"]
    out = _cli("info", tmp_path)
    assert out.returncode == 2 and out.stderr.count("error:") == 2 and "no records found" not in out.stderr
    (tmp_path / "t.csv").write_text("t_s,x\n0,1\n0.01,2\n0.02,3\n")
    assert [pathlib.Path(p).name for p in discover([tmp_path])] == ["t.csv"]  # REFERENCE.csv-style skip


# ------------------------------------------------------------------ the NumPy decoder (fast start-up)
def test_native_annotations_equal_rdann(tmp_path):
    from biosig.readers.wfdb_native import ANN_SYMBOLS, read_annotations

    from wfdb.io.annotation import ann_label_table
    table = dict(zip(ann_label_table["label_store"], ann_label_table["symbol"]))
    assert {k: table[k] for k in ANN_SYMBOLS} == ANN_SYMBOLS
    _write(tmp_path, "r", _digital(n=200_000), "16")
    sample = np.array([5, 900, 2000, 70_000, 70_001, 150_000])  # gaps > 1023 need SKIP words
    symbol = ["N", "V", "+", "A", "~", "N"]
    aux = ["", "", "(AFIB", "", "noise here", ""]
    wfdb.wrann("r", "atr", sample, symbol=symbol, aux_note=aux, write_dir=str(tmp_path))
    ref = wfdb.rdann(str(tmp_path / "r"), "atr")
    got = read_annotations(tmp_path / "r.atr")
    np.testing.assert_array_equal(got[0], ref.sample)
    assert list(got[1]) == list(ref.symbol) and list(got[2]) == [a or "" for a in ref.aux_note]
    rec = read(tmp_path / "r.hea")
    assert list(rec.annotations.sample) == list(sample) and rec.annotations.aux[2] == "(AFIB"


def test_native_decoder_matches_wfdb_on_the_shared_mit_bih_record():
    from conftest import shared_path

    hea = shared_path("wfdb", "100.hea")
    ref = wfdb.rdrecord(str(hea.with_suffix("")))
    ann = wfdb.rdann(str(hea.with_suffix("")), "atr")
    rec = read(hea)
    assert rec.metadata["storage_formats"] == ["212", "212"] and rec.channels == tuple(ref.sig_name)
    np.testing.assert_allclose(rec.samples, ref.p_signal.T, atol=1e-6)
    np.testing.assert_array_equal(rec.annotations.sample, ann.sample)
    assert rec.annotations.symbol == tuple(ann.symbol) and rec.units == tuple(ref.units)


@pytest.mark.parametrize("parts", [("wfdb", "a103l.hea"), ("cinc2017", "A00020.hea"), ("cinc2017", "A00028.hea")])
def test_native_decoder_matches_wfdb_on_shared_mat_records(parts):
    from conftest import shared_path

    hea = shared_path(*parts)
    ref = wfdb.rdrecord(str(hea.with_suffix("")))
    rec = read(hea)
    assert rec.channels == tuple(ref.sig_name) and rec.units == tuple(ref.units) and rec.fs_hz == ref.fs
    np.testing.assert_allclose(rec.samples, ref.p_signal.T.astype(np.float32), atol=1e-6, equal_nan=True)
    assert rec.metadata["comments"] == ref.comments


def test_info_imports_neither_wfdb_nor_torch(tmp_path):
    hea = _write(tmp_path, "r", _digital(), "212")
    code = ("import sys; from biosig.cli import main; rc = main(['info', sys.argv[1]]); "
            "print('HEAVY', sorted(m for m in ('wfdb', 'torch', 'encoders', 'librosa', 'neurokit2', 'pandas') "
            "if m in sys.modules), rc)")
    out = subprocess.run([sys.executable, "-c", code, str(hea)], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert "HEAVY [] 0" in out.stdout, out.stdout + out.stderr


def test_score_reports_unreadable_records_in_errors_parquet(locked_tree):
    import torch

    import encoders
    from biosig.pipeline import default_pipeline
    from encoders.checkpoint import save_checkpoint

    torch.manual_seed(0)
    model = locked_tree / "model"
    save_checkpoint(model, encoders.create_model("ecg-tiny"), pipeline=default_pipeline("ecg"))
    for p in [model, *model.rglob("*")]:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    code = ("import sys; from biosig.cli import main; "
            "sys.exit(main(['score', 'ok', 'locked', 'unreadable', '--model', 'model', '--backend', 'torch', "
            "'--out', 'out', '--threads', '1']))")
    res = _as_unprivileged(code, locked_tree)
    assert res.returncode == 1, res.stderr  # finished, some records failed
    assert "Traceback" not in res.stderr
    import polars as pl

    errors = pl.read_parquet(locked_tree / "out" / "errors.parquet")
    assert len(errors) == 2 and all("permission denied" in m for m in errors["message"])
    assert len(pl.read_parquet(locked_tree / "out" / "records.parquet")) == 1

"""Files with odd names are read as the file named (session 74, :mod:`biosig.readers.lib_paths`).

A name with bytes that are not UTF-8 (``x\\xff.csv``) failed in every library: Polars said "malformed CSV (... Object
does not have a .read() method)", pyarrow, pyedflib and soundfile raised UnicodeEncodeError (a traceback for EDF and
WAV). Polars also read ``br[1].csv`` as a glob pattern ("expanded paths were empty"), ``st*r.csv`` as one that
joined ``stAr.csv`` beside it, and ``file:x.csv`` as a URL. The oracle is the same data read under a plain name, and
NumPy's ``loadtxt`` for the CSV.
"""
import os
import sys

import numpy as np
import pytest

from biosig.cli import main
from biosig.readers import lib_paths, read
from biosig.record import Record
from biosig.writers import write

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX byte file names")

NAMES = [b"x\xff", b"caf\xe9 \xb5V", "a b".encode(), "ünï €".encode(), b"-lead", b"#hash", b"br[1]", b"st*r",
         b"file:x", b"~t", b"q?"]


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """One recording written under a plain name in each format: {extension: path}."""
    folder = tmp_path_factory.mktemp("plain")
    t = np.arange(1000) / 100.0
    rec = Record(samples=np.stack([np.sin(t), np.cos(3 * t)]) * 100, fs_hz=100.0, channels=("ecg", "ppg"),
                 units=("mV", "mV"), modality="ecg")
    return {ext: write(rec, folder / f"rec.{ext}") for ext in ("csv", "parquet", "edf")}


def _copy(src, folder, name: bytes, ext: str) -> str:
    dst = os.path.join(os.fsencode(folder), name + b"." + ext.encode())
    try:
        with open(src, "rb") as a, open(dst, "wb") as b:
            b.write(a.read())
    except OSError as exc:   # a file system that takes UTF-8 names only (macOS APFS)
        pytest.skip(f"this file system refuses the name {name!r}: {exc}")
    return os.fsdecode(dst)


@pytest.mark.parametrize("ext", ["csv", "parquet", "edf"])
def test_every_odd_name_reads_the_same_samples_as_a_plain_one(plain, tmp_path, ext):
    want = read(plain[ext])
    for name in NAMES:
        got = read(_copy(plain[ext], tmp_path, name, ext))
        np.testing.assert_array_equal(got.samples, want.samples, err_msg=repr(name))
        assert got.fs_hz == want.fs_hz and got.channels == want.channels
    if ext == "csv":   # an independent reading of the values
        oracle = np.loadtxt(plain["csv"], delimiter=",", skiprows=1)
        np.testing.assert_array_equal(want.samples, oracle[:, 1:].T.astype(np.float32))


def test_a_wav_file_with_a_latin1_name_is_read(tmp_path):
    rec = Record(samples=np.sin(np.arange(4000) / 7.0)[None] * 0.5, fs_hz=8000.0, channels=("mic",), units=("FS",),
                 modality="audio")
    src = write(rec, tmp_path / "plain.wav")
    got = read(_copy(src, tmp_path, b"son \xe9", "wav"))
    np.testing.assert_array_equal(got.samples, read(src).samples)


def test_a_glob_like_name_reads_only_its_own_file(plain, tmp_path):
    star = _copy(plain["csv"], tmp_path, b"st*r", "csv")
    other = tmp_path / "stAr.csv"   # matched by the pattern st*r.csv: Polars read both, one after the other
    other.write_text("t_s,ecg\n0,1\n0.01,2\n")
    assert read(star).n_samples == 1000


def test_info_names_a_latin1_file_and_reads_it(plain, tmp_path, capsys):
    path = _copy(plain["csv"], tmp_path, b"x\xff", "csv")
    assert main(["info", path]) in (0, None)
    out = capsys.readouterr().out
    assert "1000" in out and "csv" in out


def test_the_link_stand_in_where_there_is_no_proc(plain, tmp_path, monkeypatch):
    """Without /proc/self/fd (macOS, BSD) the stand-in is a symbolic link in a private folder, removed after."""
    monkeypatch.setattr(lib_paths, "_PROC_FD", tmp_path / "no-proc")
    path = _copy(plain["csv"], tmp_path, b"br[1] \xff", "csv")
    with lib_paths.library_path(path) as source:
        assert os.path.islink(source) and lib_paths.plain_name(source)
        folder = os.path.dirname(source)
    assert not os.path.exists(folder)
    np.testing.assert_array_equal(read(path).samples, read(plain["csv"]).samples)


def test_plain_and_missing_names_pass_through(tmp_path):
    with lib_paths.library_path(tmp_path / "rec.csv") as source:   # missing: the library says "no such file"
        assert source == str(tmp_path / "rec.csv")
    plain = tmp_path / "ok.csv"
    plain.write_text("t_s,a\n0,1\n")
    with lib_paths.library_path(plain) as source:
        assert source == str(plain)

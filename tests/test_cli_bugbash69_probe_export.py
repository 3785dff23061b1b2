"""Bug bash 69 of ``biosig probe``, ``biosig export`` and ``biosig compile`` with a user's mistakes: each is one
line on stderr and exit code 2, never a traceback, and nothing is averaged, ignored or built silently.

probe: a UTF-16 labels file (Excel's "Unicode Text") named columns "\\xff\\xfer e c o r d"; two embed outputs
joined into one file were averaged into one record per recording (two models' vectors mixed); ids that all
miss did not say how many; --min-quality above every window did not say the highest quality.
export: --out model.ONNX said only "should end in .onnx".
compile: a --calibration that is no .npy of windows, a --min-length below the model's smallest input, a
--max-length below the model window and --channels beyond a channel_idx-less graph's were said only on a
GPU machine (or not at all: calibration windows of another shape than the profile were read past their end)."""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from biosig.cli import main
from encoders.errors import EncoderError

NAMES = [f"R{i:03d}" for i in range(8)]
Y = ["A", "B"] * 4


def _run(capsys, *argv):
    """(exit code, the one line of stderr): asserts one line and no traceback."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return code, lines[0]


def _embeddings(path, seed=0, names=NAMES, quality=0.9):
    """Two 10 s windows per record, as biosig embed writes them (source, channels, t0_s, t1_s, quality,
    embedding); the class shifts the vectors."""
    rng = np.random.default_rng(seed)
    rows = []
    for n, label in zip(names, Y):
        for t0 in (0.0, 10.0):
            rows.append({"source": f"/data/{n}.hea", "channels": "ECG", "t0_s": t0, "t1_s": t0 + 10.0,
                         "quality": quality, "embedding": (rng.normal(size=6) + 2.0 * (label == "A")).tolist()})
    df = pl.DataFrame(rows)
    df.write_parquet(path)
    return df


@pytest.fixture
def files(tmp_path):
    emb = tmp_path / "e.parquet"
    _embeddings(emb)
    labels = tmp_path / "labels.csv"
    labels.write_text("record,label\n" + "".join(f"{n},{y}\n" for n, y in zip(NAMES, Y)))
    return emb, labels


def _probe(capsys, emb, labels, *more):
    return _run(capsys, "probe", "--embeddings", emb, "--labels", labels, "--label-column", "label",
                "--folds", "2", "--bootstrap", "20", *more)


def test_a_utf16_labels_file_is_named_as_such(files, tmp_path, capsys):
    emb, labels = files
    wide = tmp_path / "unicode.txt"
    wide.write_text(labels.read_text().replace(",", "\t"), encoding="utf-16")   # Excel's "Unicode Text"
    code, line = _probe(capsys, emb, wide)
    assert code == 2 and f"{wide}: cannot read labels: UTF-16 text" in line and "UTF-8" in line, line


def test_two_embed_outputs_joined_into_one_file_are_refused_not_averaged(files, tmp_path, capsys):
    emb, labels = files
    other = _embeddings(tmp_path / "other.parquet", seed=1)   # another model's vectors of the same windows
    joined = tmp_path / "joined.parquet"
    pl.concat([pl.read_parquet(emb), other]).write_parquet(joined)
    code, line = _probe(capsys, joined, labels)
    assert code == 2 and "32 rows of the embeddings are windows that appear more than once (8 record(s), " \
                         "e.g. R000 0-10 s)" in line and "probe each file on its own" in line, line
    assert main(["probe", "--embeddings", str(emb), "--labels", str(labels), "--label-column", "label", "--folds",
                 "2", "--bootstrap", "20"]) == 0   # the file on its own probes


def test_ids_that_all_miss_say_how_many(files, tmp_path, capsys):
    emb, _ = files
    labels = tmp_path / "other_ids.csv"
    labels.write_text("record,label\n" + "".join(f"X{n},{y}\n" for n, y in zip(NAMES[:6], Y)))
    code, line = _probe(capsys, emb, labels)
    assert code == 2 and "none of the 6 labelled id(s) is one of the 8 embedded record(s)" in line, line


def test_min_quality_above_every_window_says_the_highest(files, capsys):
    emb, labels = files
    code, line = _probe(capsys, emb, labels, "--min-quality", "0.95")
    assert code == 2 and "no window has a quality of --min-quality 0.95 or more (the highest of the 16 is 0.9)" \
        in line and "give a lower --min-quality" in line, line


def test_export_out_in_capitals_names_the_file_to_give(tmp_path, capsys):
    code, line = _run(capsys, "export", "ecg-tiny", "--out", tmp_path / "model.ONNX")
    assert code == 2 and "should end in .onnx (e.g. model.onnx)" in line, line
    assert not list(tmp_path.iterdir())


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    """ppg-tiny exported by biosig export (a small graph without channel_idx; window 1250 samples)."""
    from conftest import load_encoder
    from encoders.export import export_onnx
    return export_onnx(load_encoder("ppg-tiny"), tmp_path_factory.mktemp("g") / "ppg.onnx").path


def _calibration(tmp_path, kind):
    path = tmp_path / f"calib_{kind}.npy"
    if kind == "csv":
        path = tmp_path / "calib.csv"
        path.write_text("a,b\n1,2\n")
    elif kind == "npz":
        path = tmp_path / "calib.npz"
        np.savez(path, x=np.zeros((8, 1, 1250), np.float32))
    elif kind == "2d":
        np.save(path, np.zeros((8, 1250), np.float32))
    elif kind == "few":
        np.save(path, np.zeros((2, 1, 1250), np.float32))
    elif kind == "nan":
        x = np.zeros((8, 1, 1250), np.float32)
        x[3, 0, 7] = np.nan
        np.save(path, x)
    return path


@pytest.mark.parametrize("kind, needle", [
    ("csv", "cannot read an .npy array (not an .npy file"),
    ("npz", "an .npz archive, not one .npy array"),
    ("2d", "need windows (N, C, T) of numbers with N >= 8 (--opt-batch), got float32 (8, 1250)"),
    ("few", "need windows (N, C, T) of numbers with N >= 8 (--opt-batch), got float32 (2, 1, 1250)"),
    ("nan", "1 NaN or infinite value(s)"),
])
def test_a_calibration_that_is_no_npy_of_windows_is_named_before_the_machine(graph, tmp_path, capsys, kind, needle):
    calib = _calibration(tmp_path, kind)
    code, line = _run(capsys, "compile", graph, "--out", tmp_path / "m.plan", "--precision", "int8",
                      "--calibration", calib)
    assert code == 2 and f"--calibration {calib}: {needle}" in line and "GPU" not in line, line
    assert not (tmp_path / "m.plan").exists()


@pytest.mark.parametrize("options, needle", [
    (["--min-length", "5"], "--min-length 5 is shorter than the smallest input of ppg-tiny"),
    (["--max-length", "100"], "got 1250/1250/100 (--min-length and --opt-length: the model window, "
                                       "1250 samples)"),
    (["--channels", "3"], "has 1 channel name(s) (PPG) and its graph takes no channel_idx; "
                                 "give --channels 1"),
])
def test_a_profile_the_graph_cannot_take_is_named_before_the_machine(graph, tmp_path, capsys, options, needle):
    code, line = _run(capsys, "compile", graph, "--out", tmp_path / "m.plan", *options)
    assert code == 2 and needle in line and "GPU" not in line, line


def test_calibration_windows_of_another_shape_than_the_profile_are_refused(tmp_path):
    """TensorRT reads each calibration batch as windows of the profile's shape (--channels x --opt-length):
    smaller windows were read past their buffer."""
    from encoders.compile import load_calibration
    path = tmp_path / "c.npy"
    np.save(path, np.ones((8, 2, 100), np.float32))
    assert load_calibration(path, 8, (2, 100)).shape == (8, 2, 100)
    with pytest.raises(EncoderError, match=r"windows of 2 channel\(s\) x 100 samples, and the engine is "
                                           r"calibrated on 1 x 1250"):
        load_calibration(path, 8, (1, 1250))

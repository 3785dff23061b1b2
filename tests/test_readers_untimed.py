"""Tables of bare sample values read at a stated rate (``sample_rate_hz`` / ``--sample-rate-hz``):
the values against numpy's own reading of the file, the layouts, the mistakes, and the CLI path
from embed to probe (which re-reads the recordings with the same option)."""
from __future__ import annotations

import pathlib

import numpy as np
import pytest

from biosig.errors import ReadError
from biosig.readers import read


def _values(n=500, channels=2, seed=0):
    return np.random.default_rng(seed).normal(size=(n, channels)).round(5)


def test_headed_and_headerless_tables_equal_numpy_reading(tmp_path):
    x = _values()
    headed, bare = tmp_path / "headed.csv", tmp_path / "bare.txt"
    np.savetxt(headed, x, fmt="%.5f", delimiter=",", header="II [mV],PLETH", comments="")
    np.savetxt(bare, x, fmt="%.5f", delimiter=",")
    for path, names in ((headed, ("II", "PLETH")), (bare, ("ch1", "ch2"))):
        rec = read(path, sample_rate_hz=250)
        assert rec.fs_hz == 250 and rec.channels == names and rec.metadata["format"] == "untimed-csv"
        np.testing.assert_allclose(rec.samples, np.loadtxt(path, delimiter=",", skiprows=int(path == headed)).T.astype(np.float32))
        assert rec.n_samples == 500 and rec.duration_s == pytest.approx(2.0)
    assert read(headed, sample_rate_hz=250).units[0] == "mV"
    assert read(headed, sample_rate_hz=250).channel_modalities == ("ecg", "ppg")   # guessed from the names


def test_semicolons_decimal_commas_tabs_and_gaps(tmp_path):
    p = tmp_path / "eu.csv"
    p.write_text("ppg;resp\n0,5;1,25\n;1,5\n0,75;NaN\n")
    rec = read(p, sample_rate_hz=10)
    np.testing.assert_array_equal(rec.samples, np.array([[0.5, np.nan, 0.75], [1.25, 1.5, np.nan]], np.float32))
    t = tmp_path / "tabs.tsv"
    t.write_text("1.5\t2\n3\t4\n")
    np.testing.assert_array_equal(read(t, sample_rate_hz=1).samples, [[1.5, 3], [2, 4]])


def test_many_channels_with_more_rows_than_columns_are_channels(tmp_path):
    p = tmp_path / "hd.csv"   # 17 columns, 17 samples: still one column per channel
    np.savetxt(p, np.arange(17 * 17, dtype=float).reshape(17, 17), delimiter=",")
    rec = read(p, sample_rate_hz=10)
    assert rec.samples.shape == (17, 17) and rec.samples[3, 2] == 2 * 17 + 3


def test_a_timed_table_keeps_its_own_times(tmp_path):
    p = tmp_path / "timed.csv"
    p.write_text("t_s,ecg\n0,1\n0.002,2\n0.004,3\n")
    assert read(p, sample_rate_hz=100).fs_hz == 500          # its time column, not the stated rate
    assert read(p).fs_hz == 500


@pytest.mark.parametrize("text, match", [
    ("ppg\n1\nx2\n", "line 3 holds 'x2'"),
    ("a,b\n1,2\n3\n", "line 3 has 1 field"),
    (",".join(["0.1"] * 40) + "\n", "one row of 40 values"),
    ("\n".join([",".join(["0.1"] * 1000)] * 50) + "\n", "50 rows of 1000 values: this looks like one segment per row"),
    ("\n".join([",".join(["0.1"] * 17)] * 16) + "\n", "16 rows of 17 values"),
])
def test_mistakes_in_the_file_say_where(tmp_path, text, match):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(ReadError, match=match):
        read(p, sample_rate_hz=100)


@pytest.mark.parametrize("rate", [0, -5, float("nan"), float("inf"), "fast", True])
def test_a_bad_rate_is_a_read_error(tmp_path, rate):
    p = tmp_path / "ok.csv"
    p.write_text("1\n2\n3\n")
    with pytest.raises(ReadError, match="sample_rate_hz=.* must be a sampling rate"):
        read(p, sample_rate_hz=rate)


def test_without_a_rate_the_error_says_how_to_give_one(tmp_path):
    p = tmp_path / "bare.csv"
    p.write_text("0.1\n0.2\n")
    with pytest.raises(ReadError, match="--sample-rate-hz HZ"):
        read(p)


def test_embed_info_and_probe_read_the_same_tables(tmp_path, capsys):
    """embed --sample-rate-hz records the option; probe --baseline re-reads the recordings with it."""
    from biosig.cli import main
    from biosig.synthetic import simulate
    segs = tmp_path / "segs"
    segs.mkdir()
    rows = ["record,label"]
    for i in range(10):
        fast = i % 2
        r = simulate("ppg", 20, seed=i, fs_hz=100.0, heart_rate_bpm=(100 + 2 * i) if fast else (58 + 2 * i))
        np.savetxt(segs / f"s{i}.csv", r.samples[0], fmt="%.5f", header="pleth", comments="")
        rows.append(f"s{i},{'fast' if fast else 'slow'}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    assert main(["info", str(segs / "s0.csv"), "--sample-rate-hz", "100", "--no-quality"]) == 0
    out = capsys.readouterr().out
    assert "untimed-csv" in out and "20.00 s" in out
    emb = tmp_path / "emb.parquet"
    assert main(["embed", str(segs), "--model", "ppg-tiny", "--random-weights", "--sample-rate-hz", "100",
                 "--out", str(emb)]) == 0
    assert main(["probe", "--embeddings", str(emb), "--labels", str(tmp_path / "labels.csv"), "--label-column",
                 "label", "--baseline", "ibi", "--folds", "2", "--bootstrap", "20", "--jobs", "1"]) == 0
    ibi = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("ibi "))
    assert float(ibi.split("|")[1].split()[0]) > 0.9   # the pulse rate, read at 100 Hz, separates them
    assert main(["embed", str(segs), "--model", "ppg-tiny", "--out", str(tmp_path / "x.parquet")]) == 2
    assert "--sample-rate-hz HZ" in capsys.readouterr().err
    for bad in ("0", "-1", "nan", "fast"):
        with pytest.raises(SystemExit) as info:
            main(["embed", str(segs), "--model", "ppg-tiny", "--sample-rate-hz", bad, "--out", str(emb)])
        assert info.value.code == 2


def test_a_stated_rate_lets_discovery_take_bare_tables_beside_records_but_not_labels(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    from biosig.cli import main
    from biosig.readers import discover
    from biosig.synthetic import simulate
    from biosig.writers import write
    write(simulate("ppg", 12, seed=0, fs_hz=100.0), data / "timed.csv")            # a t_s table: a record
    np.savetxt(data / "bare.csv", simulate("ppg", 12, seed=1, fs_hz=100.0).samples[0], fmt="%.5f",
               header="pleth", comments="")
    (data / "labels.csv").write_text("record,label\nbare,AF\ntimed,SR\n")            # not samples: stays out
    names = lambda found: sorted(pathlib.Path(p).name for p in found)   # noqa: E731
    assert names(discover(data)) == ["timed.csv"]
    assert names(discover(data, bare_tables=True)) == ["bare.csv", "timed.csv"]
    assert main(["embed", str(data), "--model", "ppg-tiny", "--random-weights", "--sample-rate-hz", "100",
                 "--out", str(tmp_path / "emb.parquet")]) == 0
    import polars as pl
    assert names(set(pl.read_parquet(tmp_path / "emb.parquet")["source"].to_list())) == ["bare.csv", "timed.csv"]
    out = tmp_path / "scored"
    assert main(["score", str(data), "--model", "ppg-tiny", "--sample-rate-hz", "100", "--out", str(out)]) == 0
    assert names(pl.read_parquet(out / "records.parquet")["name"].to_list()) == ["bare.csv", "timed.csv"]

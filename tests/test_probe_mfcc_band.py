"""``biosig probe --baseline mfcc --mfcc-fmax-hz HZ|common``: the MFCC row on a band every
recording's rate holds (a set recorded at 4 and 16 kHz: 0.45 x 4000 = 1800 Hz, read from the WAV
headers), named on the row; the features are encoders.baselines.mfcc_features with that band. Real
WAV files, the real probe command; the default band (8 kHz) is unchanged."""
from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
import soundfile

from biosig.cli import main
from biosig.readers import read
from encoders.baselines import mfcc_features
from encoders.probe_features import FeatureSpec, RecordFile, features


@pytest.fixture(scope="module")
def two_rates(tmp_path_factory):
    """8 one-second sounds, 4 at 4 kHz and 4 at 16 kHz, labels A / N across both rates."""
    d = tmp_path_factory.mktemp("mfcc_band")
    rng = np.random.default_rng(0)
    rows, labels = [], []
    for i in range(8):
        fs = 4000 if i < 4 else 16000
        t = np.arange(fs) / fs
        x = 0.3 * np.sin(2 * np.pi * (300 + 40 * i) * t) + 0.05 * rng.normal(size=fs)
        p = d / f"s{i}.wav"
        soundfile.write(p, x.astype(np.float32), fs)
        label = "A" if i % 2 else "N"
        rows.append({"source": str(p), "embedding": (rng.normal(size=4) + (label == "A")).tolist()})
        labels.append(f"s{i},{label}\n")
    pl.DataFrame(rows).write_parquet(d / "emb.parquet")
    (d / "labels.csv").write_text("record,label\n" + "".join(labels))
    return d, ["probe", "--embeddings", str(d / "emb.parquet"), "--labels", str(d / "labels.csv"),
               "--label-column", "label", "--positive", "A", "--folds", "2", "--bootstrap", "20"]


def test_common_band_is_the_lowest_rates_and_named_on_the_row(two_rates, capsys):
    _, cmd = two_rates
    capsys.readouterr()
    assert main([*cmd, "--baseline", "mfcc", "--mfcc-fmax-hz", "common", "--json", "--jobs", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "mfcc 0-1800 Hz" in out and "mfcc" not in out, list(out)   # the default's row is "mfcc" (test_probe)


def test_the_band_reaches_mfcc_features(two_rates):
    d, _ = two_rates
    p = str(d / "s0.wav")
    ours = features(FeatureSpec("mfcc", fmax_hz=1800.0), [RecordFile(p)])[0]
    np.testing.assert_array_equal(ours, mfcc_features(read(p), fmax_hz=1800.0))
    assert not np.allclose(ours, features(FeatureSpec("mfcc"), [RecordFile(p)])[0])


def test_misuse_is_one_line(two_rates, capsys):
    _, cmd = two_rates
    capsys.readouterr()
    assert main([*cmd, "--baseline", "hrv", "--mfcc-fmax-hz", "1800"]) == 2
    err = capsys.readouterr().err
    assert "--mfcc-fmax-hz applies to --baseline mfcc" in err and len(err.strip().splitlines()) == 1, err
    with pytest.raises(SystemExit) as info:
        main([*cmd, "--baseline", "mfcc", "--mfcc-fmax-hz", "9000"])
    assert info.value.code == 2 and "0 < HZ <= 8000" in capsys.readouterr().err

"""``biosig score``: the summary of failed records counts each kind of error once and names its records.

Bug bash: a folder with two truncated EDF files, two 8 kHz WAVs (no ECG channel) and two empty WAVs
was summarised as "1 x a.edf: truncated ...", "1 x b.edf: truncated ...", "2 x no usable ecg channel
among: mono (audio)" (no file named) and "... 2 other message(s)" (the empty WAVs hidden).
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import polars as pl
import soundfile as sf

from biosig.record import Record
from biosig.writers import write
from conftest import ROOT


def test_error_kinds_are_counted_once_with_their_records(tmp_path):
    folder = tmp_path / "mixed archive"
    folder.mkdir()
    t = np.arange(30 * 250) / 250.0
    ecg = np.sin(2 * np.pi * 1.2 * t) ** 63   # a spiky 72 /min train: something to score
    write(Record(ecg[None], 250.0, ("II",), ("mV",)), folder / "good.csv")
    for name in ("a.edf", "b.edf"):
        (folder / name).write_bytes(b"0" * 100)                                  # truncated EDF header
    tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(8000 * 2) / 8000)).astype(np.float32)
    for name in ("cough 1.wav", "cough 2.wav"):
        sf.write(folder / name, tone, 8000)                                      # audio: no ECG channel
    for name in ("empty1.wav", "empty2.wav"):
        sf.write(folder / name, np.zeros((0, 1), np.float32), 16000)             # no samples
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "biosig.cli", "score", str(folder), "--model", "ecg-tiny",
                          "--out", str(out), "--backend", "torch"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr
    errors = pl.read_parquet(out / "errors.parquet")
    assert errors.height == 6                                                   # the table: one row a record
    by_kind = {}
    for record, message in errors.select("record", "message").rows():
        kind = message[len(record) + 2:] if message.startswith(record + ": ") else message
        by_kind.setdefault(kind, []).append(record)
    assert sorted(map(len, by_kind.values())) == [2, 2, 2], by_kind
    summary = [line.strip() for line in res.stderr.split("errors.parquet", 1)[1].strip().splitlines()]
    assert len(summary) == 3, res.stderr   # three kinds, none hidden behind "... other message(s)"
    expected = {f"2 x {kind[:120]} ({', '.join(sorted(records))})" for kind, records in by_kind.items()}
    # each record named once, in the table's order (a sorted pair here: a folder walk is sorted)
    assert set(summary) == expected, (summary, expected)
    assert any("cough 1.wav" in line and "no usable ecg channel" in line for line in summary)

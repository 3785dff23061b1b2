"""``probe --baseline``: the records whose handcrafted features are undefined are named, not only counted.

Bug bash: on CinC 2017 ``--baseline hrv`` warned "1 record(s) had undefined features" and left the
user to find which (A00593, where NeuroKit2's own peak detector finds nothing either).
"""
from __future__ import annotations

import logging

import numpy as np
import pytest

from biosig.cli import main
from biosig.record import Record
from biosig.writers import write


def test_records_with_undefined_hrv_features_are_named(tmp_path, caplog, capsys):
    nk = pytest.importorskip("neurokit2")
    folder = tmp_path / "records"
    folder.mkdir()
    rows = ["record,label"]
    for i, (bpm, label) in enumerate([(60, "slow"), (62, "slow"), (64, "slow"), (100, "fast"), (104, "fast")]):
        ecg = nk.ecg_simulate(duration=40, sampling_rate=250, heart_rate=bpm, random_state=i)
        write(Record(ecg[None], 250.0, ("II",), ("mV",)), folder / f"r{i}.csv")
        rows.append(f"r{i},{label}")
    short = nk.ecg_simulate(duration=2, sampling_rate=250, heart_rate=100, random_state=9)   # 3 beats: no HRV
    write(Record(short[None], 250.0, ("II",), ("mV",)), folder / "short one.csv")
    rows.append("short one,fast")
    labels = tmp_path / "labels.csv"
    labels.write_text("\n".join(rows) + "\n")
    emb = tmp_path / "emb.parquet"
    assert main(["embed", str(folder), "--model", "ecg-tiny", "--out", str(emb)]) == 0
    capsys.readouterr()
    with caplog.at_level(logging.WARNING):
        code = main(["probe", "--embeddings", str(emb), "--labels", str(labels), "--label-column", "label",
                     "--folds", "2", "--bootstrap", "20", "--baseline", "hrv", "--jobs", "1"])
    assert code == 0, capsys.readouterr().err
    said = [r.getMessage() for r in caplog.records if "undefined features" in r.getMessage()]
    assert len(said) == 1, said
    assert said[0].startswith("--baseline hrv: 1 record(s) had undefined features") and said[0].endswith(": short one")

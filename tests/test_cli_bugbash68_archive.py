"""Bug bash of ``biosig embed``, ``score`` and ``info`` with user mistakes (session 68). Before: ``--threads 100000``
made OpenBLAS fail to start its thread pool and ``score`` hang (``embed`` was interrupted); ``--sample-rate-hz``
given for a WFDB or EDF record whose own rate differs was dropped without a word (a user who thought the file's
rate wrong got the file's rate and no sign of it); ``score y.edf sub/x.edf --out sub`` scored y.edf only, exit 0,
x.edf dropped as "under the output folder", and ``score sub --out .`` said the inputs held only its tables;
``score --out ""`` said "out_dir='' must be a name or path (str or os.PathLike)", ``embed --model ""`` ".: not a
checkpoint directory". Tried and already handled well (no change): --window-s 0,
negative, nan, inf or below the model's patch; a window longer than the record (one window of the whole record);
--channel naming a missing channel or a bad modality; --modality against the model; record lists with comments,
blank lines, relative paths and a missing entry; folders with a corrupt, an empty and a PPG file; --out inside the
input folder; --workers 0 or huge; --batch-size 0; --threads 0; --out of another kind; info on an empty folder,
a .hea without its .dat, a 0-byte EDF and ``--json | head``."""
from __future__ import annotations

import os

import pytest

from test_cli_errors import ecg_record, one_line_error, run_main as run  # noqa: F401  (a fixture)


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@pytest.mark.parametrize("command, out", [("embed", "e.parquet"), ("score", "scored")])
def test_more_threads_than_cpus_is_refused_before_the_work(capsys, tmp_path, ecg_record, command, out):  # noqa: F811
    n = _cpus()
    code, _, err = run(capsys, command, ecg_record, "--model", "ecg-tiny", "--threads", 100000,
                       "--out", tmp_path / out)
    line = one_line_error(code, err)
    assert f"--threads 100000: this process may use {n} CPU(s); give at most {n}" in line
    assert not (tmp_path / out).exists()


def test_threads_up_to_the_cpus_still_embed(capsys, tmp_path, ecg_record):  # noqa: F811
    out = tmp_path / "e.parquet"
    code, _, err = run(capsys, "embed", ecg_record, "--model", "ecg-tiny", "--threads", 1, "--out", out)
    assert code == 0, err
    assert out.exists()


def test_a_stated_rate_a_wfdb_or_edf_file_overrides_is_a_warning(capsys, caplog, tmp_path, ecg_record):  # noqa: F811
    import biosig
    edf = tmp_path / "r.edf"
    biosig.write(biosig.read(ecg_record), edf)
    code, _, err = run(capsys, "info", ecg_record, edf, "--no-quality", "--sample-rate-hz", 100)
    assert code == 0, err
    said = caplog.text
    assert "rec.hea: --sample-rate-hz 100 is not used: this wfdb file holds its own rate, 250 Hz" in said
    assert "r.edf: --sample-rate-hz 100 is not used: this edf file holds its own rate, 250 Hz" in said
    assert "Traceback" not in err


def test_a_stated_rate_that_agrees_or_is_used_says_nothing(capsys, caplog, tmp_path, ecg_record):  # noqa: F811
    bare = tmp_path / "bare.csv"
    bare.write_text("ch1\n" + "\n".join(str(i % 7) for i in range(300)) + "\n")
    code, stdout, err = run(capsys, "info", ecg_record, bare, "--no-quality", "--sample-rate-hz", 250)
    assert code == 0, err
    assert "is not used" not in caplog.text + err
    assert "bare.csv" in stdout


@pytest.mark.parametrize("inputs, out", [
    (["y.edf", "sub/x.edf"], "sub"),    # a file named, inside --out: was dropped, "1 records" and exit 0
    (["sub"], "."),                     # --out above the recordings: "the inputs hold only its tables"
    (["sub"], "sub"),                   # --out the recordings' folder itself
])
def test_an_out_folder_holding_recordings_to_score_is_refused_not_dropped(capsys, tmp_path, monkeypatch,
                                                                           ecg_record, inputs, out):  # noqa: F811
    import biosig
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    rec = biosig.read(ecg_record)
    biosig.write(rec, tmp_path / "sub" / "x.edf")
    biosig.write(rec, tmp_path / "y.edf")
    code, _, err = run(capsys, "score", *inputs, "--model", "ecg-tiny", "--out", out)
    line = one_line_error(code, err)
    assert f"--out {out} holds recordings to score (sub/x.edf); give an output folder outside the recordings" in line
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["x.edf"]   # no tables beside it
    assert not (tmp_path / "windows.parquet").exists()


def test_own_outputs_are_told_from_recordings():
    from encoders.scoring.outputs import is_own_output
    for own in ("windows.parquet", "records.parquet", "errors.parquet", "run.json", "parts/job.json",
                "parts/a.edf-1.record.parquet", ".windows.parquet.x1.tmp"):
        assert is_own_output(own), own
    for theirs in ("x.edf", "sub/windows.parquet", "rec.hea", "notes.parquet"):
        assert not is_own_output(theirs), theirs


@pytest.mark.parametrize("command, model, out, says", [
    ("score", "ecg-tiny", "", "--out: an empty path (an unset shell variable?); give an output folder"),
    ("embed", "ecg-tiny", "", "--out: an empty path (an unset shell variable?); give a .parquet file name"),
    ("score", "", "o", "--model: an empty path (an unset shell variable?); give a shipped model name"),
    ("embed", "", "o.parquet", "--model: an empty path (an unset shell variable?); give a shipped model name"),  # was
])                                                                                # ".: not a checkpoint directory"
def test_an_empty_out_or_model_says_so(capsys, tmp_path, monkeypatch, ecg_record, command, model, out,
                                       says):  # noqa: F811
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, command, ecg_record, "--model", model, "--out", out)
    assert says in one_line_error(code, err)
    assert not list(tmp_path.iterdir())

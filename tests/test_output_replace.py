"""Existing output files are not replaced without --force (simulate, embed, export, compile):
a slip of the shell history must not overwrite a recording or an hour of embedding."""
import numpy as np
import pytest

from biosig.cli import main
from biosig.errors import WriteError
from biosig.outputs import check_output_file


def run_main(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_output_file_refuses_existing_file_and_companions(tmp_path):
    target = tmp_path / "rec.csv"
    assert check_output_file(target, replace=False) == target   # missing: fine
    target.write_text("t_s,ecg\n")
    with pytest.raises(WriteError, match="already exists; give --force"):
        check_output_file(target, replace=False)
    assert check_output_file(target) == target                  # replace=True (the default) keeps it allowed
    (tmp_path / "rec2.dat").write_bytes(b"\0\0")               # a WFDB signal file without its header
    with pytest.raises(WriteError, match="rec2.dat already exists"):
        check_output_file(tmp_path / "rec2.hea", replace=False, companions=(".hea", ".dat"))
    link = tmp_path / "dangling.csv"
    link.symlink_to(tmp_path / "nowhere.csv")                   # writing through it would create a file elsewhere
    with pytest.raises(WriteError, match="already exists"):
        check_output_file(link, replace=False)


def test_simulate_refuses_to_replace_a_recording(capsys, tmp_path):
    from biosig.readers import read
    out = tmp_path / "ecg.csv"
    assert main(["simulate", "ecg", "--seconds", "2", "--seed", "1", "--out", str(out)]) == 0
    first = read(out).samples.copy()
    capsys.readouterr()
    code, stdout, err = run_main(capsys, "simulate", "ecg", "--seconds", "2", "--seed", "2", "--out", str(out))
    assert code == 2 and "already exists; give --force" in err and err.count("\n") == 1 and not stdout
    np.testing.assert_array_equal(read(out).samples, first)     # untouched
    assert main(["simulate", "ecg", "--seconds", "2", "--seed", "2", "--out", str(out), "--force"]) == 0
    assert not np.array_equal(read(out).samples, first)         # replaced on request


def test_simulate_wfdb_checks_header_and_signal_file(capsys, tmp_path):
    (tmp_path / "rec.dat").write_bytes(b"\1\2\3\4")             # someone's signal file, header elsewhere
    code, _, err = run_main(capsys, "simulate", "ecg", "--seconds", "1", "--out", str(tmp_path / "rec"))
    assert code == 2 and "rec.dat already exists" in err
    assert (tmp_path / "rec.dat").read_bytes() == b"\1\2\3\4" and not (tmp_path / "rec.hea").exists()
    assert main(["simulate", "ecg", "--seconds", "1", "--out", str(tmp_path / "other.hea")]) == 0
    assert (tmp_path / "other.hea").exists() and (tmp_path / "other.dat").exists()
    capsys.readouterr()
    code, _, err = run_main(capsys, "simulate", "ecg", "--seconds", "1", "--out", str(tmp_path / "other.dat"))
    # each existing file named once (x.dat was listed twice: as given and as the header's companion)
    said = err.split("other.dat: ", 1)[1]   # after "--out .../other.dat: "
    assert code == 2 and said.count("other.dat") == 1 and "other.hea already exist; give --force to replace them" in said


def test_embed_refuses_existing_output_before_any_work(capsys, tmp_path):
    rec = tmp_path / "ecg.csv"
    assert main(["simulate", "ecg", "--seconds", "12", "--out", str(rec)]) == 0
    out = tmp_path / "emb.parquet"
    out.write_bytes(b"PAR1 an earlier run")
    capsys.readouterr()
    code, _, err = run_main(capsys, "embed", str(rec), "--model", "ecg-tiny", "--out", str(out))
    assert code == 2 and "already exists; give --force" in err and err.count("\n") == 1
    assert out.read_bytes() == b"PAR1 an earlier run"
    code, _, err = run_main(capsys, "embed", str(rec), "--model", "ecg-tiny", "--out", str(out), "--force")
    assert code == 0, err
    import polars as pl
    assert pl.read_parquet(out).height >= 1


def test_export_and_compile_refuse_existing_output(capsys, tmp_path):
    out = tmp_path / "m.onnx"
    out.write_bytes(b"an earlier export")
    code, _, err = run_main(capsys, "export", "ecg-tiny", "--out", str(out))
    assert code == 2 and "already exists; give --force" in err and out.read_bytes() == b"an earlier export"
    plan = tmp_path / "m.plan"
    plan.write_bytes(b"an engine")
    code, _, err = run_main(capsys, "compile", str(out), "--out", str(plan))
    assert code == 2 and "already exists; give --force" in err and plan.read_bytes() == b"an engine"


def test_a_ctrl_c_during_the_write_check_leaves_no_check_file(tmp_path, monkeypatch):
    """The folder's write check creates and removes one empty file; a Ctrl-C between the two left
    ``.biosig-write-check-*`` beside the output (an interrupted ``export --force``, no-shared run 68).
    Now the Ctrl-C comes once the file is gone. The SIGINT is real, sent right after the file exists."""
    import os
    import signal
    import tempfile

    made = []

    def mkstemp_then_ctrl_c(*args, **kwargs):
        fd_probe = real_mkstemp(*args, **kwargs)
        made.append(fd_probe[1])
        os.kill(os.getpid(), signal.SIGINT)
        return fd_probe

    real_mkstemp = tempfile.mkstemp
    monkeypatch.setattr(tempfile, "mkstemp", mkstemp_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        check_output_file(tmp_path / "out" / "model.onnx")
    assert made and list((tmp_path / "out").iterdir()) == []

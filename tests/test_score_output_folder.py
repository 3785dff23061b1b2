"""biosig score and its output folder: parts whose job.json is gone are never mixed into another
model's tables, and an output folder that cannot be written is said before the model is looked up.

Before: with parts/job.json deleted, a run with another model took the folder as its own (exit 0), kept
the first model's parts as done and assembled them as the second model's results (run.json named the
second model); an unwritable --out was found only after the model loaded (1.6 s with --backend torch)."""
import contextlib
import io
import pathlib

import polars as pl
import pytest

from conftest import shared_path


@pytest.fixture(scope="module")
def model_dir(ecg_tiny_random_dir):
    return str(ecg_tiny_random_dir)


def _cli(*args):
    """``biosig ARGS`` in this process (the console script's main): (exit code, stdout, stderr)."""
    from biosig.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def _other_model(tmp_path) -> pathlib.Path:
    import torch

    import encoders
    from biosig.pipeline import default_pipeline
    from encoders.checkpoint import save_checkpoint
    torch.manual_seed(1)
    other = tmp_path / "other-model"
    save_checkpoint(other, encoders.create_model("ecg-tiny"), pipeline=default_pipeline("ecg"))
    return other


def test_parts_without_job_json_are_not_taken_by_another_model(tmp_path, model_dir):
    hea = shared_path("cinc2017", "A00020.hea")
    out = tmp_path / "o"
    code, _, err = _cli("score", hea, "--model", model_dir, "--out", out, "--backend", "torch", "--threads", "1")
    assert code == 0, err
    first = pl.read_parquet(out / "records.parquet")
    (out / "parts" / "job.json").unlink()
    code, _, err = _cli("score", hea, "--model", _other_model(tmp_path), "--out", out, "--backend", "torch",
                        "--threads", "1")
    assert code == 2, err
    assert "job.json" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not (out / "parts" / "job.json").exists()          # the folder did not take the other job
    assert pl.read_parquet(out / "records.parquet").equals(first)


def test_a_fresh_or_emptied_parts_folder_still_starts_a_job(tmp_path, model_dir):
    """Only part files of records refuse: a folder with just the lock (a run stopped before its model
    loaded) takes the job."""
    from encoders.scoring.outputs import PartStore
    with PartStore(tmp_path / "o") as store:   # leaves parts/.lock, no job.json
        assert (store.parts / ".lock").exists()
    hea = shared_path("cinc2017", "A00020.hea")
    code, _, err = _cli("score", hea, "--model", model_dir, "--out", tmp_path / "o", "--backend", "torch",
                        "--threads", "1")
    assert code == 0, err


def test_part_store_refuses_parts_without_their_fingerprint(tmp_path):
    from encoders.scoring import ScoreError
    from encoders.scoring.outputs import PartStore
    with PartStore(tmp_path) as store:
        store.check_job({"model_id": "a"})
        (store.parts / "k1.record.parquet").write_bytes(b"")
        (store.parts / "job.json").unlink()
    with PartStore(tmp_path) as store, pytest.raises(ScoreError, match="1 part file.*no parts/job.json"):
        store.check_job({"model_id": "b"})


@pytest.mark.parametrize("under", ["a file", "the file itself"])
def test_an_output_folder_that_cannot_be_made_is_said_before_the_model_is_looked_up(tmp_path, under):
    """The model named here does not exist: the old code said so (it looked the model up first);
    now the output folder is checked first, before any record search or model load."""
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    out = blocker / "o" if under == "a file" else blocker
    hea = shared_path("cinc2017", "A00020.hea")
    code, _, err = _cli("score", hea, "--model", "nosuch-model", "--out", out)
    assert code == 2 and "Traceback" not in err, err
    assert "output folder" in err and "is a file" in err and "nosuch-model" not in err, err


def test_a_read_only_output_folder_is_said_before_the_model_is_looked_up(tmp_path):
    import os
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("this user (root?) writes into a read-only folder")
        hea = shared_path("cinc2017", "A00020.hea")
        code, _, err = _cli("score", hea, "--model", "nosuch-model", "--out", ro / "o")
        assert code == 2 and "not writable" in err and "nosuch-model" not in err, err
        assert not (ro / "o").exists()
    finally:
        ro.chmod(0o755)


def test_check_output_folder_creates_nothing(tmp_path):
    from encoders.scoring.files import check_output_folder
    check_output_folder(tmp_path / "a" / "b")
    assert list(tmp_path.iterdir()) == []

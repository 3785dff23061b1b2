"""biosig score with one archive named different ways: through a symlink, or relative to another working
folder. Real checkpoint (seeded random ecg-tiny), torch backend, real EDF files and real symlinks.

A record's key (its part files, what a resume skips) came from its absolute path as typed, so the same
files reached through a linked folder (``/data -> /mnt/archive``) had other keys: a resume through the
link scored the whole archive again and left the first run's parts out with a warning. The ``record``
column kept each record as the run that scored it spelled it, so a job resumed from another working
folder mixed paths relative to two folders in one table (``data/e1.edf`` beside ``../x/data/e2.edf``)."""
import json
import os

import polars as pl
import pytest


@pytest.fixture(scope="module")
def model_dir(ecg_tiny_random_dir):
    return str(ecg_tiny_random_dir)


def _archive(folder, n=3):
    import biosig
    from biosig.synthetic import simulate
    folder.mkdir(parents=True)
    for seed in range(1, n + 1):
        biosig.write(simulate("ecg", 12, seed=seed), folder / f"e{seed}.edf")
    return folder


def test_a_resume_through_a_linked_folder_skips_the_records_done(tmp_path, model_dir):
    from encoders.scoring import ScoreConfig, run_score
    data = _archive(tmp_path / "archive")
    link = tmp_path / "link"
    os.symlink(data, link, target_is_directory=True)
    out = str(tmp_path / "out")
    first = run_score(ScoreConfig(inputs=(str(data),), model=model_dir, out_dir=out, backend="torch"))
    assert first.scored == 3
    again = run_score(ScoreConfig(inputs=(str(link),), model=model_dir, out_dir=out, backend="torch"))
    assert (again.skipped_done, again.scored) == (3, 0)   # was (0, 3): the archive scored twice
    records = pl.read_parquet(tmp_path / "out" / "records.parquet")
    assert sorted(records["record"]) == [str(link / f"e{i}.edf") for i in (1, 2, 3)]   # as this run named them
    assert records["key"].n_unique() == 3


def test_a_job_resumed_from_another_folder_spells_every_record_one_way(tmp_path, model_dir, monkeypatch):
    from encoders.scoring import ScoreConfig, run_score
    _archive(tmp_path / "x" / "data")
    (tmp_path / "y").mkdir()
    monkeypatch.chdir(tmp_path / "x")
    run_score(ScoreConfig(inputs=("data/e1.edf",), model=model_dir, out_dir="out", backend="torch"))
    monkeypatch.chdir(tmp_path / "y")
    again = run_score(ScoreConfig(inputs=("../x/data",), model=model_dir, out_dir="../x/out", backend="torch"))
    assert (again.skipped_done, again.scored) == (1, 2)
    want = [f"../x/data/e{i}.edf" for i in (1, 2, 3)]
    records = pl.read_parquet(tmp_path / "x" / "out" / "records.parquet")
    assert sorted(records["record"]) == want   # was data/e1.edf (relative to x) beside ../x/data/e2.edf
    windows = pl.read_parquet(tmp_path / "x" / "out" / "windows.parquet")
    assert sorted(windows["record"].unique()) == want
    assert all(os.path.isfile(r) for r in records["record"])   # each names its file from here
    run = json.loads((tmp_path / "x" / "out" / "run.json").read_text())["runs"][-1]
    assert run["cwd"] == str(tmp_path / "y")   # the folder the relative paths are relative to

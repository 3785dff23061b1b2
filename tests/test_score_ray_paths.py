"""biosig score --engine ray with record paths relative to the driver's folder.

A Ray actor runs in the folder its Ray instance was started in (`ray start --head` elsewhere, then
`--ray-address auto`), not in the driver's. Actors were handed the paths as given, so "recs/a.edf"
named no file there, and each outcome came back keyed by the actor's absolute path, which the
driver never assembled: "0 records, 0 windows, 0 errors", exit code 0, for records that were
neither scored nor reported. Here the Ray instance is started in one folder and the job runs in
another, as with a cluster started elsewhere.
"""
import os

import numpy as np
import polars as pl
import pytest

MODEL, BACKEND = "ecg-tiny", "onnxruntime"   # pinned: one backend for the whole job


@pytest.fixture(scope="module")
def ray_elsewhere(tmp_path_factory):
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    if ray.is_initialized():
        pytest.skip("a Ray instance of another test module is running in this process")
    here = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("ray-home"))   # the actors' folder
    try:
        ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
    finally:
        os.chdir(here)
    yield ray
    ray.shutdown()


def _records(folder):
    import biosig
    from biosig.synthetic import simulate
    (folder / "recs").mkdir()
    for seed in (1, 2):
        biosig.write(simulate("ecg", 12, seed=seed), folder / "recs" / f"ecg{seed}.edf")
    (folder / "recs" / "broken.edf").write_bytes(b"garbage")


def test_relative_paths_are_scored_and_reported_on_ray(ray_elsewhere, tmp_path, monkeypatch):
    from encoders.scoring import ScoreConfig, run_score
    _records(tmp_path)
    monkeypatch.chdir(tmp_path)   # the driver's folder differs from the actors'
    config = ScoreConfig(inputs=("recs",), model=MODEL, out_dir="out", engine="ray", workers=1, backend=BACKEND)
    summary = run_score(config)
    records = pl.read_parquet("out/records.parquet")
    errors = pl.read_parquet("out/errors.parquet")
    # every record is in a table, spelled as given (as the local engine writes it)
    assert sorted(records["record"]) == ["recs/ecg1.edf", "recs/ecg2.edf"], records["record"].to_list()
    assert errors["record"].to_list() == ["recs/broken.edf"] and errors["stage"].to_list() == ["read"]
    assert summary.scored == 2 and summary.failed == 1 and summary.exit_code == 1
    assert pl.read_parquet("out/windows.parquet").height == records["n_windows"].sum() > 0
    assert np.isfinite(records["heart_rate_bpm"].to_numpy()).all()
    # and the job is resumable: a rerun finds them all done
    again = run_score(config)
    assert again.skipped_done == 3 and again.scored == again.failed == 0


def test_engine_ray_without_ray_is_one_line_before_the_folder_takes_the_job(tmp_path, monkeypatch):
    """Without Ray, --engine ray was refused only after the model had loaded and the output folder
    had recorded the job's fingerprint (parts/job.json, with the backend "auto" picked for it)."""
    import sys

    from encoders.scoring import ScoreConfig, ScoreError, run_score
    _records(tmp_path)
    monkeypatch.setitem(sys.modules, "ray", None)   # as if Ray were not installed
    out = tmp_path / "out"
    with pytest.raises(ScoreError, match=r"--engine ray needs Ray Data \(ray is missing\).*biosig\[distributed\]"):
        run_score(ScoreConfig(inputs=(str(tmp_path / "recs"),), model=MODEL, out_dir=str(out), engine="ray"))
    assert not (out / "parts" / "job.json").exists()

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
    pytest.importorskip("ray")
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


def test_more_workers_than_the_cluster_has_cpus(ray_elsewhere, tmp_path, caplog):
    """--workers 3 on a 1-CPU cluster: an actor that finds no CPU never starts, and records handed to
    it would wait for good (Ray Data's pool ran with the actors it got): one actor per CPU, said once."""
    from encoders.scoring import ScoreConfig, run_score
    _records(tmp_path)
    summary = run_score(ScoreConfig(inputs=(str(tmp_path / "recs"),), model=MODEL, out_dir=str(tmp_path / "out"),
                                    engine="ray", workers=3, backend=BACKEND))
    assert summary.scored == 2 and summary.failed == 1
    assert "the Ray cluster has 1 CPU(s); scoring with 1 actor(s)" in caplog.text


def test_ray_core_without_ray_data_scores(ray_elsewhere, tmp_path, monkeypatch):
    """The engine runs on Ray core actors: a Ray installed without its Data library (``pip install
    ray``) was refused with "--engine ray needs Ray Data (ray.data is missing)"."""
    import sys

    from encoders.scoring import ScoreConfig, run_score
    _records(tmp_path)
    monkeypatch.setitem(sys.modules, "ray.data", None)   # as if only Ray core were installed
    summary = run_score(ScoreConfig(inputs=(str(tmp_path / "recs"),), model=MODEL, out_dir=str(tmp_path / "out"),
                                    engine="ray", workers=1, backend=BACKEND))
    assert summary.scored == 2 and summary.failed == 1


def test_engine_ray_without_ray_is_one_line_before_the_folder_takes_the_job(tmp_path, monkeypatch):
    """Without Ray, --engine ray was refused only after the model had loaded and the output folder
    had recorded the job's fingerprint (parts/job.json, with the backend "auto" picked for it)."""
    import sys

    from encoders.scoring import ScoreConfig, ScoreError, run_score
    _records(tmp_path)
    monkeypatch.setitem(sys.modules, "ray", None)   # as if Ray were not installed
    out = tmp_path / "out"
    with pytest.raises(ScoreError, match=r"--engine ray needs Ray \(ray is missing\).*biosig\[distributed\]"):
        run_score(ScoreConfig(inputs=(str(tmp_path / "recs"),), model=MODEL, out_dir=str(out), engine="ray"))
    assert not (out / "parts" / "job.json").exists()


def test_an_unreachable_ray_address_leaves_the_output_folder_free(tmp_path, monkeypatch):
    """--ray-address where nothing answers was refused only after the model had loaded and the
    output folder had taken the job (parts/job.json, with the backend "auto" picked): the same
    command with --backend torch (or any other model) then said the folder "holds results of a
    different job", though nothing was ever scored into it."""
    import socket

    from encoders.scoring import ScoreConfig, ScoreError, run_score
    pytest.importorskip("ray")
    _records(tmp_path)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with socket.socket() as sock:   # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = tmp_path / "out"
    with pytest.raises(ScoreError, match="nothing answers on 127.0.0.1"):
        run_score(ScoreConfig(inputs=(str(tmp_path / "recs"),), model=MODEL, out_dir=str(out), engine="ray",
                              ray_address=f"127.0.0.1:{port}"))
    assert not (out / "parts" / "job.json").exists()


def test_an_empty_ray_address_is_refused_not_a_local_instance(tmp_path):
    """`--ray-address "$RAY_HEAD"` with the variable unset started a local instance silently."""
    from encoders.scoring import ScoreConfig, ScoreError
    with pytest.raises(ScoreError, match="--ray-address is empty"):
        ScoreConfig(inputs=(str(tmp_path),), model=MODEL, out_dir=str(tmp_path / "out"), engine="ray", ray_address=" ")

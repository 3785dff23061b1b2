"""run.json of biosig score says what a reviewer needs: the options of every run (the channel mapping
among them, which decides what was scored), interrupted runs too; and the package documents every
column the tables have. Real checkpoint (seeded random ecg-tiny), torch backend, real files."""
import json
import shutil

import polars as pl
import pytest

from conftest import shared_path


@pytest.fixture(scope="module")
def model_dir(ecg_tiny_random_dir):
    return str(ecg_tiny_random_dir)


def _records(dest, n):
    dest.mkdir(parents=True, exist_ok=True)
    for hea in sorted(shared_path("cinc2017").glob("*.hea"))[:n]:
        for f in hea.parent.glob(hea.stem + ".*"):
            shutil.copy(f, dest / f.name)
    return dest


def test_run_json_records_the_options_of_each_run(tmp_path, model_dir):
    """--channel, --af-prevalence and --batch-size shape the tables but were in no part of run.json
    (the channel mapping only in parts/job.json): a reviewer could not tell how the tables were made."""
    from encoders.scoring import ScoreConfig, run_score
    data = _records(tmp_path / "data", 2)
    config = ScoreConfig(inputs=(str(data),), model=model_dir, out_dir=str(tmp_path / "out"), backend="torch",
                         batch_size=3, af_prevalence=0.2, read_options={"channel_modalities": {"ECG": "ecg"}})
    run_score(config)
    manifest = json.loads((tmp_path / "out" / "run.json").read_text())
    options = manifest["runs"][-1]["options"]
    assert options["read_options"] == {"channel_modalities": {"ECG": "ecg"}}
    assert options["batch_size"] == 3 and options["af_prevalence"] == 0.2
    assert options["window_s"] is None and options["precision"] == "fp32"
    assert manifest["model"]["model_sha256"] and manifest["versions"]["biosig"]


def test_an_interrupted_run_writes_the_manifest_of_its_tables(tmp_path, model_dir):
    """Ctrl-C wrote the tables of the records done but no run.json: tables that named no model (a
    first run) and a run history without the interrupted run. Interrupted here by the progress callback
    raising KeyboardInterrupt after two records, as Ctrl-C does in it."""
    from encoders.scoring import ScoreConfig, run_score
    data = _records(tmp_path / "data", 5)
    out = tmp_path / "out"
    config = ScoreConfig(inputs=(str(data),), model=model_dir, out_dir=str(out), backend="torch")
    seen = []

    def stop_after_two(outcome):
        seen.append(outcome["key"])
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_score(config, on_outcome=stop_after_two)
    manifest = json.loads((out / "run.json").read_text())
    records = pl.read_parquet(out / "records.parquet")
    assert records.height == 2 and manifest["counts"]["records"] == 2
    assert manifest["exit_code"] == 130 and manifest["model"]["model_id"]
    (run,) = manifest["runs"]
    assert run["interrupted"] is True and run["scored"] == 2 and run["records_found"] == 5

    summary = run_score(config)   # the rerun scores the rest, each record once
    manifest = json.loads((out / "run.json").read_text())
    records = pl.read_parquet(out / "records.parquet")
    assert summary.scored == 3 and records.height == records["record"].n_unique() == 5
    assert [r.get("interrupted", False) for r in manifest["runs"]] == [True, False]
    assert [r["scored"] for r in manifest["runs"]] == [2, 3] and manifest["exit_code"] == 0
    windows = pl.read_parquet(out / "windows.parquet")
    assert windows.height == records["n_windows"].sum() == windows.select("record", "window").n_unique()


def test_package_docs_name_every_table_column():
    """encoders.scoring's docstring is where the tables' columns are documented; valid_fraction was
    written into windows.parquet but named nowhere."""
    import encoders.scoring as scoring
    from encoders.scoring.outputs import ERROR_SCHEMA, RECORD_SCHEMA, WINDOW_SCHEMA
    doc = scoring.__doc__
    for table, schema in (("windows", WINDOW_SCHEMA), ("records", RECORD_SCHEMA), ("errors", ERROR_SCHEMA)):
        section = doc[doc.index(f"``{table}.parquet``"):]
        section = section[:section.index(".parquet``", len(table) + 12)] if table != "errors" else section
        missing = [c for c in schema if c not in section]
        assert not missing, f"{table}.parquet columns not documented: {missing}"

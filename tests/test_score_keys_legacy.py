"""An output folder scored through a linked folder before record keys were real paths, resumed now.

Runs before realpath keys keyed each record by its absolute path as given (``sha1`` of
``/x/link/e1.edf``, links kept); keys are the real path's now, so the same command rerun found none of
those records done: it scored them all again and left the old parts out of the tables, with a warning,
run after run. The old parts are now taken as the records' own (renamed to the key of today), and where
a run since scored them again, the old copy is removed: each record once, none rescored.

The old folder is built by hand from a run of today: its parts renamed to the key the earlier version
gave (the formula, written out here) and their ``key`` column set to it. Real EDF files, a real
symlink, the seeded random ecg-tiny checkpoint on torch.
"""
import hashlib
import json
import os
import pathlib
import re

import polars as pl
import pytest


@pytest.fixture(scope="module")
def model_dir(ecg_tiny_random_dir):
    return str(ecg_tiny_random_dir)


def _old_key(path) -> str:
    """The key before realpath keys: of the absolute path as given (the earlier ``record_key``)."""
    full = os.path.abspath(os.fspath(path))
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", pathlib.Path(full).name)[:40] or "record"
    return f"{stem}-{hashlib.sha1(full.encode()).hexdigest()[:12]}"


def _archive_and_link(tmp_path, n=3):
    import biosig
    from biosig.synthetic import simulate
    data = tmp_path / "archive"
    data.mkdir()
    for seed in range(1, n + 1):
        biosig.write(simulate("ecg", 12, seed=seed), data / f"e{seed}.edf")
    link = tmp_path / "link"
    os.symlink(data, link, target_is_directory=True)
    return data, link


def _make_old(out: pathlib.Path, link: pathlib.Path, names):
    """Turn the parts of ``names`` (scored through ``link``) into those the earlier version wrote."""
    from encoders.scoring.schema import record_key
    parts = out / "parts"
    for name in names:
        new, old = record_key(link / name), _old_key(link / name)
        assert new != old   # through a link the two versions disagree: the case at hand
        for f in sorted(parts.glob(f"{new}.*")):
            target = parts / (old + f.name[len(new):])
            if f.suffix == ".parquet":
                pl.read_parquet(f).with_columns(pl.lit(old).alias("key")).write_parquet(target)
                f.unlink()
            else:
                f.rename(target)
    for table in ("windows", "records", "errors"):   # the earlier version's tables named the old keys
        df = pl.read_parquet(out / f"{table}.parquet")
        if df.height:
            df.with_columns(pl.col("record").map_elements(_old_key, return_dtype=pl.String).alias("key")) \
                .write_parquet(out / f"{table}.parquet")


def test_an_old_output_scored_through_a_link_resumes_without_scoring_again(tmp_path, model_dir, caplog):
    from encoders.scoring import ScoreConfig, run_score
    data, link = _archive_and_link(tmp_path)
    out = tmp_path / "out"
    config = ScoreConfig(inputs=(str(link),), model=model_dir, out_dir=str(out), backend="torch")
    first = run_score(config)
    assert first.scored == 3
    before = pl.read_parquet(out / "records.parquet").sort("record")
    _make_old(out, link, ["e1.edf", "e2.edf"])   # two done by the earlier version, one by today's
    assert len(list((out / "parts").glob("*.record.parquet"))) == 3

    caplog.set_level("WARNING")
    again = run_score(config)
    assert (again.skipped_done, again.scored) == (3, 0)   # was (1, 2): the two old records scored again
    assert "not among these inputs" not in caplog.text   # was: 2 old parts left out, run after run
    records = pl.read_parquet(out / "records.parquet").sort("record")
    assert records["record"].to_list() == [str(link / f"e{i}.edf") for i in (1, 2, 3)]
    assert records["key"].to_list() == [_key(link / f"e{i}.edf") for i in (1, 2, 3)]   # today's keys
    assert records.drop("key").equals(before.drop("key"))   # the rows scored then, unchanged
    windows = pl.read_parquet(out / "windows.parquet")
    assert windows["key"].n_unique() == 3 and set(windows["key"]) == set(records["key"])
    assert len(list((out / "parts").glob("*.record.parquet"))) == 3
    assert json.loads((out / "run.json").read_text())["counts"]["records"] == 3


def test_old_parts_of_a_record_scored_again_since_are_not_a_second_copy(tmp_path, model_dir, caplog):
    """A folder where the bug already bit: a run of today scored the old records again beside their
    old parts; the old copies go (the same record, the same job), the warning with them."""
    from encoders.scoring import ScoreConfig, run_score
    data, link = _archive_and_link(tmp_path, n=2)
    out = tmp_path / "out"
    config = ScoreConfig(inputs=(str(link),), model=model_dir, out_dir=str(out), backend="torch")
    run_score(config)
    parts = out / "parts"
    for name in ("e1.edf", "e2.edf"):   # old copies beside today's parts
        new, old = _key(link / name), _old_key(link / name)
        for f in sorted(parts.glob(f"{new}.*")):
            (parts / (old + f.name[len(new):])).write_bytes(f.read_bytes())
    assert len(list(parts.glob("*.record.parquet"))) == 4
    caplog.set_level("WARNING")
    again = run_score(config)
    assert (again.skipped_done, again.scored) == (2, 0)
    assert "not among these inputs" not in caplog.text   # was: 2 record(s) ... left out
    assert len(list(parts.glob("*.record.parquet"))) == 2
    assert pl.read_parquet(out / "records.parquet").height == 2


def test_a_record_named_without_a_link_keeps_its_parts(tmp_path, model_dir):
    """No link, one key for both versions: nothing renamed, nothing removed."""
    from encoders.scoring import ScoreConfig, run_score
    data, _ = _archive_and_link(tmp_path, n=2)
    out = tmp_path / "out"
    config = ScoreConfig(inputs=(str(data),), model=model_dir, out_dir=str(out), backend="torch")
    run_score(config)
    names = sorted(p.name for p in (out / "parts").iterdir())
    again = run_score(config)
    assert (again.skipped_done, again.scored) == (2, 0)
    assert sorted(p.name for p in (out / "parts").iterdir()) == names


def _key(path):
    from encoders.scoring.schema import record_key
    return record_key(path)

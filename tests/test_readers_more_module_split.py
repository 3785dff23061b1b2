"""biosig/readers/discover.py was 404 lines (house limit 400): the folder walk (links, cycles, earlier
``biosig score`` outputs) is :mod:`biosig.readers.folder_walk`; its names stay importable from
discover, and its warnings keep discover's logger."""
import logging
import os
import pathlib

import pytest

import biosig.readers as readers_pkg

READERS = pathlib.Path(readers_pkg.__file__).parent


def test_reader_modules_are_at_most_400_lines():
    long = {p.name: n for p in READERS.glob("*.py") if (n := len(p.read_text().splitlines())) > 400}
    assert not long, f"modules over the house limit of 400 lines: {long}"


def test_names_moved_out_are_still_discovers():
    from biosig.readers import folder_walk
    from biosig.readers.discover import SCORE_JOB_FILE, SCORE_MANIFEST, SCORE_TOOL, is_score_output
    assert is_score_output is folder_walk.is_score_output
    assert (SCORE_MANIFEST, SCORE_JOB_FILE, SCORE_TOOL) == (folder_walk.SCORE_MANIFEST, folder_walk.SCORE_JOB_FILE,
                                                            folder_walk.SCORE_TOOL)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks here")
def test_a_link_cycle_is_still_warned_under_discovers_logger(tmp_path, caplog):
    from biosig.readers import discover
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "r.csv").write_text("t_s,x\n0,1\n0.01,2\n0.02,3\n")
    os.symlink(tmp_path / "a", tmp_path / "a" / "loop")
    with caplog.at_level(logging.WARNING, logger="biosig.readers.discover"):
        found = discover(tmp_path)
    assert found == [str(tmp_path / "a" / "r.csv")]
    assert any(r.name == "biosig.readers.discover" and "link cycle" in r.getMessage() for r in caplog.records)

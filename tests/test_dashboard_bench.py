"""benchmarks/bench_dashboard.py without a browser: its baseline page where git or the revision is
not at hand (a source tarball has no .git: the bench ended with a git error before measuring
anything), and the wards it measures (ECG only, and ECG + PPG + RESP beds beside forecast couches)."""
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_dashboard as bench  # noqa: E402


def test_no_git_repository_gives_no_baseline_and_one_line_why(tmp_path):
    """A copy of the tree without .git (a tarball): no baseline, the reason in one line."""
    (tmp_path / "streams").mkdir()
    shutil.copytree(ROOT / "streams" / "static", tmp_path / "streams" / "static")
    folder, why = bench.baseline_static(bench.BASELINE_REV, root=tmp_path)
    assert folder is None and "\n" not in why and bench.BASELINE_REV in why, why


def test_an_unknown_revision_gives_no_baseline_and_none_asks_for_none():
    folder, why = bench.baseline_static("0" * 40, root=ROOT)
    assert folder is None and "0" * 40 in why and "\n" not in why, why
    assert bench.baseline_static("none") == (None, "--baseline-rev none")


def test_the_baseline_revision_is_read_where_git_has_it():
    if shutil.which("git") is None or subprocess.run(["git", "cat-file", "-e", f"{bench.BASELINE_REV}^{{commit}}"],
                                                     cwd=ROOT, capture_output=True).returncode != 0:
        pytest.skip(f"git or commit {bench.BASELINE_REV} not at hand (a shallow clone or a tarball)")
    folder, why = bench.baseline_static(bench.BASELINE_REV)
    try:
        assert why == "" and (folder / "dashboard.js").read_bytes() == subprocess.run(
            ["git", "show", f"{bench.BASELINE_REV}:streams/static/dashboard.js"], cwd=ROOT,
            capture_output=True, check=True).stdout
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_wards_count_their_panels():
    wards = bench.parse_wards("10,50", "4:1,16:2")
    assert [(w.beds, w.streams, w.couches, w.panels) for w in wards] == [
        (10, ("ecg",), 0, 10), (50, ("ecg",), 0, 50),
        (4, ("ecg", "ppg", "resp"), 1, 13), (16, ("ecg", "ppg", "resp"), 2, 50)]
    assert [w.panels for w in bench.parse_wards("", "3:0")] == [9]
    for streams, mixes in (("ten", ""), ("", "4:x"), ("0", "")):
        with pytest.raises(SystemExit) as e:
            bench.parse_wards(streams, mixes)
        assert str(e.value).startswith("bench_dashboard: ") and "\n" not in str(e.value)

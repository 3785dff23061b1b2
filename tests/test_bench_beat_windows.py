"""benchmarks/bench_beat_windows.py: its per-window scoring, and one short run on the shared MIT-BIH
corpus (skipped without it)."""
import sys

import numpy as np

from conftest import ROOT, shared_path

sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_beat_windows as bench  # noqa: E402


def test_score_counts_matches_extras_misses_and_a_wrong_rate():
    fs, n = 100.0, 1000
    ref = np.array([100, 300, 500, 700, 900])
    assert bench.score(ref.copy(), ref, fs, n) == (5, 0, 0, False)
    one = np.sort(np.append(ref, 400))                           # one T wave counted: +P falls, median RR holds
    assert bench.score(one, ref, fs, n) == (5, 1, 0, False)
    two = np.sort(np.append(ref, [400, 600]))                    # two: the median interval halves
    assert bench.score(two, ref, fs, n) == (5, 2, 0, True)
    assert bench.score(ref + 8, ref, fs, n) == (5, 0, 0, False)   # 80 ms off still matches
    assert bench.score(ref + 12, ref, fs, n)[:3] == (0, 5, 5)     # 120 ms off does not
    assert bench.score(np.append(5, ref), ref, fs, n) == (5, 0, 0, False)   # a detection at the edge is not counted
    assert bench.score(ref[1:], ref, fs, n) == (4, 0, 1, False)            # a missed beat is


def test_benchmark_runs_on_two_records(capsys):
    shared_path("pretrain", "ecg", "mitdb", "101.hea")   # skips with a message where the corpus is absent
    assert bench.main(["--records", "2", "--seeds", "1"]) == 0
    out = capsys.readouterr().out
    rows = {ln.split("|")[0].strip() + "/" + ln.split("|")[2].strip(): ln for ln in out.splitlines() if ln.count("|") == 7}
    se, ppv = (float(v) for v in rows["MIT-BIH first lead/biosig"].split("|")[3:5])
    assert se > 0.98 and ppv > 0.98
    slow = rows["synthetic low-voltage slow/biosig"].split("|")
    assert float(slow[4]) > 0.99 and int(slow[5]) == 0 and int(slow[6]) > 0 and int(slow[7]) == 0

"""benchmarks/bench_detection_reuse.py: detections per window of the score thread's ECG work."""
import sys

from conftest import ROOT, load_benchmark

sys.path.insert(0, str(ROOT / "benchmarks"))   # the script imports benchmarks/_common.py


def test_two_lead_windows_cost_one_detection_per_lead(capsys):
    import biosig.ecg_beats as ecg_beats
    bench = load_benchmark("bench_detection_reuse")
    before = (ecg_beats.REUSE_ENTRIES, ecg_beats._detect)
    assert bench.main(["--windows", "3"]) == 0
    assert (ecg_beats.REUSE_ENTRIES, ecg_beats._detect) == before    # the module is left as it was
    rows = {line.split("|")[0].strip(): [float(c.split()[0]) for c in line.split("|")[1:4]]
            for line in capsys.readouterr().out.splitlines() if "detections" in line}
    assert rows["1 lead(s): detections"] == [1.0, 1.0, 1.0]
    assert rows["2 lead(s): detections"][:2] == [3.0, 2.0]

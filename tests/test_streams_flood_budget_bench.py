"""benchmarks/bench_flood.py (a flooder beside a real-time bed, three ingest budgets) answers
--help without starting a runtime; its runs are measured by hand, no timing is asserted."""
import subprocess
import sys

from conftest import ROOT


def test_bench_flood_help():
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_flood.py"), "--help"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    for option in ("--seconds", "--speeds", "--hop-s"):
        assert option in res.stdout

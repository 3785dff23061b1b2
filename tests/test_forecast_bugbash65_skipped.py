"""A session skipped by `forecast evaluate` is written in its report.

Beside a usable recording, one too short for the protocol was skipped with a warning on stderr only:
report.json listed the sessions kept and nothing else, and the summary said "1 session(s)", so the
report of a run given 2 recordings read as if there had been one (the averages are over the sessions
kept). Now report.json has ``skipped`` (session -> why) and the summary line names them.
"""
import json

import numpy as np

from biosig.cli import main


def _table(path, n_s: float) -> None:
    t = np.arange(0, n_s, 0.1)
    with open(path, "w") as fh:
        fh.write("t_s,m_x,m_y,m_z\n")
        for ti in t:
            fh.write(f"{ti:.1f},{10 * np.sin(2 * np.pi * ti / 4):.3f},{3 * np.cos(2 * np.pi * ti / 4):.3f},"
                     f"{np.sin(2 * np.pi * ti / 5):.3f}\n")


def test_a_skipped_session_is_in_the_report_and_the_summary(tmp_path, capsys):
    _table(tmp_path / "long.csv", 20.0)
    _table(tmp_path / "short.csv", 0.3)   # 3 samples
    out = tmp_path / "o"
    rc = main(["forecast", "evaluate", str(tmp_path / "long.csv"), str(tmp_path / "short.csv"), "--methods", "last",
               "--horizons", "1", "--seeds", "1", "--select-seeds", "1", "--norm-s", "3", "--select-start-s", "3",
               "--test-start-s", "8", "--workers", "1", "--out", str(out)])
    assert rc == 0
    report = json.loads((out / "report.json").read_text())
    assert list(report["sessions"]) == ["long"]
    assert list(report["skipped"]) == ["short"] and "0.3 s of data" in report["skipped"]["short"]
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("1 session(s) (1 skipped: short)"), first

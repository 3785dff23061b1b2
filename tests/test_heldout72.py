"""The documented evaluation commands on held-out-style inputs (task H, round 72): one bad record is
skipped and said, a class too small for the folds lowers them and says so, a missing set is an error
before any work, never a crash after the long part.

* ``forecast evaluate``: an unreadable file, markers of one session that disagree, a session at
  another rate than ``--rate-hz`` or an extra CSV in ``*.csv`` stopped the whole run; now each is left
  out with a warning, listed in report.json ``skipped`` and the summary line, and the run goes on.
* ``eval_probe.py``: a class with fewer records than ``--folds`` raised a traceback after every feature
  was computed; a ``--data`` folder without ``cough/`` failed after the CinC task, whose results were
  lost. Now the folds are lowered (and said) before the features, a missing set is one line at once,
  and a task that cannot run is skipped while the others are written.
"""
import json

import numpy as np
import pytest
import scipy.io

from biosig.cli import main
from conftest import load_benchmark
from realtime.errors import ForecastError
from realtime.sessions import load_sessions


def _marker_session(d, session: str, n: int = 150, period_ms: float = 100.0, markers=("LAC", "UAC", "UCC"),
                    short: str | None = None) -> None:
    """One synthetic marker session (breathing-like motion) in the published file layout; ``short``: that
    marker's file loses its last 20 rows."""
    for k, m in enumerate(markers):
        rows = n - 20 if m == short else n
        t = np.arange(rows) * period_ms
        z = 5 * np.sin(2 * np.pi * t / 4000 + k) + 0.3 * np.sin(2 * np.pi * t / 1700)
        lines = ['"Frame";"Timestamp";"x";"y";"z"'] + [
            f"{6 * i};{int(ti)};{-400 + 0.1 * zi:.1f};{13 + 0.05 * zi:.2f};{70 + zi:.2f}".replace(".", ",")
            for i, (ti, zi) in enumerate(zip(t, z))]
        (d / f"{session}-{m}-1-N-{int(n * period_ms / 1000)}-6.csv").write_text("\n".join(lines + ["0;0;0;0;0"]) + "\n")


def test_bad_files_of_a_held_out_set_are_skipped_and_said(tmp_path, caplog):
    _marker_session(tmp_path, "201301010001")
    _marker_session(tmp_path, "201301010002", short="UAC")            # markers that disagree
    _marker_session(tmp_path, "201301010003", period_ms=40.0, n=300)  # 25 Hz among 10 Hz sessions
    _marker_session(tmp_path, "201301010004")
    (tmp_path / "201301010004-UCC-1-N-15-6.csv").write_bytes(b"\x00\xff garbage")   # a damaged marker file
    (tmp_path / "labels.csv").write_text("session,tag\n201301010001,N\n")            # an extra CSV in *.csv
    files = sorted(tmp_path.glob("*.csv"))
    with pytest.raises(ForecastError):   # without ``skipped``: the first problem is an error, as before
        load_sessions(files, 10.0)
    skipped = {}
    sessions = load_sessions(files, 10.0, skipped=skipped)
    assert [s.name for s in sessions] == ["201301010001"]
    assert set(skipped) == {str(tmp_path / "labels.csv"), str(tmp_path / "201301010004-UCC-1-N-15-6.csv"),
                            "session 201301010002", "session 201301010003", "session 201301010004"}
    assert "give --rate-hz 25" in skipped["session 201301010003"]
    assert "cannot be read" in skipped["session 201301010004"]   # not forecast as a 2-marker session
    assert sum("skipping" in r.getMessage() for r in caplog.records) == 5


def test_nothing_readable_is_one_clear_error(tmp_path):
    (tmp_path / "a-LAC-1-N-1-6.csv").write_bytes(b"\x00\x01")
    skipped = {}
    with pytest.raises(ForecastError, match="no session could be read"):
        load_sessions([tmp_path / "a-LAC-1-N-1-6.csv"], 10.0, skipped=skipped)


def test_forecast_evaluate_runs_past_a_bad_file_and_reports_it(tmp_path, capsys):
    d = tmp_path / "in"
    d.mkdir()
    _marker_session(d, "201301010001", n=200)
    _marker_session(d, "201301010002", n=200, short="LAC")
    out = tmp_path / "o"
    rc = main(["forecast", "evaluate", *map(str, sorted(d.glob("*.csv"))), "--methods", "last", "--horizons", "1",
               "--seeds", "1", "--select-seeds", "1", "--norm-s", "3", "--select-start-s", "3", "--test-start-s", "8",
               "--workers", "1", "--out", str(out)])
    assert rc == 0
    report = json.loads((out / "report.json").read_text())
    assert list(report["sessions"]) == ["201301010001"]
    assert "must share their timestamps" in report["skipped"]["session 201301010002"]
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("1 session(s) (1 skipped: session 201301010002)"), first


@pytest.fixture(scope="module")
def eval_probe():
    return load_benchmark("eval_probe")


def test_fold_count_lowers_to_what_the_rarest_class_allows():
    from encoders.errors import EncoderError
    from encoders.probe import cv_folds
    probe_data = load_benchmark("probe_data")
    y = np.array([0] * 12 + [1] * 3)
    n, note = probe_data.fold_count(y, 5)
    assert n == 3 and "lowered from 5 to 3" in note and "positives" in note
    cv_folds(y, n)   # the oracle: the stratified splitter takes n folds and refuses one more
    with pytest.raises(EncoderError):
        cv_folds(y, n + 1)
    assert probe_data.fold_count(np.array([0] * 6 + [1] * 6), 5) == (5, "")
    n, note = probe_data.fold_count(np.array([0, 1] * 6), 5, groups=np.repeat(["a", "b", "c", "d"], 3))
    assert n == 4 and "4 group(s)" in note
    with pytest.raises(probe_data.ProbeDataError, match="1 record"):
        probe_data.fold_count(np.array([0] * 9 + [1]), 5)


def _wfdb(d, name: str, seed: int) -> None:
    """A 10 s synthetic single-lead record in the CinC 2017 layout (.hea + MAT v4 ``val``)."""
    val = (300 * np.random.default_rng(seed).standard_normal(3000)).astype(np.int16)
    scipy.io.savemat(d / f"{name}.mat", {"val": val[None, :]}, format="4")
    (d / f"{name}.hea").write_text(f"{name} 1 300 3000\n{name}.mat 16+24 1000/mV 16 0 {val[0]} 0 0 ECG\n")


def test_eval_probe_checks_every_set_before_the_work(tmp_path, eval_probe, capsys):
    (tmp_path / "cinc2017").mkdir()
    (tmp_path / "cinc2017" / "REFERENCE.csv").write_text("A1,A\n")
    rc = eval_probe.main(["--data", str(tmp_path), "--tasks", "ecg", "audio", "--jobs", "1"])
    err = capsys.readouterr()
    assert rc == 2 and "no cough set at" in err.err and "--tasks ecg" in err.err
    assert "## ecg" not in err.out   # nothing ran


def test_eval_probe_skips_a_task_it_cannot_fold_and_writes_the_rest(tmp_path, eval_probe, capsys):
    d = tmp_path / "cinc2017"
    d.mkdir()
    labels = {"R1": "A", "R2": "N", "R3": "N", "R4": "O"}   # one AF record: no cross-validation possible
    for k, name in enumerate(labels):
        _wfdb(d, name, k)
    (d / "REFERENCE.csv").write_text("".join(f"{n},{lab}\n" for n, lab in labels.items()))
    out = tmp_path / "r.json"
    rc = eval_probe.main(["--data", str(tmp_path), "--tasks", "ecg", "--jobs", "1", "--json", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "ecg: the rarest class (the positives) has 1 record(s)" in err and "task skipped" in err
    assert json.loads(out.read_text()) == {"skipped_tasks": {"ecg": err.split("ecg: ", 1)[1].split("; task")[0]}}


def test_eval_probe_refuses_a_json_path_in_no_folder_at_once(tmp_path, eval_probe):
    with pytest.raises(SystemExit):
        eval_probe.parse_args(["--json", str(tmp_path / "no" / "r.json")])


def test_the_mix_column_says_which_kinds_the_set_lacks(eval_probe, capsys):
    """A held-out CinC set without O or ~ records: the 'CinC 2017 mix' column can only weigh N, and says so."""
    import argparse

    from encoders.probe_features import FeatureSpec
    rng = np.random.default_rng(0)
    y = np.array([0] * 10 + [1] * 6)
    p = np.clip(0.3 + 0.4 * y + 0.2 * rng.standard_normal(y.size), 0.01, 0.99)
    names = {"concatenated": "HRV + m (concatenated)", "late fusion": "HRV + m (late fusion)"}
    probas = {k: (np.array([0, 1]), np.column_stack([1 - p, p])) for k in ("m", "hrv features", *names.values())}
    table = eval_probe.by_kind("ecg", "hrv", probas, "m", {"m": FeatureSpec("model", "ecg-tiny")}, names, y,
                               ["A" if v else "N" for v in y], argparse.Namespace(bootstrap=50, seed=0))
    assert "no O, ~ record in this set" in capsys.readouterr().out
    assert set(table) == {"all", "vs N", "CinC 2017 mix"}

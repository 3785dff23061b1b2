"""eval_probe on a larger, messier copy of its real labelled sets (what the owners' held-out re-run
looks like): PhysioNet's header-less REFERENCE.csv, missing and corrupt files, missing labels and
duplicates are left out of every row and listed, never a traceback or a guessed label."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, load_benchmark, shared_path


def _link(src, dst):
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(src, dst)


@pytest.fixture
def messy_cinc(tmp_path):
    """12 real CinC records (3 per class) under a PhysioNet-style header-less REFERENCE.csv, plus a
    listed record that does not exist, a corrupt one, a row with an unknown label, a record listed
    twice with different labels (left out) and one listed twice with the same label (kept once)."""
    src = shared_path("cinc2017")
    ref = [line.split(",") for line in (src / "REFERENCE.csv").read_text().split()[1:]]
    keep = [r for lab in "NAO~" for r in [x for x in ref if x[1] == lab][:3]]
    d = tmp_path / "data" / "cinc2017"
    for name, _ in keep:
        for ext in (".hea", ".mat"):
            _link(src / f"{name}{ext}", d / f"{name}{ext}")
    (d / "Z00001.hea").write_text("Z00001 1 300 9000\nZ00001.mat 16+24 1000/mV 16 0 0 0 0 ECG\n")
    (d / "Z00001.mat").write_bytes(b"\x00\x01\x02")       # truncated
    rows = ([f"{n},{lab}" for n, lab in keep] + ["Z00001,N", "Z00002,A", "Z00003,X", f"{keep[0][0]},A"]
            + [f"{keep[1][0]},{keep[1][1]}"])
    (d / "REFERENCE.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "data", keep


def test_cinc_loader_reads_headerless_reference_and_lists_what_it_left_out(messy_cinc):
    pd = load_benchmark("probe_data")
    data, keep = messy_cinc
    s = pd.load_cinc2017(data)
    assert s.names == sorted(n for n, _ in keep[1:])
    assert np.array_equal(s.y, [int(dict(keep)[n] == "A") for n in s.names]) and s.y.sum() == 3
    assert s.subgroups == [dict(keep)[n] for n in s.names]   # the kind of each record: its CinC label
    why = dict(s.skipped)
    assert set(why) == {"Z00001", "Z00002", "Z00003", keep[0][0]}
    assert "unreadable" in why["Z00001"] and "unreadable" in why["Z00002"]
    assert "'X'" in why["Z00003"] and "different labels N, A" in why[keep[0][0]]
    assert s.skipped_text(first=2).startswith("left out 4 of 15 labelled rows:") and "and 2 more" in s.skipped_text(2)
    # the kept rows are the records wfdb reads, in order
    assert all(r.samples.shape[0] == 1 and r.fs_hz == 300 for r in s.records)


def test_cough_loader_never_guesses_a_missing_label(tmp_path):
    pd = load_benchmark("probe_data")
    src = shared_path("cough")
    meta = json.loads((src / "metadata.json").read_text())
    pos = [m for m in meta if m["covid19"]][:2]
    neg = [m for m in meta if not m["covid19"]][:2]
    d = tmp_path / "cough"
    for m in pos + neg:
        _link(src / "raw" / m["filename"], d / "raw" / m["filename"])
    (d / "raw" / "corrupt.mp3").write_bytes(b"not an mp3 at all" * 10)
    entries = pos + neg + [{**neg[0], "filename": "nolabel.mp3", "covid19": None},
                           {"filename": "corrupt.mp3", "covid19": True, "source": "call-center"},
                           {"filename": "absent.mp3", "covid19": False}, {"covid19": True}, pos[0],
                           {**neg[1], "covid19": True}]
    (d / "metadata.json").write_text(json.dumps(entries))
    s = pd.load_cough(tmp_path)
    assert s.names == [m["filename"] for m in pos + neg[:1]] and list(s.y) == [1, 1, 0]
    assert list(s.groups) == s.names
    assert s.subgroups == [m["source"] for m in pos + neg[:1]]
    why = dict(s.skipped)
    assert set(why) == {"nolabel.mp3", "corrupt.mp3", "absent.mp3", "metadata entry 7", neg[1]["filename"]}
    assert "different covid19" in why[neg[1]["filename"]]
    assert "None" in why["nolabel.mp3"] and "unreadable" in why["corrupt.mp3"]
    with pytest.raises(pd.ProbeDataError, match="no cough set"):
        pd.load_cough(tmp_path / "elsewhere")
    (d / "metadata.json").write_text(json.dumps([m for m in pos]))
    with pytest.raises(pd.ProbeDataError, match="both classes"):
        pd.load_cough(tmp_path)


def test_eval_probe_runs_on_a_messy_copy_and_says_what_it_left_out(messy_cinc, tmp_path):
    """Also: ``--jobs 2`` (features in two worker processes) gives the same numbers as ``--jobs 1``."""
    data, keep = messy_cinc
    env = {**os.environ, "BIOSIG_PROGRESS_S": "0"}   # a progress line per record: the log is not silent
    runs = {}
    for jobs in (1, 2):
        out = tmp_path / f"res{jobs}.json"
        r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "eval_probe.py"), "--tasks", "ecg", "--data",
                            str(data), "--random-seeds", "0", "--folds", "3", "--bootstrap", "50", "--json", str(out),
                            "--jobs", str(jobs)], capture_output=True, text=True, timeout=600, env=env)
        assert r.returncode == 0, r.stderr[-2000:]
        assert "11 records (3 positive)" in r.stdout
        assert "# left out 4 of 15 labelled rows:" in r.stdout
        runs[jobs] = json.loads(out.read_text())["ecg"]
        if jobs == 1:
            assert "eval_probe: ecg: 3 feature sets in this process: 33/33 records" in r.stderr
        else:
            assert "eval_probe: ecg: 3 feature sets on 2 processes: 33/33 records" in r.stderr
    res = runs[1]
    assert res["left_out"].startswith("left out 4") and len(res["results"]) == 3
    fused = res["hrv_plus_embedding"]   # HRV + embedding two ways; the late fusion has its random-weight control
    assert set(fused) == {"concatenated", "late fusion"}
    assert sum(k.startswith("HRV + random weights, seed 0") for k in fused["late fusion"]) == 1
    assert "# HRV + embedding vs HRV alone, late fusion" in r.stdout
    assert runs[2] == runs[1]
    # by kind of negative: the same out-of-fold predictions per CinC class and re-weighted to the CinC mix
    kinds = res["hrv_by_kind"]
    assert list(kinds) == ["all", "vs N", "vs O", "vs ~", "CinC 2017 mix"]
    assert [kinds[c]["n_negative"] for c in ("vs N", "vs O", "vs ~")] == [2, 3, 3]
    assert kinds["all"]["auroc"]["ours"] == pytest.approx(res["results"][res["model"]]["auroc"]["value"])
    late = next(v for k, v in fused["late fusion"].items() if k.endswith("(late fusion)") and "random" not in k)
    assert kinds["all"]["auroc"]["HRV + ours (late fusion)"] == pytest.approx(late["auroc"]["value"])
    assert "HRV + ours (late fusion) - HRV" in kinds["CinC 2017 mix"]["diff"]
    assert "# ecg by kind of negative" in r.stdout
    bad = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "eval_probe.py"), "--tasks", "audio",
                          "--data", str(tmp_path / "nothing")], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "eval_probe: error: no cough set" in bad.stderr and "Traceback" not in bad.stderr

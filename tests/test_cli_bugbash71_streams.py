"""Bug bash 71 of `biosig replay`, `keys` and `simulate` as a demanding user: the real CLI in this process, frames
over real loopback sockets to a bound PULL socket (what a runtime's ingest is to a publisher).

- replay of a folder was refused with a pointer to a Python function (``biosig.readers.discover``); ``info``,
  ``embed`` and ``score`` search folders: replay now does too, and an empty folder is one line;
- replay ``--seconds`` shorter than the first frame sent nothing and exited 0 (``monitor`` refuses it);
- frames left out for missing samples (NaN) were not in the closing line: ``sent 17 frames`` of a record of 20;
- a long replay ran for hours without a word: a progress line every ``BIOSIG_PROGRESS_S``;
- ``keys generate`` into a folder holding other files made it 0700 in silence (a home folder locked to its
  owner), and ``keys generate ''`` wrote the keys into the current folder and made that 0700;
- ``simulate --out X.edf`` that EDF cannot hold printed a WARNING above its one-line error.
"""
import logging
import re
import stat

import numpy as np
import pytest
import zmq

from streams import protocol
from test_cli_errors import one_line_error, run_main
from test_streams_helpers import free_port


def _csv(path, seconds=2.0, fs_hz=25.0, nan=None):
    """A respiration CSV with a time column; ``nan``: (first, last) sample indices made missing."""
    t = np.arange(int(seconds * fs_hz)) / fs_hz
    x = np.sin(2 * np.pi * 0.25 * t)
    if nan is not None:
        x[nan[0]:nan[1]] = np.nan
    path.write_text("t_s,resp\n" + "".join(f"{a:.4f},{b}\n" for a, b in zip(t, x)))
    return path


@pytest.fixture
def ingest():
    """(endpoint, PULL socket bound there): frames a replay sends arrive on a real socket."""
    ctx = zmq.Context()
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    sock = ctx.socket(zmq.PULL)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(endpoint)
    yield endpoint, sock
    sock.close()
    ctx.term()


def _frames(sock, quiet_s=0.3):
    got = []
    while sock.poll(int(quiet_s * 1000)):
        got.append(protocol.decode(sock.recv_multipart()).header)
    return got


# ---------------------------------------------------------------------------------- replay
def test_replay_of_a_folder_replays_the_records_in_it(capsys, tmp_path, ingest):
    endpoint, sock = ingest
    d = tmp_path / "ward"
    (d / "night").mkdir(parents=True)
    _csv(d / "a.csv")
    _csv(d / "night" / "b.csv")
    (d / "notes.txt").write_text("not a record\n")
    code, _, err = run_main(capsys, "replay", d, d / "a.csv", "--ingest", endpoint, "--seconds", 0.5, "--speed", 4)
    assert code == 0 and "publishing 2 streams" in err, err   # a.csv once, though named twice
    sources = {h["stream"].split("/")[0] for h in _frames(sock)}
    assert sources == {"a", "b"}, sources


def test_replay_of_a_folder_without_records_is_one_line(capsys, tmp_path):
    (tmp_path / "notes.txt").write_text("x\n")
    code, _, err = run_main(capsys, "replay", tmp_path, "--ingest", f"tcp://127.0.0.1:{free_port()}")
    line = one_line_error(code, err)
    assert f"{tmp_path}: a folder with no recording" in line and "discover" not in line


def test_replay_seconds_shorter_than_the_first_frame_is_refused(capsys, tmp_path, ingest):
    endpoint, sock = ingest
    rec = _csv(tmp_path / "r.csv")   # 25 Hz, frames of 2 samples: the first goes 0.04 s in at --speed 1
    code, _, err = run_main(capsys, "replay", rec, "--ingest", endpoint, "--seconds", 0.03)
    assert "ends before the first frame of any stream" in one_line_error(code, err)
    assert _frames(sock, quiet_s=0.1) == []


def test_replay_says_how_many_instants_it_left_out_for_missing_samples(capsys, tmp_path, ingest):
    endpoint, sock = ingest
    rec = _csv(tmp_path / "gap.csv", seconds=4.0, nan=(30, 52))   # frames of 25 samples at --speed 10: 2 of 4 hold NaN
    code, _, err = run_main(capsys, "replay", rec, "--ingest", endpoint, "--speed", 10)
    got = _frames(sock)
    seqs = [h["seq"] for h in got]
    missing = (max(seqs) + 1 - len(seqs))   # the oracle: sequence numbers the runtime never saw
    assert code == 0 and missing > 0, err
    m = re.search(r"sent (\d+) frames .*dropped 0, left out (\d+) instant\(s\) with a missing sample \(every "
                  r"channel's sample there; (\d+) sequence gap\(s\)\)", err)
    assert m and int(m.group(1)) == len(got) and int(m.group(2)) == 52 - 30 and int(m.group(3)) == missing, err


def test_a_long_replay_says_how_far_it_got(capsys, tmp_path, ingest, monkeypatch):
    endpoint, _ = ingest
    monkeypatch.setenv("BIOSIG_PROGRESS_S", "0.3")
    rec = _csv(tmp_path / "r.csv", seconds=10.0)
    code, _, err = run_main(capsys, "replay", rec, "--ingest", endpoint, "--seconds", 1.2)
    lines = [ln for ln in err.splitlines() if "replayed (" in ln]
    assert code == 0 and len(lines) >= 2, err
    assert re.fullmatch(r"biosig replay: 0:0\d of 0:01 replayed \(\d+ frames sent, 0 dropped\)", lines[-1]), lines


# ---------------------------------------------------------------------------------- keys
def test_keys_into_a_folder_holding_other_files_is_refused_and_its_mode_kept(capsys, tmp_path):
    d = tmp_path / "home"
    d.mkdir(mode=0o755)
    d.chmod(0o755)
    (d / "notes.txt").write_text("mine\n")
    code, _, err = run_main(capsys, "keys", "generate", d)
    assert f"{d} holds other files (notes.txt)" in one_line_error(code, err)
    assert stat.S_IMODE(d.stat().st_mode) == 0o755 and sorted(p.name for p in d.iterdir()) == ["notes.txt"]


def test_keys_into_an_empty_name_is_refused_not_written_into_the_current_folder(capsys, tmp_path, monkeypatch):
    tmp_path.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    code, _, err = run_main(capsys, "keys", "generate", "")
    assert "key folder '' is empty" in one_line_error(code, err)
    assert list(tmp_path.iterdir()) == [] and stat.S_IMODE(tmp_path.stat().st_mode) == 0o755


# ---------------------------------------------------------------------------------- simulate
def test_simulate_to_an_edf_that_cannot_hold_the_record_is_one_line(capsys, tmp_path, caplog):
    out = tmp_path / "frac.edf"
    with caplog.at_level(logging.WARNING):
        code, _, err = run_main(capsys, "simulate", "resp", "--seconds", 2, "--fs-hz", 33.3, "--out", out)
    assert "EDF cannot hold 67 samples at 33.3 Hz exactly" in one_line_error(code, err)
    assert not out.exists()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text

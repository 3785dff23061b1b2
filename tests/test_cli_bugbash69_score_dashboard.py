"""Bug bash 69: ``score``/``embed`` on a file without the model's channels and on records shorter than the
model's window, then ``biosig dashboard``'s user mistakes, through the CLI in this process.

- ``score --model ecg-tiny`` on a PPG-only file said "no usable ecg channel among: PLETH (ppg)" where ``embed``
  named ``--channel NAME=ecg`` / ``--modality ecg``; now both give the what-to-do of one function
  (:func:`encoders.data.channels_hint`), which also names the shipped model for what the file holds.
- A record shorter than the model's window is one window of its own length (never zero-padded): that was silent in
  both; now ``embed`` warns and ``score`` says it after its summary (:func:`encoders.window_checks.short_record_note`).
  One shorter than the model's smallest input is one line in both, the seconds first
  (:func:`encoders.window_checks.short_record_problem`; embed said samples only, score's summary cut the seconds off).
- ``dashboard``: a port in use, a port out of range, a host that is not loopback, malformed endpoints, a key folder
  that does not exist, ``--seconds 0``: one line each (already so); a runtime nobody runs: the page is served and
  its state has no heartbeat (the page says "waiting for the runtime").
"""
from __future__ import annotations

import json
import logging
import socket
import urllib.request

import numpy as np
import polars as pl
import pytest

from biosig.record import Record
from biosig.synthetic import simulate
from biosig.writers import write
from encoders.data import channels_hint
from test_cli_errors import one_line_error, run_main as cli_run_main


def run_main(capsys, *argv):
    """:func:`test_cli_errors.run_main` without stdout: (exit code, stderr)."""
    code, _, err = cli_run_main(capsys, *argv)
    return code, err


# ------------------------------------------------------------------ 1: no channel of the model's modality
@pytest.fixture
def ppg_only(tmp_path):
    """A table whose only channel is PLETH (a finger PPG), 20 s (CSV: a WFDB record reads the same, and wfdb's
    import alone took 2 s)."""
    rec = simulate("ppg", 20.0, seed=0)
    assert rec.channels == ("PLETH",)
    path = tmp_path / "pleth.csv"
    write(rec, path)
    return path


def test_score_says_what_to_give_for_a_ppg_only_record_as_embed_does(capsys, tmp_path, ppg_only):
    hint = channels_hint(("ppg",), "ecg")
    assert "--model ppg-tiny" in hint and "--channel NAME=ecg" in hint and "--modality ecg" in hint
    code, err = run_main(capsys, "score", ppg_only, "--model", "ecg-tiny", "--backend", "torch", "--out", tmp_path / "o")
    assert code == 1 and "Traceback" not in err, err
    message = pl.read_parquet(tmp_path / "o" / "errors.parquet")["message"][0]
    assert message.startswith(f"no usable ecg channel: {hint}; ") and "PLETH (ppg)" in message, message
    summary = [line for line in err.splitlines() if line.startswith("  1 x ")]
    assert len(summary) == 1 and hint in summary[0], err          # the summary line keeps the whole hint
    code, err = run_main(capsys, "embed", ppg_only, "--model", "ecg-tiny", "--out", tmp_path / "e.parquet")
    assert code == 2 and "Traceback" not in err
    assert f"the ecg encoder needs ecg channels: {hint}; the record has ppg channels PLETH" in err, err


def test_a_generically_named_channel_gets_the_naming_hint_without_a_model(capsys, tmp_path):
    """A column "ch1" is 'other': no model is shipped for it, so the hint is how to name it (ecg-tiny then takes it,
    tests/test_score_edge_cases.py)."""
    rec = simulate("ecg", 12.0, seed=1, fs_hz=250.0)
    path = tmp_path / "g.csv"
    pl.DataFrame({"t_s": np.arange(rec.n_samples) / 250.0, "ch1": rec.samples[0]}).write_csv(path)
    code, err = run_main(capsys, "score", path, "--model", "ecg-tiny", "--backend", "torch", "--out", tmp_path / "o")
    assert code == 1, err
    message = pl.read_parquet(tmp_path / "o" / "errors.parquet")["message"][0]
    assert message == "no usable ecg channel: name the ecg channel: --channel NAME=ecg or --modality ecg; " \
                      "the record has ch1 (other)", message


# ------------------------------------------------------------------ 2: records shorter than the window
def test_a_record_60_percent_of_the_window_is_one_window_said_by_embed_and_score(capsys, caplog, tmp_path,
                                                                                 monkeypatch):
    import encoders.record_embed as record_embed
    monkeypatch.setattr(record_embed, "_SAID_SHORT", set())         # said once a process: not yet in this one
    path = tmp_path / "short.csv"
    write(simulate("ecg", 6.0, seed=2, fs_hz=250.0), path)          # ecg-tiny's window: 10 s
    with caplog.at_level(logging.WARNING, logger="encoders.record_embed"):
        code, err = run_main(capsys, "embed", path, "--model", "ecg-tiny", "--out", tmp_path / "e.parquet")
    assert code == 0, err
    note = "6 s, shorter than the model's 10 s window: embedded as one window of its own length"
    said = [r.getMessage() for r in caplog.records if note in r.getMessage()]
    assert len(said) == 1 and said[0].startswith(str(path)), caplog.text
    emb = pl.read_parquet(tmp_path / "e.parquet")
    assert emb.height == 1 and emb["t1_s"][0] - emb["t0_s"][0] == pytest.approx(6.0)
    code, err = run_main(capsys, "score", path, "--model", "ecg-tiny", "--backend", "torch", "--out", tmp_path / "o")
    assert code == 0 and f"short.csv: {note}" in err, err
    win = pl.read_parquet(tmp_path / "o" / "windows.parquet")
    assert win["t1_s"].to_list() == emb["t1_s"].to_list() == [6.0]
    np.testing.assert_allclose(np.asarray(win["embedding"][0]), np.asarray(emb["embedding"][0]), atol=1e-4)


def test_a_record_below_the_models_smallest_input_is_one_line_alike_in_embed_and_score(capsys, tmp_path):
    path = tmp_path / "tiny.csv"
    write(simulate("ecg", 0.2, seed=3, fs_hz=250.0), path)          # 50 samples; ecg-tiny takes 62 at least
    code, err = run_main(capsys, "embed", path, "--model", "ecg-tiny", "--out", tmp_path / "e.parquet")
    assert code == 2 and "Traceback" not in err, err
    expected = ("record too short (0.2 s; this model needs at least 0.248 s): windows of 50 samples are shorter "
                "than the smallest input of this model (62 samples at 250 Hz)")
    assert f"tiny.csv: {expected}" in err, err
    code, err = run_main(capsys, "score", path, "--model", "ecg-tiny", "--backend", "torch", "--out", tmp_path / "o")
    assert code == 1, err
    assert pl.read_parquet(tmp_path / "o" / "errors.parquet")["message"].to_list() == [expected]
    assert "1 x record too short (0.2 s; this model needs at least 0.248 s)" in err, err


# ------------------------------------------------------------------ 3: dashboard
def test_dashboard_on_a_port_in_use_is_one_line(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, err = run_main(capsys, "dashboard", "--port", port, "--seconds", "1")
    assert f"cannot serve the dashboard on 127.0.0.1:{port}: Address already in use" in one_line_error(code, err)


@pytest.mark.parametrize("argv,needle", [
    (["--port", "65536"], "expected a port number in 0..65535, got 65536"),
    (["--port", "-1"], "expected a port number in 0..65535, got -1"),
    (["--host", "0.0.0.0"], "'0.0.0.0' is not a loopback address"),
    (["--host", "192.168.1.2"], "'192.168.1.2' is not a loopback address"),
    (["--output", "tcp://127.0.0.1"], "has no port"),
    (["--output", "tcp://127.0.0.1:99999"], "PORT in 1..65535"),
    (["--output", "http://127.0.0.1:5556"], "scheme 'http' unknown"),
    (["--output", "tcp://10.0.0.1:5556"], "are not loopback: give a key directory"),
    (["--keys", "NO_SUCH_DIR"], "does not exist"),
    (["--seconds", "0"], "--seconds must be > 0"),
    (["--seconds", "-1"], "--seconds must be > 0"),
    (["--forget-s", "0"], "expected a finite number > 0"),
])
def test_dashboard_mistakes_are_one_line(capsys, tmp_path, argv, needle):
    argv = [str(tmp_path / "none") if a == "NO_SUCH_DIR" else a for a in argv]
    code, err = run_main(capsys, "dashboard", "--port", "0", *argv)
    assert needle in one_line_error(code, err)


def test_dashboard_of_a_runtime_nobody_runs_serves_a_page_with_no_heartbeat():
    from streams.dashboard import Dashboard
    with socket.socket() as free:          # a port nobody listens on once closed
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    with Dashboard(f"tcp://127.0.0.1:{port}", port=0) as dash:
        with urllib.request.urlopen(dash.url, timeout=2) as page:
            assert page.status == 200 and b"connecting" in page.read()
        with urllib.request.urlopen(dash.url + "state.json", timeout=2) as reply:
            state = json.loads(reply.read())
        assert state["hb_age_s"] is None and state["streams"] == {} and state["couches"] == {}
        try:
            urllib.request.urlopen(dash.url + "nope", timeout=2)
        except urllib.error.HTTPError as exc:
            assert exc.code == 404
        else:
            raise AssertionError("an unknown path was served")


def test_the_hint_names_the_model_for_what_the_channels_are():
    assert channels_hint(("audio",), "ecg").startswith("use --model audio-tiny (audio), or name the ecg channel")
    assert channels_hint(("other", "ppg"), "ecg").startswith("use --model ppg-tiny (ppg), or")
    assert channels_hint(("motion",), "ppg") == "name the ppg channel: --channel NAME=ppg or --modality ppg"

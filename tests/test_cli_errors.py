"""What a first-time user's mistakes give: one line on stderr, exit code 2, no traceback, no lost
output; and help text on every option of every subcommand."""
import argparse
import os
import subprocess
import sys

import numpy as np
import pytest

from biosig.cli import build_parser, main
from conftest import ROOT


def run_main(capsys, *argv):
    """``biosig ARGV`` in this process: (exit code, stdout, stderr); argparse errors included."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err) -> str:
    """The one line of a usage error (exit 2, no traceback)."""
    assert code == 2, err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def assert_one_line_error(code, err, needle):
    assert needle in one_line_error(code, err), err


@pytest.fixture
def a_file(tmp_path):
    """A plain file where a folder is expected."""
    p = tmp_path / "notes.csv"
    p.write_text("a,b\n1,2\n")
    return p


@pytest.fixture(scope="module")
def ecg_record(tmp_path_factory):
    """A 12 s synthetic ECG written as WFDB (``rec.hea``/``rec.dat``)."""
    from biosig.synthetic import simulate
    from biosig.writers import write
    d = tmp_path_factory.mktemp("rec")
    write(simulate("ecg", 12.0, seed=1), d / "rec")
    return d / "rec"


# ---------------------------------------------------------------------------------- --help
def _options_without_help(parser, path):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options_without_help(sub, path + [name])
        elif isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            continue
        elif not action.help or action.help == argparse.SUPPRESS:
            yield f"{' '.join(path)} {'/'.join(action.option_strings) or action.dest}"


def test_every_option_of_every_subcommand_has_help():
    missing = list(_options_without_help(build_parser(), ["biosig"]))
    assert not missing, "options without help text: " + "; ".join(missing)


# ---------------------------------------------------------------------------------- argparse errors
@pytest.mark.parametrize("argv, needle", [   # OUT: a path under tmp_path
    (["simulate", "ecg", "--seconds", "0", "--out", "OUT"], "--seconds: expected a positive number"),
    (["pretrain", "--modality", "ecg", "--synthetic", "--lr", "inf", "--out", "OUT"], "--lr: expected a finite number > 0"),
    (["pretrain", "--modality", "ecg", "--synthetic", "--warmup-steps", "-1", "--out", "OUT"], "--warmup-steps: expected an integer >= 0, got -1"),
    (["probe", "--embeddings", "e.parquet", "--labels", "l.csv", "--label-column", "y", "--folds", "1"],
     "--folds: expected an integer >= 2 (cross-validation needs at least 2 folds), got 1"),
    (["probe", "--embeddings", "e.parquet", "--labels", "l.csv", "--label-column", "y", "--folds", "0"],
     "--folds: expected an integer >= 2 (cross-validation needs at least 2 folds), got 0"),
    (["probe", "--embeddings", "e.parquet", "--labels", "l.csv", "--label-column", "y", "--min-quality", "nan"],
     "not a quality between 0 and 1"),
])
def test_bad_option_values_are_one_line_with_a_pointer_to_help(capsys, tmp_path, argv, needle):
    code, _, err = run_main(capsys, *[tmp_path / "out" if a == "OUT" else a for a in argv])
    assert_one_line_error(code, err, needle)
    assert f"biosig {argv[0]} --help" in err


@pytest.mark.parametrize("argv, command", [
    (["status", "--bogus", "1"], "biosig status"),
    (["forecast", "evaluate", "x.csv", "--out", "OUT", "--nope"], "biosig forecast evaluate"),
    (["keys", "generate", "OUT", "--zz"], "biosig keys generate"),
    (["--nope"], "biosig"),
])
def test_an_unknown_option_points_at_the_help_of_the_command_it_was_given_to(capsys, tmp_path, argv, command):
    code, _, err = run_main(capsys, *[tmp_path / "out" if a == "OUT" else a for a in argv])
    assert_one_line_error(code, err, f"{command}: error: unrecognized arguments: {argv[-2] if argv[-1] == '1' else argv[-1]}")
    assert err.strip().endswith(f"(see: {command} --help)"), err
    assert not (tmp_path / "out").exists()   # refused before anything ran


# ---------------------------------------------------------------------------------- simulate
def test_simulate_refuses_a_record_too_large_to_hold(capsys, tmp_path):
    code, _, err = run_main(capsys, "simulate", "ecg", "--seconds", "1", "--fs-hz", "1e9", "--out", tmp_path / "x.csv")
    assert_one_line_error(code, err, "samples per channel")
    assert not (tmp_path / "x.csv").exists()


def test_simulate_out_is_a_folder(capsys, tmp_path):
    folder = tmp_path / "runs"
    folder.mkdir()
    code, _, err = run_main(capsys, "simulate", "ecg", "--seconds", "2", "--out", folder)
    assert_one_line_error(code, err, "is a folder; give a file name")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]   # no runs.hea/runs.dat beside it


def test_simulate_out_under_a_file(capsys, a_file):
    code, _, err = run_main(capsys, "simulate", "ecg", "--seconds", "2", "--out", a_file / "x.csv")
    assert_one_line_error(code, err, "is a file, not a folder")


@pytest.mark.parametrize("modality,out", [("spiro", "s.wav"), ("ecg", "e.wav"), ("resp", "r.flac")])
def test_simulate_refuses_a_sound_file_for_a_signal_that_is_not_sound(capsys, tmp_path, modality, out):
    """A spirogram in a WAV read back as `mono [FS]`, modality other; an ECG WAV as audio."""
    code, _, err = run_main(capsys, "simulate", modality, "--seconds", "2", "--out", tmp_path / out)
    assert_one_line_error(code, err, f"reads back as sound, not as {modality}")
    assert not (tmp_path / out).exists()


@pytest.mark.skipif(not __import__("os").path.isdir("/proc/self"), reason="needs Linux /proc")
@pytest.mark.parametrize("argv", [("embed", "REC", "--model", "ecg-tiny", "--out", "/proc/x.parquet"),
                                  ("export", "ecg-tiny", "--out", "/proc/x.onnx")])
def test_an_out_folder_nobody_can_write_is_refused_before_the_work(capsys, tmp_path, argv):
    """/proc (and /sys, read-only mounts) pass os.access for root: embed failed with a traceback
    after embedding everything, export after running both exporters (26 s)."""
    rec = tmp_path / "r.csv"
    assert main(["simulate", "ecg", "--seconds", "12", "--out", str(rec)]) == 0
    capsys.readouterr()
    code, _, err = run_main(capsys, *[str(rec) if a == "REC" else a for a in argv])
    assert_one_line_error(code, err, "cannot write in the folder /proc")


# ---------------------------------------------------------------------------------- spiro, forecast
def test_spiro_folder_without_spirograms_says_so(capsys, tmp_path):
    code, _, err = run_main(capsys, "spiro", tmp_path)
    assert_one_line_error(code, err, "no spirogram files found")


def test_forecast_evaluate_folder_without_recordings(capsys, tmp_path):
    (tmp_path / "notes.json").write_text("{}")
    code, _, err = run_main(capsys, "forecast", "evaluate", tmp_path, "--out", tmp_path / "fo")
    assert_one_line_error(code, err, "no recordings in this folder")


def test_forecast_evaluate_out_is_a_file(capsys, tmp_path, a_file):
    session = tmp_path / "s.csv"
    t = np.arange(0, 120, 0.1)
    session.write_text("t_s,amp_mm\n" + "\n".join(f"{x:.1f},{np.sin(x):.4f}" for x in t) + "\n")
    code, _, err = run_main(capsys, "forecast", "evaluate", session, "--methods", "last", "--horizons", "1",
                            "--out", a_file)
    assert_one_line_error(code, err, "is a file, not a folder")
    assert a_file.read_text() == "a,b\n1,2\n"


@pytest.mark.parametrize("out, needle", [("plot.txt", "ending in .png"), ("notes.csv/plot.png", "is a file, not a folder")])
def test_forecast_plot_bad_out(capsys, tmp_path, a_file, out, needle):
    code, _, err = run_main(capsys, "forecast", "plot", tmp_path, "--session", "s", "--method", "mix",
                            "--horizon", "1", "--out", tmp_path / out)
    assert_one_line_error(code, err, needle)


# ---------------------------------------------------------------------------------- encoders
def test_embed_out_under_a_file_fails_before_the_work(capsys, ecg_record, a_file):
    code, _, err = run_main(capsys, "embed", ecg_record, "--model", "ecg-tiny", "--out", a_file / "e.parquet")
    assert_one_line_error(code, err, "is a file, not a folder")


def test_embed_refuses_a_model_of_another_modality_than_the_user_said(capsys, ecg_record, tmp_path):
    out = tmp_path / "e.parquet"
    code, _, err = run_main(capsys, "embed", ecg_record, "--model", "ecg-tiny", "--modality", "ppg", "--out", out)
    assert_one_line_error(code, err, "--modality ppg: ecg-tiny")
    assert not out.exists()
    code, stdout, err = run_main(capsys, "embed", ecg_record, "--model", "ecg-tiny", "--modality", "ecg", "--out", out)
    assert code == 0 and out.exists(), err


@pytest.mark.parametrize("command", ["embed", "score"])
def test_window_s_below_the_models_smallest_input_is_refused_before_the_work(capsys, ecg_record, tmp_path, command):
    out = tmp_path / ("e.parquet" if command == "embed" else "o")
    code, _, err = run_main(capsys, command, ecg_record, "--model", "ecg-tiny", "--window-s", "0.1", "--out", out)
    assert_one_line_error(code, err, "--window-s 0.1 is shorter than the smallest input of ecg-tiny")
    assert "62 samples at 250 Hz" in err


def test_export_out_under_a_file(capsys, a_file):
    code, _, err = run_main(capsys, "export", "ecg-tiny", "--out", a_file / "m.onnx")
    assert_one_line_error(code, err, "is a file, not a folder")



def test_export_takes_the_model_as_embed_does(capsys, tmp_path):
    """``export --model X`` (as embed/score/serve spell it) works like ``export X``; none, or two
    different ones, is a one-line error."""
    code, _, err = run_main(capsys, "export", "--out", tmp_path / "m.onnx")
    assert_one_line_error(code, err, "no model: give a shipped name or checkpoint directory")
    code, _, err = run_main(capsys, "export", "ppg-tiny", "--model", "ecg-tiny", "--out", tmp_path / "m.onnx")
    assert_one_line_error(code, err, "two models given: 'ppg-tiny' and --model 'ecg-tiny'")
    code, out, _ = run_main(capsys, "export", "--model", "ppg-tiny", "--out", tmp_path / "m.onnx")
    assert code == 0 and "wrote" in out and "ppg-tiny-" in out
    from encoders.onnx_metadata import read_metadata
    assert read_metadata(tmp_path / "m.onnx")["model_id"].startswith("ppg-tiny-")

TINY_PRETRAIN = ["pretrain", "--modality", "ecg", "--synthetic", "--synthetic-records", "1",
                 "--synthetic-seconds", "20", "--steps", "1", "--batch-size", "2", "--no-progress"]


def test_pretrain_never_overwrites_a_checkpoint_without_resume(capsys, tmp_path):
    out = tmp_path / "ckpt"
    out.mkdir()
    (out / "weights.pt").write_bytes(b"trained for a week")
    code, _, err = run_main(capsys, *TINY_PRETRAIN, "--out", out)
    assert_one_line_error(code, err, "already holds a checkpoint; add --resume")
    assert (out / "weights.pt").read_bytes() == b"trained for a week"


def test_pretrain_out_is_a_file(capsys, a_file):
    code, _, err = run_main(capsys, *TINY_PRETRAIN, "--out", a_file)
    assert_one_line_error(code, err, "is a file, not a folder")


def test_pretrain_window_too_long(capsys, tmp_path):
    code, _, err = run_main(capsys, *TINY_PRETRAIN, "--window-s", "1e9", "--out", tmp_path / "o")
    assert_one_line_error(code, err, "use a shorter --window-s")


def test_probe_positive_lists_plain_label_values(capsys, tmp_path):
    import polars as pl
    rng = np.random.default_rng(0)
    names = [f"r{i}" for i in range(8)]
    pl.DataFrame({"source": [f"{n}.hea" for n in names],
                  "embedding": [rng.standard_normal(4).astype(np.float32).tolist() for _ in names]}
                 ).write_parquet(tmp_path / "e.parquet")
    (tmp_path / "l.csv").write_text("record,label\n" + "\n".join(f"{n},{'AN'[i % 2]}" for i, n in enumerate(names)))
    code, _, err = run_main(capsys, "probe", "--embeddings", tmp_path / "e.parquet", "--labels", tmp_path / "l.csv",
                            "--label-column", "label", "--positive", "Z")
    assert_one_line_error(code, err, "is not a label value; values: A, N")


# ---------------------------------------------------------------------------------- score, demo, info
def test_score_takes_a_wfdb_record_name_like_the_other_commands(capsys, ecg_record, tmp_path):
    code, _, err = run_main(capsys, "score", ecg_record, "--model", "nosuch-model", "--out", tmp_path / "o")
    assert_one_line_error(code, err, "nosuch-model")   # the record was found; the model was not
    assert "not found" not in err


def test_demo_out_is_a_file(capsys, a_file):
    code, _, err = run_main(capsys, "demo", "--seconds", "1", "--out", a_file)
    assert_one_line_error(code, err, "is a file, not a folder")


def test_info_on_a_text_file_named_mp3_has_no_python_warnings(tmp_path):
    fake = tmp_path / "cough.mp3"
    fake.write_text("hello world\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-m", "biosig.cli", "info", str(fake)], capture_output=True, text=True,
                         env=env, timeout=120)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "Warning" not in res.stderr and "does not exist" not in res.stderr
    assert "cough.mp3: not a readable audio file" in res.stderr


def test_score_ray_address_without_a_cluster_is_one_line_within_seconds(capsys, ecg_record, tmp_path, monkeypatch):
    """An explicit address where nothing listens: one line naming our flag, at once (ray.init
    alone retried for minutes). Not "auto": that joins any Ray instance running on the machine."""
    import socket
    import time
    pytest.importorskip("ray")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with socket.socket() as s:                       # a loopback port that is certainly closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    code, _, err = run_main(capsys, "score", ecg_record, "--model", "ecg-tiny", "--out", tmp_path / "o",
                            "--engine", "ray", "--ray-address", f"127.0.0.1:{port}")
    assert_one_line_error(code, err, "leave out --ray-address for a local instance")
    assert f"nothing answers on 127.0.0.1:{port}" in err and time.monotonic() - t0 < 60


def test_pretrain_out_of_memory_is_one_line(capsys, tmp_path, monkeypatch):
    """A batch too large for the machine (found only when the step allocates it: a real 10^7 batch
    takes a minute to fail) ends in one line naming --batch-size, not torch's allocator traceback."""
    import encoders.pretrain

    def pretrain(cfg):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate "
                           "memory: you tried to allocate 1000000000000 bytes. Error code 12")
    monkeypatch.setattr(encoders.pretrain, "pretrain", pretrain)
    code, _, err = run_main(capsys, *TINY_PRETRAIN, "--out", tmp_path / "o")
    assert_one_line_error(code, err, "out of memory at --batch-size 2")

"""Wrinkles of ``biosig pretrain`` / ``biosig export`` left by the last bug-bash, through the real CLI
on real tiny runs: a weights.pt cut short or damaged is one line naming the file (export, embed,
--init-from), a --batch-size above the training windows is said, and a run stopped before its --steps
(Ctrl-C) is said on export, recorded in the ONNX metadata, and gone once the run is resumed to its end."""
import json
import logging
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from biosig.cli import main
from encoders.onnx_metadata import read_metadata
from encoders.pretrain_steps import step_indices
from pretrain_helpers import one_thread, pretrain_env  # noqa: F401 (one_thread: autouse)

TINY = ["--set", "dim=32", "--set", "depth=1", "--set", "heads=2", "--set", "decoder_dim=32",
        "--set", "decoder_heads=2", "--set", "decoder_depth=1"]
BASE = ["pretrain", "--modality", "ecg", "--synthetic", "--synthetic-records", "2", "--synthetic-seconds", "20",
        "--no-progress", "--warmup-steps", "1", *TINY]
ECG = [*BASE, "--batch-size", "4"]


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    """A run of --steps 300 stopped by Ctrl-C after its first checkpoint (--ckpt-every 5): resumable."""
    out = tmp_path_factory.mktemp("wrinkles") / "stopped"
    proc = subprocess.Popen([sys.executable, "-m", "biosig.cli", *ECG, "--steps", "300", "--ckpt-every", "5",
                             "--out", str(out)], env=pretrain_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    while not (out / "train_state.pt").exists() and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, err[-2000:]
    return out


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


CUTS = {"half": lambda b: b[:len(b) // 2], "empty": lambda b: b"", "tail": lambda b: b[:-100],
        "other bytes": lambda b: b"not a torch file " * 64}


@pytest.mark.parametrize("cut", sorted(CUTS))
def test_a_cut_or_damaged_weights_file_is_one_line_naming_it(stopped, tmp_path, capsys, cut):
    """Before: ``unreadable checkpoint: [Errno 22] Invalid argument`` (cut in half: no file, no cause),
    torch's paragraph (zip errors), or a traceback with exit code 1 (empty: EOFError; other bytes: KeyError)."""
    d = _copy(stopped, tmp_path / "ckpt")
    weights = d / "weights.pt"
    weights.write_bytes(CUTS[cut](weights.read_bytes()))
    for argv, tool in (
            (["export", str(d), "--out", str(tmp_path / "m.onnx")], "export"),
            (["embed", "--model", str(d), "--out", str(tmp_path / "e.parquet"), str(tmp_path / "none.csv")], "embed"),
            ([*ECG, "--steps", "1", "--init-from", str(d), "--out", str(tmp_path / "new")], "pretrain")):
        assert main(argv) == 2, tool
        err = capsys.readouterr().err
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and "Traceback" not in err, err
        assert f"{weights}: truncated or corrupt weights file ({weights.stat().st_size} bytes" in lines[0], err
        assert "internal miniz error" not in err   # torch's paragraph, cut to its first sentence
    assert not (tmp_path / "m.onnx").exists() and not (tmp_path / "new").exists()


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_batch_size_above_the_training_windows_is_said_once(tmp_path, caplog):
    """--batch-size 64 on 6 windows trained with each window ~10.7 times in every step, without a word."""
    caplog.set_level(logging.WARNING)
    out = tmp_path / "big"
    assert main([*BASE, "--batch-size", "64", "--steps", "2", "--out", str(out)]) == 0
    n = json.loads((out / "meta.json").read_text())["n_windows"]
    assert 0 < n < 64 and len(set(step_indices(0, 0, n, 64).tolist())) == n   # the step repeats windows
    said = [m for m in _warnings(caplog) if "--batch-size 64 is more than" in m]
    assert len(said) == 1, _warnings(caplog)
    assert f"the {n} training windows: each step sees every window about {64 / n:.1f} times" in said[0]
    assert f"a --batch-size of at most {n}" in said[0]
    caplog.clear()
    assert main([*BASE, "--batch-size", str(n), "--steps", "1", "--out", str(tmp_path / "fits")]) == 0
    assert not [m for m in _warnings(caplog) if "training windows" in m]   # every window once a step: not said


def test_export_of_a_stopped_run_says_so_records_it_and_the_resume_clears_it(stopped, tmp_path, caplog):
    """Before: the checkpoint of step 5 of 300 exported with exit code 0 and not a word."""
    d = _copy(stopped, tmp_path / "run")
    saved = torch.load(d / "train_state.pt", weights_only=False)["step"]
    assert 0 < saved < 300
    onnx = tmp_path / "half.onnx"
    caplog.set_level(logging.WARNING)
    assert main(["export", str(d), "--out", str(onnx)]) == 0
    said = [m for m in _warnings(caplog) if "stopped at step" in m]
    assert len(said) == 1, _warnings(caplog)
    assert f"stopped at step {saved} of 300" in said[0] and "--resume" in said[0]
    assert read_metadata(onnx)["training"] == {"step": saved, "steps": 300}
    # the advice works: resumed (a shorter --steps may be given) to its end, the export says nothing
    assert main([*ECG, "--steps", str(saved + 2), "--ckpt-every", "5", "--resume", "--out", str(d)]) == 0
    caplog.clear()
    assert main(["export", str(d), "--out", str(tmp_path / "done.onnx")]) == 0
    assert not [m for m in _warnings(caplog) if "stopped at step" in m]
    assert read_metadata(tmp_path / "done.onnx")["training"] == {"step": saved + 2, "steps": saved + 2}

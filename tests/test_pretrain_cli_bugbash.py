"""``biosig pretrain`` as a researcher drives it: ``--set modality`` that contradicts ``--modality`` is
refused before any work, and Ctrl-C (SIGINT) says which checkpoint is kept and how to continue, and the
resumed run ends on the weights of a run never interrupted. Real tiny runs."""
import os
import signal
import subprocess
import sys
import time

import torch

from biosig.cli import main
from pretrain_helpers import in_process, load_weights, one_thread, pretrain_env  # noqa: F401 (one_thread: autouse)

TINY = ["--set", "dim=32", "--set", "depth=1", "--set", "heads=2", "--set", "decoder_dim=32",
        "--set", "decoder_heads=2", "--set", "decoder_depth=1"]
ECG = ["pretrain", "--modality", "ecg", "--synthetic", "--synthetic-records", "2", "--synthetic-seconds", "20",
       "--batch-size", "4", "--no-progress", *TINY]


def test_set_modality_against_modality_is_refused(tmp_path, capsys):
    """``--modality ecg --set modality='"ppg"'`` built a PPG model config for an ECG run (the ECG data were
    then all skipped: "no usable ppg windows"); now one line before any work, no --out left."""
    out = tmp_path / "o"
    assert main([*ECG, "--steps", "1", "--set", 'modality="ppg"', "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert 'error: --set modality="ppg" contradicts --modality ecg' in err and "windows" not in err
    assert not out.exists()
    assert main([*ECG, "--steps", "1", "--set", 'modality="ecg"', "--out", str(out)]) == 0   # the same: fine


def test_ctrl_c_says_what_is_kept_and_the_resume_is_exact(tmp_path):
    """SIGINT after the first checkpoint: exit code 130 with a warning naming the step reached, the
    checkpoint kept and --resume; the resumed run's weights equal a straight run's."""
    # 60 steps, the first checkpoint at step 2: 58 steps (~1 s) for the SIGINT to land (the SIGKILL resume
    # tests leave 8-10); 300 steps, straight and resumed, were most of this test's 40 s in CI
    steps = 60
    args = [*ECG, "--steps", str(steps), "--ckpt-every", "2"]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "biosig.cli", *args, "--out", str(killed)], env=pretrain_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while not (killed / "train_state.pt").exists() and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, err[-2000:]
    saved = torch.load(killed / "train_state.pt", weights_only=False)["step"]
    assert saved < steps, "the run ended before it could be interrupted"
    assert f"the checkpoint of step {saved} in {killed} is kept; continue it exactly with the same command " \
           "and --resume" in err
    # the straight run and the resume in this process (one intra-op thread, as the subprocess): the same
    # code, without two more interpreters importing torch
    for out, extra in ((straight, []), (killed, ["--resume"])):
        assert in_process([*args, *extra, "--out", str(out)]) == 0
    a, b = load_weights(straight), load_weights(killed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_ctrl_c_before_the_first_checkpoint_says_nothing_was_saved(tmp_path):
    args = [sys.executable, "-m", "biosig.cli", *ECG, "--steps", "100000", "--ckpt-every", "100000",
            "--log-every", "1", "--out", str(tmp_path / "o")]
    proc = subprocess.Popen(args, env=pretrain_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    metrics = tmp_path / "o" / "metrics.jsonl"
    while not (metrics.exists() and metrics.stat().st_size) and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, err[-2000:]
    assert "before the first checkpoint (--ckpt-every 100000): nothing was saved" in err
    assert not os.path.exists(tmp_path / "o" / "train_state.pt")

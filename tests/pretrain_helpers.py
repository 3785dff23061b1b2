"""Shared by the pretraining tests: run ``biosig pretrain`` straight through, and again killed
with SIGKILL after its first checkpoint and resumed, for exact-resume tests."""
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from biosig.cli import main
from conftest import ROOT


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: no oversubscription of the shared 2-core machine (autouse where imported)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def pretrain_env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def load_weights(d):
    return torch.load(d / "weights.pt", weights_only=True)


def in_process(argv):
    """``biosig.cli.main(argv)`` with one intra-op thread, as a subprocess of ``pretrain_env()`` runs."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return main(argv)
    finally:
        torch.set_num_threads(n)


def straight_and_resumed(args, tmp_path, on_killed=None):
    """``(straight, killed)`` run folders of ``biosig pretrain *args``: one run straight through,
    one killed (SIGKILL) once ``train_state.pt`` exists and then resumed with ``--resume``;
    ``on_killed(killed)`` (optional) looks at the killed run's folder before the resume."""
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    cmd = [sys.executable, "-m", "biosig.cli", "pretrain", *args]
    # the straight run and the resume run in this process (one intra-op thread, as the killed run's
    # OMP_NUM_THREADS=1): the same code and the same weights, bit for bit, without two more interpreters
    # importing torch (3-6 s each on the loaded CI machine); only the run that is killed is a subprocess
    assert in_process(["pretrain", *args, "--out", str(straight)]) == 0
    proc = subprocess.Popen([*cmd, "--out", str(killed)], env=pretrain_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not (killed / "train_state.pt").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    if on_killed is not None:
        on_killed(killed)
    assert in_process(["pretrain", *args, "--out", str(killed), "--resume"]) == 0
    return straight, killed

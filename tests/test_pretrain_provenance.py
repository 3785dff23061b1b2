"""``biosig pretrain`` provenance (real tiny runs): evaluation records in the training data are said
and listed, every file trained on is in data_manifest.json with its SHA-256, meta.json has the
versions, a resume with another --steps is said and recorded, the default window given by its
value resumes, and the data read shows progress on a terminal."""
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy
import pytest
import torch

from biosig.cli import main
from encoders.pretrain import lr_factor

from conftest import shared_path
from pretrain_helpers import one_thread, pretrain_env  # noqa: F401 (one_thread: autouse)

TINY = ["--set", "dim=32", "--set", "depth=1", "--set", "heads=2", "--set", "decoder_dim=32",
        "--set", "decoder_heads=2", "--set", "decoder_depth=1"]
RUN = ["--steps", "1", "--batch-size", "4", "--no-progress", *TINY]
SYN = ["--synthetic", "--synthetic-records", "2", "--synthetic-seconds", "20"]


def _sha(path) -> str:
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def _meta(out):
    return json.loads((out / "meta.json").read_text())


def test_the_evaluation_table_holds_every_shared_evaluation_file():
    """The table of evaluation files (first 16 hex digits of their SHA-256) against the files in
    ../shared/data, hashed here with hashlib."""
    from encoders.pretrain_evaluation_sets import SET_OF_DIGEST
    for name, pattern, n in (("cinc2017", "*.mat", 200), ("cough", "raw/*.mp3", 120)):
        files = sorted(shared_path(name).glob(pattern))
        assert len(files) == n
        assert {_sha(f)[:16] for f in files} == {d for d, s in SET_OF_DIGEST.items() if s == name}


def test_evaluation_records_in_the_data_are_said_and_listed(tmp_path, caplog):
    """A CinC 2017 record copied under another name, among other ECG data, is found by content:
    a warning names the set and meta.json lists it; the same run without it lists none."""
    src = shared_path("cinc2017", "A00028.hea")
    data = tmp_path / "corpus"
    data.mkdir()
    shutil.copy(src.with_suffix(".mat"), data / "mine.mat")
    (data / "mine.hea").write_text(src.read_text().replace("A00028", "mine"))
    clean = shared_path("wfdb", "03700181.hea")
    with caplog.at_level("WARNING"):
        assert main(["pretrain", "--modality", "ecg", "--data", str(data), str(clean), *RUN,
                     "--out", str(tmp_path / "o")]) == 0
    assert "1 record(s) of the CinC 2017 AF evaluation set" in caplog.text
    assert f"e.g. {data / 'mine.hea'}: never pretrain on records you evaluate on" in caplog.text
    assert _meta(tmp_path / "o")["evaluation_overlap"] == {"cinc2017": [str(data / "mine.hea")]}
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert main(["pretrain", "--modality", "ecg", "--data", str(clean), *RUN, "--out", str(tmp_path / "c")]) == 0
    assert "evaluation set" not in caplog.text
    assert _meta(tmp_path / "c")["evaluation_overlap"] == {}


def test_cough_recordings_in_audio_data_are_said(tmp_path, caplog):
    cough = sorted(shared_path("cough", "raw").glob("*.mp3"))[:2]
    with caplog.at_level("WARNING"):
        assert main(["pretrain", "--modality", "audio", "--data", *map(str, cough), *RUN,
                     "--out", str(tmp_path / "a")]) == 0
    assert "2 record(s) of the COVID-19 cough evaluation set" in caplog.text
    assert _meta(tmp_path / "a")["evaluation_overlap"] == {"cough": [str(p) for p in cough]}


def test_meta_and_manifest_record_the_files_hashes_and_versions(tmp_path):
    """Every file trained on (a WFDB record: its header and signal file; a camera PPG CSV) with its
    SHA-256 and windows, the synthetic windows, the windows' fingerprint and the versions."""
    hea = shared_path("wfdb", "a103l.hea")
    csv = shared_path("pretrain", "ppg", "welltory", "subject_01", "PPG.csv")
    out = tmp_path / "o"
    assert main(["pretrain", "--modality", "ppg", "--data", str(hea), str(csv), *SYN, *RUN, "--out", str(out)]) == 0
    meta = _meta(out)
    manifest = json.loads((out / "data_manifest.json").read_text())
    files = {f: h for r in manifest["records"] for f, h in r["files"].items()}
    assert files == {str(hea): _sha(hea), str(hea.with_suffix(".mat")): _sha(hea.with_suffix(".mat")),
                     str(csv): _sha(csv)}
    assert [r["record"] for r in manifest["records"]] == [str(hea), str(csv)]
    windows = sum(r["n_windows"] for r in manifest["records"])
    assert windows > 0 and manifest["synthetic_windows"] > 0
    assert windows + manifest["synthetic_windows"] == meta["n_windows"]
    state = torch.load(out / "train_state.pt", weights_only=False)
    assert meta["data"] == {"manifest": "data_manifest.json", "n_records": 2, "n_files": 3,
                            "manifest_sha256": manifest["sha256"], "synthetic_windows": manifest["synthetic_windows"],
                            "windows_fingerprint": state["data_sha"]}
    assert meta["versions"]["numpy"] == numpy.__version__ and meta["versions"]["torch"] == torch.__version__
    assert {"biosig", "python", "platform"} <= set(meta["versions"])


def test_resume_with_other_steps_is_said_and_recorded(tmp_path, caplog):
    """The schedule is stretched from the resume step on: the user is told, with the learning
    rates on both sides, and meta.json and the training state record the resume."""
    out = tmp_path / "o"
    base = ["pretrain", "--modality", "ecg", *SYN, "--batch-size", "4", "--no-progress", "--warmup-steps", "1",
            *TINY, "--out", str(out)]
    assert main([*base, "--steps", "2"]) == 0
    with caplog.at_level("WARNING"):
        assert main([*base, "--steps", "4", "--resume"]) == 0
    lr_then, lr_now = 1e-3 * lr_factor(1, 1, 2), 1e-3 * lr_factor(2, 1, 4)
    assert (f"--steps 4 (the checkpoint was trained toward --steps 2): the learning rate now follows a schedule "
            f"to step 4 from step 3 on (lr {lr_then:.3g} at step 2, {lr_now:.3g} at step 3)") in caplog.text
    entry = [{"at_step": 2, "changed": {"steps": [2, 4]}}]
    assert _meta(out)["resumes"] == entry
    assert torch.load(out / "train_state.pt", weights_only=False)["resumes"] == entry
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert main([*base, "--steps", "5", "--resume", "--log-every", "2"]) == 0
    assert _meta(out)["resumes"] == [*entry, {"at_step": 4, "changed": {"log_every": [None, 2], "steps": [4, 5]}}]


def test_resume_with_the_default_window_given_by_its_value(tmp_path, capsys):
    """A run started with the default window resumes with it spelt out (--window-s 10 --hop-s 5
    for ECG: the same windows); another hop is still refused."""
    out = tmp_path / "o"
    base = ["pretrain", "--modality", "ecg", *SYN, "--batch-size", "4", "--no-progress", *TINY, "--out", str(out)]
    assert main([*base, "--steps", "1"]) == 0
    assert main([*base, "--steps", "2", "--resume", "--window-s", "10", "--hop-s", "5"]) == 0
    assert _meta(out)["step"] == 2
    capsys.readouterr()
    assert main([*base, "--steps", "3", "--resume", "--hop-s", "4"]) == 2
    assert "--hop-s: 5.0 -> 4.0" in capsys.readouterr().err


def _on_a_terminal(argv) -> str:
    """stdout and stderr of ``argv`` run on a pseudo-terminal of 120 columns."""
    import fcntl
    import pty
    import struct
    import termios
    main_fd, sub_fd = pty.openpty()
    fcntl.ioctl(sub_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(argv, stdin=sub_fd, stdout=sub_fd, stderr=sub_fd, env=pretrain_env(), close_fds=True)
    os.close(sub_fd)
    chunks = []
    while True:
        try:
            chunk = os.read(main_fd, 4096)
        except OSError:   # the terminal closed: the process ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main_fd)
    assert proc.wait(timeout=300) == 0, b"".join(chunks).decode(errors="replace")[-2000:]
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_the_data_read_shows_progress_on_a_terminal(tmp_path):
    """On a terminal, reading the data (seconds to minutes for a real corpus) has its own bar, as
    the steps have theirs; before, the screen stayed empty until the first step."""
    text = _on_a_terminal([sys.executable, "-m", "biosig.cli", "pretrain", "--modality", "ecg", *SYN,
                           "--batch-size", "4", "--steps", "1", *TINY, "--out", str(tmp_path / "o")])
    assert "pretrain: reading data: 2 records" in text
    assert "pretrain ecg-tiny: 100%" in text

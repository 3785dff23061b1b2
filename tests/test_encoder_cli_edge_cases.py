"""The encoder command line where a run goes wrong (pretrain, resume, export, compile, probe labels):
each test runs the real command on real (tiny) models and files and fails without its fix."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from encoder_helpers import TINY

pytestmark = pytest.mark.usefixtures("export_cache")


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def _biosig(*args, timeout=240):
    return subprocess.run([sys.executable, "-m", "biosig.cli", *map(str, args)], env=_env(), capture_output=True,
                          text=True, timeout=timeout)


PRETRAIN = ("pretrain", "--modality", "ecg", "--synthetic", "--synthetic-records", "2", "--synthetic-seconds", "20",
            "--batch-size", "4", "--no-progress", *TINY)


def test_resume_after_a_metrics_line_cut_short(tmp_path):
    """A run stopped while it appended to metrics.jsonl (killed, disk full) leaves a partial last line;
    --resume crashed on it with a JSONDecodeError traceback after reading all the data. The line is past
    the checkpoint: it is dropped and the run continues."""
    out = tmp_path / "run"
    res = _biosig(*PRETRAIN, "--steps", "2", "--out", out)
    assert res.returncode == 0, res.stderr[-2000:]
    with open(out / "metrics.jsonl", "a") as fh:
        fh.write('{"step": 3, "loss": 1.2')            # the write of step 3 cut short
    res = _biosig(*PRETRAIN, "--steps", "3", "--out", out, "--resume")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]
    assert json.loads((out / "meta.json").read_text())["step"] == 3


def _interrupt_when(proc, ready, timeout=180):
    """SIGINT to ``proc`` once ``ready()`` holds; False when it ended first."""
    deadline = time.time() + timeout
    while not ready() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    return True


def test_interrupted_export_keeps_the_file_it_would_replace(tmp_path):
    """``export --force`` wrote the exporter's raw graph straight into --out, then verified it and added the
    metadata: stopped in between (Ctrl-C, a failed verification), the good file there was gone and --out
    held a graph without the biosig metadata (embed refuses it; a rerun without --force refuses to replace
    it). Now the graph goes to a temporary file renamed over --out at the end."""
    out = tmp_path / "model.onnx"
    out.write_bytes(b"the previous export")
    before = out.stat().st_mtime_ns

    def started_writing():
        return (out.stat().st_mtime_ns != before or out.read_bytes() != b"the previous export"
                or any(p.name != out.name for p in tmp_path.iterdir()))

    proc = subprocess.Popen([sys.executable, "-m", "biosig.cli", "export", "ecg-tiny", "--out", str(out), "--force"],
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not _interrupt_when(proc, started_writing):
        pytest.skip("the export finished before it could be interrupted")
    _, err = proc.communicate()
    assert proc.returncode == 130, err[-2000:]
    assert out.read_bytes() == b"the previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]   # no temporary file left


def test_compile_names_a_folder_given_as_the_onnx_file(tmp_path):
    """``biosig compile CHECKPOINT_DIR`` said the folder "does not exist"."""
    ckpt = ROOT / "encoders" / "checkpoints" / "ecg-tiny"
    res = _biosig("compile", ckpt, "--out", tmp_path / "m.plan")
    assert res.returncode == 2
    line = res.stderr.strip()
    assert "does not exist" not in line and "is a folder" in line and "biosig export" in line, line
    assert len(line.splitlines()) == 1


def test_compile_refuses_to_put_the_engine_over_its_own_onnx(tmp_path):
    """``compile m.onnx --out m.onnx --force`` would replace the model with its engine: refused
    before TensorRT is looked for (so also here, where it is absent), the file untouched."""
    onnx_file = tmp_path / "m.onnx"
    assert _biosig("export", ROOT / "encoders" / "checkpoints" / "ecg-tiny", "--out", onnx_file).returncode == 0
    before = onnx_file.read_bytes()
    res = _biosig("compile", onnx_file, "--out", onnx_file, "--force")
    assert res.returncode == 2 and "is the ONNX file being compiled" in res.stderr, res.stderr
    assert onnx_file.read_bytes() == before


def test_probe_label_with_spaces_around_it_is_the_same_label(tmp_path, capsys):
    """``A00001, A`` (a space after the comma, as spreadsheets and hand edits write) gave the label ``" A"``:
    with --positive A those records were counted as negatives (A (7) vs rest (13) for 10 + 10), without it
    they made a class of their own. Numbers were already read without their spaces (`` 1`` is 1)."""
    import numpy as np
    import polars as pl

    from biosig.cli import main
    rng = np.random.default_rng(0)
    names = [f"r{i:02d}" for i in range(20)]
    label = ["A" if i % 2 else "N" for i in range(20)]
    emb = [(rng.normal(size=8) + (1.5 if lab == "A" else 0.0)).astype(np.float32).tolist() for lab in label]
    pl.DataFrame({"source": [f"/data/{n}.hea" for n in names], "embedding": emb}).write_parquet(tmp_path / "e.parquet")
    rows = [f"{n},{' A' if lab == 'A' and i % 3 == 0 else lab}" for i, (n, lab) in enumerate(zip(names, label))]
    (tmp_path / "labels.csv").write_text("record,label\n" + "\n".join(rows) + "\n")
    assert sum(" A" in r for r in rows) >= 3
    capsys.readouterr()
    assert main(["probe", "--embeddings", str(tmp_path / "e.parquet"), "--labels", str(tmp_path / "labels.csv"),
                 "--label-column", "label", "--positive", "A", "--bootstrap", "20"]) == 0
    assert "A (10) vs rest (10)" in capsys.readouterr().out
    assert main(["probe", "--embeddings", str(tmp_path / "e.parquet"), "--labels", str(tmp_path / "labels.csv"),
                 "--label-column", "label", "--bootstrap", "20", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["classes"] == ["A", "N"]


def test_an_empty_path_is_refused_not_read_as_the_current_folder(tmp_path, monkeypatch, capsys):
    """``--data "$DATA"`` / ``embed "$IN"`` with the variable unset: the empty path was read as the current
    folder, and pretrain trained on (embed embedded) whatever recordings lay there; an empty --init-from
    was ignored (a run from scratch instead of a fine-tune)."""
    from biosig.cli import main
    from biosig.synthetic import simulate
    from biosig.writers import write
    write(simulate("ecg", 20.0, seed=0), tmp_path / "lying_here.csv")
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    common = ["pretrain", "--modality", "ecg", "--steps", "1", "--batch-size", "2", "--no-progress", *TINY]
    cases = [(common + ["--data", "", "--out", "run1"], "--data: an empty path"),
             (common + ["--synthetic", "--synthetic-records", "1", "--synthetic-seconds", "20", "--init-from", "",
                        "--out", "run2"], "--init-from: an empty path"),
             (["embed", "", "--model", "ecg-tiny", "--out", "e.parquet"], "an empty path")]
    for argv, said in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert said in err and len(err.splitlines()) == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lying_here.csv"]   # nothing trained or embedded


def test_int8_export_prints_no_third_party_advice(tmp_path):
    """ONNX Runtime's quantizer logs "Please consider to run pre-processing before quantization" on
    the root logger at WARNING: export's quiet block held it at WARNING, so it came through."""
    res = _biosig("export", "ecg-tiny", "--precision", "int8", "--out", tmp_path / "q.onnx")
    assert res.returncode == 0, res.stderr
    assert "pre-processing" not in res.stderr and "WARNING" not in res.stderr, res.stderr

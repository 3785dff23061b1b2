"""Progress on the researcher's long steps, and a metrics log that does not read as perfect.

* ``biosig export`` says its stages on stderr as they start (it took 12-17 s with nothing said), and a line every
  ``BIOSIG_PROGRESS_S`` while one goes on (:class:`biosig.progress.Stages`);
* ``biosig pretrain`` says "building the model and optimiser" between the data read and step 1 (2-8 s of torch's
  imports for AdamW said nothing);
* ``metrics.jsonl`` of an objective without masked reconstruction has no ``mse`` (it logged ``"mse": 0.0``, which
  read as a perfect reconstruction), a resumed run's log included; an MAE run keeps its mse.

Real CLI runs of tiny models in this process (stderr read with capsys); no mock of our own code.
"""
import json
import time

import pytest

from biosig.cli import main
from biosig.progress import Stages

TINY = ["--set", "dim=32", "--set", "depth=1", "--set", "heads=2", "--set", "decoder_dim=32",
        "--set", "decoder_heads=2", "--set", "decoder_depth=1"]
PPG = ["--modality", "ppg", "--synthetic", "--synthetic-records", "3", "--synthetic-seconds", "30",
       "--batch-size", "8", *TINY]

pytestmark = pytest.mark.usefixtures("torch_one_thread")

EXPORT_STAGES = ("tracing with the TorchScript exporter ...", "graph passes ...",
                 "checking ONNX Runtime vs torch on probe batches ...", "checking and writing the graph ...")


def _rows(d):
    return [json.loads(ln) for ln in (d / "metrics.jsonl").read_text().splitlines()]


def test_export_says_its_stages_in_order(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BIOSIG_PROGRESS_S", "60")   # no heartbeat: the stage lines alone
    out = tmp_path / "m.onnx"
    assert main(["export", "ecg-tiny", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    said = [ln for ln in captured.err.splitlines() if ln.startswith("exporting ecg-tiny: ")]
    assert [ln.removeprefix("exporting ecg-tiny: ") for ln in said] == list(EXPORT_STAGES), captured.err
    assert out.is_file() and captured.out.startswith(f"wrote {out}")   # stdout: only the result


def test_export_stage_longer_than_the_interval_prints_heartbeats(tmp_path, capsys, monkeypatch):
    """An interval of 0.1 s: the load, the trace and the check (each >= 0.2 s here) say they go on, each line
    between its stage's start and the next stage's; none after the export ended."""
    monkeypatch.setenv("BIOSIG_PROGRESS_S", "0.1")
    assert main(["export", "ecg-tiny", "--out", str(tmp_path / "m.onnx"), "--precision", "int8"]) == 0
    time.sleep(0.3)   # a heartbeat thread left running would print here
    err = [ln.removeprefix("exporting ecg-tiny: ") for ln in capsys.readouterr().err.splitlines()
           if ln.startswith("exporting ecg-tiny: ")]
    beats = [i for i, ln in enumerate(err) if " still running, " in ln]
    assert beats, err
    for i in beats:   # the stage said last before the heartbeat is the one it names (the load is not said first)
        stage = next((ln for ln in reversed(err[:i]) if ln.endswith(" ...")), "loading torch and the model ...")
        assert err[i].startswith(stage.removesuffix(" ...") + " still running, "), err
    assert err[-1] == "checking and writing the graph ..." or " still running" in err[-1], err
    assert "quantizing to int8 ..." in err


def test_stages_heartbeat_follows_a_slow_stage_and_stops_when_closed(capsys):
    with Stages("job", every_s=0.1) as stages:
        stages.start("sleeping")
        time.sleep(0.45)   # a real slow stage: 4 intervals
        stages.start("quick")
    time.sleep(0.3)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "job: sleeping ..." and lines[-1] == "job: quick ..."
    assert 2 <= sum(ln.startswith("job: sleeping still running, ") for ln in lines) <= 5, lines
    with Stages("quiet", enabled=False, every_s=0.05) as stages:
        stages.start("nothing said")
        time.sleep(0.12)
    assert capsys.readouterr().err == ""


@pytest.fixture(scope="module")
def contrastive_run(tmp_path_factory):
    """A contrastive-only run of 2 steps and the stderr of its start."""
    import contextlib
    import io
    out = tmp_path_factory.mktemp("contrastive") / "c"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["pretrain", *PPG, "--objective", "contrastive", "--steps", "2", "--out", str(out)]) == 0
    return out, err.getvalue()


def test_contrastive_run_logs_no_mse_and_says_it_builds_the_model(contrastive_run):
    out, err = contrastive_run
    assert "pretrain: building the model and optimiser ..." in err, err
    rows = _rows(out)
    assert [r["step"] for r in rows] == [1, 2] and all("mse" not in r and "nce" in r for r in rows), rows
    final = json.loads((out / "meta.json").read_text())["final_metrics"]
    assert "mse" not in final and final["loss"] == pytest.approx(final["nce"])


def test_resumed_contrastive_log_stays_one_format(contrastive_run, tmp_path):
    """A log of an older version ("mse": 0.0 on every line), resumed: no mse on any line after the resume."""
    import shutil
    out = tmp_path / "c"
    shutil.copytree(contrastive_run[0], out)
    rows = _rows(out)
    (out / "metrics.jsonl").write_text("".join(json.dumps({**r, "mse": 0.0}) + "\n" for r in rows))
    assert main(["pretrain", *PPG, "--objective", "contrastive", "--steps", "3", "--resume", "--no-progress",
                 "--out", str(out)]) == 0
    resumed = _rows(out)
    assert [r["step"] for r in resumed] == [1, 2, 3] and not any("mse" in r for r in resumed), resumed
    assert resumed[:2] == rows   # the kept lines otherwise as they were


def test_mae_run_keeps_its_mse(tmp_path):
    out = tmp_path / "m"
    assert main(["pretrain", *PPG, "--steps", "2", "--no-progress", "--out", str(out)]) == 0
    rows = _rows(out)
    assert all(isinstance(r["mse"], float) and r["mse"] > 0 for r in rows), rows

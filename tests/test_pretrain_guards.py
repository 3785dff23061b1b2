"""``biosig pretrain`` guards (real tiny runs): what a resume may change, a checkpoint that cannot be
resumed, divergence, progress lines without a terminal, --init-from a shipped name, no empty --out
after a failure, and degenerate windows and masks."""
import json
import shutil

import pytest
import torch

import encoders
from biosig.cli import main
from encoders.checkpoint import CHECKPOINT_ROOT, save_checkpoint
from encoders.config import get_config
from encoders.errors import CheckpointError
from encoders.model import EncoderModel
from pretrain_helpers import one_thread  # noqa: F401 (autouse: one intra-op thread)

TINY = ["--set", "dim=32", "--set", "depth=1", "--set", "heads=2", "--set", "decoder_dim=32",
        "--set", "decoder_heads=2", "--set", "decoder_depth=1"]
ECG = ["pretrain", "--modality", "ecg", "--synthetic", "--synthetic-records", "2", "--synthetic-seconds", "20",
       "--batch-size", "4", *TINY]


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    """A finished 2-step run (checkpoint and train_state.pt), copied by the tests that resume it."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("base") / "run"
    assert main([*ECG, "--steps", "2", "--no-progress", "--out", str(out)]) == 0
    torch.set_num_threads(n)
    return out


def _copy(src, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(src, dst)
    return dst


def _files(d):
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def _one_line(capsys):
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def test_resume_refuses_a_checkpoint_without_train_state_and_leaves_it(tmp_path, capsys):
    ck = tmp_path / "ecg-tiny"
    shutil.copytree(CHECKPOINT_ROOT / "ecg-tiny", ck)
    before = _files(ck)
    assert main([*ECG, "--steps", "3", "--no-progress", "--resume", "--out", str(ck)]) == 2
    err = _one_line(capsys)
    assert f"{ck} holds a checkpoint without its training state (train_state.pt): it cannot be resumed" in err
    assert "--init-from" in err
    assert _files(ck) == before
    empty = tmp_path / "empty"          # nothing to resume: starts at step 0, as before
    empty.mkdir()
    assert main([*ECG, "--steps", "1", "--no-progress", "--resume", "--out", str(empty)]) == 0
    assert json.loads((empty / "meta.json").read_text())["step"] == 1


def test_resume_with_other_settings_is_refused_listing_each(base_run, tmp_path, capsys):
    run = _copy(base_run, tmp_path)
    before = _files(run)
    assert main([*ECG, "--steps", "4", "--lr", "0.01", "--seed", "1", "--batch-size", "2", "--synthetic-seconds",
                 "30", "--data", str(tmp_path / "elsewhere"), "--no-progress", "--resume", "--out", str(run)]) == 2
    err = _one_line(capsys)
    # (--data is compared by content once the data are read: tests/test_pretrain.py)
    for diff in ("--lr: 0.001 -> 0.01", "--seed: 0 -> 1", "--batch-size: 4 -> 2", "--synthetic-seconds: 20.0 -> 30.0"):
        assert diff in err, err
    assert "cannot resume" in err and "--steps" in err
    assert _files(run) == before
    # what a resume may change: the step budget, how often it logs and saves, the progress display
    assert main([*ECG, "--steps", "3", "--log-every", "1", "--ckpt-every", "1", "--resume", "--out", str(run)]) == 0
    meta = json.loads((run / "meta.json").read_text())
    assert meta["step"] == 3 and meta["train_config"]["lr"] == 0.001 and meta["train_config"]["seed"] == 0


def test_resume_at_or_past_the_steps_says_so(base_run, tmp_path, capsys, caplog):
    run = _copy(base_run, tmp_path)
    before = _files(run)
    capsys.readouterr()
    assert main([*ECG, "--steps", "2", "--no-progress", "--resume", "--out", str(run)]) == 0
    out, err = capsys.readouterr()
    said = err + caplog.text       # a WARNING line on stderr (pytest's caplog takes it here)
    assert "already at step 2" in said and "--steps above 2" in said
    assert json.loads(out)["step"] == 2          # the checkpoint's metrics, not {}
    assert _files(run) == before


def test_truncated_train_state_is_one_line(base_run, tmp_path, capsys):
    run = _copy(base_run, tmp_path)
    state = run / "train_state.pt"
    state.write_bytes(state.read_bytes()[:1000])
    weights = (run / "weights.pt").read_bytes()
    assert main([*ECG, "--steps", "4", "--no-progress", "--resume", "--out", str(run)]) == 2
    err = _one_line(capsys)
    assert f"{state}: unreadable training state" in err and "cannot be resumed" in err
    assert (run / "weights.pt").read_bytes() == weights


def test_diverged_run_stops_keeps_the_last_good_checkpoint_and_strict_metrics(tmp_path, capsys):
    out = tmp_path / "div"
    assert main([*ECG, "--steps", "12", "--lr", "1e6", "--warmup-steps", "1", "--ckpt-every", "1", "--no-progress",
                 "--out", str(out)]) == 2
    err = _one_line(capsys)
    assert "training diverged" in err and "lower --lr" in err
    bad_step = int(err.split(" at step ")[1].split()[0])
    meta = json.loads((out / "meta.json").read_text())
    assert meta["step"] < bad_step
    assert all(torch.isfinite(v).all() for v in torch.load(out / "weights.pt", weights_only=True).values())
    encoders.load(out)                           # the kept checkpoint loads

    def no_constants(name):
        raise AssertionError(f"metrics.jsonl holds {name}: not strict JSON")
    lines = [json.loads(ln, parse_constant=no_constants) for ln in (out / "metrics.jsonl").read_text().splitlines()]
    assert lines[-1]["step"] == bad_step and lines[-1]["loss"] is None


def test_checkpoint_with_non_finite_weights_is_refused_on_load(tmp_path, capsys):
    torch.manual_seed(0)
    model = EncoderModel(get_config("ecg-tiny", dim=32, depth=1, heads=2, decoder_dim=32, decoder_heads=2,
                                    decoder_depth=1))
    with torch.no_grad():
        model.patch_embed.weight[0, 0] = float("nan")
    ck = tmp_path / "nan-ck"
    save_checkpoint(ck, model)
    with pytest.raises(CheckpointError, match=r"non-finite weights \(diverged training\?\)"):
        encoders.load(ck)
    assert main(["export", str(ck), "--out", str(tmp_path / "x.onnx")]) == 2
    err = _one_line(capsys)
    assert f"checkpoint {ck} has non-finite weights (diverged training?)" in err


def test_progress_lines_when_stderr_is_not_a_terminal(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BIOSIG_PROGRESS_S", "0")
    assert main([*ECG, "--steps", "2", "--out", str(tmp_path / "p")]) == 0
    err = capsys.readouterr().err
    assert "pretrain: reading data: 1 record(s) read" in err
    assert "pretrain: step 2/2" in err and "steps/s" in err
    assert main([*ECG, "--steps", "1", "--no-progress", "--out", str(tmp_path / "q")]) == 0
    assert "pretrain:" not in capsys.readouterr().err


def test_init_from_a_shipped_model_name(tmp_path):
    out = tmp_path / "init"
    assert main(["pretrain", "--modality", "ecg", "--synthetic", "--synthetic-records", "2", "--synthetic-seconds",
                 "20", "--batch-size", "4", "--window-s", "2", "--steps", "1", "--lr", "1e-9", "--warmup-steps", "1",
                 "--set", "tokenizer=beat", "--set", "pool=mean+std", "--no-progress", "--init-from", "ecg-tiny",
                 "--out", str(out)]) == 0
    shipped = torch.load(CHECKPOINT_ROOT / "ecg-tiny" / "weights.pt", weights_only=True)
    mine = torch.load(out / "weights.pt", weights_only=True)
    assert torch.allclose(shipped["patch_embed.weight"], mine["patch_embed.weight"], atol=1e-6)


@pytest.mark.parametrize("case", ["empty-data", "missing-data", "bad-init-from"])
def test_a_failed_run_leaves_no_empty_out_folder(tmp_path, capsys, case):
    (tmp_path / "empty").mkdir()
    extra = {"empty-data": ["--data", str(tmp_path / "empty")],
             "missing-data": ["--data", str(tmp_path / "missing")],
             "bad-init-from": ["--synthetic", "--init-from", str(tmp_path / "empty")]}[case]
    out = tmp_path / "new" / "out"
    assert main(["pretrain", "--modality", "ecg", *extra, "--steps", "1", "--no-progress", "--out", str(out)]) == 2
    _one_line(capsys)
    assert not out.exists() and not out.parent.exists()


@pytest.mark.parametrize("argv,needle", [
    (["--window-s", "0.1"], "holds 1 patch(es) of 25 samples at 250 Hz; masked reconstruction needs at least 2"),
    (["--set", "mask_ratio=0"], "mask_ratio=0 masks none of the 100 tokens"),
])
def test_degenerate_windows_and_masks_are_refused(tmp_path, capsys, argv, needle):
    out = tmp_path / "deg"
    assert main([*ECG, "--steps", "2", "--no-progress", *argv, "--out", str(out)]) == 2
    assert needle in _one_line(capsys)
    assert not out.exists()


def test_a_batch_that_cannot_fit_is_refused_before_the_first_step(tmp_path, capsys):
    """--batch-size 100000000 ran for over a minute (drawing 1e8 indices) before an out-of-memory error;
    now a lower bound on one step's memory is compared with what the device has free first."""
    out = tmp_path / "o"
    args = [a if a != "4" else "100000000" for a in ECG]           # --batch-size 100000000
    assert main([*args, "--steps", "1", "--no-progress", "--out", str(out)]) == 2
    err = _one_line(capsys)
    assert "--batch-size 100000000 needs at least" in err and "GiB free on cpu" in err and "well under" in err
    assert not out.exists()


def test_step_memory_lower_bound_counts_samples_and_block_outputs():
    from encoders.pretrain_checks import step_bytes_per_window
    ecg = get_config("ecg-tiny")                                   # 2500 samples, patch 25, dim 128, depth 6
    assert step_bytes_per_window(ecg, (1, 2500)) == 2500 * 4 + 6 * (2500 // 25) * 128 * 4
    audio = get_config("audio-tiny")                               # log-mel frames of hop_length samples
    n = int(audio.window_s * audio.input_fs_hz)
    tokens = n // audio.hop_length // audio.patch_size
    assert step_bytes_per_window(audio, (1, n)) == n * 4 + audio.depth * tokens * audio.dim * 4
    beat = get_config("ecg-tiny", tokenizer="beat")
    assert step_bytes_per_window(beat, (1, 2500)) == 2500 * 4      # beat count unknown: samples only

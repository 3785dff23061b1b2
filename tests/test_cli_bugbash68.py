"""Bug bash of the researcher commands with user mistakes (session 68): each mistake is one line naming what
is wrong and what to give instead, exit code 2, no traceback. Before: ``pretrain --set channels='["V1"]'`` was a
KeyError on the first recording, ``--set channels='"ECG"'`` the vocabulary E, C, G, ``--set name=...`` a
TypeError, a negative loss weight or beat segment accepted (or a torch shape error), ``--set
attn_kernel='"flex"'`` on a CPU a ValueError on the first step; ``export`` of a checkpoint whose weights.pt
does not match its config.json printed torch's paragraph of every key, and a broken JSON file was
"unreadable checkpoint: Expecting value ..." without saying which; ``probe --labels`` of a binary file was
a UnicodeDecodeError, ``--seed -1`` a ValueError from NumPy, one record in a class said nothing to do. Nothing
ignored without a word: ``--synthetic-records`` / ``--synthetic-seconds`` with no synthetic records asked for,
``--synthetic-rhythm-atrial`` without ``--synthetic-rhythm-records``, ``--set objective`` against ``--objective``."""
from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
import torch

from biosig.cli import main
from pretrain_helpers import in_process, one_thread  # noqa: F401 (one_thread: autouse)

ECG = ["pretrain", "--modality", "ecg", "--synthetic", "--synthetic-records", "2", "--synthetic-seconds", "20",
       "--batch-size", "2", "--steps", "1", "--no-progress", "--set", "dim=32", "--set", "depth=1",
       "--set", "heads=2", "--set", "decoder_dim=32", "--set", "decoder_heads=2", "--set", "decoder_depth=1"]


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1, err
    return errors[0]


@pytest.mark.parametrize("value, says", [
    ('["V1"]', "channels ['V1'] must include 'ECG'"),
    ('"ECG"', "channels must be a list of channel names"),
    ('[1, 2]', "channels must be a list of channel names"),
    ('["ECG", "ecg"]', "names a channel twice"),
])
def test_set_channels_that_cannot_work(tmp_path, capsys, value, says):
    out = tmp_path / "o"
    assert in_process([*ECG, "--set", f"channels={value}", "--out", str(out)]) == 2
    assert says in _one_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize("setting, says", [
    ('name="ecg-big"', "the model name 'ecg-tiny' cannot be overridden (--set name)"),
    ("contrastive_weight=-1", "contrastive_weight=-1: must be >= 0"),
    ("spectral_loss_weight=-0.5", "spectral_loss_weight=-0.5: must be >= 0"),
    ("beat_refractory_s=0", "beat_refractory_s (0) and beat_before_s + beat_after_s (0.7) must be > 0 s"),
])
def test_set_values_out_of_range(tmp_path, capsys, setting, says):
    assert in_process([*ECG, "--set", setting, "--out", str(tmp_path / "o")]) == 2
    assert says in _one_line(capsys)


def test_negative_beat_segment_of_the_beat_tokenizer(tmp_path, capsys):
    """It reached torch: "Trying to create tensor with negative dimension -132"."""
    assert in_process([*ECG, "--set", 'tokenizer="beat"', "--set", "beat_before_s=-1",
                       "--out", str(tmp_path / "o")]) == 2
    assert "beat_before_s=-1: must be >= 0" in _one_line(capsys)


@pytest.mark.skipif(torch.cuda.is_available(), reason="flex trains on CUDA: the refusal is for a CPU")
def test_flex_attention_cannot_train_on_a_cpu(tmp_path, capsys):
    out = tmp_path / "o"
    assert in_process([*ECG, "--set", 'attn_kernel="flex"', "--out", str(out)]) == 2
    assert "attn_kernel flex cannot train on cpu" in _one_line(capsys)
    assert not out.exists()


def _checkpoint(tmp_path):
    from encoders.checkpoint import save_checkpoint
    from encoders.config import get_config
    from encoders.model import EncoderModel
    torch.manual_seed(0)
    d = tmp_path / "ckpt"
    config = get_config("ecg-tiny", dim=32, depth=2, heads=2, decoder_dim=32, decoder_heads=2, decoder_depth=1)
    save_checkpoint(d, EncoderModel(config))
    return d


def test_export_of_weights_that_do_not_match_config_is_one_line(tmp_path, capsys):
    d = _checkpoint(tmp_path)
    config = json.loads((d / "config.json").read_text())
    (d / "config.json").write_text(json.dumps({**config, "depth": 1}))   # weights of 2 blocks, config of 1
    assert main(["export", str(d), "--out", str(tmp_path / "m.onnx")]) == 2
    line = _one_line(capsys)
    assert "weights.pt does not match config.json (" in line and "unexpected tensor(s), e.g. blocks.1." in line, line
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("name", ["config.json", "pipeline.json", "meta.json"])
def test_export_names_the_broken_json_file(tmp_path, capsys, name):
    d = _checkpoint(tmp_path)
    (d / name).write_text("{bad")
    assert main(["export", str(d), "--out", str(tmp_path / "m.onnx")]) == 2
    assert f"{d / name}: unreadable (Expecting property name" in _one_line(capsys)


def test_export_of_a_file_says_to_give_the_folder(tmp_path, capsys):
    d = _checkpoint(tmp_path)
    assert main(["export", str(d / "weights.pt"), "--out", str(tmp_path / "m.onnx")]) == 2
    assert "is a file, not a checkpoint: give the checkpoint's folder" in _one_line(capsys)


def _probe_files(tmp_path, per_class=(6, 6)):
    rng = np.random.default_rng(0)
    names = [f"A{i:05d}" for i in range(sum(per_class))]
    labels = ["N"] * per_class[0] + ["A"] * per_class[1]
    emb = tmp_path / "e.parquet"
    pl.DataFrame({"source": [f"/data/{n}.mat" for n in names],
                  "embedding": [rng.normal(size=4).tolist() for _ in names]}).write_parquet(emb)
    csv = tmp_path / "l.csv"
    csv.write_text("record,label\n" + "".join(f"{n},{y}\n" for n, y in zip(names, labels)))
    return str(emb), str(csv)


def test_probe_labels_that_are_not_text(tmp_path, capsys):
    emb, _ = _probe_files(tmp_path)
    assert main(["probe", "--embeddings", emb, "--labels", emb, "--label-column", "label"]) == 2
    line = _one_line(capsys)
    assert "cannot read labels: not a text table" in line and "give the labels as a CSV file" in line, line


@pytest.mark.parametrize("flag, value", [("--seed", "-1"), ("--seed", str(2 ** 32)), ("--random-seed", "-3")])
def test_probe_seed_out_of_range(tmp_path, capsys, flag, value):
    emb, csv = _probe_files(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["probe", "--embeddings", emb, "--labels", csv, "--label-column", "label", flag, value])
    assert exc.value.code == 2
    assert f"argument {flag}: expected a seed from 0 to" in _one_line(capsys)


def test_probe_a_class_of_one_record_says_what_to_do(tmp_path, capsys):
    emb, csv = _probe_files(tmp_path, per_class=(6, 1))
    assert main(["probe", "--embeddings", emb, "--labels", csv, "--label-column", "label", "--folds", "2",
                 "--bootstrap", "10"]) == 2
    line = _one_line(capsys)
    assert "the rarest class (A) has 1 examples" in line and "a class needs 2 records at least" in line, line


@pytest.mark.parametrize("extra, says", [
    (["--synthetic-records", "5"], "--synthetic-records 5 sizes synthetic records, but none are asked for"),
    (["--synthetic-seconds", "5"], "--synthetic-seconds 5 sizes synthetic records, but none are asked for"),
])
def test_synthetic_sizes_without_synthetic_records_are_not_ignored(tmp_path, capsys, extra, says):
    """``--data X --synthetic-records 5`` trained on X alone without a word."""
    rec = tmp_path / "r.csv"
    rec.write_text("t_s,ECG\n" + "".join(f"{i / 250:.3f},{np.sin(i / 10):.4f}\n" for i in range(250)))
    out = tmp_path / "o"
    assert in_process(["pretrain", "--modality", "ecg", "--data", str(rec), *extra, "--out", str(out)]) == 2
    assert says in _one_line(capsys)
    assert not out.exists()


def test_rhythm_atrial_without_rhythm_records_is_not_ignored(tmp_path, capsys):
    """As --synthetic-pulse-arrhythmia without --synthetic-rhythm-records already was."""
    assert in_process([*ECG, "--synthetic-rhythm-atrial", "--out", str(tmp_path / "o")]) == 2
    assert "--synthetic-rhythm-atrial changes the --synthetic-rhythm-records" in _one_line(capsys)


def test_export_to_an_empty_out_says_so(tmp_path, capsys):
    assert main(["export", "ecg-tiny", "--out", ""]) == 2
    assert "--out: an empty path (an unset shell variable?)" in _one_line(capsys)


def test_objective_against_set_objective_is_not_decided_silently(tmp_path, capsys):
    """--objective won over --set objective without a word (a later --set of the same key still wins, as the
    tests' base argument lists rely on)."""
    out = tmp_path / "o"
    assert in_process([*ECG, "--set", 'objective="contrastive"', "--objective", "mae", "--out", str(out)]) == 2
    assert '--set objective="contrastive" contradicts --objective mae: give the objective once' in _one_line(capsys)
    assert not out.exists()


def test_random_baseline_of_another_modality_reads_well(tmp_path, capsys):
    """"--model audio-tiny is a audio architecture": the article fits the word."""
    from conftest import shared_path
    cinc = shared_path("cinc2017")
    names = ["A00028", "A00158", "A00474", "A00510"]
    emb = tmp_path / "e.parquet"
    pl.DataFrame({"source": [str(cinc / f"{n}.hea") for n in names],
                  "embedding": [[float(i), 1.0] for i in range(4)]}).write_parquet(emb)
    csv = tmp_path / "l.csv"
    csv.write_text("record,label\n" + "".join(f"{n},{'AN'[i % 2]}\n" for i, n in enumerate(names)))
    assert main(["probe", "--embeddings", str(emb), "--labels", str(csv), "--label-column", "label", "--folds", "2",
                 "--bootstrap", "10", "--jobs", "1", "--baseline", "random", "--model", "audio-tiny"]) == 2
    assert "--model audio-tiny is an audio architecture and these are ecg recordings" in _one_line(capsys)

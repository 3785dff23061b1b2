"""``biosig pretrain --channel NAME``: train on that channel of each --data recording (a camera
PPG's G where its red channel clips), refuse a recording without it (its channels listed), record it
in meta.json and data_manifest.json. Tiny real CPU runs."""
import json

import numpy as np
import pytest

from biosig.cli import main
from biosig.readers import read
from encoders.data import file_records, select_channels

from conftest import shared_path
from pretrain_helpers import one_thread  # noqa: F401 (autouse)

TINY = ["--preset", "tiny", "--set", "dim=32", "--set", "depth=1", "--set", "heads=2", "--set", "decoder_dim=32",
        "--set", "decoder_heads=2", "--set", "decoder_depth=1"]
RUN = ["--steps", "2", "--batch-size", "4", "--no-progress", "--warmup-steps", "1", *TINY]


def _camera_ppg(path, seconds=40.0):
    """time,R,G,B at ~30 Hz: R clipped at 255 (no pulse), G a 1.2 Hz pulse, B noise."""
    rng = np.random.default_rng(7)
    t_ms = np.cumsum(np.r_[0, rng.integers(30, 37, int(seconds * 30) - 1)]).astype(float)
    g = 80 - 6 * np.sin(2 * np.pi * 1.2 * t_ms / 1000) + rng.normal(0, 0.3, len(t_ms))
    b = 20 + rng.normal(0, 1, len(t_ms))
    path.write_text("time,R,G,B\n" + "".join(f"{int(t)},255,{y:.4f},{z:.4f}\n" for t, y, z in zip(t_ms, g, b)))
    return path


def test_the_named_channel_is_the_one_trained_on(tmp_path):
    csv = _camera_ppg(tmp_path / "PPG.csv")
    rec = read(csv)
    (_, default), = list(file_records([csv], "ppg"))
    (_, green), = list(file_records([csv], "ppg", "G"))
    assert green.channels == ("G",) and green.modality == "ppg" and green.channel_modalities == ("ppg",)
    np.testing.assert_array_equal(green.samples[0], rec.samples[rec.channels.index("G")])
    assert select_channels(default, "ppg").channels == ("PPG",)   # without --channel: the reader's pick (-R)
    assert select_channels(green, "ppg").channels == ("G",)


def test_pretrain_channel_is_recorded(tmp_path, capsys):
    csv = _camera_ppg(tmp_path / "PPG.csv")
    out = tmp_path / "o"
    assert main(["pretrain", "--modality", "ppg", "--data", str(csv), "--channel", "G", *RUN, "--out", str(out)]) == 0
    meta = json.loads((out / "meta.json").read_text())
    manifest = json.loads((out / "data_manifest.json").read_text())
    assert meta["train_config"]["channel"] == "G" and manifest["channel"] == "G"
    assert [r["record"] for r in manifest["records"]] == [str(csv)] and meta["n_windows"] > 0


def test_a_recording_without_the_channel_is_refused_with_its_channels(tmp_path, capsys):
    csv = _camera_ppg(tmp_path / "PPG.csv")
    out = tmp_path / "o"
    code = main(["pretrain", "--modality", "ppg", "--data", str(csv), "--channel", "R", *RUN, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "no channel 'R'" in err and "PPG, G, B" in err and "Traceback" not in err
    assert not (out / "weights.pt").exists()


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_channel_and_one_without_data_are_refused(tmp_path, capsys, value):
    code = main(["pretrain", "--modality", "ppg", "--synthetic", "--channel", value, *RUN, "--out", str(tmp_path / "o")])
    assert code == 2 and "--channel" in capsys.readouterr().err
    code = main(["pretrain", "--modality", "ppg", "--synthetic", "--channel", "G", *RUN, "--out", str(tmp_path / "p")])
    assert code == 2 and "--data" in capsys.readouterr().err


def test_welltory_subject_20_green_channel(tmp_path):
    """Its red channel clips in 97 % of the frames: --channel G trains on the green one."""
    csv = shared_path("pretrain", "ppg", "welltory", "subject_20", "PPG.csv")
    out = tmp_path / "o"
    assert main(["pretrain", "--modality", "ppg", "--data", str(csv), "--channel", "G", *RUN, "--out", str(out)]) == 0
    assert json.loads((out / "data_manifest.json").read_text())["channel"] == "G"

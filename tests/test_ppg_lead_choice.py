"""score and embed choose among a record's PPG channels as among ECG leads: by their share of windows that pass
the quality gate, then the model's lead order (encoders.lead_choice.choose_channels).

Found by the info bug bash of session 66: a camera CSV read with ``--channel G=ppg`` (red clipped, G a clean
pulse) was summarised by ``info`` on G and measured by ``biosig.measures`` on G, while ``score`` fed ppg-tiny
PPG (lead shares were reckoned for ECG models only) and ``embed`` the first PPG channel (``used_channels
["PPG"]`` on Welltory subject 14, quality 0.72; G 0.97).
"""
from __future__ import annotations

import numpy as np
import pytest

from biosig.measures import choose_channel
from biosig.readers import read
from conftest import load_encoder
from encoders.data import encoder_channels
from encoders.scoring.model import ModelSpec, load_model
from encoders.scoring.scorer import Scorer


def _camera_csv(path, red_clipped: bool):
    """20 s at 30 Hz: a clean 72 bpm pulse in G; R clipped at 255 (or the pulse, inverted, as PPG is -R)."""
    t_ms = np.arange(600) * 1000 / 30
    pulse = 120.0 + 8 * np.cos(2 * np.pi * 1.2 * t_ms / 1000) ** 8
    red = np.full(t_ms.shape, 255.0) if red_clipped else 240.0 - pulse
    path.write_text("time,R,G,B\n" + "".join(f"{t:.0f},{r:.3f},{g:.3f},0\n" for t, r, g in zip(t_ms, red, pulse)))
    return path


@pytest.fixture(scope="module")
def ppg_tiny():
    """ppg-tiny as score loads it, and its config as embed reads it (each loaded once for the module)."""
    return load_model(ModelSpec("ppg-tiny", "torch", device="cpu")), load_encoder("ppg-tiny").config


def test_a_clean_g_named_ppg_is_fed_over_a_clipped_ppg(tmp_path, ppg_tiny):
    path = _camera_csv(tmp_path / "PPG.csv", red_clipped=True)
    options = {"channel_modalities": {"G": "ppg"}}
    rec = read(path, **options)
    assert [rec.channels[i] for i, m in enumerate(rec.channel_modalities) if m == "ppg"] == ["PPG", "G"]
    assert rec.channels[choose_channel(rec, "ppg")] == "G"          # what the measures take
    model, config = ppg_tiny
    scorer = Scorer(model, read_options=options)
    assert scorer.select(scorer.read(str(path))).channels == ("G",)   # score (was PPG)
    assert encoder_channels(rec, config).channels == ("G",)   # embed (was PPG)


def test_where_both_pass_the_models_lead_order_decides_as_before(tmp_path, ppg_tiny):
    path = _camera_csv(tmp_path / "PPG.csv", red_clipped=False)
    rec = read(path, channel_modalities={"G": "ppg"})
    model, config = ppg_tiny
    assert Scorer(model).select(rec).channels == ("PPG",)
    assert encoder_channels(rec, config).channels == ("PPG",)
    assert encoder_channels(read(path), config).channels == ("PPG",)   # G listed other: not weighed

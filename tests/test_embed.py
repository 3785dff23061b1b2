"""Encoder.embed / biosig embed on real recordings; shipped checkpoints."""
import json

import numpy as np
import polars as pl
import pytest
import torch

import encoders
from biosig.cli import main
from biosig.pipeline import default_pipeline
from biosig.readers import read
from encoders.errors import EncoderError

from conftest import ROOT, shared_path

TINY = dict(dim=32, depth=1, heads=2, decoder_dim=32, decoder_depth=1, decoder_heads=2)
SHIPPED = ("ecg-tiny", "ppg-tiny", "audio-tiny", "spiro-tiny")


@pytest.fixture(scope="module")
def ecg_ckpt(tmp_path_factory):
    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("ck") / "ecg"
    encoders.save_checkpoint(d, encoders.create_model("ecg-tiny", **TINY), default_pipeline("ecg"))
    return d


def test_embed_two_lead_record_matches_manual_windows(ecg_ckpt):
    rec = read(shared_path("wfdb", "100.hea").with_suffix("")).slice_s(0, 62)
    enc = encoders.load(ecg_ckpt)
    df = enc.embed(rec, source="100")
    assert df.columns[:6] == ["source", "channels", "t0_s", "t1_s", "quality", "embedding"]
    assert "measures_ok" in df.columns and "missing" in df.columns   # window measures (biosig.measures_window)
    assert df.schema["embedding"] == pl.List(pl.Float32) and df.schema["quality"] == pl.Float32
    assert len(df) == (62 - 10) // 5 + 1
    np.testing.assert_allclose(df["t0_s"].to_numpy(), np.arange(len(df)) * 5.0)
    np.testing.assert_allclose((df["t1_s"] - df["t0_s"]).to_numpy(), 10.0)
    assert set(df["channels"]) == {"MLII"}   # a one-lead model gets one lead, as in training, score and serve
    q = df["quality"].to_numpy()
    assert ((q >= 0) & (q <= 1)).all()
    # independent path: the pipeline's outside part, manual slicing at 250 Hz, vocabulary id II
    outside, _ = default_pipeline("ecg").split_in_model()
    x = outside.apply(rec).samples
    wins = np.stack([x[:1, i * 1250:i * 1250 + 2500] for i in range(len(df))])
    ref = enc.embed_windows(wins, [enc.config.channels.index("II")])
    np.testing.assert_allclose(np.array(df["embedding"].to_list()), ref, atol=1e-6)
    # deterministic
    df2 = enc.embed(rec, source="100")
    assert df.equals(df2)
    # a two-lead model gets both leads, vocabulary ids II, V5
    torch.manual_seed(0)
    two = encoders.create_model("ecg-tiny", in_channels=2, **TINY)
    enc2 = encoders.Encoder(two, default_pipeline("ecg"))
    df = enc2.embed(rec, source="100")
    assert set(df["channels"]) == {"MLII,V5"}
    wins = np.stack([x[:, i * 1250:i * 1250 + 2500] for i in range(len(df))])
    ref = enc2.embed_windows(wins, [enc2.config.channels.index("II"), enc2.config.channels.index("V5")])
    np.testing.assert_allclose(np.array(df["embedding"].to_list()), ref, atol=1e-6)


def test_lead_subset_and_short_record(ecg_ckpt):
    rec = read(shared_path("wfdb", "100.hea").with_suffix("")).slice_s(0, 20)
    enc = encoders.load(ecg_ckpt)
    v5 = enc.embed(rec.select(["V5"]))
    ml2 = enc.embed(rec.select(["MLII"]))
    assert set(v5["channels"]) == {"V5"} and len(v5) == len(ml2) == 3
    assert not np.allclose(np.array(v5["embedding"].to_list()), np.array(ml2["embedding"].to_list()))
    short = enc.embed(rec.slice_s(0, 7.3))
    assert len(short) == 1 and short["t1_s"][0] == pytest.approx(7.3, abs=0.01)


def test_wrong_modality_is_an_error(ecg_ckpt):
    from biosig.synthetic import simulate
    with pytest.raises(EncoderError, match="ecg"):
        encoders.load(ecg_ckpt).embed(simulate("audio", 2.0, seed=0))


def test_the_audio_encoder_refuses_an_ecg_as_the_others_refuse_other_modalities(tmp_path, capsys):
    """audio-tiny took any record (an ECG at 300 Hz became 29 'audio' windows, exit 0): the audio
    encoder needs audio channels like every encoder; a sound record still embeds."""
    from biosig.synthetic import simulate
    with pytest.raises(EncoderError, match="the audio encoder needs audio channels"):
        encoders.load("audio-tiny").embed(simulate("ecg", 10.0, seed=0, fs_hz=300.0))
    assert len(encoders.load("audio-tiny").embed(simulate("audio", 3.0, seed=0))) >= 1
    ecg = tmp_path / "ecg.csv"
    assert main(["simulate", "ecg", "--seconds", "10", "--out", str(ecg)]) == 0
    assert main(["embed", str(ecg), "--model", "audio-tiny", "--out", str(tmp_path / "e.parquet")]) == 2
    assert "the audio encoder needs audio channels" in capsys.readouterr().err


def test_cli_embed_is_reproducible(ecg_ckpt, tmp_path, capsys):
    src = shared_path("cinc2017", "A00020.hea")
    inputs = [str(src.with_suffix("")), str(src.parent / "A00028")]
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    assert main(["embed", *inputs, "--model", str(ecg_ckpt), "--out", str(a)]) == 0
    assert main(["embed", *inputs, "--model", str(ecg_ckpt), "--out", str(b)]) == 0
    da, db = pl.read_parquet(a), pl.read_parquet(b)
    assert da.equals(db) and da["source"].n_unique() == 2
    assert "windows from 2 recordings" in capsys.readouterr().out


@pytest.mark.parametrize("argv,needle", [
    (["--model", "ecg-nope", "--out", "OUT.parquet"], "no checkpoint"),
    (["--model", "CK", "--out", "OUT.csv"], ".parquet"),
])
def test_cli_embed_errors(ecg_ckpt, tmp_path, capsys, argv, needle):
    src = str(shared_path("cinc2017", "A00020.hea").with_suffix(""))
    argv = [a.replace("OUT", str(tmp_path / "o")).replace("CK", str(ecg_ckpt)) for a in argv]
    assert main(["embed", src, *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_checkpoint(name):
    d = ROOT / "encoders" / "checkpoints" / name
    if not (d / "weights.pt").exists():
        pytest.skip(f"{name} not shipped yet")
    size = sum(f.stat().st_size for f in d.iterdir())
    assert size < 10 * 2**20
    card = (d / "MODEL_CARD.md").read_text()
    assert "biosig pretrain" in card
    enc = encoders.load(name)
    meta = json.loads((d / "meta.json").read_text())
    assert enc.model_id == meta["model_id"] and enc.pipeline.hash == default_pipeline(enc.config.modality).hash
    from biosig.synthetic import simulate
    seconds = {"audio": 3.0, "spiro": 15.0}.get(enc.config.modality, 20.0)
    df = enc.embed(simulate(enc.config.modality, seconds, seed=5))
    emb = np.array(df["embedding"].to_list())
    assert len(df) >= 1 and emb.shape[1] == enc.config.dim and np.isfinite(emb).all()

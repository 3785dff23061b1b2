"""``--audio-fmax-hz HZ|common`` of embed, score and probe (biosig.audio_band): every recording
low-passed to one band at the model's rate before the model, so a lung-sound set recorded at 4 and
44.1 kHz is not told apart by its rates. The filter against a NumPy twin (np.convolve) and its own
spectrum; the real audio-tiny on real WAV files, the real embed / score / probe code paths (one
embed run, one score run, one probe run, each a function call)."""
from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
import soundfile
from scipy import signal

from biosig.audio_band import AUDIO_BAND_SHARE, band_limit, common_fmax_hz, lowpass_taps
from biosig.cli import main
from biosig.record import Record
from biosig.synthetic_sounds import simulate_audio

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _rec(x, fs_hz):
    return Record(samples=np.asarray(x, np.float32)[None], fs_hz=float(fs_hz), channels=("mono",), units=("FS",),
                  modality="audio")


def _sound(seed, seconds=2.0):
    """A synthetic auscultation sound at 44.1 kHz and the same sound through a 4 kHz recorder."""
    a = simulate_audio(seconds, 910 + seed, fs_hz=44100, kind="auscultation").samples[0].astype(np.float64)
    return a, signal.resample_poly(a, 40, 441)


def test_the_filter_is_a_centred_fir_with_nothing_above_the_band():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 4000))
    x[1, 500:600] = np.nan
    out = band_limit(Record(samples=x.astype(np.float32), fs_hz=16000.0, channels=("a", "b"), units=("FS", "FS"),
                            modality="audio"), 1800.0, 16000.0)
    taps = lowpass_taps(1800.0, 16000.0)
    half = (len(taps) - 1) // 2
    twin = np.convolve(x[0], taps)[half:half + x.shape[1]]   # NumPy twin: full convolution, centred
    np.testing.assert_allclose(out.samples[0], twin, rtol=0, atol=1e-5)
    assert np.isnan(out.samples[1, 500:600]).all() and np.isfinite(np.delete(out.samples[1], range(500, 600))).all()
    gain_db = 20 * np.log10(np.abs(np.fft.rfft(taps, 1 << 15)) + 1e-30)
    f = np.fft.rfftfreq(1 << 15, 1 / 16000)
    assert gain_db[f >= 1800].max() < -59 and np.abs(gain_db[f <= 1620]).max() < 0.01


def test_common_is_the_mfcc_rows_band():
    from encoders.baselines import MFCC_BAND_SHARE, mfcc_common_fmax_hz
    assert AUDIO_BAND_SHARE == MFCC_BAND_SHARE
    for rates in ([44100, 4000, 10000], [10000, 44100], [16000, 48000], [8000]):
        assert common_fmax_hz(rates) == mfcc_common_fmax_hz(rates)


def test_a_4khz_copy_is_the_44khz_sound_on_the_common_band():
    a, a4 = _sound(0, 1.0)
    band = common_fmax_hz([44100, 4000])
    hi, lo = (band_limit(_rec(x, fs), band, 16000.0).samples[0] for x, fs in ((a, 44100), (a4, 4000)))
    hi0, lo0 = (band_limit(_rec(x, fs), 8000.0, 16000.0).samples[0] for x, fs in ((a, 44100), (a4, 4000)))
    # the whole band: the 44.1 kHz sound's 2-8 kHz is what the copies differ by; on 0-1800 Hz they agree
    assert np.linalg.norm(hi - lo) < 0.1 * np.linalg.norm(hi0 - lo0)
    assert np.linalg.norm(hi - lo) < 0.05 * np.linalg.norm(hi)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """2 sounds of 2 s at 44.1 and 4 kHz (4 WAVs), embedded by audio-tiny with --audio-fmax-hz common."""
    import torch
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("audio_band")
    for s in range(2):
        a, a4 = _sound(s)
        soundfile.write(d / f"s{s}_44k.wav", a.astype(np.float32), 44100)
        soundfile.write(d / f"s{s}_4k.wav", a4.astype(np.float32), 4000)
    wavs = sorted(str(p) for p in d.glob("*.wav"))
    out = d / "emb.parquet"
    assert main(["embed", *wavs, "--model", "audio-tiny", "--out", str(out), "--audio-fmax-hz", "common",
                 "--threads", "1"]) == 0
    torch.set_num_threads(n)
    return d, wavs, out


def test_embed_records_the_band_and_the_rates_agree_on_it(embedded):
    from encoders.embeddings_file import read_provenance
    d, _, out = embedded
    assert read_provenance(out)["audio_fmax_hz"] == 1800.0
    df = pl.read_parquet(out)
    emb = {p.rsplit("/", 1)[-1]: np.mean(np.stack(g["embedding"].to_list()), axis=0)
           for (p,), g in df.group_by("source")}
    # 2 s at 44.1 kHz vs its 4 kHz copy: 0.48 and 3.9 apart on the whole band, 0.013 and 0.021 on 0-1800 Hz
    # (another sound: 3-6 apart)
    for s in range(2):
        assert np.linalg.norm(emb[f"s{s}_44k.wav"] - emb[f"s{s}_4k.wav"]) < 0.2 * np.linalg.norm(
            emb[f"s{s}_44k.wav"] - emb[f"s{1 - s}_44k.wav"])


def test_a_resumed_embed_refuses_another_band(embedded, capsys):
    from encoders.embed_resume import EmbedParts, job_fingerprint
    from encoders.embeddings_file import read_provenance
    d, wavs, out = embedded
    again = d / "again.parquet"
    job = job_fingerprint(read_provenance(out), batch_size=64, device=None)   # the job of the first run
    with EmbedParts(again, job) as parts:   # an interrupted run of it: one recording's rows kept
        first = pl.read_parquet(out).filter(pl.col("source") == wavs[0])
        parts.add(wavs[0], {}, first)
        parts.flush()
    capsys.readouterr()
    assert main(["embed", *wavs, "--model", "audio-tiny", "--out", str(again), "--audio-fmax-hz", "1500"]) == 2
    err = capsys.readouterr().err
    assert "audio_fmax_hz 1800.0 there, 1500.0 now" in err and len(err.strip().splitlines()) == 1, err


def test_score_gives_embeds_numbers_and_keeps_the_band_in_its_job(embedded, tmp_path, capsys):
    d, wavs, out = embedded
    job = tmp_path / "score"
    assert main(["score", *wavs, "--model", "audio-tiny", "--out", str(job), "--backend", "torch",
                 "--audio-fmax-hz", "common", "--threads", "1"]) == 0
    manifest = json.loads((job / "run.json").read_text())
    assert manifest["model"]["audio_fmax_hz"] == 1800.0 and manifest["runs"][-1]["options"]["audio_fmax_hz"] == "common"
    ours = pl.read_parquet(job / "windows.parquet").sort("record")
    theirs = pl.read_parquet(out).sort("source")
    np.testing.assert_array_equal(np.stack(ours["embedding"].to_list()), np.stack(theirs["embedding"].to_list()))
    capsys.readouterr()
    assert main(["score", *wavs, "--model", "audio-tiny", "--out", str(job), "--backend", "torch"]) == 2
    err = capsys.readouterr().err
    assert "audio_fmax_hz: 1800.0 there, None now" in err, err


def test_probe_names_the_band_on_its_rows_and_takes_the_embeddings_band(embedded, capsys):
    from biosig.readers import read
    from encoders.baselines import embedding_features, random_encoder
    from encoders.probe_features import FeatureSpec, RecordFile, features
    d, wavs, out = embedded
    labels = d / "labels.csv"
    labels.write_text("record,label\n" + "".join(f"{w.rsplit('/', 1)[-1][:-4]},{'A' if w.endswith('_4k.wav') else 'N'}\n"
                                                 for w in wavs))
    capsys.readouterr()
    assert main(["probe", "--embeddings", str(out), "--labels", str(labels), "--label-column", "label", "--positive",
                 "A", "--folds", "2", "--bootstrap", "10", "--baseline", "random", "--jobs", "1", "--json"]) == 0
    assert "random seed 0 0-1800 Hz" in json.loads(capsys.readouterr().out)
    # the row's features: the random-weight model on each recording low-passed as embed does
    ours = features(FeatureSpec("random", "audio-tiny", 0, fmax_hz=1800.0), [RecordFile(wavs[1])])
    oracle = embedding_features(random_encoder("audio-tiny", 0), [band_limit(read(wavs[1]), 1800.0, 16000.0)])
    np.testing.assert_array_equal(ours, oracle)
    assert main(["probe", "--embeddings", str(out), "--labels", str(labels), "--label-column", "label",
                 "--baseline", "hrv", "--audio-fmax-hz", "1800"]) == 2
    err = capsys.readouterr().err
    assert "--audio-fmax-hz applies to --baseline random and mfcc" in err and len(err.strip().splitlines()) == 1


def test_a_model_not_for_sound_is_refused_in_one_line(embedded, tmp_path, capsys):
    _, wavs, _ = embedded
    capsys.readouterr()
    assert main(["embed", wavs[0], "--model", "ppg-tiny", "--out", str(tmp_path / "x.parquet"),
                 "--audio-fmax-hz", "common"]) == 2
    err = capsys.readouterr().err
    assert "--audio-fmax-hz band-limits sound recordings: ppg-tiny" in err and len(err.strip().splitlines()) == 1, err

"""Audio window quality sees clipping and channels that cancel when mixed (biosig.quality_audio).

The lung-sound rehearsal (issue 14) found both scored 1.0: a stethoscope recording at 8 x its level
(its crackles and wheezes above the clipping gone) and a stereo file with one channel in opposite
polarity, which the audio pipeline's ``mono`` step mixes to near silence. Real WAV files, read as
``embed`` reads them; the oracle for the clipped share is NumPy on the recorded samples."""
import logging

import numpy as np
import pytest

from biosig.pipeline import default_pipeline
from biosig.quality import window_quality
from biosig.quality_audio import CLIP_FREE_SHARE, clipped_share
from biosig.readers.audio import read_audio
from biosig.synthetic_sounds import simulate_audio

FS_HZ = 4000


@pytest.fixture(scope="module")
def lung():
    """2 s of synthetic auscultation at 4 kHz, peak 0.9 full scale."""
    return simulate_audio(2.0, 7, fs_hz=FS_HZ, kind="auscultation").samples[0].astype(np.float64)


def _read(tmp_path, name, x, subtype="PCM_16"):
    import soundfile as sf
    sf.write(tmp_path / name, np.asarray(x).T, FS_HZ, subtype=subtype)
    logging.disable(logging.WARNING)            # the reader's own warnings are test_audio_rehearsal's
    try:
        return read_audio(tmp_path / name)
    finally:
        logging.disable(logging.NOTSET)


def test_clipped_windows_lose_quality_in_proportion(tmp_path, lung):
    outside, _ = default_pipeline("audio").split_in_model()
    q_rec, q_16k, held = [], [], []
    for gain in (1, 4, 8):
        rec = _read(tmp_path, f"g{gain}.wav", np.clip(gain * lung, -1, 1))
        y = rec.samples[0]
        held.append(np.mean((np.abs(y[1:]) >= 0.99) & (y[1:] == y[:-1])))   # the reader's count
        q_rec.append(float(window_quality(rec, 2.0, 2.0)[0]))
        q_16k.append(float(window_quality(outside.apply(rec), 2.0, 2.0)[0]))   # what embed and serve score
    assert held[0] == 0 and held[1] > 0.01 and held[2] > 0.05
    assert q_rec[0] == 1.0 and q_16k[0] == 1.0                  # a good recording keeps 1.0
    assert q_rec[1] < 0.9 and q_16k[1] < 0.9                    # was 1.0: under audio's publish threshold
    assert q_rec[2] < 0.5 and q_16k[2] < 0.5 and q_rec[2] <= q_rec[1] and q_16k[2] <= q_16k[1]
    # normalised after recording (peak 0.5, float file): the flat tops are still held at the peak
    norm = _read(tmp_path, "norm.wav", 0.5 * np.clip(8 * lung, -1, 1), subtype="FLOAT")
    assert float(window_quality(norm, 2.0, 2.0)[0]) < 0.5


def test_a_peak_grazing_full_scale_is_not_condemned(tmp_path, lung):
    """A cough's peak held for a few samples at full scale costs nothing; a window in counts
    (int16 values as floats, peak 29000) is not taken for a clipped one."""
    x = 0.5 * lung / np.abs(lung).max()
    k = int(np.argmax(np.abs(x)))
    x[k:k + 4] = 1.0                                            # 4 samples at the rail
    rec = _read(tmp_path, "peak.wav", x, subtype="FLOAT")
    assert 0 < clipped_share(rec.samples[0]) <= CLIP_FREE_SHARE
    assert float(window_quality(rec, 2.0, 2.0)[0]) == 1.0
    counts = np.round(x * 29000)[None]
    assert float(window_quality(counts, FS_HZ, "audio")) == 1.0


def test_channels_that_cancel_when_mixed_score_zero(tmp_path, lung):
    anti = _read(tmp_path, "anti.wav", np.stack([lung, -lung]))
    two = _read(tmp_path, "two.wav", np.stack([lung, 0.5 * lung[::-1]]))
    one_silent = _read(tmp_path, "left.wav", np.stack([lung, np.zeros_like(lung)]))
    assert float(window_quality(anti, 2.0, 2.0)[0]) == 0.0      # was 1.0: the mix is near silence
    assert float(window_quality(two, 2.0, 2.0)[0]) == 1.0       # uncorrelated: mixed at about -3 dB
    assert float(window_quality(one_silent, 2.0, 2.0)[0]) == 0.5   # a silent channel: as before
    mixed = anti.samples.astype(np.float64).mean(axis=0)        # what the mono step embeds
    assert np.sqrt(np.mean(mixed ** 2)) < 0.1 * np.sqrt(np.mean(anti.samples.astype(np.float64) ** 2))


def test_a_quantised_hum_is_not_taken_for_clipping():
    """A 50 Hz hum at 500 counts of a 16-bit file at 16 kHz (-36 dBFS): each crest is a few equal
    samples, reached a quantum at a time. Counted as held at the rail it scored 0.64."""
    t = np.arange(32000) / 16000
    hum = np.round(500 * np.sin(2 * np.pi * 50 * t)) / 32768
    assert clipped_share(hum) == 0.0
    assert float(window_quality(hum[None], 16000, "audio")) == 1.0
    loud = np.round(np.clip(40000 * np.sin(2 * np.pi * 50 * t), -32768, 32767)) / 32768
    assert clipped_share(loud) > 0.3                       # the same hum clipped: its crests cut


def test_embed_gives_a_stereo_file_that_cancels_quality_zero(tmp_path, lung):
    """embed computes quality after the mono step, where the anti-phase file is near silence: it
    scored 1.0 there; now its windows are 0, a good stereo file's stay 1.0, and the cancelled half of a
    file costs the windows over it (real WAVs, the shipped audio architecture with random weights)."""
    from encoders.baselines import random_encoder
    enc = random_encoder("audio-tiny", 0)
    x = np.tile(lung, 2)                                                   # 4 s
    anti = _read(tmp_path, "anti4.wav", np.stack([x, -x]))
    good = _read(tmp_path, "good4.wav", np.stack([x, 0.5 * x[::-1]]))
    half = np.stack([x, np.r_[x[:FS_HZ * 2], -x[FS_HZ * 2:]]])              # cancels from 2 s on
    q_anti = enc.embed(anti)["quality"].to_numpy()
    q_good = enc.embed(good)["quality"].to_numpy()
    q_half = enc.embed(_read(tmp_path, "half4.wav", half))["quality"].to_numpy()
    assert len(q_anti) == 3 and (q_anti == 0).all()                        # 2 s windows, 1 s hop
    assert (q_good == 1).all()
    assert q_half[0] == 1.0 and q_half[-1] == 0.0 and 0 < q_half[1] < 1

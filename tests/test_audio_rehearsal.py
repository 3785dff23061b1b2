"""The owners' lung-sound re-run (issue 14), rehearsed on synthetic auscultation records written as
an ICBHI-like set (4, 10 and 44.1 kHz; 16-bit, 24-bit and float WAVs): the MFCC baseline resampled
every record to 16 kHz and spanned 0-8 kHz, so a 4 kHz recording's empty bands above 2 kHz entered
every coefficient and the features told the rates apart (4 kHz vs the rest: AUROC 0.999 on 151
rehearsal records, grouped by patient; 0.830 over 0-1800 Hz, what the synthetic sounds themselves
differ by in that band). The oracle is librosa called directly on the same band."""
import logging

import numpy as np
import pytest
from scipy import signal

from biosig.record import Record
from biosig.synthetic_sounds import simulate_audio
from encoders.baselines import _warn_empty_band, mfcc_common_fmax_hz, mfcc_features
from encoders.errors import EncoderError


def _rec(x, fs_hz):
    return Record(samples=np.asarray(x, np.float32)[None], fs_hz=float(fs_hz), channels=("mono",), units=("FS",),
                  modality="audio")


@pytest.fixture(scope="module")
def sounds():
    """Two auscultation sounds of 2 s at 44.1 kHz, and the first through a 4 kHz recorder."""
    a, b = (simulate_audio(2.0, 910 + s, fs_hz=44100, kind="auscultation").samples[0].astype(np.float64)
            for s in range(2))
    return _rec(a, 44100), _rec(signal.resample_poly(a, 40, 441), 4000), _rec(b, 44100)


def test_mfcc_common_band_compares_a_4khz_copy_like_with_like(sounds):
    import librosa

    a44, a4, b44 = sounds
    top = mfcc_common_fmax_hz([44100, 4000, 10000])
    assert top == 1800.0
    f44, f4, g44 = (mfcc_features(r, fmax_hz=top) for r in sounds)
    # the default band (0-8 kHz, as before) put the 4 kHz copy 24 away from the 44.1 kHz one (another
    # sound: 214); over 0-1800 Hz 0.5 (another sound: 49)
    d44, d4 = mfcc_features(a44), mfcc_features(a4)
    assert np.linalg.norm(f44 - f4) < 0.05 * np.linalg.norm(d44 - d4)
    assert np.linalg.norm(f44 - f4) < 0.05 * np.linalg.norm(f44 - g44)
    # oracle: librosa on the same band, resampled as librosa does by default
    y = librosa.resample(a4.samples[0].astype(np.float64), orig_sr=4000, target_sr=16000).astype(np.float32)
    m = librosa.feature.mfcc(y=y, sr=16000, n_mfcc=20, fmax=1800.0)
    np.testing.assert_allclose(f4, np.concatenate([m.mean(1), m.std(1)]), rtol=1e-5, atol=1e-4)


def test_mfcc_says_once_per_rate_when_its_band_is_beyond_a_recording(sounds, caplog):
    a44, a4, _ = sounds
    _warn_empty_band.cache_clear()
    with caplog.at_level(logging.WARNING, logger="encoders.baselines"):
        mfcc_features(a44)                      # 44.1 kHz holds 0-8 kHz: nothing to say
        mfcc_features(a4, fmax_hz=1800.0)       # within the 4 kHz band: nothing to say
        assert not caplog.records
        mfcc_features(a4)
        mfcc_features(a4)                       # a probe reads hundreds at one rate: one line
        mfcc_features(a4.replace(modality="ecg"))   # not sound: --baseline mfcc warns about that itself
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1, said
    assert "4000 Hz holds nothing above 2000 Hz" in said[0] and "8000 Hz" in said[0], said[0]
    assert "0.45 x the set's lowest rate" in said[0], said[0]


def test_mfcc_band_arguments():
    assert mfcc_common_fmax_hz([44100, 48000]) == 8000.0    # nothing upsampled: the whole 16 kHz band
    assert mfcc_common_fmax_hz([16000]) == 8000.0
    assert mfcc_common_fmax_hz([8000, 48000]) == 3600.0      # the cough set's call-center recordings
    with pytest.raises(EncoderError, match="at least one"):
        mfcc_common_fmax_hz([])
    rec = _rec(np.zeros(1600), 16000)
    for bad in (0.0, -1.0, 9000.0, float("nan")):
        with pytest.raises(EncoderError, match="fmax_hz"):
            mfcc_features(rec, fmax_hz=bad)


def test_stereo_whose_channels_cancel_is_said(tmp_path, caplog):
    """A stereo file with one channel in opposite polarity mixed to silence in the audio pipeline's
    ``mono`` step and was embedded as silence without a word (quality 1.0, taken on the channels)."""
    import soundfile as sf

    from biosig.readers.audio import read_audio
    x = simulate_audio(0.5, 3, fs_hz=4000, kind="auscultation").samples[0]
    sf.write(tmp_path / "anti.wav", np.stack([x, -x], 1), 4000, subtype="PCM_16")
    sf.write(tmp_path / "two.wav", np.stack([x, 0.5 * x[::-1]], 1), 4000, subtype="PCM_24")
    with caplog.at_level(logging.WARNING, logger="biosig.readers.audio"):
        rec = read_audio(tmp_path / "two.wav")          # two channels that do not cancel: nothing to say
        assert rec.channels == ("left", "right") and not caplog.records
        mixed = read_audio(tmp_path / "anti.wav", mono=True)
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "anti.wav: its 2 channels cancel when mixed to one" in said[0], said
    assert np.sqrt(np.mean(mixed.samples ** 2)) < 1e-3 * np.sqrt(np.mean(x ** 2))   # what it warns of


def test_silent_and_clipped_files_are_said(tmp_path, caplog):
    """A file of zeros and a clipped one were embedded without a word (the clipped one at window
    quality 1.0); a loud file that does not clip (peak 0.9, as simulate_audio writes) is not said."""
    import soundfile as sf

    from biosig.readers.audio import read_audio
    x = simulate_audio(0.5, 4, fs_hz=4000, kind="auscultation").samples[0]
    sf.write(tmp_path / "loud.wav", x, 4000, subtype="PCM_16")
    sf.write(tmp_path / "silent.wav", np.zeros(2000), 4000, subtype="PCM_16")
    sf.write(tmp_path / "clipped.wav", np.clip(8 * x, -1, 1), 4000, subtype="PCM_16")
    with caplog.at_level(logging.WARNING, logger="biosig.readers.audio"):
        read_audio(tmp_path / "loud.wav")
        assert not caplog.records
        read_audio(tmp_path / "silent.wav")
        read_audio(tmp_path / "clipped.wav")
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 2, said
    assert "silent.wav: holds zeros only (2000 samples" in said[0], said[0]
    assert "clipped.wav:" in said[1] and "held at full scale (clipped" in said[1], said[1]

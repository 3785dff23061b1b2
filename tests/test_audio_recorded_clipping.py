"""Audio quality counts the clipping of the recorded samples, wherever a window came from.

The windows a model sees are resampled to 16 kHz, mixed to mono and, with ``--audio-fmax-hz``,
low-passed: a clipped file normalised after recording (its flat tops no longer at full scale, and
rippling once resampled) scored 1.0, and a band smeared the flat tops further. ``embed``, ``score``
and ``probe`` now also count the clipped share on each window's recorded samples
(:func:`biosig.quality_audio.recorded_clipped_shares`); and ``score`` marks the spans of a stereo file
whose channels cancel, as ``embed`` does (it gave such a file quality 1.0, embed 0).
Oracles: :func:`biosig.quality_audio.clipped_share` on NumPy slices of the file's samples, and the
``embed`` command's own column for ``score`` and ``probe``.
"""
import numpy as np
import polars as pl
import pytest

from biosig.cli import main
from biosig.quality_audio import clipped_share, clipping_factor, recorded_clipped_shares
from biosig.readers import read
from biosig.synthetic_sounds import simulate_audio


def _write(path, x, fs_hz):
    import soundfile as sf
    sf.write(path, np.asarray(x).T, fs_hz, subtype="PCM_16")
    return str(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Synthetic auscultation, 10 s: clean, and clipped at 30 x then normalised to half scale,
    at 4 and 44.1 kHz; a stereo file at 16 kHz whose second channel is the first inverted."""
    d = tmp_path_factory.mktemp("clip")
    out = {}
    for fs in (4000, 44100):
        z = simulate_audio(10.0, 6, fs_hz=fs, kind="auscultation").samples[0].astype(np.float64)
        z = 0.5 * z / np.abs(z).max()
        out[f"clean{fs}"] = _write(d / f"clean{fs}.wav", z, fs)
        out[f"clipnorm{fs}"] = _write(d / f"clipnorm{fs}.wav", 0.5 * np.clip(30 * z, -1, 1), fs)
    s = simulate_audio(10.0, 5, fs_hz=16000, kind="auscultation").samples[0].astype(np.float64)
    s = 0.3 * s / np.abs(s).max()
    out["anti"] = _write(d / "anti.wav", np.stack([s, -0.99 * s]), 16000)
    return out


def test_recorded_shares_are_clipped_share_of_each_windows_span(files):
    rec = read(files["clipnorm4000"])
    t0 = np.array([0.0, 1.0, 2.5, 8.5, 9.0])
    got = recorded_clipped_shares(rec, t0, 2.0)
    x = np.asarray(rec.samples[0], dtype=np.float64)
    want = [clipped_share(x[int(t * 4000):int(t * 4000) + 8000]) for t in t0]
    np.testing.assert_allclose(got, want)
    assert got.min() > 0.03   # the oracle itself sees the clipping at the file's rate


def _embed_quality(tmp_path, files, *extra):
    out = tmp_path / f"e{len(extra)}.parquet"
    assert main(["embed", *files.values(), "--model", "audio-tiny", "--backend", "torch", "--out", str(out),
                 *extra]) == 0
    df = pl.read_parquet(out)
    return {src.rsplit("/", 1)[-1].removesuffix(".wav"): g.sort("t0_s")["quality"].to_numpy()
            for (src,), g in df.group_by("source")}


def test_embed_sees_a_normalised_clipped_file_and_a_band_changes_no_quality(tmp_path, files):
    full = _embed_quality(tmp_path, files)
    band = _embed_quality(tmp_path, files, "--audio-fmax-hz", "1800")
    for fs in (4000, 44100):
        assert (full[f"clean{fs}"] == 1.0).all()
        q = full[f"clipnorm{fs}"]
        assert q.max() < 0.5, (fs, q)   # was 1.0: every window's recorded samples are > 5 % clipped
        # the quality of the recorded samples, whatever band the model is given
        np.testing.assert_array_equal(band[f"clipnorm{fs}"], q)
    rec = read(files["clipnorm44100"])
    window_s = 2.0   # audio-tiny's training window (embed's default)
    t0 = np.arange(len(full["clipnorm44100"])) * 1.0
    oracle = [clipping_factor(s) for s in recorded_clipped_shares(rec, t0, window_s)]
    assert (full["clipnorm44100"] <= np.asarray(oracle, np.float32) + 1e-6).all()


def test_score_gives_each_window_embeds_quality(tmp_path, files):
    embed = _embed_quality(tmp_path, files)
    for extra in ([], ["--audio-fmax-hz", "1800"]):
        job = tmp_path / f"s{len(extra)}"
        assert main(["score", *files.values(), "--model", "audio-tiny", "--backend", "torch", "--out", str(job),
                     "--workers", "1", *extra]) == 0
        df = pl.read_parquet(job / "windows.parquet")
        for (rec,), g in df.group_by("record"):
            name = rec.rsplit("/", 1)[-1].removesuffix(".wav")
            np.testing.assert_allclose(g.sort("window")["quality"].to_numpy(), embed[name], atol=1e-6,
                                       err_msg=f"{name} {extra}")
    assert (embed["anti"] == 0.0).all()   # score gave the cancelling stereo file 1.0


def test_probe_keeps_no_window_of_a_clipped_file_under_a_band(files):
    from encoders.probe_features import FeatureSpec, RecordFile, features
    recs = [RecordFile(files["clean4000"]), RecordFile(files["clipnorm4000"])]
    f = features(FeatureSpec("model", "audio-tiny", fmax_hz=1800.0, min_quality=0.5), recs)
    assert np.isfinite(f[0]).all() and np.isnan(f[1]).all()   # every window of the clipped file left out


def test_a_held_run_counts_every_sample_at_the_rail():
    """A run of k samples at the rail is k clipped samples (it counted k - 1: the first of each run,
    the one the others equal, was left out; at 4 kHz a run is 2-3 samples). Oracle: NumPy's count of
    the samples at the peak of a sine clipped at a third of its amplitude, at 4 kHz, half scale."""
    t = np.arange(8000) / 4000.0
    y = 0.5 * np.clip(3 * np.sin(2 * np.pi * 97.0 * t), -1, 1)
    y = np.round(y * 32767) / 32767
    at_rail = float(np.mean(np.abs(y) >= np.abs(y).max()))
    assert at_rail > 0.5
    assert clipped_share(y) == pytest.approx(at_rail, abs=1e-12)


def test_the_reader_says_a_file_clipped_then_scaled(files, caplog):
    """A file clipped and then normalised to half scale was read without a word (the reader counted
    samples held at full scale only); a clean file is still not said."""
    import logging

    from biosig.readers.audio import read_audio
    with caplog.at_level(logging.WARNING, logger="biosig.readers.audio"):
        read_audio(files["clean44100"])
        assert not caplog.records
        read_audio(files["clipnorm4000"])
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "held at the peaks of its sound, 0.5 (clipped, then scaled" in said[0], said
    x = np.asarray(read(files["clipnorm4000"]).samples[0], np.float64)
    assert f"{100 * clipped_share(x):.1f} %" in said[0], said   # oracle: the whole file, one block

"""``serve --audio-fmax-hz HZ``: an audio stream's model input low-passed live by the filter of
``embed``/``score``/``probe --audio-fmax-hz`` (streams.audio_band_live). Oracles: scipy.signal.lfilter
(the causal FIR over the whole signal) and biosig.audio_band.band_limit (the offline, centred one)."""
import logging

import numpy as np
import pytest
from scipy import signal

from biosig.audio_band import band_limit, lowpass_taps
from biosig.pipeline import default_pipeline
from biosig.record import Record
from streams.audio_band_live import LiveLowpass
from streams.config import RuntimeConfig, config_from_dict
from streams.errors import StreamError
from streams.ingest import InputStream
from streams.models import HostedModel
from test_cli_errors import run_main

FS = 16000.0
FMAX = 1800.0


def _chunks(live, x, seed):
    rng = np.random.default_rng(seed)
    out, i = [], 0
    while i < x.shape[1]:
        n = int(rng.integers(0, 700))       # empty chunks too
        out.append(live.process(x[:, i:i + n]))
        i += n
    return np.concatenate(out, axis=1)


def test_chunks_of_any_size_give_the_causal_filter_shifted_back_which_is_the_offline_band():
    taps = lowpass_taps(FMAX, FS)
    live = LiveLowpass(taps, 2)
    d = live.delay_n
    assert d == (taps.size - 1) // 2 == 162
    x = np.random.default_rng(0).standard_normal((2, 24000))
    y = _chunks(live, x, 1)
    assert y.shape == (2, x.shape[1] - d) and y.dtype == np.float64   # the newest d samples not out yet
    np.testing.assert_allclose(y, signal.lfilter(taps, 1.0, x, axis=1)[:, d:], atol=1e-9)
    offline = band_limit(Record(x, FS, ("a", "b"), modality="audio"), FMAX, FS).samples
    np.testing.assert_allclose(y, offline[:, :y.shape[1]], atol=1e-5)   # zero phase: sample j is sample j
    # after reset (a gap), the next sample is a first one again
    live.reset()
    again = _chunks(live, x[:, 5000:], 2)
    np.testing.assert_allclose(again, signal.lfilter(taps, 1.0, x[:, 5000:], axis=1)[:, d:], atol=1e-9)


def test_gaps_are_zeros_while_filtering_and_nan_again_at_their_own_samples():
    taps = lowpass_taps(FMAX, FS)
    x = np.random.default_rng(3).standard_normal((1, 16000)).astype(np.float32)
    x[0, 3000:3400] = np.nan
    x[0, 9000] = np.inf
    x[0, 15990:] = np.nan                       # in the delay at the end: not out yet
    live = LiveLowpass(taps, 1)
    y = _chunks(live, x, 4)
    assert y.dtype == np.float32
    n = y.shape[1]
    bad = ~np.isfinite(x)
    assert np.isnan(y).tolist() == bad[:, :n].tolist()
    want = signal.lfilter(taps, 1.0, np.where(bad, 0.0, x.astype(np.float64)), axis=1)[:, live.delay_n:]
    ok = ~bad[:, :n]
    np.testing.assert_allclose(y[ok], want[ok], atol=1e-5)
    offline = band_limit(Record(x, FS, ("a",), modality="audio"), FMAX, FS).samples[:, :n]
    np.testing.assert_allclose(y[ok], offline[ok], atol=1e-5)


@pytest.fixture(scope="module")
def outside():   # audio-tiny's out-of-graph pipeline (mono -> resample), without loading torch
    return default_pipeline("audio").split_in_model()[0]


def _stream(outside, fs_hz, fmax_hz, name="bed/audio"):
    model = HostedModel("audio-tiny", "audio-tiny", "audio", FS, 1, outside, None, False)
    h = {"stream": name, "session": 1, "fs_hz": fs_hz, "channels": ["c0"], "units": [""], "modality": "audio",
         "dtype": "<f4", "seq": 0}
    return InputStream(h, (2.0, 1.1), model, audio_fmax_hz=fmax_hz)


def _windows(st, x, fs_hz):
    rng = np.random.default_rng(5)
    out, i = [], 0
    while i < x.shape[1]:
        n = int(rng.integers(1, 3000))
        out += st.windows(x[:, i:i + n], 100.0 + i / fs_hz)
        i += n
    return out


def _above_db(w):
    """Power above FMAX relative to the pass band (0-0.9 FMAX), in dB (Hann-windowed periodogram)."""
    f, p = signal.periodogram(w[0].astype(np.float64), FS, window="hann")
    return 10 * np.log10(p[f >= FMAX].mean() / p[(f > 50) & (f <= 0.9 * FMAX)].mean())


def test_an_audio_stream_gives_windows_of_the_offline_band_at_their_own_times(outside):
    x = np.random.default_rng(6).standard_normal((1, int(6 * FS))).astype(np.float32)
    whole = _windows(_stream(outside, FS, None), x, FS)
    banded_st = _stream(outside, FS, FMAX)
    banded = _windows(banded_st, x, FS)
    assert len(banded) == len(whole) == 4
    offline = band_limit(outside.apply(Record(x, FS, ("c0",), modality="audio")), FMAX, FS).samples
    n = banded_st.windower.window_n
    for j, ((w, _, t0, t1), (w0, _, u0, u1)) in enumerate(zip(banded, whole)):
        want = pytest.approx((100.0 + j * 1.1, 100.0 + j * 1.1 + (n - 1) / FS), abs=1e-9)
        assert (t0, t1) == want and (u0, u1) == want, j
        a = int(round(j * 1.1 * FS))
        np.testing.assert_allclose(w, offline[:, a:a + n], atol=1e-5)
        assert _above_db(w) <= -40.0 and _above_db(w0) > -3.0, j
    # a gap: filter and windows restart, the window after it is the offline band of what follows
    banded_st.reset_windows()
    after = _windows(banded_st, x[:, 32000:], FS)
    tail = band_limit(Record(x[:, 32000:], FS, ("c0",), modality="audio"), FMAX, FS).samples
    np.testing.assert_allclose(after[0][0], tail[:, :n], atol=1e-5)


def test_no_filter_where_there_is_nothing_to_take_away_and_a_warning_where_the_rate_cannot_hold_the_band(
        outside, caplog):
    assert _stream(outside, FS, None).band is None
    assert _stream(outside, FS, FS / 2).band is None                          # the model's whole band
    with caplog.at_level(logging.WARNING, logger="streams.audio_band_live"):
        st = _stream(outside, 4000.0, 3000.0, name="bed9/audio")              # a 4 kHz stream holds 0-2 kHz
        _stream(outside, 4000.0, 3000.0, name="bed9/audio")                   # the next session: said once
        assert st.band is not None and st.fs_out_hz == FS
        _stream(outside, 4000.0, 1800.0, name="bed8/audio")                   # 0.45 x 4 kHz: fine
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "bed9/audio" in said[0] and "4000 Hz" in said[0] and "1800 Hz" in said[0], said
    ecg = InputStream({"stream": "bed/ecg", "session": 1, "fs_hz": 500.0, "channels": ["II"], "units": ["mV"],
                       "modality": "ecg", "dtype": "<f4", "seq": 0}, (10.0, 1.0), None, audio_fmax_hz=FMAX)
    assert ecg.band is None


def test_the_config_key_and_the_serve_flag(capsys, tmp_path):
    assert RuntimeConfig().audio_fmax_hz is None
    assert config_from_dict({"audio_fmax_hz": 1800}).audio_fmax_hz == 1800
    for bad in (-5, 0, "1800", float("nan")):
        with pytest.raises(StreamError, match="audio_fmax_hz"):
            RuntimeConfig(audio_fmax_hz=bad)
    code, _, err = run_main(capsys, "serve", "--audio-fmax-hz", "common")
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "argument --audio-fmax-hz" in err and "no set of files" in err and "in Hz" in err, err
    for bad in ("-5", "0", "x", "inf"):
        code, _, err = run_main(capsys, "serve", "--audio-fmax-hz", bad)
        assert code == 2 and len(err.strip().splitlines()) == 1 and "above 0" in err, (bad, err)
    # refused before anything starts: above the audio model's Nyquist, or no audio model served
    code, _, err = run_main(capsys, "serve", "--audio-fmax-hz", "9000", "--seconds", "1")
    assert code == 2 and "Traceback" not in err and "16000 Hz" in err and "<= 8000" in err, err
    cfg = tmp_path / "serve.json"
    cfg.write_text('{"audio_fmax_hz": 1800, "models": {"ecg": "ecg-tiny"}}')
    code, _, err = run_main(capsys, "serve", "--config", cfg, "--seconds", "1")
    assert code == 2 and "Traceback" not in err and "no audio model is served" in err, err


def test_serve_embeds_an_audio_stream_on_the_band_of_the_config():
    """Real sockets, audio-tiny hosted: the published embedding is the model's on the offline band of
    the window's samples (and not its whole-band embedding)."""
    from streams.publisher import Publisher
    from streams.subscriber import Subscriber
    from test_streams_helpers import config, running, wait_for
    x = np.random.default_rng(7).standard_normal((1, int(2.2 * FS))).astype(np.float32)
    cfg = config(models={"audio": "audio-tiny"}, windows={"audio": (2.0, 2.0)}, backend="torch", warm_up=False,
                 audio_fmax_hz=FMAX)
    got = []
    with running(cfg) as rt:
        sub = Subscriber(["emb/"], rt.bound.output)
        pub = Publisher("bed", rt.bound.ingest)
        out = pub.stream("lung", FS, ["c0"], modality="audio")
        for k in range(0, x.shape[1], 1600):
            out.send(x[:, k:k + 1600])

        def one():
            f = sub.recv(0.2)
            if f is not None:
                got.append(np.array(f.array))
            return bool(got)
        wait_for(one, timeout_s=20.0, what="one embedding")
        from streams.demo import status_table
        from streams.subscriber import request_status
        body = request_status(rt.bound.status, timeout_s=5.0)   # the band the stream is served on is said
        assert body["audio_fmax_hz"] == FMAX
        assert f"model input low-passed to 0-{FMAX:g} Hz" in status_table(body)
        pub.close()
        sub.close()
        model = rt.models.get("audio")
        n = int(2.0 * FS)
        banded = band_limit(Record(x, FS, ("c0",), modality="audio"), FMAX, FS).samples[None, :, :n]
        want, whole = model.run(banded.astype(np.float32))[0], model.run(x[None, :, :n])[0]
    np.testing.assert_allclose(got[0].ravel(), want, atol=1e-4)
    assert np.abs(got[0].ravel() - whole).max() > 1e-2

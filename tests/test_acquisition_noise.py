"""Issue 14, sixth round: acquisition noise for the descriptor term (encoders/acquisition_noise.py,
``descriptor_noise``). The noise against a NumPy FFT oracle (in-band only, scaled by each window's
std, deterministic, the same rows for a data-parallel slice of the global batch); the descriptor
term embeds the noisy window and regresses the clean window's descriptors; 0 leaves the term as it
was; the config field is validated and saved by ``biosig pretrain``; a resumed noisy run takes the
same steps as an uninterrupted one."""

import numpy as np
import pytest
import torch

from biosig.synthetic_af import ecg_from_beats
from encoder_helpers import SMALL, check_beat_option_saved_and_resumed
from encoders.acquisition_noise import BAND_HZ, acquisition_noise, band_limited
from encoders.config import get_config
from encoders.descriptors import compute
from encoders.errors import EncoderError
from encoders.model import EncoderModel
from encoders.objectives import descriptor_loss

FS = 250.0
pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _ecg(n=4, seed=0):
    rng = np.random.default_rng(seed)
    rows = [ecg_from_beats(np.cumsum(np.r_[-0.4, 0.75 + 0.1 * rng.standard_normal(16)]), 2500, FS, 1,
                           np.random.default_rng(seed + k), p_wave_mv=0.15)[0] for k in range(n)]
    return torch.from_numpy(np.stack(rows).astype(np.float32))[:, None]


def test_band_limited_matches_a_numpy_fft_oracle():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((3, 2, 2500))
    got = band_limited(torch.from_numpy(w), FS, BAND_HZ).numpy()
    f = np.fft.rfftfreq(2500, 1 / FS)
    spec = np.fft.rfft(w, axis=-1)
    spec[..., (f < BAND_HZ[0]) | (f > BAND_HZ[1])] = 0
    want = np.fft.irfft(spec, n=2500, axis=-1)
    want /= want.std(axis=-1, keepdims=True)
    np.testing.assert_allclose(got, want, atol=1e-10)


def test_noise_is_in_band_scaled_deterministic_and_sliceable():
    x = _ecg(6)
    assert acquisition_noise(x, FS, 0.0) is x
    n1 = acquisition_noise(x, FS, 0.5, torch.Generator().manual_seed(3)) - x
    n2 = acquisition_noise(x, FS, 0.5, torch.Generator().manual_seed(3)) - x
    assert torch.equal(n1, n2) and float(n1.abs().max()) > 0
    n3 = acquisition_noise(x, FS, 0.5, torch.Generator().manual_seed(4)) - x
    assert not torch.allclose(n1, n3)
    part = acquisition_noise(x[2:4], FS, 0.5, torch.Generator().manual_seed(3), batch_slice=(2, 6)) - x[2:4]
    torch.testing.assert_close(part, n1[2:4])                             # rank 1 of 3 adds rows 2-3
    n5 = acquisition_noise(5 * x, FS, 0.5, torch.Generator().manual_seed(3)) - 5 * x
    torch.testing.assert_close(n5, 5 * n1, rtol=1e-4, atol=1e-4)          # relative to the window's std
    spec = np.abs(np.fft.rfft(n1.double().numpy(), axis=-1)) ** 2
    f = np.fft.rfftfreq(2500, 1 / FS)
    # white noise would put 68 % of its power above 40 Hz; here only the leakage of the un-windowed
    # wander sinusoid and the burst taper (both smooth, so their spectra fall off fast) is left there
    assert spec[..., f > BAND_HZ[1] + 0.5].sum() < 1e-3 * spec.sum()
    ratio = (n1.std(-1) / x.std(-1)).numpy()
    assert (ratio < 0.5 * (1 + np.sqrt(2) + 2) + 1e-6).all()              # three parts, each <= its level


def test_descriptor_term_embeds_the_noisy_window_and_regresses_the_clean_descriptors():
    x = _ecg(4)
    m = EncoderModel(get_config("ecg-tiny", tokenizer="beat", objective="mae+descriptors",
                                descriptor_set="atrial", descriptor_noise=0.4, **SMALL)).eval()
    with torch.no_grad():
        _check_noisy_descriptor_term(m, x)


def _check_noisy_descriptor_term(m, x):
    got = descriptor_loss(m, x, generator=torch.Generator().manual_seed(7))
    xn = acquisition_noise(x, FS, 0.4, torch.Generator().manual_seed(7))
    tok, valid = m.frontend(x)                                            # the oracle, from parts
    d = compute(tok, valid, FS, m.frontend.before, m.frontend.r, "atrial")
    want = (m.desc_head(m.embed_forward(xn)) - m.desc_head.standardise(d, update=False)).pow(2).mean()
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    wrong = (m.desc_head(m.embed_forward(x)) - m.desc_head.standardise(d, update=False)).pow(2).mean()
    assert abs(float(got - wrong)) > 1e-4                                # the input was noisy
    clean = EncoderModel(m.config.replace(descriptor_noise=0.0)).eval()
    clean.load_state_dict(m.state_dict())
    torch.testing.assert_close(descriptor_loss(clean, x), wrong, rtol=1e-5, atol=1e-6)


def test_config_validates_and_pretrain_saves_and_resumes_exactly(tmp_path):
    assert get_config("ecg-tiny").descriptor_noise == 0.0
    for bad in (-0.1, 2.5):
        with pytest.raises(EncoderError, match="descriptor_noise"):
            get_config("ecg-tiny", tokenizer="beat", descriptor_noise=bad)
    with pytest.raises(EncoderError, match="beat tokenizer"):
        get_config("audio-tiny", objective="mae+descriptors", descriptor_noise=0.3)
    check_beat_option_saved_and_resumed(tmp_path, "descriptor_noise", 0.3)


def test_eval_pretext_noise_embeds_noisy_windows_and_rejects_a_bad_level(capsys):
    import pathlib
    import sys
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))
    from eval_pretext import evaluate, main as pretext_main
    m = EncoderModel(get_config("ecg-tiny", tokenizer="beat", objective="mae+descriptors", **SMALL))
    x = _ecg(40, seed=3).numpy()                                          # 20 records of 2 windows, 2 tasks
    rec, y, task = np.repeat(np.arange(20), 2), np.arange(20) % 2, np.repeat([0, 1], 10)
    clean = evaluate(m, x, rec, y, task)
    again = evaluate(m, x, rec, y, task, noise=0.0)
    noisy = evaluate(m, x, rec, y, task, noise=0.5)
    np.testing.assert_array_equal(clean[0], again[0])
    assert not np.allclose(clean[0], noisy[0])                             # the embedded input changed
    with pytest.raises(SystemExit) as exc:
        pretext_main(["ecg-tiny", "--noise", "3"])
    assert exc.value.code == 2 and "--noise 3.0 must be in [0, 2]" in capsys.readouterr().err

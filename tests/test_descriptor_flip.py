"""``descriptor_flip`` (issue 14, ECG polarity): the descriptor term embeds the window with its sign
flipped with this probability and regresses the descriptors of the window as recorded. The signs are
deterministic and the same rows for a data-parallel slice of the global batch; flip = 1 equals an
oracle built from parts; flip = 0 leaves the term exactly as it was; the field is validated, saved by
``biosig pretrain`` and resumes exactly."""

import pytest
import torch

from encoder_helpers import SMALL, check_beat_option_saved_and_resumed
from encoders.config import get_config
from encoders.descriptors import compute
from encoders.errors import EncoderError
from encoders.model import EncoderModel
from encoders.objectives import descriptor_loss, polarity_signs
from test_acquisition_noise import FS, _ecg

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_polarity_signs_are_seeded_sliced_and_have_the_asked_rate():
    a = polarity_signs(64, 0.5, torch.Generator().manual_seed(3))
    b = polarity_signs(64, 0.5, torch.Generator().manual_seed(3))
    assert a.shape == (64, 1, 1) and torch.equal(a, b) and set(a.flatten().tolist()) == {-1.0, 1.0}
    part = polarity_signs(16, 0.5, torch.Generator().manual_seed(3), batch_slice=(32, 64))
    assert torch.equal(part, a[32:48])                                     # rank 2 of 4 sees its rows
    many = polarity_signs(20000, 0.3, torch.Generator().manual_seed(0))
    assert abs(float((many == -1).float().mean()) - 0.3) < 0.015
    assert (polarity_signs(100, 0.0, torch.Generator()) == 1).all()
    assert (polarity_signs(100, 1.0, torch.Generator()) == -1).all()


def _model(**kw):
    return EncoderModel(get_config("ecg-tiny", tokenizer="beat", objective="mae+descriptors",
                                   descriptor_set="atrial", **{**SMALL, **kw})).eval()


def test_flipped_input_recorded_targets_against_an_oracle_and_zero_is_unchanged():
    x = _ecg(4)
    m = _model(descriptor_flip=1.0)
    with torch.no_grad():
        got = descriptor_loss(m, x, generator=torch.Generator().manual_seed(7))
        tok, valid = m.frontend(x)                                         # the oracle, from parts
        target = m.desc_head.standardise(compute(tok, valid, FS, m.frontend.before, m.frontend.r, "atrial"),
                                         update=False)
        want = (m.desc_head(m.embed_forward(-x)) - target).pow(2).mean()
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
        upright = (m.desc_head(m.embed_forward(x)) - target).pow(2).mean()
        assert abs(float(got - upright)) > 1e-4                            # the input was flipped
        off = EncoderModel(m.config.replace(descriptor_flip=0.0)).eval()
        off.load_state_dict(m.state_dict())
        torch.testing.assert_close(descriptor_loss(off, x), upright, rtol=1e-5, atol=1e-6)
        # half: each window is either its flipped or its upright self, by the seeded signs
        half = EncoderModel(m.config.replace(descriptor_flip=0.5)).eval()
        half.load_state_dict(m.state_dict())
        s = polarity_signs(4, 0.5, torch.Generator().manual_seed(11))
        want_half = (m.desc_head(m.embed_forward(x * s)) - target).pow(2).mean()
        torch.testing.assert_close(descriptor_loss(half, x, generator=torch.Generator().manual_seed(11)),
                                   want_half, rtol=1e-5, atol=1e-6)


def test_config_validates_and_pretrain_saves_and_resumes_exactly(tmp_path):
    assert get_config("ecg-tiny").descriptor_flip == 0.0
    for bad in (-0.1, 1.5):
        with pytest.raises(EncoderError, match="descriptor_flip"):
            get_config("ecg-tiny", tokenizer="beat", descriptor_flip=bad)
    with pytest.raises(EncoderError, match="beat tokenizer"):
        get_config("audio-tiny", objective="mae+descriptors", descriptor_flip=0.5)
    check_beat_option_saved_and_resumed(tmp_path, "descriptor_flip", 0.5)

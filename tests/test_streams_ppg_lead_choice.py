"""A two-lead PPG stream whose encoder takes one lead feeds it the lead that passes the quality gate, as
``score`` and ``embed`` now choose among a record's PPG channels (tests/test_ppg_lead_choice.py): live,
the gate's share counted for ECG only, so the model's lead order fed a noisy ``PPG`` over a clean ``G``.
A real input stream and the real lead rule (no runtime needed: streams.models.fed_leads)."""
import numpy as np

from biosig.pipeline import default_pipeline
from biosig.quality import USABLE
from biosig.synthetic import simulate
from streams import protocol
from streams.ingest import InputStream
from streams.models import HostedModel, fed_leads, row_qualities
from test_streams_helpers import signal

FS_HZ = 125.0


def _stream(channels) -> InputStream:
    outside, _ = default_pipeline("ppg").split_in_model()
    model = HostedModel("ppg-chain", "ppg-chain", "ppg", FS_HZ, 1, outside, None, False, vocabulary=("PPG",))
    h = protocol.decode(signal("bed01/ppg", 0, np.zeros((len(channels), 5)), fs_hz=FS_HZ, modality="ppg",
                               t0_s=0.0, channels=list(channels))).header
    return InputStream(h, (10.0, 5.0), model)


def test_the_clean_lead_is_fed_and_the_models_order_decides_between_clean_ones():
    st = _stream(("PPG", "G"))
    assert st.chooses_leads
    clean = simulate("ppg", 10, seed=2, fs_hz=FS_HZ).samples[0]
    noisy = clean + 6.0 * clean.std() * np.random.default_rng(1).normal(size=clean.shape)
    win = np.stack([noisy, clean]).astype(np.float32)
    rows = row_qualities(win, st)
    assert rows[0] < USABLE["ppg"] <= rows[1], rows                  # the gate: noisy fails, clean passes
    assert fed_leads(win, st, rows) == [1] == fed_leads(win, st)     # G (was PPG: the model's lead first)
    both = np.stack([clean, clean]).astype(np.float32)
    assert fed_leads(both, st) == [0]                                 # both pass: PPG, the model's lead

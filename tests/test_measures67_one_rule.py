"""One rule for a published ECG window: :func:`biosig.measures_window.window_measures` and
:func:`biosig.measures_window.ecg_published` both ask :func:`biosig.measures_window.ecg_withheld`.

They kept a copy each of the rule (gate, at least MIN_BEATS - 1 intervals, none in doubt) since
3b01f91, held in step by a test. With one copy, ``window_measures`` gave the same fields as before
(every one, bit for bit) for the 1010 10 s windows (5 s step) of the 200 shared CinC 2017 records and
the 987 of the 4 shared WFDB records, at the default gate and at ``min_quality=0``. Here one window
per clause, each failing that clause only, so that a rule changed in one view alone fails:
synthetic, 10 s at 250 Hz, as tests/test_measures_artefact.py builds them."""
import numpy as np
import pytest

from biosig.measures_window import ecg_published, ecg_withheld, window_measures
from test_measures_artefact import FS_HZ, N, _ecg, _sinus_beats


def _windows():
    """(reason, window): published; too few beats (30 /min, two 40 ms gaps bridged: the intervals
    across them left out, 2 of 4 counted, quality 0.99); a 1 mV spike between two beats (in doubt,
    quality 0.92); noise (low quality)."""
    clean = _ecg(_sinus_beats(60, 0))
    slow_beats = _sinus_beats(30, 0, jitter=0.0)
    slow = _ecg(slow_beats)
    for k in range(2):
        mid = int((slow_beats[k] + slow_beats[k + 1]) / 2 * FS_HZ)
        slow[mid:mid + 10] = np.nan
    beats = _sinus_beats(60, 0)
    at_s = (beats[3] + beats[4]) / 2 + 0.1 * (beats[4] - beats[3])
    spiked = _ecg(beats) + 1.0 * np.exp(-0.5 * ((np.arange(N) / FS_HZ - at_s) / 0.008) ** 2)
    noise = np.random.default_rng(2).normal(size=N)
    return [(None, clean), ("too_few_beats", slow), ("uncertain_beats", spiked), ("low_quality", noise)]


@pytest.mark.parametrize("reason, x", _windows(), ids=lambda v: v if isinstance(v, str) or v is None else "")
def test_each_clause_withholds_the_window_in_both_views(reason, x):
    m = window_measures(x, FS_HZ, "ecg")
    assert m["missing"] == reason
    assert m["ok"] is (reason is None) and ecg_published(x, FS_HZ) is (reason is None)
    assert (m["hr_bpm"] is None) is (reason is not None)


def test_window_measures_past_the_gate_withholds_what_ecg_withheld_says():
    """Past any gate (``min_quality=0``, a ``quality`` given) the reason is ``ecg_withheld``'s: the
    noise window too, whatever its beats make of it."""
    for _, x in _windows():
        why = ecg_withheld(np.atleast_2d(x), FS_HZ)
        for kw in ({"min_quality": 0.0}, {"quality": 1.0}):
            m = window_measures(x, FS_HZ, "ecg", **kw)
            assert (m["missing"], m["ok"]) == (why, why is None), kw

"""The measure columns of ``encoders.load(...).embed(rec)`` belong to the rows' own windows.

``Encoder.window_measures`` cut the record on the modality's default grid (ECG: 10 s every 5 s)
whatever the embedding window was: with ``window_s_override`` (``embed --window-s``) or a model
trained on another window, the row ``0-30 s`` carried the measures of the window ``0-10 s``
(A00028, 30 s windows: n_beats 11 where the window holds 32 beats; 4 s windows: 11 where it holds
4-5). ``biosig embed`` (encoders.inference) already measured the rows' windows."""
import numpy as np
import pytest

import encoders
from biosig.readers import read
from encoders.inference import open_model

from conftest import shared_path


@pytest.fixture(scope="module")
def a00028():
    return read(shared_path("cinc2017", "A00028.hea").with_suffix(""))   # 60 s of sinus rhythm, 300 Hz


def _nk_beats(rec, t0_s, t1_s):
    """R peaks NeuroKit2 finds in each window [t0, t1) of the whole record (the independent count)."""
    import neurokit2 as nk
    x, fs = rec.samples[0].astype(np.float64), rec.fs_hz
    _, info = nk.ecg_peaks(nk.ecg_clean(x, sampling_rate=fs), sampling_rate=fs)
    r = np.asarray(info["ECG_R_Peaks"]) / fs
    return np.array([((r >= a) & (r < b)).sum() for a, b in zip(t0_s, t1_s)])


@pytest.mark.parametrize("window_s", [30.0, 4.0])
def test_python_api_measures_the_embedding_windows(a00028, window_s):
    enc = encoders.load("ecg-tiny")
    enc.window_s_override = window_s
    df = enc.embed(a00028)
    t0, t1 = df["t0_s"].to_numpy(), df["t1_s"].to_numpy()
    np.testing.assert_allclose(t1 - t0, window_s)
    assert df["measures_ok"].all()
    nk_beats = _nk_beats(a00028, t0, t1)
    assert np.abs(df["n_beats"].to_numpy() - nk_beats).max() <= 1, (df["n_beats"].to_list(), nk_beats.tolist())
    # and the same numbers biosig embed writes (the inference path)
    inf = open_model("ecg-tiny", "torch")
    inf.window_s_override = window_s
    ref = inf.embed(a00028)
    for col in ("n_beats", "hr_bpm", "rmssd_ms", "af_prob"):
        np.testing.assert_allclose(df[col].to_numpy(), ref[col].to_numpy(), rtol=1e-9, err_msg=col)


def test_windows_shorter_than_the_af_head_was_fitted_on_say_why_af_prob_is_null(a00028, caplog):
    """`embed --window-s 5` with ecg-tiny: af_prob was null in all rows and nothing said why."""
    from encoders import embed as embed_module
    embed_module._SAID_SHORT.clear()
    inf = open_model("ecg-tiny", "torch")
    inf.window_s_override = 5.0
    with caplog.at_level("WARNING", logger="encoders.embed"):
        df = inf.embed(a00028)
        inf.embed(a00028)                              # said once
    assert df["af_prob"].is_null().all() and df["measures_ok"].any()
    said = [r.getMessage() for r in caplog.records if "af_prob is null" in r.getMessage()]
    assert len(said) == 1 and "--window-s" in said[0]
    caplog.clear()
    inf.window_s_override = None                        # the training window: af_prob, no warning
    with caplog.at_level("WARNING", logger="encoders.embed"):
        df = inf.embed(a00028)
    assert df["af_prob"].is_not_null().any() and "af_prob is null" not in caplog.text

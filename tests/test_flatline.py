"""Flat lines in recorded samples seen through the preprocessing: the window masks against a
plain-loop oracle, the runtime's windows against their offline twins, and what a lead-off does
to quality, measures and the AF head."""
import numpy as np
import pytest

from biosig.flatline import flat_mask, longest_run, mark_flat_runs, record_flat_mask, window_flat_mask, with_gaps


def _oracle_window_mask(raw, fs_in, fs_out, k_first, n_out, min_s=1.0):
    """Sample by sample: output k comes from recorded sample round(k fs_in / fs_out); it is flat
    when that sample lies in a run of equal samples, counted inside the window's span only, of
    at least round(min_s fs_in) samples."""
    n_min = max(2, int(round(min_s * fs_in)))
    src = [int(np.rint((k_first + j) * fs_in / fs_out)) for j in range(n_out)]
    a, b = max(src[0], 0), min(src[-1], raw.shape[1] - 1)
    out = np.zeros((raw.shape[0], n_out), dtype=bool)
    for c in range(raw.shape[0]):
        for j, i in enumerate(src):
            if not a <= i <= b:
                continue
            lo = i
            while lo - 1 >= a and raw[c, lo - 1] == raw[c, i]:
                lo -= 1
            hi = i
            while hi + 1 <= b and raw[c, hi + 1] == raw[c, i]:
                hi += 1
            out[c, j] = hi - lo + 1 >= n_min
    return out


@pytest.mark.parametrize("fs_in,fs_out", [(300.0, 250.0), (250.0, 250.0), (125.0, 250.0), (360.0, 250.0)])
def test_window_mask_matches_a_plain_loop(fs_in, fs_out):
    rng = np.random.default_rng(int(fs_in))
    raw = rng.normal(size=(2, int(30 * fs_in))).astype(np.float32)
    for start_s, dur_s, ch in ((3.0, 2.5, 0), (9.5, 0.99, 1), (14.0, 1.0, 0), (20.0, 6.0, 1), (27.5, 3.0, 0)):
        a = int(start_s * fs_in)
        raw[ch, a:a + int(round(dur_s * fs_in))] = raw[ch, a]
    n_out = int(10 * fs_out)
    for k_first in (0, 1, 777, int(5 * fs_out), int(17.3 * fs_out), int(20 * fs_out) - 5):
        got = window_flat_mask(raw, 0, fs_in, fs_out, k_first, n_out, 2)
        want = _oracle_window_mask(raw, fs_in, fs_out, k_first, n_out)
        assert (np.zeros_like(want) if got is None else got).tolist() == want.tolist(), k_first


def test_longest_run_matches_a_plain_loop():
    rng = np.random.default_rng(3)
    for _ in range(300):
        valid = rng.random(int(rng.integers(0, 40))) < rng.random()
        best, a = (0, 0), None                  # oracle: the first of the longest runs of True
        for i, v in enumerate(list(valid) + [False]):
            if v and a is None:
                a = i
            elif not v and a is not None:
                if i - a > best[1] - best[0]:
                    best = (a, i)
                a = None
        assert longest_run(valid) == best


def test_a_buffer_that_starts_late_gives_the_same_mask():
    """The runtime keeps only the recorded samples the next window needs: a buffer starting at
    recorded sample 1000 gives the mask of the whole record for a window inside it."""
    rng = np.random.default_rng(1)
    raw = rng.normal(size=(1, 9000)).astype(np.float32)
    raw[0, 4000:5000] = 0.0
    whole = window_flat_mask(raw, 0, 300.0, 250.0, 3000, 2500, 1)
    part = window_flat_mask(raw[:, 1000:], 1000, 300.0, 250.0, 3000, 2500, 1)
    assert whole is not None and whole.sum() == pytest.approx(1000 * 250 / 300, abs=2)
    assert part.tolist() == whole.tolist()


def test_short_runs_quantised_signals_and_nan_are_not_flat():
    x = np.round(np.sin(np.arange(2500) / 40.0) * 3)   # a coarsely quantised wave: runs of ~0.05 s
    assert not flat_mask(x, 250.0).any()
    y = np.full(1000, np.nan)                          # missing is missing, not a flat line
    assert not flat_mask(y, 250.0).any()
    assert window_flat_mask(np.zeros((1, 200)), 0, 250.0, 250.0, 0, 200, 1) is None   # 0.8 s of zeros


def test_a_pipeline_that_changes_the_channel_count_blanks_only_where_every_lead_is_flat():
    raw = np.random.default_rng(2).normal(size=(2, 3000))
    raw[0, 500:1500] = 0.0
    assert record_flat_mask(raw, 250.0, 3000, 250.0, 1) is None      # lead 2 is alive there
    raw[1, 800:2000] = 1.0
    m = record_flat_mask(raw, 250.0, 3000, 250.0, 1)
    assert m.shape == (1, 3000) and np.flatnonzero(m[0]).tolist() == list(range(800, 1500))
    both = record_flat_mask(raw, 250.0, 3000, 250.0, 2)
    assert both[0].sum() == 1000 and both[1].sum() == 1200
    w = np.ones((1, 3000), np.float32)
    assert np.isnan(with_gaps(w, both)).sum() == 1000 and with_gaps(w, None) is w


def _ecg_with_zeros(start_s=12.0, dur_s=3.0, seconds=40.0, fs_hz=300.0, seed=3):
    from biosig.synthetic import simulate
    rec = simulate("ecg", seconds, fs_hz=fs_hz, seed=seed)
    x = rec.samples.copy()
    a = int(start_s * fs_hz)
    x[:, a:a + int(dur_s * fs_hz)] = 0.0
    return rec, rec.replace(samples=x)


def test_runtime_windows_carry_the_offline_gaps_chunk_by_chunk():
    """InputStream (ecg-tiny's pipeline, 300 -> 250 Hz, frames of random size) marks exactly the
    samples that causal_windows(flat_gaps=True) sets to NaN, and leaves the windows unchanged."""
    from encoders.heads.features import causal_windows
    from streams.ingest import InputStream
    from streams.models import ModelHost
    host = ModelHost({"ecg": "ecg-tiny"}, backend="torch")
    model = host.get("ecg")
    _, rec = _ecg_with_zeros()
    header = {"stream": "bed/ecg", "session": 1, "fs_hz": rec.fs_hz, "channels": list(rec.channels),
              "units": list(rec.units), "modality": "ecg", "dtype": "<f4", "seq": 0}
    st = InputStream(header, (10.0, 5.0), model)
    x = rec.samples.astype(np.float32)
    rng = np.random.default_rng(0)
    online, i = [], 0
    while i < x.shape[1]:
        n = int(rng.integers(1, 400))
        online += st.windows(x[:, i:i + n], i / rec.fs_hz)
        i += n
    offline, _ = causal_windows(x, rec.fs_hz, rec.channels, model.outside, 10.0, 5.0, 1, flat_gaps=True)
    plain, _ = causal_windows(x, rec.fs_hz, rec.channels, model.outside, 10.0, 5.0, 1)
    assert len(online) == len(offline) == 7
    flagged = 0
    for (win, flat, _, _), off, raw_win in zip(online, offline, plain):
        np.testing.assert_array_equal(win, raw_win)            # the encoder sees the window unchanged
        np.testing.assert_array_equal(np.isnan(with_gaps(win, flat)), np.isnan(off))
        flagged += int(np.isnan(off).sum())
    # the windows 5-15 s and 10-20 s each hold all 3 s (750 samples at 250 Hz) of zeros at 12-15 s
    assert flagged == pytest.approx(2 * 750, abs=4)
    assert st.raw.shape[1] < 12 * rec.fs_hz                    # the buffer holds about one window


def test_a_lead_off_lowers_quality_and_withholds_the_af_probability():
    """3 s of zeros in a sinus ECG: the windows across them score about 0.7 x their quality
    (as NaN would) in serve's measures, `score`'s quality and `embed`'s, and the AF head (fitted on
    >= 9.36 s of signal) gives no probability from the 7 s left; before, they scored as clean and
    got one."""
    from biosig.measures_window import measured_span_s
    from encoders.heads import load_head
    from encoders.heads.features import record_window_measures
    from encoders.heads.train_af import _pipeline
    clean, rec = _ecg_with_zeros()
    pipe, head = _pipeline("ecg-tiny"), load_head("ecg-af")
    base = record_window_measures(clean.samples, clean.fs_hz, clean.channels, "ecg", pipe, 10.0, 5.0, 1)
    gap = record_window_measures(rec.samples, rec.fs_hz, rec.channels, "ecg", pipe, 10.0, 5.0, 1)
    for k in (1, 2):                      # 5-15 s and 10-20 s: all 3 s of zeros inside
        assert gap[k]["quality"] == pytest.approx(0.7 * base[k]["quality"], abs=0.06)
        assert gap[k]["window_s"] <= 7.01 and base[k]["window_s"] == 10.0
        assert base[k]["ok"] and head.predict(base[k]) is not None
        assert head.predict(gap[k]) is None
    for key in ("quality", "hr_bpm"):     # 25-35 s: 10 s after the zeros, as without them
        assert gap[5][key] == pytest.approx(base[5][key], abs=0.02)
    assert head.predict(gap[5]) is not None
    prepared = pipe.apply(rec)
    gapped = mark_flat_runs(prepared, rec, "ecg")
    assert np.isnan(gapped.samples).sum() == pytest.approx(750, abs=2)
    assert measured_span_s(gapped.samples[:, 1250:3750], 250.0, "ecg") == pytest.approx(7.0, abs=0.01)  # 5-12 s
    assert mark_flat_runs(prepared, rec, "resp") is prepared      # no beat model: no flat rule
    import encoders
    enc = encoders.load("ecg-tiny")
    q_gap = enc.embed(rec)["quality"].to_numpy()
    q_clean = enc.embed(clean)["quality"].to_numpy()
    assert q_gap.min() < 0.75 * q_clean.min()


def test_a_lead_off_does_not_bend_the_record_heart_rate_or_edr():
    """`score`'s record-level heart rate (mean interval) and ECG-derived respiration: an interval
    across 3 s of zeros pulled the heart rate of a 70 /min ECG down by about 6 /min; the runs on
    either side count now, and EDR uses the longest of them."""
    from biosig.measures import heart_rate
    from biosig.measures_edr import modulation_resp_rate
    from biosig.synthetic import simulate
    clean = simulate("ecg", 60.0, fs_hz=250.0, seed=4, heart_rate_bpm=70.0, heart_rate_std_bpm=0.5)
    x = clean.samples.copy()
    x[:, 2500:3250] = 0.0                                   # 10-13 s
    gap = clean.replace(samples=x)
    assert heart_rate(gap) == pytest.approx(heart_rate(clean), abs=1.0)
    assert heart_rate(clean) == pytest.approx(70.0, abs=2.0)
    assert modulation_resp_rate(x[0], 250.0, "ecg") == modulation_resp_rate(x[0, 3250:], 250.0, "ecg")
    from biosig.measures_hrv import hrv_features             # a window's HRV: its longest real run
    assert hrv_features(x[0, :5000], 250.0) == hrv_features(x[0, :2500], 250.0)   # 0-10 s, not 13-20 s

"""A multi-rate EDF+D file is read with less memory and the same values (session 74).

Before, every lower-rate channel was upsampled to the top rate in float64 and all of them were held until the last
was done, each with four int64 index arrays as long as the output to find its gap mask, and the top-rate channel
was held as float64 too. Now the output is allocated first and filled one channel at a time, the mask is found in
blocks, and the top-rate channel is float32 from the start. The bound is on tracemalloc's peak as a multiple of the
output's bytes, between the old code's (6.4x on this file) and the new code's (5.2x; most of it is
:func:`biosig.resampling.resample_poly_edges` itself). The values are checked against the digital samples written
(the top-rate channel) and against a verbatim copy of the old ``upsample_keeping_gaps`` (the others): bit for bit.
"""
import numpy as np
import pytest

from biosig.readers import read
from biosig.readers.gap_resample import upsample_keeping_gaps
from biosig.resampling import resample_poly_edges
from test_edf_reader import edf_bytes   # the tests' own EDF+ writer, byte by byte
from test_reader_memory72 import _peak_ratio   # tracemalloc's peak of a second read / the output's bytes


def _old_upsample_keeping_gaps(x, up, down):
    """The code before session 74, verbatim: the oracle for identical values."""
    bad = np.isnan(x)
    if bad.all():
        return np.full(-(-len(x) * up // down), np.nan)
    filled = x
    if bad.any():
        idx = np.arange(len(x))
        filled = x.copy()
        filled[bad] = np.interp(idx[bad], idx[~bad], x[~bad])
    y = resample_poly_edges(filled, up, down)
    if bad.any():
        j = np.arange(len(y))
        start = np.minimum((j * down) // up, len(x) - 1)
        stop = np.clip(((j + 1) * down) // up, start + 1, len(x))
        count = np.concatenate([[0], np.cumsum(bad)])
        y[(count[stop] - count[start]) > 0] = np.nan
    return y


@pytest.mark.parametrize("up,down", [(2, 1), (64, 25), (5, 2), (3, 1)])
def test_gaps_are_bridged_and_masked_as_before_bit_for_bit(up, down):
    rng = np.random.default_rng(up * 100 + down)
    x = np.cumsum(rng.normal(size=50_000))   # > _MASK_BLOCK outputs: several blocks
    for lo, hi in [(0, 37), (1000, 1001), (1002, 1400), (1401, 1500), (20_000, 20_003), (49_990, 50_000)]:
        x[lo:hi] = np.nan   # leading and trailing gaps, one good sample between two gaps, a single NaN
    y = upsample_keeping_gaps(x, up, down)
    assert y.tobytes() == _old_upsample_keeping_gaps(x, up, down).tobytes()
    assert upsample_keeping_gaps(x[37:999], up, down).tobytes() == \
        _old_upsample_keeping_gaps(x[37:999], up, down).tobytes()   # no gap


def test_a_multi_rate_edf_plus_d_file_keeps_its_values_with_less_memory(tmp_path):
    n_rec, rates, rng = 300, (256, 128, 100), np.random.default_rng(7)
    digital = [rng.integers(-32767, 32767, fs * n_rec) for fs in rates]
    onsets = np.arange(n_rec, dtype=float)
    onsets[100:] += 20
    onsets[200:] += 7.5   # holes of 20 s and 7.5 s
    path = tmp_path / "multi.edf"
    path.write_bytes(edf_bytes(digital, onsets, kind="EDF+D"))
    rec, ratio = _peak_ratio(path)
    assert ratio < 5.6, f"peak {ratio:.1f} x the output"
    assert rec.fs_hz == 256.0 and rec.metadata["holes"] == 2 and rec.samples.dtype == np.float32
    n = rec.n_samples
    for c, (fs, d) in enumerate(zip(rates, digital)):   # physical = (d + 32768) * 6000 / 65535 - 3000, on the grid
        phys = (d.astype(np.float64) + 32768) * (6000 / 65535) - 3000
        x = np.full(int(round((onsets[-1] + 1) * fs)), np.nan)
        for r, onset in enumerate(onsets):
            x[int(round(onset * fs)):int(round(onset * fs)) + fs] = phys[r * fs:(r + 1) * fs]
        want = x if fs == 256 else _old_upsample_keeping_gaps(x, *{128: (2, 1), 100: (64, 25)}[fs])
        assert rec.samples[c].tobytes() == want[:n].astype(np.float32).tobytes(), f"channel {c} ({fs} Hz)"

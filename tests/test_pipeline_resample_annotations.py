"""Annotations through resampling (the pipeline's ``resample`` step and biosig.readers.resample):
a beat on a record's last samples rounded to one past the end (3999 of 4000 at 1000 Hz became
1000 in a 1000-sample record at 250 Hz): the pipeline kept an index out of range, the reader's
resample dropped the beat without a word. Oracle: the nearest output sample to the annotation's
time, ``round(t * fs_out)``, limited to the output's samples."""
import numpy as np
import pytest

from biosig.pipeline import Pipeline
from biosig.readers import resample
from biosig.record import Annotations, Record


def _record(n: int, fs_hz: float, samples) -> Record:
    x = np.sin(np.arange(n) / 17.0)[None].astype(np.float32)
    return Record(x, fs_hz=fs_hz, channels=("II",), modality="ecg",
                  annotations=Annotations(sample=np.asarray(samples), symbol=("N",) * len(samples)))


def _pipeline(rec, fs_hz):
    return Pipeline.of(("resample", {"fs_hz": fs_hz})).apply(rec)


@pytest.mark.parametrize("how", [_pipeline, resample], ids=["pipeline", "readers.resample"])
@pytest.mark.parametrize("n, fs_in, fs_out", [(4000, 1000.0, 250.0), (3600, 360.0, 100.0), (1000, 500.0, 125.0)])
def test_every_beat_stays_inside_the_resampled_record(how, n, fs_in, fs_out):
    beats = np.array([0, n // 3, n - 2, n - 1])
    out = how(_record(n, fs_in, beats), fs_out)
    s = out.annotations.sample
    assert len(s) == len(beats), "a beat was dropped"
    assert s.min() >= 0 and s.max() < out.n_samples, f"index past the end: {s} of {out.n_samples}"
    expected = np.minimum(np.round(beats / fs_in * fs_out), out.n_samples - 1)
    np.testing.assert_array_equal(s, expected)

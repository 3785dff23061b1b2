"""encoders.probe_features: probe feature sets over worker processes give the numbers of one
process; records given as files are read in the worker; a worker's error reaches the caller whole.
Real spawned processes, real files, the real tiny ECG architecture."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from biosig.errors import ReadError
from biosig.synthetic import simulate
from biosig.writers import write
from encoders.errors import EncoderError
from encoders.probe_features import FeatureSpec, RecordFile, all_features, features


class _Count:
    def __init__(self, log, what, total):
        self.log, self.what, self.total, self.done = log, what, total, 0
        self.threads = set()   # torch's thread count while the features are computed

    def update(self, ok=True, n=1):
        import torch
        self.done += n
        self.threads.add(torch.get_num_threads())

    def close(self):
        self.log.append((self.what, self.total, self.done))


def _files(tmp_path, n=6):
    paths = []
    for i in range(n):
        p = tmp_path / f"r{i}.csv"
        write(simulate("ecg", 12, seed=i, fs_hz=250.0, heart_rate_bpm=60 + 8 * i), p)
        paths.append(str(p))
    return paths


SPECS = {"ibi": FeatureSpec("ibi", modality="ecg"),
         "random seed 3": FeatureSpec("random", "ecg-tiny", seed=3, window_s=5.0)}


READS: list = []


@dataclass(frozen=True)
class _CountedFile(RecordFile):
    def load(self):
        READS.append(self.path)
        return super().load()


def test_two_processes_give_the_numbers_of_one(tmp_path):
    """In this process (jobs 1) too: each file read once for both sets, torch on one thread as in a
    worker and its own setting put back (a probe run beside other jobs ran 10 x slower on torch's default)."""
    import torch
    files = [_CountedFile(p) for p in _files(tmp_path)]
    log1, log2, counts = [], [], []
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    READS.clear()
    try:
        one = all_features(SPECS, files, 1, lambda what, n: counts.append(_Count(log1, what, n)) or counts[-1])
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    assert counts[0].threads == {1}
    assert sorted(READS) == sorted(f.path for f in files)                # each file read once for both sets
    two = all_features(SPECS, files, 2, lambda what, n: _Count(log2, what, n))
    assert set(one) == set(two) == set(SPECS)
    for name in SPECS:
        assert one[name].shape == two[name].shape and one[name].shape[0] == len(files)
        np.testing.assert_array_equal(one[name], two[name])
    assert one["ibi"][:, 11] == pytest.approx([60 + 8 * i for i in range(len(files))], rel=0.1)   # beats / min
    assert log1 == [("2 feature sets in this process", 12, 12)]          # one progress, every record of every set
    assert log2 == [("2 feature sets on 2 processes", 12, 12)]          # one for the pool, every record counted


def test_files_are_read_as_records_are(tmp_path):
    from biosig.readers import read
    paths = _files(tmp_path, 3)
    from_files = features(SPECS["ibi"], [RecordFile(p) for p in paths])
    from_records = features(SPECS["ibi"], [read(p) for p in paths])
    np.testing.assert_array_equal(from_files, from_records)


def test_a_workers_read_error_reaches_the_caller_with_its_path(tmp_path):
    files = [RecordFile(p) for p in _files(tmp_path, 3)]
    bad = tmp_path / "bad.csv"
    bad.write_text("not,a,signal\n")
    with pytest.raises(ReadError) as info:
        all_features({"ibi": SPECS["ibi"]}, files + [RecordFile(str(bad))], 2, lambda what, n: _Count([], what, n))
    assert info.value.path == str(bad)


def test_bad_specs_and_job_counts_are_errors(tmp_path):
    with pytest.raises(EncoderError, match="feature kind 'hrvv'"):
        FeatureSpec("hrvv")
    with pytest.raises(EncoderError, match="needs a model"):
        FeatureSpec("random")
    for jobs in (0, -1, 1.5, True, "2"):
        with pytest.raises(EncoderError, match="jobs"):
            all_features(SPECS, [], jobs, lambda what, n: _Count([], what, n))

"""A format-310 WFDB file without a header length that ends 3 bytes into a 4-byte group (cut short) was
refused with wfdb's NumPy broadcasting text; it is now one line giving the record line a length wfdb reads,
and that advice works (oracle: wfdb.rdrecord on the fixed header)."""
import re

import numpy as np
import pytest
import wfdb

from biosig.errors import ReadError
from biosig.readers import read as read_record


def _write(folder, n_sig: int, extra_bytes: int, length: str = "") -> None:
    rng = np.random.default_rng(n_sig)
    (folder / "r.dat").write_bytes(rng.integers(0, 256, 4 * 300 + extra_bytes, dtype=np.uint8).tobytes())
    lines = [f"r {n_sig} 250{length}"] + [f"r.dat 310 200(0)/mV 10 0 0 0 0 s{i}" for i in range(n_sig)]
    (folder / "r.hea").write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("n_sig", [1, 2])
def test_cut_310_group_is_one_line_whose_advice_reads(tmp_path, n_sig):
    _write(tmp_path, n_sig, 3)
    with pytest.raises(ReadError, match="ends 3 bytes into a 4-byte group") as err:
        read_record(tmp_path / "r.hea")
    line = re.search(r"length: '(.*)'$", str(err.value)).group(1)
    _write(tmp_path, n_sig, 3, length=" " + line.split()[-1])
    rec = read_record(tmp_path / "r.hea")
    oracle = wfdb.rdrecord(str(tmp_path / "r"), return_res=64)
    assert rec.samples.shape == (n_sig, oracle.p_signal.shape[0]) == (n_sig, (901 if n_sig == 1 else 450))
    np.testing.assert_allclose(rec.samples.T, oracle.p_signal, rtol=1e-6, equal_nan=True)


def test_other_partial_310_groups_still_read(tmp_path):
    _write(tmp_path, 1, 2)
    assert read_record(tmp_path / "r.hea").samples.shape == (1, 901)

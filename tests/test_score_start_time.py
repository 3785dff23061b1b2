"""records.parquet says when each record started (start_time), as the file's own header gives it:
WFDB base date and time (wfdb.rdheader is the oracle), EDF start date and time (pyedflib), a CSV's
ISO date-time column (the first row); null where the file gives none (MIT-BIH 100 has no date).
Before, the table had no start time at all."""
import datetime as dt
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import polars as pl

from conftest import shared_path

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIOSIG = [sys.executable, "-c", "import sys; from biosig.cli import main; sys.exit(main())"]


def _copy(record: pathlib.Path, dest: pathlib.Path) -> pathlib.Path:
    for f in record.parent.glob(record.stem + ".*"):
        shutil.copy(f, dest / f.name)
    return dest / record.name


def _edf(path: pathlib.Path, start: dt.datetime) -> None:
    import pyedflib
    fs_hz, n = 250, 250 * 20
    t = np.arange(n) / fs_hz
    ecg = 0.1 * np.sin(2 * np.pi * 1.2 * t) + np.where((t * 1.2) % 1 < 0.02, 1.0, 0.0)
    with pyedflib.EdfWriter(str(path), 1, file_type=pyedflib.FILETYPE_EDFPLUS) as w:
        w.setSignalHeaders([{"label": "ECG II", "dimension": "mV", "sample_frequency": fs_hz,
                             "physical_max": 5.0, "physical_min": -5.0, "digital_max": 32767,
                             "digital_min": -32768}])
        w.setStartdatetime(start)
        w.writeSamples([ecg])


def test_records_table_holds_each_records_start_time_from_its_header(tmp_path):
    import pyedflib
    import wfdb
    data = tmp_path / "data"
    data.mkdir()
    wfdb_records = [_copy(shared_path("cinc2017", "A00020.hea"), data),
                    _copy(shared_path("wfdb", "03700181.hea"), data),
                    _copy(shared_path("wfdb", "100.hea"), data)]
    edf = data / "night.edf"
    _edf(edf, dt.datetime(2021, 3, 4, 22, 15, 30))
    csv = data / "strip.csv"
    t0 = dt.datetime(2024, 3, 1, 10, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    fs_hz = 250
    lines = ["time,ECG"] + [f"{(t0 + dt.timedelta(seconds=i / fs_hz)).isoformat()},"
                            f"{np.sin(2 * np.pi * 1.1 * i / fs_hz) ** 21:.5f}" for i in range(fs_hz * 15)]
    csv.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    res = subprocess.run([*BIOSIG, "score", str(data), "--model", "ecg-tiny", "--backend", "onnxruntime",
                          "--threads", "1", "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode in (0, 1), res.stderr
    records = pl.read_parquet(out / "records.parquet")
    assert records.schema["start_time"] == pl.String
    got = dict(zip(records["name"], records["start_time"]))
    for hea in wfdb_records:
        header = wfdb.rdheader(str(hea.with_suffix("")))
        want = None if header.base_date is None or header.base_time is None else \
            dt.datetime.combine(header.base_date, header.base_time).isoformat()
        assert got[hea.name] == want, hea.name
    assert got["100.hea"] is None   # the oracle agrees: MIT-BIH 100 gives no date
    with pyedflib.EdfReader(str(edf)) as r:
        assert got["night.edf"] == r.getStartdatetime().isoformat()
    assert got["strip.csv"] == t0.astimezone(dt.timezone.utc).isoformat()
    assert dt.datetime.fromisoformat(got["strip.csv"]) == t0

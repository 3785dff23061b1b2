"""A radiotherapy user's marker files as they come (bug bash, 2026-12-06): a byte-order mark, a marker
lost for 5 s written as empty fields, timestamps in seconds, one coordinate NaN throughout.

Each is run through ``biosig forecast evaluate`` and scored against the same session written the
plain way (a NumPy recomputation of the last-value forecast is the oracle for the numbers)."""
import json

import numpy as np
import polars as pl
import pytest

from biosig.cli import main
from biosig.readers.markers import is_marker_csv, read_marker_csv
from conftest import shared_path

HEADER = '"Frame";"Timestamp";"x";"y";"z"'
N_ROWS = 900   # 90 s at 10 Hz: z-score 0-30 s, selection 30-60 s, test 60-90 s


def _rows(marker: int, n: int = N_ROWS):
    """(frame, t_ms, x, y, z) of one synthetic marker breathing at 0.25 Hz, in mm."""
    rng = np.random.default_rng(marker)
    t_ms = np.arange(n) * 100.0
    b = np.sin(2 * np.pi * t_ms / 4000.0)
    xyz = np.stack([-480 + 2 * b, 3 + 0.5 * b, 66 + (8 + marker) * b], axis=1) + rng.normal(0, 0.05, (n, 3))
    return np.arange(n) * 6, t_ms, xyz


def _write_session(folder, *, bom=False, blank=None, seconds=False, nan_z_of=None):
    """Three marker files of session 201212060000; ``blank=(a, b)``: rows a..b-1 of LAC written with
    empty x, y, z; ``nan_z_of``: that marker's z written as nan in every row."""
    folder.mkdir(parents=True, exist_ok=True)
    for k, marker in enumerate(("LAC", "UAC", "UCC")):
        frame, t_ms, xyz = _rows(k)
        lines = [HEADER]
        for i in range(len(frame)):
            t = f"{t_ms[i] / 1000:.3f}".replace(".", ",") if seconds else f"{t_ms[i]:.0f}"
            vals = [f"{v:.2f}".replace(".", ",") for v in xyz[i]]
            if blank and marker == "LAC" and blank[0] <= i < blank[1]:
                vals = ["", "", ""]
            if nan_z_of == marker:
                vals[2] = "nan"
            lines.append(";".join([str(frame[i]), t] + vals))
        lines.append("0;0;0;0;0")
        data = ("\n".join(lines) + "\n").encode()
        (folder / f"201212060000-{marker}-1-N-90-6.csv").write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return sorted(folder.glob("*.csv"))


def _evaluate(files, out, *extra):
    return main(["forecast", "evaluate", *map(str, files), "--methods", "last", "--horizons", "1,5",
                 "--workers", "1", "--out", str(out), *extra])


def _last_forecasts(out):
    return pl.read_parquet(out / "predictions" / "201212060000" / "last.parquet").sort(["horizon", "step"])


def test_a_marker_csv_with_a_byte_order_mark_reads_as_without(tmp_path):
    plain = _write_session(tmp_path / "plain")
    bom = _write_session(tmp_path / "bom", bom=True)
    assert is_marker_csv(bom[0])   # was False: the header did not match behind the BOM
    a, b = read_marker_csv(plain[0]), read_marker_csv(bom[0])
    np.testing.assert_array_equal(a.samples, b.samples)
    np.testing.assert_array_equal(a.times_s, b.times_s)
    assert _evaluate(plain, tmp_path / "o1") == 0 and _evaluate(bom, tmp_path / "o2") == 0
    assert _last_forecasts(tmp_path / "o1").equals(_last_forecasts(tmp_path / "o2"))


def test_shared_export_with_a_bom_is_read_as_a_marker_csv(tmp_path):
    """The shared file has corrupt timestamps that the marker reader repairs from its frame counter;
    behind a BOM it went to the generic table reader, which refused it over them (exit 2)."""
    src = shared_path("resp_motion", "201205101534-LAC-1-NO-130-6.csv")
    f = tmp_path / src.name
    f.write_bytes(b"\xef\xbb\xbf" + src.read_bytes())
    rec, ref = read_marker_csv(f), read_marker_csv(src)
    np.testing.assert_array_equal(rec.samples, ref.samples)
    assert rec.metadata["repaired_timestamps"] == ref.metadata["repaired_timestamps"] == 5


def test_empty_xyz_fields_are_a_gap_held_not_a_refusal(tmp_path, capsys):
    """A marker the tracker lost for 5 s, written as ``frame;t;;;``: the same gap as NaN (held, not
    scored); it was refused ('not a number in ...'), the whole session with it."""
    files = _write_session(tmp_path / "blank", blank=(700, 750))
    rec = read_marker_csv(files[0])
    assert np.isnan(rec.samples[:, 700:750]).all() and np.isfinite(rec.samples[:, :700]).all()
    out = tmp_path / "o"
    assert _evaluate(files, out) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["sessions"]["201212060000"]["missing_steps"] == 50
    pred = _last_forecasts(out)
    truth = pl.read_parquet(out / "predictions" / "201212060000" / "truth.parquet").sort("step")
    chans = [c for c in truth.columns if c not in ("step", "t_s")]
    Y = truth.select(chans).to_numpy()
    for h in (1, 5):
        p = pred.filter(pl.col("horizon") == h)
        P, hold = p.select(chans).to_numpy().astype(float), p["hold"].to_numpy()
        # a held step is null; every published one is the sample h steps before (NumPy oracle)
        assert np.isnan(P[hold]).all() and np.isfinite(P[~hold]).all()
        steps = p["step"].to_numpy()
        ok = ~hold & (steps - h >= 600)
        np.testing.assert_allclose(P[ok], Y[steps[ok] - h - 600], rtol=0, atol=1e-12)
        # no forecast stands on the lost samples: every one made during the gap (its target h
        # steps later) is held
        assert hold[(steps >= 700 + h) & (steps < 750 + h)].all()
        scored = ~hold & np.isfinite(Y[steps - 600]).all(axis=1)   # a target lost has no error either
        d = np.linalg.norm((P[scored] - Y[steps[scored] - 600]).reshape(-1, 3, 3), axis=2)
        assert report["results"]["201212060000"]["last"][str(h)]["rmse"] == pytest.approx(
            np.sqrt(np.mean(d ** 2)), rel=1e-9)


def test_timestamps_in_seconds_are_named_as_such(tmp_path, capsys):
    files = _write_session(tmp_path / "s", seconds=True)
    assert _evaluate(files, tmp_path / "o") == 2
    err = capsys.readouterr().err
    assert "look like seconds" in err and "milliseconds" in err and "Traceback" not in err
    assert "give --rate-hz 1e+04" not in err   # the advice it gave, which reads the file as 10 kHz


def test_a_coordinate_nan_throughout_is_named(tmp_path, capsys):
    files = _write_session(tmp_path / "n", nan_z_of="UAC")
    assert _evaluate(files, tmp_path / "o") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "UAC_z 100 %" in err[0] and "--channel" in err[0]
    # and the way out it names works: the other coordinates are forecast
    keep = [f"{m}_{a}" for m in ("LAC", "UAC", "UCC") for a in "xyz" if f"{m}_{a}" != "UAC_z"]
    assert _evaluate(files, tmp_path / "o2", *[x for c in keep for x in ("--channel", c)]) == 0


def test_a_file_with_only_the_footer_says_so(tmp_path, capsys):
    f = tmp_path / "201212060000-LAC-1-N-0-6.csv"
    f.write_text(HEADER + "\n0;0;0;0;0\n")
    assert _evaluate([f], tmp_path / "o") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "only the 0;0;0;0;0 footer" in err[0]   # was "1 sample(s)"

"""Record.select (and pick, and read(..., channels=)) kept metadata["channel_fs_hz"] of all the
channels: RESP picked from MCL1 (500 Hz), ABP, RESP (125 Hz) was summarised at 500 Hz, the rate
of the channel that was first. Oracle: the WFDB header, read by wfdb (frame rate x samples per frame)."""
import numpy as np
import wfdb

from biosig.cli.signal_commands import summarize
from biosig.readers import read
from biosig.record import Record
from conftest import shared_path


def test_selected_channels_keep_their_own_native_rates():
    hea = shared_path("wfdb", "03700181.hea")
    header = wfdb.rdheader(str(hea.with_suffix("")))
    native = {n: header.fs * (s or 1) for n, s in zip(header.sig_name, header.samps_per_frame)}
    rec = read(hea, channels=["RESP", "MCL1"])
    assert rec.metadata["channel_fs_hz"] == [native["RESP"], native["MCL1"]]
    picked = read(hea).pick("resp")
    assert picked.metadata["channel_fs_hz"] == [native["RESP"]]
    rows = summarize(str(hea), rec, quality=False)["channels"]
    assert {r["name"]: r["fs_hz"] for r in rows} == {"RESP": native["RESP"], "MCL1": native["MCL1"]}


def test_select_reorders_per_channel_metadata():
    rec = Record(np.zeros((3, 40), np.float32), fs_hz=500.0, channels=("a", "b", "c"),
                 metadata={"channel_fs_hz": [500.0, 250.0, 125.0], "storage_formats": ["16", "212", "80"],
                           "comments": ["x", "y", "z"]})
    out = rec.select(["c", 0])
    assert out.metadata["channel_fs_hz"] == [125.0, 500.0]
    assert out.metadata["storage_formats"] == ["80", "16"]
    assert out.metadata["comments"] == ["x", "y", "z"]   # not per channel: untouched
    assert rec.metadata["channel_fs_hz"] == [500.0, 250.0, 125.0]   # the original is not changed

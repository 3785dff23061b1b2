"""Channels that are not of a stream's modality never ride as its channels (ABP and PAP as ECG leads).

MIMIC / PhysioNet records hold ECG leads beside pressures (ABP, PAP in mmHg), a PLETH and a RESP. The name guess
calls the pressures ``other``; replay used to send every ``other`` channel on the record's modality stream
(``041s/ecg`` carried III, I, V, ABP, PAP), and the runtime's ECG window quality averaged a blood pressure wave
(which the ECG gate passes: 0.97 on 041s) and its measured lead could be the pressure. Offline, ``embed`` and
``score`` of a record read with ``--modality ecg`` whose names say nothing took a channel in mmHg as an ECG lead.
Real files from ``../shared/data`` where present (skipped with a message where absent); synthetic WFDB / EDF
records written with the project's writers otherwise.
"""
from __future__ import annotations

import logging
import pathlib

import numpy as np
import pytest

from biosig.readers import read
from biosig.record import Record
from biosig.writers import write

nk = pytest.importorskip("neurokit2", reason="neurokit2 is the heart-rate oracle")   # imported once (1.7 s)

SHARED = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"
REC_041S = SHARED / "wfdb" / "multi-segment" / "041s" / "041s.hea"
FS_HZ = 250.0
HR_BPM = 72.0


def _bed(seconds: float = 12.0, ecg_noise: float = 0.0, seed: int = 0):
    """(samples, names, units): an ECG lead (Gaussian QRS at 72 /min, mV), an arterial pressure (mmHg) and a PLETH."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * FS_HZ)) / FS_HZ
    beats = np.arange(0.4, seconds, 60.0 / HR_BPM)
    ecg = sum(1.2 * np.exp(-0.5 * ((t - b) / 0.012) ** 2) - 0.15 * np.exp(-0.5 * ((t - b - 0.03) / 0.015) ** 2)
              for b in beats) + ecg_noise * rng.standard_normal(t.size)
    phase = 2 * np.pi * HR_BPM / 60.0 * t
    abp = 90 + 20 * np.maximum(np.sin(phase), 0) ** 2 + 5 * np.sin(phase / 2)
    pleth = 0.5 * np.sin(phase - 1.0) + 0.1 * np.sin(2 * phase)
    return np.stack([ecg, abp, pleth]).astype(np.float32), ("II", "ABP", "PLETH"), ("mV", "mmHg", "mV")


def _pubs_closed(pubs):
    for p in pubs:
        p.close()


def test_the_rule_takes_the_modality_channels_only_and_unknown_ones_never_beside_named_leads():
    from biosig.modality import modality_channel_indices, ruled_out
    names = ["III", "I", "V", "ABP", "PAP", "PLETH", "RESP"]
    mods = ["ecg", "ecg", "ecg", "other", "other", "ppg", "resp"]
    units = ["mV", "mV", "mV", "mmHg", "mmHg", "mV", "mV"]
    assert modality_channel_indices(names, mods, units, "ecg", "ecg") == ([0, 1, 2], [3, 4, 5, 6])
    assert modality_channel_indices(names, mods, units, "ppg", "ecg")[0] == [5]
    # names that say nothing, read with --modality ecg: the user's word, but never a channel in mmHg
    assert modality_channel_indices(["ch1", "ch2"], ["other"] * 2, ["mV", "mmHg"], "ecg", "ecg") == ([0], [1])
    assert modality_channel_indices(["R", "G", "B"], ["other"] * 3, ["a.u."] * 3, "ppg", "ppg")[0] == [0, 1, 2]
    assert ruled_out("ABP", "", "ecg") and ruled_out("x", "mmHg", "ppg") and not ruled_out("Paw", "cmH2O", "resp")


def test_replay_of_a_written_wfdb_sends_the_pressure_on_no_ecg_stream(tmp_path, caplog):
    """II, ABP (mmHg), PLETH written as WFDB: replay sends II on bed/ecg and PLETH on bed/ppg over a real socket,
    and names ABP in one line; before, bed/ecg carried II and ABP."""
    import zmq
    from streams import protocol
    from streams.replay import replay_sources
    from streams.simulate import run_sources
    x, names, units = _bed(4.0)
    path = write(Record(x, fs_hz=FS_HZ, channels=names, units=units), tmp_path / "bed.hea")
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.setsockopt(zmq.LINGER, 0)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    try:
        with caplog.at_level(logging.WARNING, logger="streams.replay"):
            pubs, sources = replay_sources([path], speed=10.0, endpoint=f"tcp://127.0.0.1:{port}", ctx=ctx)
        run_sources(sources, 0.3)
        frames = []
        while pull.poll(300):
            frames.append(protocol.decode(pull.recv_multipart()))
        _pubs_closed(pubs)
    finally:
        pull.close()
        ctx.term()
    assert [(s.out.modality, list(s.out.channels)) for s in sources] == [("ecg", ["II"]), ("ppg", ["PLETH"])]
    ecg = [f for f in frames if f.header["modality"] == "ecg"]
    assert ecg and all(f.array.shape[0] == 1 and float(np.nanmax(f.array)) < 5.0 for f in ecg)   # mV, never mmHg
    said = [r.getMessage() for r in caplog.records if "not replayed" in r.getMessage()]
    assert len(said) == 1 and "ABP (other, mmHg)" in said[0], said


def test_replay_of_041s_sends_ecg_ppg_resp_and_names_abp_and_pap(caplog):
    if not REC_041S.exists():
        pytest.skip(f"{REC_041S} absent (../shared/data not mounted)")
    from streams.replay import replay_sources
    with caplog.at_level(logging.WARNING, logger="streams.replay"):
        pubs, sources = replay_sources([REC_041S], speed=10.0, endpoint="tcp://127.0.0.1:9")
    _pubs_closed(pubs)
    assert [(s.out.topic, list(s.out.channels)) for s in sources] == [
        ("041s/ecg", ["III", "I", "V"]), ("041s/ppg", ["PLETH"]), ("041s/resp", ["RESP"])]
    said = [r.getMessage() for r in caplog.records if "not replayed" in r.getMessage()]
    assert len(said) == 1 and "ABP (other, mmHg), PAP (other, mmHg)" in said[0], said


def test_the_runtime_measures_the_041s_ecg_stream_on_an_ecg_lead_as_neurokit2_does():
    """On the replayed 041s/ecg block the runtime's measured lead (best quality row) gives the heart rate that
    neurokit2 finds on lead III alone; the block holds no pressure (ABP passed the ECG gate at 0.97)."""
    if not REC_041S.exists():
        pytest.skip(f"{REC_041S} absent (../shared/data not mounted)")
    from biosig.measures_window import window_measures
    from streams.replay import replay_sources
    from streams.scores import measured_lead
    pubs, sources = replay_sources([REC_041S], speed=10.0, endpoint="tcp://127.0.0.1:9")
    _pubs_closed(pubs)
    ecg = next(s for s in sources if s.out.modality == "ecg")
    assert list(ecg.out.channels) == ["III", "I", "V"]
    fs = ecg.fs_hz
    win = ecg.samples[:, :int(8 * fs)].astype(np.float64)   # before lead I's missing sample at 8.36 s
    lead, _ = measured_lead(win, fs, "ecg")
    hr = window_measures(lead, fs, "ecg")["hr_bpm"]
    iii = win[0]
    _, info = nk.ecg_peaks(nk.ecg_clean(iii, sampling_rate=fs), sampling_rate=fs)
    oracle = 60.0 / np.mean(np.diff(info["ECG_R_Peaks"]) / fs)
    assert abs(hr - oracle) < 1.0, (hr, oracle)


def test_a_pressure_beside_a_noisy_lead_is_never_the_runtime_measured_ecg_lead(tmp_path):
    """A noisy II (ECG quality 0.64) beside a clean ABP (0.96 by the ECG gate): before, the replayed ecg block held
    both, the runtime measured the best-quality row, the pressure, and said 144 /min for a 72 /min rhythm (two
    peaks a beat); now the block is II alone, measured at 72 /min or withheld, never the pressure's rate."""
    from biosig.measures_window import window_measures
    from streams.replay import replay_sources
    from streams.scores import measured_lead
    x, names, units = _bed(10.0, ecg_noise=0.4, seed=3)
    path = write(Record(x, fs_hz=FS_HZ, channels=names, units=units), tmp_path / "noisy.hea")
    pubs, sources = replay_sources([path], speed=10.0, endpoint="tcp://127.0.0.1:9")
    _pubs_closed(pubs)
    ecg = next(s for s in sources if s.out.modality == "ecg")
    lead, _ = measured_lead(ecg.samples.astype(np.float64), FS_HZ, "ecg")
    hr = window_measures(lead, FS_HZ, "ecg").get("hr_bpm")
    assert hr is None or abs(hr - HR_BPM) < 2.0, hr
    assert list(ecg.out.channels) == ["II"] and float(np.nanmax(ecg.samples)) < 10.0


def test_embed_and_score_of_an_edf_read_as_ecg_leave_the_mmhg_channel_out(tmp_path, caplog):
    """ch1 (mV) and ch2 (mmHg) in an EDF read with --modality ecg: embed's selection and score's ranked leads take
    ch1 only and say once which channel was left out; before, ch2 was an ECG lead of both."""
    from biosig.modality import channel_modality
    from encoders.data import encoder_channels, select_channels
    from encoders.lead_choice import ranked_leads
    from encoders.config import get_config
    x, _, _ = _bed(12.0)
    path = write(Record(x[[1, 0]], fs_hz=FS_HZ, channels=("ch2", "ch1"), units=("mmHg", "mV"), modality="other"),
                 tmp_path / "bed.edf")
    rec = read(path, modality="ecg")
    assert rec.channels == ("ch2", "ch1") and [channel_modality(c) for c in rec.channels] == ["other", "other"]
    with caplog.at_level(logging.WARNING, logger="encoders.lead_choice"):
        assert select_channels(rec, "ecg").channels == ("ch1",)
        assert encoder_channels(rec, get_config("ecg-tiny")).channels == ("ch1",)
    said = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert len(said) == 1 and "ch2 (other, mmHg)" in said[0], said
    usable = [True, True]
    # score: Scorer.select hands every channel of a --modality ecg record whose names say nothing as ecg
    assert ranked_leads(rec, usable, ["", ""], "ecg", ("I", "II"), 1, ("ecg", "ecg")) == [1]
    with pytest.raises(ValueError, match="needs 2 ecg channels, the record has 1 usable"):
        ranked_leads(rec, usable, ["", ""], "ecg", ("I", "II"), 2, ("ecg", "ecg"))


def test_a_record_without_a_channel_of_the_modality_is_the_clear_error(tmp_path):
    from encoders.data import select_channels
    from encoders.errors import EncoderError
    x, _, _ = _bed(4.0)
    path = write(Record(x[1:2], fs_hz=FS_HZ, channels=("ch2",), units=("mmHg",), modality="other"), tmp_path / "p.hea")
    with pytest.raises(EncoderError, match="the ecg encoder needs ecg channels"):
        select_channels(read(path, modality="ecg"), "ecg")   # before: the pressure, fed as an ECG lead
    with pytest.raises(EncoderError, match="the ppg encoder needs ppg channels"):
        select_channels(read(path), "ppg")

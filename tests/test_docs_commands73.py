"""Documented claims checked by running the command they show, where no other test runs it. README, Spirometry
(`biosig spiro`): the table's `not acceptable because` column names a flow-sensor zero drift, and a drift fails
FVC only (the volume falling at the end of a 20 s COPD blow, and a 12 s one that tops out near the trace's end, read
from its tail's shape), as a cough fails FEV1 only. docs/cli.md (`biosig listen`): a hold line shows its reason,
``--json`` its detail too.

Oracles: the generator's truth (``fvc_ml``: the lung's FVC; the offset makes the measured FVC too small) and the
volume-time CSV written here with NumPy (the same samples, no reader of ours in between)."""
import json

import numpy as np
import pytest

from biosig.cli import main
from biosig.synthetic import simulate

FS = 100.0


def _csv(path, rec):
    v = rec.samples[0].astype(np.float64)
    np.savetxt(path, np.c_[np.arange(len(v)) / FS, v], delimiter=",", header="t_s,volume_ml", comments="",
               fmt="%.4f")
    return str(path)


@pytest.mark.parametrize("seconds, seed, offset_ml_s", [(20.0, 100, -50.0),    # the volume falls at the end
                                                        (12.0, 100, -20.0)])   # tops out within ~1 s of the end
def test_spiro_table_says_a_zero_drift_and_fails_fvc_only(tmp_path, capsys, seconds, seed, offset_ml_s):
    kw = dict(fs_hz=FS, pattern="obstructive")
    clean = simulate("spiro", seconds, seed=seed, **kw)
    drift = simulate("spiro", seconds, seed=seed, flow_offset_ml_s=offset_ml_s, **kw)
    paths = [_csv(tmp_path / "clean.csv", clean), _csv(tmp_path / "drift.csv", drift)]
    assert main(["spiro", *paths, "--json"]) == 0
    ok, bad = json.loads(capsys.readouterr().out)["blows"]
    assert ok["acceptable_fvc"] and ok["drift_ok"] and not ok["not_acceptable_because"]
    assert bad["fvc_ml"] < drift.metadata["truth"]["fvc_ml"] - 100.0          # FVC too small: refused, not reported
    assert not bad["drift_ok"] and bad["drift_ml_s"] < 0
    assert not bad["acceptable_fvc"] and bad["acceptable_fev1"]               # a drift fails FVC only
    why = " ".join(bad["not_acceptable_because"])
    assert "flow-sensor zero drift" in why and "FVC only" in why, why
    assert main(["spiro", *paths]) == 0                                        # the table's column says the same
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(paths[1]))
    assert "flow-sensor zero drift" in row and "FVC only" in row, row


def test_listen_shows_a_holds_reason_and_its_detail_with_json_only(capsys):
    """docs/cli.md (`biosig listen`): a `hold` line shows its reason; `--json` carries the hold's `detail` too. The
    frames come from a real PUB socket as the runtime sends them (streams.protocol.encode)."""
    import threading
    import time

    import zmq

    from streams.protocol import encode
    detail = "input window restarted, whole again, but the first forecasts after a restart have been worse ..."
    ctx = zmq.Context.instance()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind("tcp://127.0.0.1:*")
    endpoint, stop = pub.getsockopt_string(zmq.LAST_ENDPOINT), threading.Event()

    def send():
        seq = 0
        while not stop.is_set():
            header = {"kind": "hold", "stream": "couch9/markers", "t_s": time.time(), "reason": "gap",
                      "t_out_s": time.time(), "detail": detail, "seq": seq, "epoch": 7}
            pub.send_multipart(encode("hold/couch9", header))
            seq += 1
            time.sleep(0.02)

    th = threading.Thread(target=send, daemon=True)
    th.start()
    try:
        assert main(["listen", "--output", endpoint, "--topics", "hold/", "--seconds", "0.8"]) == 0
        lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("hold/couch9")]
        assert lines and all(ln.split()[4] == "gap" and "restarted" not in ln for ln in lines), lines[:3]
        assert main(["listen", "--output", endpoint, "--topics", "hold/", "--seconds", "0.8", "--json"]) == 0
        rows = [json.loads(ln) for ln in capsys.readouterr().out.splitlines() if ln.startswith("{")]
        assert rows and all(r["reason"] == "gap" and r["detail"] == detail for r in rows)
    finally:
        stop.set()
        th.join(1.0)
        pub.close()

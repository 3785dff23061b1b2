"""Review of 2026-12-07's commits (d7c9af4..9e07ffd): the bugs found, each with the input that showed it.

- ``endpoint_mismatch`` confirmed ``bound == given`` as a string: a runtime on another host bound on its own loopback
  (or an ipc path) was "confirmed" for a client sending to this machine's; an ipc/inproc ``--status`` (the runtime is
  on this machine) was resolved as a host name ("does not resolve"); ``*`` as a host raised TypeError, and a ``*``
  bind took IPv6 clients. Oracle: whether a socket can bind the address here (a real bind, as the module does).
- ``tail_offset_ml_s`` raised ValueError on a NaN volume and gave a verdict with a NaN noise SD (its residual gate
  skipped). Oracle: the same call on the finite samples only.
- A checkpoint restored while its learner's window refilled after a restart (or its post-restart forecasts were held,
  checkpointed since d7c9af4) was held as ``warm_up`` ("no forecast yet: scaler ..."), not as the ``gap`` it is.
  Oracle: the same forecaster never checkpointed.
- d7c9af4's checkpoints (``_pg``/``_pg2``) load into ``_pg_rec`` and continue as the learner that wrote them.
"""
import copy
import socket
import time

import numpy as np
import pytest

from biosig.cli.replay_checks import endpoint_mismatch
from biosig.spirometry import spirometry_indices
from biosig.spirometry_acceptability import tail_offset_ml_s
from biosig.spirometry_end import _noise_sd_ml
from biosig.synthetic import simulate_spiro
from realtime import make_forecaster
from streams.config import ForecasterConfig
from streams.forecast import SourceForecaster

REMOTE = "192.0.2.7"   # TEST-NET-1: no address of this machine


def _bindable(host: str) -> bool:
    with socket.socket(socket.AF_INET) as s:
        try:
            s.bind((host, 0))
        except OSError:
            return False
    return True


def test_the_same_loopback_or_ipc_string_on_another_host_is_no_confirmation():
    assert not _bindable(REMOTE)   # the oracle: the runtime answering there is not on this machine
    there = f"tcp://{REMOTE}:5556"
    for bound in ("tcp://127.0.0.1:5555", "ipc:///tmp/biosig-review73-in"):
        assert endpoint_mismatch(bound, bound, there) is not None, bound
        assert endpoint_mismatch(bound, bound, "tcp://127.0.0.1:5556") is None, bound
    assert "not on this one" in endpoint_mismatch("ipc:///tmp/a", "ipc:///tmp/a", there)
    assert endpoint_mismatch("tcp://198.51.100.7:5555", "tcp://198.51.100.7:5555", there) is None   # its own address


@pytest.mark.parametrize("status", ["ipc:///tmp/biosig-review73-status", "inproc://status"])
def test_an_ipc_or_inproc_status_endpoint_is_this_machine(status):
    assert endpoint_mismatch("tcp://0.0.0.0:5555", "tcp://localhost:5555", status) is None
    assert endpoint_mismatch("tcp://127.0.0.1:5555", "tcp://localhost:5555", status) is None
    assert _bindable("127.0.0.1") and not _bindable(REMOTE)
    assert "no address of this machine" in endpoint_mismatch("tcp://0.0.0.0:5555", f"tcp://{REMOTE}:5555", status)


def test_a_star_host_is_the_ipv4_wildcard_never_a_crash():
    assert endpoint_mismatch("tcp://0.0.0.0:5555", "tcp://127.0.0.1:5555", "tcp://*:5556") is None
    assert endpoint_mismatch("tcp://0.0.0.0:5555", "tcp://*:5555", "tcp://127.0.0.1:5556") is None
    assert "IPv4 only" in endpoint_mismatch("tcp://*:5555", "tcp://[::1]:5555", "tcp://127.0.0.1:5556")


def test_the_tail_offset_leaves_missing_samples_out_and_needs_a_noise_sd():
    fs = 100.0
    v = simulate_spiro(12.0, 105, fs, pattern="obstructive", noise_ml=2.0, flow_offset_ml_s=-20.0).samples[0]
    v = v.astype(np.float64)
    t = np.arange(len(v)) / fs
    ind = spirometry_indices(v, fs)
    noise = _noise_sd_ml(v)
    vn = v.copy()
    vn[[300, 700, 701, len(v) - 1]] = [np.nan, np.nan, np.inf, np.nan]
    ok = np.isfinite(vn)
    want = tail_offset_ml_s(t[ok], vn[ok], ind.t_pef_s, noise)
    assert want < -12.0
    assert tail_offset_ml_s(t, vn, ind.t_pef_s, noise) == want
    assert tail_offset_ml_s(t, np.full_like(v, np.nan), ind.t_pef_s, noise) == 0.0
    assert tail_offset_ml_s(t, v, ind.t_pef_s, float("nan")) == 0.0   # no residual gate: no verdict
    assert tail_offset_ml_s(np.zeros(40), np.arange(40.0), 0.0, 2.0) == 0.0   # times that do not increase


def _frame(i):
    rng = np.random.default_rng(i)
    return (np.array([np.sin(i / 7), np.cos(i / 5), np.sin(i / 11)]) * 10 + rng.normal(size=3))[:, None]


def _feed(sf, i, t0, fs):
    if i % 97 > 80:   # 16 samples missing every 97: the window restarts
        return None
    r = sf.on_frame(_frame(i), t0 + i / fs, t0 + i / fs)
    return r[0], (r[1].tobytes() if r[0] == "forecast" else r[1]), sf.hold_detail, sf.forecaster.ready


def test_a_checkpoint_restored_mid_restart_holds_as_a_gap(tmp_path):
    cfg, fs, t0 = ForecasterConfig(method="lms", horizon_steps=3, lookback=12, lr=0.05), 10.0, time.time() - 2000
    sf = SourceForecaster("m1/markers", ["x", "y", "z"], fs, cfg)
    for i in range(880):   # 873: the window restarts (12 samples), then 3 forecasts held (lms's record is worse)
        _feed(sf, i, t0, fs)
    assert sf.forecaster.post_restart_hold()[0] > 0 and sf.gap_open
    sf.save(tmp_path)
    back = SourceForecaster("m1/markers", ["x", "y", "z"], fs, cfg)
    assert back.try_restore(tmp_path)
    a = [_feed(sf, i, t0, fs) for i in range(880, 1000)]
    b = [_feed(back, i, t0, fs) for i in range(880, 1000)]
    assert ("hold", "gap", "", False) in a
    assert a == b


def test_a_d7c9af4_checkpoint_with_pg_and_pg2_continues_as_its_learner():
    f = make_forecaster("lms", horizon_steps=3, lookback=12, lr=0.05, n_coords=3, norm_steps=30)
    for i in range(880):
        x = _frame(i)[:, 0] if i % 97 <= 80 else np.full(3, np.nan)
        f.learn_one(x)
        f.predict_one()
    assert f.restart_horizons_held > 0 and f._pg_rec.any()
    old = f.state_dict()
    rec = old.pop("_pg_rec")
    old.update(_pg=rec[0].copy(), _pg2=rec[1].copy())   # the layout d7c9af4 wrote
    g = make_forecaster("lms", horizon_steps=3, lookback=12, lr=0.05, n_coords=3, norm_steps=30)
    g.load_state_dict(copy.deepcopy(old))
    assert np.array_equal(g._pg_rec, rec)
    for i in range(880, 1000):
        x = _frame(i)[:, 0] if i % 97 <= 80 else np.full(3, np.nan)
        f.learn_one(x)
        g.learn_one(x)
        assert f.ready == g.ready and f.post_restart_hold()[:2] == g.post_restart_hold()[:2]
        assert np.array_equal(f.predict_one(), g.predict_one())

"""Post-restart records per block of ``horizon_steps`` (realtime.trust.POST_GAP_BLOCKS, ``_pg_rec``): block k (forecasts
k*h..(k+1)*h-1 after the window is whole again) is held where its own discounted record is worse than last-value's
(POST_GAP_RATIO, POST_GAP_EVIDENCE) and every block before it is held; the holds agree with a NumPy twin of the records
built from the learner's forecasts and the truth; checkpoints from before (``_pg``/``_pg2``) load as blocks 0 and 1;
gap-free runs do not depend on the number of blocks; the ``gap`` detail names the blocks held."""
import numpy as np
import pytest

import realtime.trust as trust
from realtime.config import ForecasterConfig
from realtime.methods import LMS
from realtime.trust import POST_GAP_DISCOUNT, POST_GAP_EVIDENCE, POST_GAP_RATIO, TRUST_FLOOR
from streams.forecast_worker import gap_why

L, H, G, EVERY, W = 4, 3, 2, 40, 2 * np.pi / 40   # lookback, horizon, gap, gap spacing (samples); breath (rad/sample)


class _Phased(LMS):
    """Forecasts a sinusoid of angular step ``W`` exactly from its last two samples, but backwards (1.6 x last-value's
    error) for the forecasts whose block after the window restart is in ``bad`` (set by the test between restarts)."""
    method = "phased"
    bad = frozenset()

    def _predict(self, u):
        n, h = self.n_coords, self.horizon_steps
        last, prev = u[(L - 1) * n:L * n], u[(L - 2) * n:(L - 1) * n]
        if (self._count - L) // h in self.bad:
            self._y[:] = last - 0.6 * h * (last - prev)
        else:
            self._y[:] = (np.sin((h + 1) * W) * last - np.sin(h * W) * prev) / np.sin(W)


PHASES = ({0, 1, 2, 3}, {0, 1}, {0, 1, 2}, {2, 3}, {0, 2, 3}, set())   # bad blocks, 16 restarts each


def _drive(blocks, monkeypatch, phases=PHASES, per=16):
    """Learn a noisy two-coordinate sinusoid with a gap of G samples every EVERY (the learner's bad blocks from
    ``phases``); (forecaster, truth, ready, model forecasts whether published or not, first sample after each gap)."""
    monkeypatch.setattr(trust, "POST_GAP_BLOCKS", blocks)
    n = 60 + EVERY * per * len(phases)
    t = np.arange(n)
    rng = np.random.default_rng(0)
    truth = np.stack([10 * np.sin(W * t), 4 * np.sin(W * t + 1.0)], 1) + rng.normal(0, 0.01, (n, 2))
    x, ends = truth.copy(), list(range(60, n - EVERY + 1, EVERY))
    for a in ends:
        x[a - G:a] = np.nan
    f = _Phased(ForecasterConfig(horizon_steps=H, lookback=L, n_coords=2, norm_steps=20, lr=0.0, seed=0))
    ready, model = np.zeros(n, bool), np.full(x.shape, np.nan)
    for i, s in enumerate(x):
        if i in ends:
            f.bad = frozenset(phases[min((i - 60) // (EVERY * per), len(phases) - 1)])
        f.learn_one(s)
        ready[i] = f.ready
        if f._made:
            model[i] = f._y * f._scale + f._center
    return f, truth, ready, model, ends


def _twin(f, truth, model, ends, blocks):
    """(blocks held after each gap by the rule, the records at the end, the worse-verdict of every record at each gap)
    from the forecasts made 0..blocks*H-1 samples after the window was whole again after each gap (z-units)."""
    z2 = lambda d: float(np.sum((d / f._scale) ** 2))   # noqa: E731
    events = []   # (step its target is learnt, block, squared error, last-value's)
    for e in ends:
        for j in range(blocks * H):
            s = e + L - 1 + j
            if s + H < len(truth) and np.isfinite(model[s]).all() and s + H < e + EVERY - G:
                events.append((s + H, j // H, z2(model[s] - truth[s + H]), z2(truth[s] - truth[s + H])))
    rec = np.zeros((blocks, 3))
    worse = lambda r: r[2] >= POST_GAP_EVIDENCE and r[0] > POST_GAP_RATIO ** 2 * r[1] + r[2] * TRUST_FLOOR ** 2  # noqa
    held, verdicts, k = [], [], 0
    for e in ends:
        while k < len(events) and events[k][0] < e:
            _, b, ef, el = events[k]
            rec[b] = rec[b] * POST_GAP_DISCOUNT + (ef, el, 1.0)
            k += 1
        v = [worse(r) for r in rec]
        verdicts.append(v)
        held.append(next((i for i, w in enumerate(v) if not w), blocks))
    for _, b, ef, el in events[k:]:
        rec[b] = rec[b] * POST_GAP_DISCOUNT + (ef, el, 1.0)
    return held, rec, verdicts


def _held_blocks(ready, e, blocks):
    """Blocks of H forecasts not published after the gap ending at ``e`` (a prefix: none published before it)."""
    seg = [ready[e + L - 1 + b * H:e + L - 1 + (b + 1) * H] for b in range(blocks + 1)]
    assert all(s.all() or not s.any() for s in seg), seg
    n = next((b for b, s in enumerate(seg) if s.all()), blocks + 1)
    assert all(s.all() for s in seg[n:]), seg   # never a held block after a published one
    return n


def test_blocks_held_in_sequence_as_the_twin_of_the_records(monkeypatch):
    """Four blocks: the steps held after each gap are exactly those the twin says (every count 0..4 occurs), a block
    whose record is worse after a published block is published, and the records equal the twin's."""
    f, truth, ready, model, ends = _drive(4, monkeypatch)
    want, rec, verdicts = _twin(f, truth, model, ends, 4)
    got = [_held_blocks(ready, e, 4) for e in ends]
    assert got == want and set(got) == {0, 1, 2, 3, 4}, (got, want)
    assert any(v[2] and n < 2 for v, n in zip(verdicts, got))   # block 2 worse, published after a published block
    assert np.allclose(f._pg_rec, rec, rtol=1e-9, atol=1e-12)
    held = np.array([e + L - 1 + j for e, n in zip(ends, got) for j in range(2 * H, n * H)])
    err = np.sqrt(np.mean(np.sum((model[held] - truth[held + H]) ** 2, 1)))
    lv = np.sqrt(np.mean(np.sum((truth[held] - truth[held + H]) ** 2, 1)))
    assert len(held) and err > POST_GAP_RATIO * lv, (err, lv)   # blocks 2 and 3 held: worse than last-value there


def test_default_two_blocks_as_before(monkeypatch):
    """POST_GAP_BLOCKS 2 (the default): at most the first 2h held, as the twin of two records says; the forecasts
    are those of four blocks, and so are the steps held in blocks 0 and 1."""
    assert trust.POST_GAP_BLOCKS == 2
    f2, truth, ready2, model2, ends = _drive(2, monkeypatch)
    want, _, _ = _twin(f2, truth, model2, ends, 2)
    assert [_held_blocks(ready2, e, 2) for e in ends] == want and max(want) == 2
    _, _, ready4, model4, _ = _drive(4, monkeypatch)
    assert np.array_equal(model2, model4, equal_nan=True)
    later = np.zeros(len(truth), bool)
    for e in ends:
        later[e + L - 1 + 2 * H:e + L - 1 + 4 * H] = True
    assert np.array_equal(ready2[~later], ready4[~later]) and not np.array_equal(ready2, ready4)


def test_gap_free_runs_do_not_depend_on_the_blocks(monkeypatch):
    """No restart: forecasts and holds the same with 2 and 4 blocks, bit for bit; no record past block 0."""
    runs = []
    for blocks in (2, 4):
        monkeypatch.setattr(trust, "POST_GAP_BLOCKS", blocks)
        g = _Phased(ForecasterConfig(horizon_steps=H, lookback=L, n_coords=2, norm_steps=20, lr=0.0, seed=0))
        g.bad = frozenset({0, 1, 2, 3})
        t = np.arange(400)
        x = np.stack([10 * np.sin(W * t), 4 * np.sin(W * t + 1.0)], 1)
        out = []
        for s in x:
            g.learn_one(s)
            out.append((g.ready, g.predict_one().tobytes()))
        assert not g._pg_rec[1:].any()
        runs.append(out)
    assert runs[0] == runs[1]


def _legacy(state):
    """The state as a checkpoint from before the per-block records wrote it: ``_pg`` and ``_pg2``, shape (3,)."""
    old = {k: v for k, v in state.items() if k != "_pg_rec"}
    old["_pg"], old["_pg2"] = state["_pg_rec"][0].copy(), state["_pg_rec"][1].copy()
    return old


@pytest.mark.parametrize("blocks", [2, 4])
def test_legacy_checkpoint_loads_as_blocks_0_and_1(monkeypatch, blocks):
    """A checkpoint with ``_pg``/``_pg2`` (3,) loads into blocks 0 and 1 (later blocks: none, learnt again); with two
    blocks the learner then continues as the one that wrote it, holds included; one without them: no records."""
    f, *_ = _drive(blocks, monkeypatch, phases=({0, 1, 2, 3},), per=3)
    assert f._pg_rec[:2, 2].min() >= POST_GAP_EVIDENCE
    g = _Phased(f.config)
    g.load_state_dict(_legacy(f.state_dict()))
    assert np.array_equal(g._pg_rec[:2], f._pg_rec[:2]) and not g._pg_rec[2:].any()
    assert g._pg_hold == f._pg_hold and g._pg_after == f._pg_after
    g2 = _Phased(f.config)
    g2.load_state_dict({k: v for k, v in _legacy(f.state_dict()).items() if k not in ("_pg", "_pg2")})
    assert not g2._pg_rec.any()
    bad = _legacy(f.state_dict())
    bad["_pg2"] = np.zeros(4)   # not a record: that block learnt again, the rest loaded
    g3 = _Phased(f.config)
    g3.load_state_dict(bad)
    assert np.array_equal(g3._pg_rec[0], f._pg_rec[0]) and not g3._pg_rec[1:].any()
    if blocks == 2:
        f.bad = g.bad = frozenset({0, 1, 2, 3})
        t = np.arange(300)
        x = np.stack([10 * np.sin(W * t), 4 * np.sin(W * t + 1.0)], 1)
        x[100:100 + G] = x[200:200 + G] = np.nan
        for s in x:
            f.learn_one(s)
            g.learn_one(s)
            assert f.ready == g.ready and np.array_equal(f.predict_one(), g.predict_one())
        assert f._pg_hold == g._pg_hold == 2


def test_gap_detail_names_the_blocks_held(monkeypatch):
    """gap_why while the window refills and in each held block: the forecasts held from the newest sample's block on,
    and the RMS of that block's own record."""
    monkeypatch.setattr(trust, "POST_GAP_BLOCKS", 4)
    f, truth, ready, model, ends = _drive(4, monkeypatch, phases=({0, 1, 2, 3},), per=4)
    assert f._pg_hold == 4
    f.learn_one(np.full(2, np.nan))   # a gap: restart, then the window refills
    details, recs = [], []
    for i in range(L + 4 * H):
        f.learn_one(truth[i + 7])
        details.append(gap_why(f))
        recs.append(f._pg_rec.copy())
    assert details[0] == (f"input window restarted: held until it is whole again ({L} samples), then {4 * H} more "
                          f"(the first {4 * H} forecasts after a restart: worse than holding the last position)")
    spans = ["the first 12 forecasts", "forecasts 4-12", "forecasts 7-12", "forecasts 10-12"]
    parts = ["the first 3: ", "forecasts 4-6: ", "forecasts 7-9: ", ""]
    for b in range(4):
        for j in range(H):
            d, (ef, el, n) = details[L - 1 + b * H + j], recs[L - 1 + b * H + j][b]
            left = 4 * H - b * H - j - 1
            assert d.startswith(f"input window restarted, whole again, but {spans[b]} after a restart have been worse "
                                "than holding the last position (" + parts[b]), d
            assert f"RMS {(ef / n) ** 0.5:.2g} vs {(el / n) ** 0.5:.2g} z-units" in d, d
            assert d.endswith(f"held for {left} more samples" if left > 1 else
                              "held for 1 more sample" if left else "the last one held"), d
            assert len(d) <= 200

"""The rls and mix forecasters: causality, expert weighting and the reach bound."""
import numpy as np
import pytest

from realtime import make_forecaster
from realtime.methods import MIX_FORGET, MIX_INIT_REG

OPTS = dict(lookback=4, n_coords=2, norm_steps=30)


def _signal(n=400, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) * 0.1
    x = np.sin(2 * np.pi * t / 4.0) ** 3 + 0.3 * np.sin(2 * np.pi * t / 1.7)
    return np.stack([10 * x, -4 * x + 50], axis=1) + rng.normal(0, 0.05, (n, 2))


def _run(f, X):
    return np.array([(f.learn_one(x), f.predict_one())[1] for x in X])


@pytest.mark.parametrize("method", ["rls", "mix"])
def test_forecasts_are_causal(method):
    """A forecast made at step t depends on samples <= t only: changing the future changes nothing."""
    X = _signal()
    Y = X.copy()
    Y[250:] += np.random.default_rng(1).normal(0, 5, Y[250:].shape)
    a = _run(make_forecaster(method, horizon_steps=5, **OPTS), X)
    b = _run(make_forecaster(method, horizon_steps=5, **OPTS), Y)
    np.testing.assert_array_equal(a[:250], b[:250])
    assert not np.array_equal(a[250:], b[250:])


@pytest.mark.parametrize("method", ["rls", "mix"])
def test_beats_last_value_on_a_periodic_signal(method):
    X, h = _signal(600), 8
    P = _run(make_forecaster(method, horizon_steps=h, **OPTS), X)
    err = np.abs(P[300:-h] - X[300 + h:]).mean()
    last = np.abs(X[300:-h] - X[300 + h:]).mean()
    assert err < 0.7 * last


def test_mix_weights_follow_the_delayed_errors_and_stay_a_distribution():
    from realtime.methods import MIX_META_DISCOUNT, MIX_META_ETA

    f = make_forecaster("mix", horizon_steps=3, **OPTS)
    _run(f, _signal(500))
    n_sub = len(MIX_META_ETA) * len(MIX_META_DISCOUNT)
    assert f._wts.shape == (n_sub, len(MIX_FORGET) * (len(MIX_INIT_REG) + 1) + 3) == (n_sub, f.n_experts)
    np.testing.assert_allclose(f._wts.sum(axis=1), 1.0) and (f._wts >= 0).all()
    # each sub-mixture's weights are exp(-eta_m * discounted loss): recompute them from the stored losses
    etas = np.repeat(MIX_META_ETA, len(MIX_META_DISCOUNT))[:, None]
    w = np.exp(-etas * (f._cum - f._cum.min(axis=1, keepdims=True)))
    np.testing.assert_allclose(f._wts, w / w.sum(axis=1, keepdims=True), rtol=1e-12)
    v = np.exp(-f.config.mix_eta * (f._meta_cum - f._meta_cum.min()))
    np.testing.assert_allclose(f._meta_wts, v / v.sum(), rtol=1e-12)
    assert (f._cum.max(axis=1) > f._cum.min(axis=1)).all()  # experts were told apart
    # the output (before the reach bound) is the meta-weighted sub-mixtures of the experts' forecasts
    np.testing.assert_allclose(f._sub, f._wts @ f._preds, rtol=1e-12)
    # the discounts differ, so the sub-mixtures' loss memories differ
    assert len({round(float(c), 9) for c in f._cum[:len(MIX_META_DISCOUNT), 0]}) == len(MIX_META_DISCOUNT)


def test_mix_never_forecasts_a_move_larger_than_seen():
    """The reach bound: |forecast - newest sample| <= the largest h-step move seen so far."""
    X, h = _signal(500), 6
    X[400] += 40.0  # a spike the experts over-react to afterwards
    f = make_forecaster("mix", horizon_steps=h, **OPTS)
    reach = np.zeros(2)
    for t, x in enumerate(X):
        f.learn_one(x)
        if t >= h:
            reach = np.maximum(reach, np.abs(X[t] - X[t - h]))
        y = f.predict_one()
        if f.ready:
            assert np.all(np.abs(y - x) <= reach + 1e-9)


def test_rls_and_mix_numpy_twin_backend_agree():
    X = _signal(300)
    for method in ("rls", "mix"):
        a = _run(make_forecaster(method, horizon_steps=4, **OPTS), X)
        b = _run(make_forecaster(method, horizon_steps=4, backend="numpy", **OPTS), X)
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-8)


def test_mix_lags_keep_recent_frames_dense_and_cap_the_input():
    from realtime.methods import MIX_MAX_INPUTS, mix_lags

    np.testing.assert_array_equal(mix_lags(6), [5, 4, 3, 2, 1, 0])  # short windows: every frame
    lags = mix_lags(60)
    assert len(lags) == 8 and lags[0] == 59 and list(lags[-4:]) == [3, 2, 1, 0]
    assert np.all(np.diff(lags) < 0)
    assert make_forecaster("mix", horizon_steps=3, lookback=60, n_coords=9).Ps.shape[1] == 73
    assert make_forecaster("mix", horizon_steps=3, lookback=60, n_coords=1).Ps.shape[1] == 61  # 1-D: all frames
    lags = mix_lags(60, MIX_MAX_INPUTS // 2)
    assert len(lags) == 36 and lags[0] == 59 and list(lags[-18:]) == list(range(17, -1, -1))
    f = make_forecaster("mix", horizon_steps=3, lookback=60, n_coords=2, norm_steps=30)
    assert f.Ps.shape[1] == 2 * 36 + 1
    _run(f, _signal(200))
    assert f.ready and np.isfinite(f.predict_one()).all()
    # the expert input is the selected frames of the window: recompute one expert's forecast
    u = f._u_pr
    sel = np.concatenate([((59 - lags)[:, None] * 2 + np.arange(2)).ravel(), [f.m - 1]])
    np.testing.assert_allclose(f.Ws[0] @ u[sel], f._preds[0], rtol=1e-12)
    # the short experts see the newest half of the window (30 frames, 30 <= 36: all of them)
    sel_s = np.concatenate([np.arange(30 * 2, 60 * 2), [f.m - 1]])
    k = len(MIX_FORGET) * len(MIX_INIT_REG)
    np.testing.assert_allclose(f.Ws_s[0] @ u[sel_s], f._preds[k], rtol=1e-12)


def test_mix_analogue_expert_is_the_nearest_past_windows_move():
    """The analogue expert averages the moves that followed the past windows nearest to the current one."""
    from kernels.analog import EPS
    from realtime.methods import MIX_ANALOG_K

    h = 5
    f = make_forecaster("mix", horizon_steps=h, **OPTS)
    X = _signal(300)
    _run(f, X)
    n_stored = int(f._an_count[0])
    assert n_stored == f.n_seen - OPTS["lookback"] - h + 1  # one pair per training step
    x = f._u_pr[f._sel][:-1]
    last = f._u_pr[-3:-1]
    d = ((f._an_U[:n_stored] - x) ** 2).sum(axis=1)
    idx = np.argsort(d, kind="stable")[:MIX_ANALOG_K]
    w = 1.0 / (d[idx] + EPS)
    np.testing.assert_allclose(f._preds[-2], last + (w / w.sum()) @ f._an_T[idx], rtol=1e-10)
    # a stored move is target - newest frame of its window, in z-units
    z = (X - f._center) / f._scale
    np.testing.assert_allclose(f._an_T[n_stored - 1], z[-1] - z[-1 - h], rtol=1e-10, atol=1e-12)


def test_mix_shape_analogues_match_centred_windows():
    """The last expert searches the windows centred on their newest frame: a level shift of the
    whole stream leaves its matches and moves unchanged, while the raw analogues lose theirs."""
    from kernels.analog import EPS
    from realtime.methods import MIX_ANALOG_K

    h = 5
    f = make_forecaster("mix", horizon_steps=h, **OPTS)
    X = _signal(300)
    _run(f, X)
    n_stored = int(f._sh_count[0])
    assert n_stored == int(f._an_count[0])
    # stored: the raw analogue memory minus the newest frame of each window (same moves)
    newest = f._an_U[:n_stored, -2:]
    np.testing.assert_allclose(f._sh_U[:n_stored], f._an_U[:n_stored] - np.tile(newest, OPTS["lookback"]),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(f._sh_T[:n_stored], f._an_T[:n_stored])
    x = f._u_pr[f._sel][:-1]
    last = f._u_pr[-3:-1]
    xc = x - np.tile(last, OPTS["lookback"])
    d = ((f._sh_U[:n_stored] - xc) ** 2).sum(axis=1)
    idx = np.argsort(d, kind="stable")[:MIX_ANALOG_K]
    w = 1.0 / (d[idx] + EPS)
    np.testing.assert_allclose(f._preds[-1], last + (w / w.sum()) @ f._sh_T[idx], rtol=1e-10)
    # a drift of the baseline after the z-score was fitted: the shape analogues still find windows
    # as close as before the drift; the raw windows are all far from the current one
    Y = X.copy()
    Y[200:] += np.linspace(0, 30, 100)[:, None] * f._scale
    g = make_forecaster("mix", horizon_steps=h, **OPTS)
    _run(g, Y)
    xr = g._u_pr[g._sel][:-1]
    lr = g._u_pr[-3:-1]
    d_raw = ((g._an_U[:int(g._an_count[0])] - xr) ** 2).sum(axis=1).min()
    d_shape = ((g._sh_U[:int(g._sh_count[0])] - (xr - np.tile(lr, OPTS["lookback"]))) ** 2).sum(axis=1).min()
    assert d_shape < 0.2 * d_raw


def test_mix_kernel_rls_expert_is_rls_on_fourier_features_of_the_centred_window():
    """The kernel-RLS expert forecasts last + W phi(centred window), W learnt by RLS on the
    (features, h-step move) pairs seen so far: recomputed with the NumPy twin of the RLS step."""
    from kernels import twins
    from realtime.mixture import MIX_RFF_FEATURES, MIX_RFF_FORGET, MIX_RFF_INIT_REG

    h = 3
    f = make_forecaster("mix", horizon_steps=h, **OPTS)
    X = _signal(200)
    _run(f, X)
    D = MIX_RFF_FEATURES

    def phi(xc):
        return np.concatenate([np.sqrt(2.0 / D) * np.cos(f._rf_Om @ xc + f._rf_b), [1.0]])

    x = f._u_pr[f._sel][:-1]
    last = f._u_pr[-3:-1]
    np.testing.assert_allclose(f._preds[-3], last + f._rf_W[0] @ phi(x - np.tile(last, OPTS["lookback"])),
                               rtol=1e-10)
    # the training pairs: the windows and moves stored by the analogue memory, in order
    n_pairs = int(f._an_count[0])
    P, W = np.eye(D + 1) / MIX_RFF_INIT_REG, np.zeros((2, D + 1))
    pu, nwork, state = np.zeros(D + 1), np.zeros((2, 2)), np.zeros(2)
    for u, move in zip(f._an_U[:n_pairs], f._an_T[:n_pairs]):
        twins.rls_step(P, W, phi(u - np.tile(u[-2:], OPTS["lookback"])), move, pu, nwork, state,
                       MIX_RFF_FORGET, (D + 1) / MIX_RFF_INIT_REG)
    np.testing.assert_allclose(f._rf_W[0], W, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(f._rf_P[0], P, rtol=1e-8, atol=1e-10)


def test_mix_state_restores_bit_identically_mid_stream():
    X = _signal(400)
    f = make_forecaster("mix", horizon_steps=4, **OPTS)
    _run(f, X[:250])
    g = make_forecaster("mix", horizon_steps=4, **OPTS)
    g.load_state_dict(f.state_dict())
    np.testing.assert_array_equal(_run(f, X[250:]), _run(g, X[250:]))


class _MixPerKernel(__import__("realtime.mixture", fromlist=["Mix"]).Mix):
    """``mix`` as it stepped before the fused kernels (one Numba call per expert group, glued in
    Python): the reference the fused step must reproduce bit for bit."""

    def _train(self, u, target):
        n, k_rls = self.n_coords, self._lams.shape[0]
        last = u[-1 - n:-1]
        np.subtract(target, last, out=self._move)
        np.maximum(self._reach, np.abs(self._move), out=self._reach)
        slot = self._count % self._ring.shape[0]
        if self._ring_ok[slot]:
            self._steps.ewa2_learn(self._cum, self._discounts, self._ring[slot], self._meta_cum,
                                   self._meta_ring[slot], target, self.config.mix_discount)
            self._ring_ok[slot] = 0.0
        x = u[self._sel]
        self._steps.analog_store(self._an_U, self._an_T, self._an_count, x[:-1], self._move)
        loss_rf = self._steps.shape_learn(x, last, self._move, self._sh_U, self._sh_T, self._sh_count, self._sh_x,
                                          self._rf_Om, self._rf_b, self._rf_scale, self._rf_phi, self._rf_P,
                                          self._rf_W, self._rf_pu, self._nwork, self._rf_state, self._rf_lam,
                                          self._rf_trace_max, self._rf_pred)
        loss = self._steps.mix_rls_step(self.Ps, self.Ws, x, target, self._pu, self._nwork, self._rls_state,
                                        self._lams, self._trace_max, self._preds_l)
        self._preds[:k_rls] = self._preds_l
        loss_s = self._steps.mix_rls_step(self.Ps_s, self.Ws_s, u[self._sel_s], target, self._pu_s, self._nwork,
                                          self._rls_state_s, self._lams_s, self._trace_max_s, self._preds_s)
        self._preds[k_rls:-3] = self._preds_s
        self._preds[-3:] = np.nan
        self._nwork[0] = self._preds[:k_rls].mean(axis=0)
        return max(loss, loss_s, loss_rf)

    def _predict(self, u):
        from realtime.mixture import MIX_ANALOG_K, MIX_REACH

        n, k_rls = self.n_coords, self._lams.shape[0]
        last = u[-1 - n:-1]
        x = u[self._sel]
        self._steps.mix_rls_predict(self.Ws, x, self._preds_l)
        self._preds[:k_rls] = self._preds_l
        self._steps.mix_rls_predict(self.Ws_s, u[self._sel_s], self._preds_s)
        self._preds[k_rls:-3] = self._preds_s
        self._steps.analog_predict(self._an_U, self._an_T, self._an_count, x[:-1], last, MIX_ANALOG_K,
                                   self._an_dist, self._preds[-2])
        self._steps.shape_predict(x, last, self._sh_U, self._sh_T, self._sh_count, MIX_ANALOG_K, self._an_dist,
                                  self._sh_x, self._rf_Om, self._rf_b, self._rf_scale, self._rf_phi, self._rf_W,
                                  self._rf_pred, self._preds[-3], self._preds[-1])
        slot = (self._count + self.horizon_steps) % self._ring.shape[0]
        self._ring[slot] = self._preds
        self._ring_ok[slot] = 1.0
        self._steps.ewa2_predict(self._cum, self._etas, self._preds, self._wts, self._sub, self._meta_cum,
                                 self.config.mix_eta, self._meta_wts, self._y)
        self._meta_ring[slot] = self._sub
        np.clip(self._y, last - MIX_REACH * self._reach, last + MIX_REACH * self._reach, out=self._y)


def _assert_fused_equals_per_kernel(X, **opts):
    from realtime.base import ForecasterConfig

    f = make_forecaster("mix", **opts)
    ref = _MixPerKernel(ForecasterConfig(**opts))
    a, b = _run(f, X), _run(ref, X)
    assert f.n_resets == 0 and np.abs(a - b).max() <= 1e-9
    np.testing.assert_array_equal(a, b)  # in fact bit for bit
    for name in f._model_arrays:
        np.testing.assert_array_equal(getattr(f, name), getattr(ref, name), err_msg=name)
    return int(f._an_count[0])


def test_fused_mix_step_equals_the_per_kernel_step_on_a_recorded_session():
    """The fused kernels (kernels.mixstep) change the speed of mix, not its forecasts: every
    marker session at 10 Hz, forecasts and final state equal to the per-kernel step."""
    from conftest import shared_path
    from realtime.sessions import load_sessions

    sessions = load_sessions(sorted(shared_path("resp_motion").glob("*.csv")), 10.0)
    stored = [_assert_fused_equals_per_kernel(s.X, horizon_steps=5, lookback=30, n_coords=9, norm_steps=100)
              for s in sessions]
    assert sum(stored) > 3000 and max(stored) > 1024  # thousands of steps; a memory has wrapped


def test_fused_mix_step_equals_the_per_kernel_step_on_180_coordinates():
    rng = np.random.default_rng(5)
    t = np.arange(1150) * 0.1
    phase, amp = rng.uniform(0, 2 * np.pi, 180), rng.uniform(1, 10, 180)
    X = amp * np.sin(2 * np.pi * t[:, None] / 4.0 + phase) ** 3 + rng.normal(0, 0.2, (1150, 180))
    X[:, :20] += np.linspace(0, 5, 1150)[:, None]  # a drifting baseline on some coordinates
    assert _assert_fused_equals_per_kernel(X, horizon_steps=4, lookback=12, n_coords=180, norm_steps=50) > 1024
